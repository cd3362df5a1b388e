"""Commission adjustments and inquiries in reporting's read models (docs/rules/commissions.md,
"The statement"), on the in-memory fake of tests/unit/test_reporting_service.py, fed
events through the real projection: the statement's adjustments, adjustment total and
payout total, the period's inquiries, the partner 360's open inquiries, and the
guarantees of every other read model (any order, any duplicates, the same documents).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.reporting.domain import (
    Adjustment,
    Inquiry,
    adjustments_of,
    inquiries_of,
    open_inquiries,
    statement,
    statement_currency,
)
from services.reporting.projection import Projection
from services.reporting.queries import ReportingQueries
from services.reporting.store import LinesCache
from shared import topics
from shared.consuming import Consumed
from tests.support.events import CONTRACT, DATA, envelope
from tests.support.reporting import (
    ADJ1,
    ADJ2,
    ADJUSTED_PERIOD,
    EXPECTED_ADJUSTMENT_ONLY_STATEMENT,
    EXPECTED_ADJUSTMENTS,
    EXPECTED_CORRECTED_STATEMENT,
    EXPECTED_INQUIRIES,
    EXPECTED_OPEN_INQUIRIES,
    MARIA,
    PERIOD,
    P,
    adjusted,
    corrections,
    inquiry_opened,
    inquiry_resolved,
)
from tests.unit.test_reporting_service import (
    PARTNER_KEY,
    FakeDatabase,
    Reporting,
    parsed,
    project,
    snapshot,
    worked_example,
)

# --------------------------------------------------------------------------- the projection


def corrected() -> list[dict[str, Any]]:
    """The worked example (with its settlement of the quarter), then the corrections."""
    return worked_example() + corrections()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_order_and_any_duplicates_give_the_same_read_models(seed: int) -> None:
    """The worked example and the corrections: in their natural order in one batch, and
    shuffled, half of them twice, in small batches, with or without lines kept in memory,
    leave the same documents."""
    raw = corrected()
    natural, shuffled = FakeDatabase(), FakeDatabase()
    await project(natural, raw)
    rng = random.Random(seed)
    mixed = rng.sample(raw, len(raw)) + rng.sample(raw, len(raw) // 2)
    await project(shuffled, mixed, batch=3, lines=LinesCache(200_000 if seed % 2 else 0))
    assert await snapshot(shuffled) == await snapshot(natural)

    found = await ReportingQueries(natural).statement(P, PERIOD)  # type: ignore[arg-type]
    assert [a.adjustment_id for a in found.adjustments] == [ADJ1, ADJ2]
    assert found.adjustment_total == Decimal("649.75")
    assert found.payout_total == Decimal("38749.75")
    assert [(i.inquiry_id, i.status) for i in found.inquiries] == [
        (i["inquiry_id"], i["status"]) for i in EXPECTED_INQUIRIES
    ]


async def test_an_adjustment_counts_once_whatever_is_published_again() -> None:
    """The same adjustment id twice (a redelivery, or a republication under another event
    id and time) is one adjustment: its earliest statement stands."""
    database = FakeDatabase()
    first = adjusted(P, "ADJ-x", PERIOD, "10.00", "2027-01-04T09:00:00Z", reason="first")
    again = {**first, "id": "republished", "time": "2027-01-05T09:00:00Z"}
    later = {**again, "data": {**first["data"], "reason": "restated"}, "id": "restated"}
    await project(database, [later, first, again, first])
    [one] = database.documents("partner_adjustments")[P]["adjustments"].values()
    assert len(one) == 3, "every statement is kept, under its version"
    queries = ReportingQueries(database)  # type: ignore[arg-type]
    found = await queries.statement(P, PERIOD)
    assert [(a.adjustment_id, a.amount, a.reason) for a in found.adjustments] == [
        ("ADJ-x", Decimal("10.00"), "first")
    ]
    assert found.adjustment_total == Decimal("10.00")


async def test_a_commission_batch_writes_nothing_more_than_before() -> None:
    """The hot path: a batch of CommissionCalculated touches the lines and the period
    totals only, never the adjustments' or inquiries' documents; and an adjustment or
    an inquiry writes its one document and derives nothing."""
    database = FakeDatabase()
    revisions = [event for event in worked_example() if event["type"] == "CommissionCalculated"]
    await project(database, revisions)
    reached = {name.removeprefix("g1_") for name in database.collections}
    assert reached <= {"meta", "lines", "partners", "period_totals"}
    database.reads.clear()
    await project(database, corrections())
    assert set(database.reads) <= {"meta"}, "an adjustment or an inquiry reads nothing"
    touched = {n.removeprefix("g1_") for n, c in database.collections.items() if c.docs}
    assert {"partner_adjustments", "partner_inquiries"} <= touched


async def test_the_new_types_are_counted_as_processed_and_extensions_as_ignored() -> None:
    database = FakeDatabase()
    projection = Projection(database)  # type: ignore[arg-type]
    kinds = (
        "CommissionAdjusted",
        "CommissionInquiryOpened",
        "CommissionInquiryResolved",
        "DealRegistrationExtended",
    )

    def counted(event_type: str, outcome: str) -> float:
        topic = topics.DEALS if event_type.startswith("Deal") else topics.INCENTIVES
        labels = {"service": "reporting", "topic": topic, "type": event_type, "outcome": outcome}
        return REGISTRY.get_sample_value("partnerhub_events_consumed_total", labels) or 0.0

    before = {(k, o): counted(k, o) for k in kinds for o in ("processed", "ignored")}
    batch = [
        Consumed(
            SimpleNamespace(
                topic=topics.DEALS if k.startswith("Deal") else topics.INCENTIVES,
                timestamp=1_796_000_000_000,
            ),
            event,
        )
        for k, event in zip(kinds, parsed(envelope(k) for k in kinds), strict=True)
    ]
    await projection.handle(batch)
    after = {
        (k, o): counted(k, o) - before[(k, o)] for k in kinds for o in ("processed", "ignored")
    }
    assert after == {
        **{(k, "processed"): 1.0 for k in kinds[:3]},
        **{(k, "ignored"): 0.0 for k in kinds[:3]},
        ("DealRegistrationExtended", "processed"): 0.0,
        ("DealRegistrationExtended", "ignored"): 1.0,
    }


# --------------------------------------------------------------------------- inquiries


def _inquiry_events() -> list[dict[str, Any]]:
    opened = inquiry_opened(P, "I-x", "D-x", PERIOD, "why?", "2027-01-03T09:00:00Z")
    resolved = inquiry_resolved(
        P, "I-x", "D-x", PERIOD, "2027-01-04T09:00:00Z", note="because", adjustment_id="ADJ-x"
    )
    return [opened, resolved]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_an_inquiry_ends_resolved_whatever_arrives_first(order: tuple[int, ...]) -> None:
    """Opened, resolved, and the opening again, in every order: resolved, with the
    opening's message and the resolution's note."""
    opened, resolved = _inquiry_events()
    sent = [opened, resolved, opened]
    database = FakeDatabase()
    for n in order:
        await project(database, [sent[n]])
    stored = database.documents("partner_inquiries")[P]["inquiries"]
    [found] = inquiries_of(stored)
    assert (found.status, found.message, found.resolution, found.note, found.adjustment_id) == (
        "resolved",
        "why?",
        "adjusted",
        "because",
        "ADJ-x",
    )
    assert open_inquiries([found]) == []


async def test_an_inquiry_resolved_before_it_was_opened_is_resolved_at_once() -> None:
    opened, resolved = _inquiry_events()
    database = FakeDatabase()
    await project(database, [envelope("PartnerSigned", {**DATA["PartnerSigned"], "partner_id": P})])
    await project(database, [resolved])
    service = Reporting(database)
    try:
        [early] = service.json(f"/partners/{P}/statements/{PERIOD}")["inquiries"]
        assert (early["status"], early["message"], early["opened_at"], early["actor"]) == (
            "resolved",
            None,
            None,
            None,
        )
        assert service.json(f"/partners/{P}")["open_inquiries"] == []
        await project(database, [opened])
        [late] = service.json(f"/partners/{P}/statements/{PERIOD}")["inquiries"]
        assert (late["status"], late["message"], late["resolved_by"]) == ("resolved", "why?", MARIA)
        assert service.json(f"/partners/{P}")["open_inquiries"] == []
    finally:
        service.client.close()


def test_open_inquiries_are_those_opened_and_not_resolved() -> None:
    def facts(opened: bool, resolved: bool, inquiry_id: str, at: str) -> dict[str, Any]:
        about = {"inquiry_id": inquiry_id, "deal_id": "D", "period": PERIOD}
        return {
            **({"opened": {"v1": {**about, "message": "m", "opened_at": at}}} if opened else {}),
            **({"resolved": {"v2": {**about, "resolution": "explained"}}} if resolved else {}),
        }

    stored = {
        "b": facts(True, False, "I-b", "2027-01-02"),
        "a": facts(True, False, "I-a", "2027-01-03"),
        "c": facts(True, True, "I-c", "2027-01-01"),
        "d": facts(False, True, "I-d", "2027-01-01"),
        "e": {},
    }
    found = inquiries_of(stored)
    assert [i.inquiry_id for i in found] == ["I-d", "I-c", "I-b", "I-a"]
    assert [i.inquiry_id for i in open_inquiries(found)] == ["I-b", "I-a"]


# --------------------------------------------------------------------------- the statement


def _adjustment(amount: str, currency: str = "USD", period: str = PERIOD) -> Adjustment:
    return Adjustment(
        adjustment_id=f"A-{amount}-{currency}",
        deal_id=None,
        period=period,
        currency=currency,
        amount=Decimal(amount),
        reason="r",
        adjusted_at="2027-01-01T00:00:00.000000Z",
        inquiry_id=None,
        actor=None,
    )


def test_adjustment_totals_are_exact_and_in_the_statements_currency() -> None:
    """Cents and beyond add up exactly; an adjustment in another currency is listed and
    not counted; one of another period is neither."""
    contracts = [{**CONTRACT, "v": "v1"}]
    adjustments = [
        _adjustment("0.10"),
        _adjustment("0.20"),
        _adjustment("-1000.005"),
        _adjustment("99.00", "EUR"),
        _adjustment("5.00", period="2027-Q1"),
    ]
    found = statement(P, PERIOD, [], contracts, [], adjustments)
    assert found.currency == "USD"
    assert [a.currency for a in found.adjustments] == ["USD", "USD", "USD", "EUR"]
    assert found.adjustment_total == Decimal("-999.705")
    assert found.payout_total == Decimal("-999.705")
    assert found.payment is not None
    assert found.payment.current_total == Decimal("-999.705")


def test_a_statement_without_lines_takes_its_adjustments_currency() -> None:
    usd, eur = _adjustment("1.00"), _adjustment("2.00", "EUR")
    assert statement_currency("GBP", "USD", [eur]) == "GBP", "the lines' currency first"
    assert statement_currency(None, "USD", [eur]) == "EUR"
    assert statement_currency(None, "EUR", [usd, eur]) == "EUR", "the contract's among them"
    assert statement_currency(None, "GBP", [usd, eur]) == "EUR", "else the first by code"
    assert statement_currency(None, "USD", []) == "USD"
    assert statement_currency(None, None, []) is None


def test_adjustments_are_sorted_by_when_they_were_made() -> None:
    def stored(adjustment_id: str, at: str) -> dict[str, Any]:
        fields = {
            "adjustment_id": adjustment_id,
            "period": PERIOD,
            "currency": "USD",
            "amount": "1.00",
            "reason": "r",
            "adjusted_at": at,
        }
        return {"v1": fields}

    found = adjustments_of(
        {"z": stored("A-z", "2027-01-01"), "a": stored("A-a", "2027-01-02"), "b": {}}
    )
    assert [a.adjustment_id for a in found] == ["A-z", "A-a"]
    assert (found[0].deal_id, found[0].inquiry_id, found[0].actor) == (None, None, None)
    assert adjustments_of(None) == []


# --------------------------------------------------------------------------- the read API


@pytest.fixture
async def corrected_database() -> FakeDatabase:
    database = FakeDatabase()
    await project(database, corrected(), batch=7)
    return database


@pytest.fixture
def reporting(corrected_database: FakeDatabase) -> Iterator[Reporting]:
    service = Reporting(corrected_database)
    yield service
    service.client.close()


def test_the_statement_lists_adjustments_and_inquiries_with_exact_totals(
    reporting: Reporting,
) -> None:
    """The worked example's quarter (settled at 50 600.00 before D-2's clawback) with
    +800.00 and −150.25 adjusted: the payout total is commission + bonus + adjustments,
    and what is pending is measured against it."""
    answer = reporting.json(f"/partners/{P}/statements/{PERIOD}")
    assert answer == {
        **EXPECTED_CORRECTED_STATEMENT,
        "settled": True,
        "paid": "50600.00",
        "pending_adjustment": "-11850.25",  # 38 749.75 − 50 600.00
    }
    assert answer["adjustments"] == EXPECTED_ADJUSTMENTS
    total = Decimal(answer["commission_total"]) + Decimal(answer["bonus_total"])
    assert Decimal(answer["payout_total"]) == total + Decimal(answer["adjustment_total"])


def test_a_period_with_adjustments_only_has_a_statement(reporting: Reporting) -> None:
    assert (
        reporting.json(f"/partners/{P}/statements/{ADJUSTED_PERIOD}")
        == EXPECTED_ADJUSTMENT_ONLY_STATEMENT
    )


async def test_a_partner_known_only_by_an_adjustment_has_its_statement() -> None:
    """No partner facts, no commission line: the adjustment's period has a statement in
    the adjustment's currency, the other periods are not found."""
    database = FakeDatabase()
    await project(
        database,
        [
            adjusted(
                "P-adj", "ADJ-only", "2026-11", "-42.50", "2026-12-01T00:00:00Z", currency="EUR"
            )
        ],
    )
    service = Reporting(database)
    try:
        found = service.json("/partners/P-adj/statements/2026-11")
        assert (found["currency"], found["adjustment_total"], found["payout_total"]) == (
            "EUR",
            "-42.50",
            "-42.50",
        )
        assert found["lines"] == []
        assert service.get("/partners/P-adj/statements/2026-12").status_code == 404
        assert service.get("/partners/P-adj").status_code == 404, "no partner 360 without facts"
        payouts = service.json("/partners/P-adj/payouts")
        assert [(p["period"], p["currency"], p["current_total"]) for p in payouts["periods"]] == [
            ("2026-11", "EUR", "-42.50")
        ]
    finally:
        service.client.close()


def test_the_partner_view_lists_the_open_inquiries(reporting: Reporting) -> None:
    partner = reporting.json(f"/partners/{P}")
    assert partner["open_inquiries"] == EXPECTED_OPEN_INQUIRIES
    assert (partner["commission_total"], partner["bonus_total"]) == ("38100.00", "0.00")
    page = reporting.json("/partners", status="active", limit=100)
    listed = {item["partner_id"]: item["open_inquiries"] for item in page["items"]}
    assert listed[P] == EXPECTED_OPEN_INQUIRIES
    assert not any(inquiries for pid, inquiries in listed.items() if pid != P)


def test_payouts_count_the_adjustments_in_each_periods_total(reporting: Reporting) -> None:
    payouts = reporting.json(f"/partners/{P}/payouts")
    assert payouts["periods"] == [
        {
            "period": PERIOD,
            "currency": "USD",
            "current_total": "38749.75",
            "paid": "50600.00",
            "settled": True,
            "pending_adjustment": "-11850.25",
        },
        {
            "period": ADJUSTED_PERIOD,
            "currency": "USD",
            "current_total": "1000.00",
            "paid": "0.00",
            "settled": False,
            "pending_adjustment": "0.00",
        },
    ]
    assert payouts["pending_adjustments"] == {"USD": "-11850.25"}


def test_the_programme_summary_and_leaderboard_are_the_commissions(reporting: Reporting) -> None:
    """The summary reports revenue, commission and bonus (no payout total): adjustments
    are not commissions and change none of them, nor the leaderboard."""
    summary = reporting.json("/programme/summary", period=PERIOD)
    assert (summary["commission"], summary["bonus"]) == ({"USD": "38100.00"}, {"USD": "0.00"})
    board = reporting.json("/leaderboard", period=PERIOD, by="commission")
    assert [(e["partner_id"], e["value"]) for e in board["entries"]] == [(P, "38100.00")]


def test_a_partner_key_reads_only_its_own_statement_and_inquiries(reporting: Reporting) -> None:
    own = reporting.get(f"/partners/{P}/statements/{PERIOD}", key=PARTNER_KEY)
    assert own.status_code == 200
    assert own.json()["inquiries"] == EXPECTED_INQUIRIES
    assert reporting.get(f"/partners/{P}", key=PARTNER_KEY).json()["open_inquiries"] == (
        EXPECTED_OPEN_INQUIRIES
    )
    for path in (f"/statements/{PERIOD}", f"/statements/{ADJUSTED_PERIOD}", "", "/payouts"):
        other = reporting.get(f"/partners/P-200{path}", key=PARTNER_KEY)
        assert other.status_code == 403, path


def test_the_statement_and_partner_view_document_their_new_fields(reporting: Reporting) -> None:
    schemas = reporting.client.get("/openapi.json").json()["components"]["schemas"]
    statement_view = schemas["StatementView"]
    for name in ("adjustments", "adjustment_total", "payout_total", "inquiries"):
        assert name in statement_view["required"], name
    assert "open_inquiries" in schemas["Partner360View"]["required"]
    assert set(schemas["StatementAdjustment"]["properties"]) == set(EXPECTED_ADJUSTMENTS[0])
    assert set(schemas["StatementInquiry"]["properties"]) == set(EXPECTED_INQUIRIES[0])
    assert set(schemas["OpenInquiry"]["properties"]) == set(EXPECTED_OPEN_INQUIRIES[0])


async def test_a_statement_reads_each_of_its_documents_once(
    corrected_database: FakeDatabase,
) -> None:
    queries = ReportingQueries(corrected_database)  # type: ignore[arg-type]
    corrected_database.reads.clear()
    await queries.statement(P, PERIOD)
    reads = {n.removeprefix("g1_"): c for n, c in corrected_database.reads.items() if n != "meta"}
    assert reads == {
        "partners": 1,
        "lines": 1,
        "partner_payouts": 1,
        "partner_adjustments": 1,
        "partner_inquiries": 1,
    }


def test_an_inquiry_model_says_open_until_resolved() -> None:
    opened = Inquiry("I", "D", PERIOD, "m", "t", None, None, None, None, None, None)
    assert opened.status == "open"
    resolved = Inquiry("I", "D", PERIOD, None, None, None, "explained", "n", "t", None, None)
    assert resolved.status == "resolved"
    assert open_inquiries([opened, resolved]) == [opened]
