"""The commission rules (docs/rules/commissions.md): the worked example, exactly, and the
properties that make the engine trustworthy."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.incentives.domain import (
    Bracket,
    PartnerBook,
    Registration,
    Revision,
    apply_event,
    decide_registrations,
    graduated_base,
    next_revision,
    period_label,
)
from shared.events import CloudEvent, CommissionStatus, Payload, PlanPeriod, parse_event
from tests.support.events import CONTRACT, PROFILE, message

P = "P-100"
_clock = itertools.count()


def event(event_type: str, data: dict[str, Any]) -> CloudEvent[Payload]:
    """An event with a distinct, increasing CloudEvent time (the fact's version)."""
    moment = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_clock))
    return parse_event(message(event_type, {"partner_id": P, **data}, time=moment.isoformat()))


def signed(**contract: Any) -> CloudEvent[Payload]:
    return event("PartnerSigned", {**PROFILE, "contract": {**CONTRACT, **contract}})


def closed(
    deal_id: str, day: str, amount: str, product_line: str = "cloud", currency: str = "USD"
) -> CloudEvent[Payload]:
    return event(
        "DealClosed",
        {
            "deal_id": deal_id,
            "customer": f"customer of {deal_id}",
            "product_line": product_line,
            "amount": amount,
            "currency": currency,
            "closed_at": f"{day}T12:00:00Z",
        },
    )


def cancelled(deal_id: str, day: str) -> CloudEvent[Payload]:
    return event(
        "DealCancelled",
        {"deal_id": deal_id, "cancelled_at": f"{day}T12:00:00Z", "reason": "customer withdrew"},
    )


def certified(product_line: str, day: str, until: str) -> CloudEvent[Payload]:
    return event(
        "CertificationAwarded",
        {
            "learner_id": "L-1",
            "certification_id": f"CERT-{product_line}",
            "product_line": product_line,
            "awarded_at": f"{day}T00:00:00Z",
            "expires_at": f"{until}T00:00:00Z",
        },
    )


def registration_approved(deal_id: str, day: str) -> CloudEvent[Payload]:
    return event(
        "DealRegistrationApproved",
        {"registration_id": f"R-{deal_id}", "deal_id": deal_id, "approved_at": f"{day}T00:00:00Z"},
    )


def worked_example() -> list[CloudEvent[Payload]]:
    return [
        signed(),
        closed("D-1", "2026-10-05", "80000"),
        closed("D-2", "2026-10-20", "50000"),
        certified("cloud", "2026-11-01", "2027-11-01"),
        closed("D-3", "2026-11-10", "200000"),
        registration_approved("D-4", "2026-11-15"),
        closed("D-4", "2026-12-01", "10000", product_line="security"),
    ]


def run(events: list[CloudEvent[Payload]], settle_each: bool = True) -> PartnerBook:
    book = PartnerBook(P)
    for e in events:
        apply_event(book, e)
        if settle_each:
            book.settle()
    book.settle()
    return book


def table(book: PartnerBook) -> dict[str, tuple[str, str, str, str, str]]:
    return {
        r.deal_id: (
            r.status.value,
            str(r.base),
            str(r.uplift),
            str(r.commission),
            str(r.target_bonus),
        )
        for r in book.results().values()
    }


def totals(book: PartnerBook, period: str = "2026-Q4") -> tuple[Decimal, Decimal, Decimal]:
    lines = [r for r in book.results().values() if r.period == period]
    revenue = sum(
        (r.amount for r in lines if r.status is CommissionStatus.COMMISSIONABLE), Decimal(0)
    )
    return (
        revenue,
        sum((r.commission for r in lines), Decimal(0)),
        sum((r.target_bonus for r in lines), Decimal(0)),
    )


EXPECTED_BEFORE = {
    "D-1": ("commissionable", "8000.00", "0.00", "8000.00", "0"),
    "D-2": ("commissionable", "5600.00", "0.00", "5600.00", "0"),
    "D-3": ("commissionable", "26400.00", "4000.00", "30400.00", "5000"),
    "D-4": ("commissionable", "1500.00", "100.00", "1600.00", "0"),
}
EXPECTED_AFTER = {
    "D-1": ("commissionable", "8000.00", "0.00", "8000.00", "0"),
    "D-2": ("clawed_back", "0", "0", "0", "0"),
    "D-3": ("commissionable", "24500.00", "4000.00", "28500.00", "0"),
    "D-4": ("commissionable", "1500.00", "100.00", "1600.00", "0"),
}


def test_worked_example_before_the_cancellation() -> None:
    book = run(worked_example())
    assert table(book) == EXPECTED_BEFORE
    d3 = book.result("D-3")
    assert d3 is not None
    assert [(p.start, p.amount, p.rate) for p in d3.portions] == [
        (Decimal("100000"), Decimal("120000"), Decimal("0.12")),
        (Decimal("250000"), Decimal("80000"), Decimal("0.15")),
    ]
    assert d3.uplift_reasons == ("certified for cloud",)
    d4 = book.result("D-4")
    assert d4 is not None
    assert d4.uplift_reasons == ("registered deal",)
    assert {r.period for r in book.results().values()} == {"2026-Q4"}


def test_worked_example_after_the_cancellation() -> None:
    book = run([*worked_example(), cancelled("D-2", "2026-12-15")])
    assert table(book) == EXPECTED_AFTER
    assert totals(book) == (Decimal("290000"), Decimal("38100.00"), Decimal("0"))


def test_the_totals_are_the_same_for_every_order() -> None:
    events = [*worked_example(), cancelled("D-2", "2026-12-15")]
    rng = random.Random(5)
    for _ in range(60):
        shuffled = rng.sample(events, len(events))
        doubled = shuffled + rng.sample(events, 3)
        book = run(doubled, settle_each=rng.random() < 0.5)
        assert table(book) == EXPECTED_AFTER
        assert totals(book) == (Decimal("290000"), Decimal("38100.00"), Decimal("0"))


def test_revisions_are_published_only_for_changed_deals_and_deltas_add_up() -> None:
    book = PartnerBook(P)
    published: dict[str, Revision] = {}
    sent: list[Revision] = []
    for e in [*worked_example(), cancelled("D-2", "2026-12-15")]:
        apply_event(book, e)
        for deal_id, result in book.settle().items():
            revision = next_revision(published.get(deal_id), result)
            if revision is not None:
                published[deal_id] = revision
                sent.append(revision)
    last = {(r.result.deal_id, r.revision) for r in sent[-2:]}
    assert last == {("D-2", 2), ("D-3", 2)}, (
        "the cancellation revises D-2 and D-3 only (D-4 unchanged)"
    )
    assert len(sent) == 6
    assert sum(r.delta for r in sent) == Decimal("38100.00")
    by_deal = {r.result.deal_id: r.delta for r in sent if r.result.deal_id == "D-3"}
    assert by_deal["D-3"] == Decimal("-6900.00")


def test_status_rules_first_match_wins() -> None:
    book = run(
        [
            signed(),
            closed("EARLY", "2026-09-30", "1000"),
            closed("EUR", "2026-10-02", "1000", currency="EUR"),
            closed("LATE-CANCEL", "2026-10-03", "1000"),
            cancelled("LATE-CANCEL", "2027-01-02"),
            closed("AFTER-END", "2027-10-01", "1000"),
            event("PartnerTerminated", {"effective_date": "2027-03-01", "reason": "breach"}),
            closed("TERMINATED", "2027-03-01", "1000", currency="EUR"),
        ]
    )
    statuses = {r.deal_id: r.status.value for r in book.results().values()}
    assert statuses == {
        "EARLY": "no_contract",
        "EUR": "fx_pending",
        "LATE-CANCEL": "commissionable",
        "AFTER-END": "no_contract",
        "TERMINATED": "terminated",
    }
    early = book.result("EARLY")
    assert early is not None
    assert early.period == "2026-Q3", "no contract: the calendar quarter of closed_at"
    assert "clawback window" in (book.result("LATE-CANCEL") or early).reason


def test_cap_limits_commission_but_not_the_target_bonus() -> None:
    book = run(
        [
            signed(commission_plan={**CONTRACT["commission_plan"], "period_cap": "10000"}),
            closed("A", "2026-10-01", "80000"),
            closed("B", "2026-10-02", "300000"),
            closed("C", "2026-10-03", "1000"),
        ]
    )
    a, b, c = (book.result(d) for d in "ABC")
    assert a is not None
    assert b is not None
    assert c is not None
    assert (a.commission, b.commission, c.commission) == (
        Decimal("8000.00"),
        Decimal("2000.00"),
        Decimal("0.00"),
    )
    assert b.base == Decimal("39500.00")  # 20 000 at 10 %, 150 000 at 12 %, 130 000 at 15 %
    assert b.cap_reduction == Decimal("37500.00")
    assert b.target_bonus == Decimal("5000")


def test_renewal_with_a_later_start_governs_and_month_periods() -> None:
    monthly = {**CONTRACT["commission_plan"], "period": "month"}
    book = run(
        [
            signed(),
            event(
                "ContractRenewed",
                {
                    **PROFILE,
                    "contract": {
                        **CONTRACT,
                        "contract_id": "C-2",
                        "start_date": "2026-11-01",
                        "commission_plan": monthly,
                    },
                },
            ),
            closed("OCT", "2026-10-15", "1000"),
            closed("NOV", "2026-11-15", "1000"),
        ]
    )
    oct_, nov = book.result("OCT"), book.result("NOV")
    assert oct_ is not None
    assert nov is not None
    assert (oct_.period, oct_.contract_id) == ("2026-Q4", "C-100-1")
    assert (nov.period, nov.contract_id) == ("2026-11", "C-2")


def test_deal_correction_latest_version_stands() -> None:
    first = closed("D-1", "2026-10-05", "80000")
    correction = closed("D-1", "2026-10-05", "90000")
    for order in ([first, correction], [correction, first]):
        book = run([signed(), *order])
        result = book.result("D-1")
        assert result is not None
        assert result.amount == Decimal("90000")
        assert result.commission == Decimal("9000.00")


def test_graduated_base_splits_across_brackets() -> None:
    brackets = (Bracket(Decimal(0), Decimal("0.1")), Bracket(Decimal(100), Decimal("0.2")))
    base, portions = graduated_base(brackets, Decimal(50), Decimal(100))
    assert base == Decimal("15.0")
    assert [(p.amount, p.rate) for p in portions] == [
        (Decimal(50), Decimal("0.1")),
        (Decimal(50), Decimal("0.2")),
    ]


@pytest.mark.parametrize(
    ("period", "label"),
    [(PlanPeriod.MONTH, "2026-12"), (PlanPeriod.QUARTER, "2026-Q4"), (PlanPeriod.YEAR, "2026")],
)
def test_period_labels_are_utc(period: PlanPeriod, label: str) -> None:
    # 23:30 on 31 December in New York is already 1 January in UTC.
    from zoneinfo import ZoneInfo

    assert (
        period_label(datetime(2026, 12, 31, 18, 0, tzinfo=ZoneInfo("America/New_York")), period)
        == label
    )
    assert (
        period_label(datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("America/New_York")), period)
        != label
    )


# --------------------------------------------------------------------------- registrations


def _registration(rid: str, partner: str, day: date, customer: str = "Globex") -> Registration:
    return Registration(
        rid,
        f"D-{rid}",
        partner,
        customer,
        "security",
        datetime(day.year, day.month, day.day, tzinfo=UTC),
    )


def test_first_registration_wins_and_conflicts_expire_after_90_days() -> None:
    registrations = [
        _registration("R1", "P-1", date(2026, 1, 1)),
        _registration("R2", "P-2", date(2026, 2, 1)),
        _registration("R3", "P-1", date(2026, 2, 2)),
        _registration("R4", "P-2", date(2026, 4, 2)),
        _registration("R5", "P-3", date(2026, 4, 1), customer="Initech"),
    ]
    for order in itertools.permutations(registrations):
        decisions = {
            d.registration.registration_id: (d.approved, d.reason)
            for d in decide_registrations(order)
        }
        assert decisions == {
            "R1": (True, None),
            "R2": (False, "channel_conflict"),
            "R3": (True, None),
            "R4": (False, "channel_conflict"),  # R3 (P-1, 2 Feb) is within 90 days of 2 April
            "R5": (True, None),
        }


# --------------------------------------------------------------------------- properties

DAYS = st.integers(min_value=0, max_value=400)
START = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def histories(draw: st.DrawFn) -> list[CloudEvent[Payload]]:
    cap = draw(st.sampled_from([None, "5000", "20000"]))
    plan = {
        **CONTRACT["commission_plan"],
        "period": draw(st.sampled_from(["month", "quarter", "year"])),
        "period_cap": cap,
        "clawback_days": draw(st.integers(0, 120)),
        "target_amount": draw(st.sampled_from([None, "50000", "150000"])),
    }
    events = [signed(start_date="2026-01-01", end_date="2026-12-31", commission_plan=plan)]
    if draw(st.booleans()):
        events.append(
            event(
                "ContractRenewed",
                {
                    **PROFILE,
                    "contract": {
                        **CONTRACT,
                        "contract_id": "C-2",
                        "start_date": "2026-07-01",
                        "end_date": "2027-06-30",
                        "commission_plan": {**plan, "period": "quarter"},
                    },
                },
            )
        )
    count = draw(st.integers(1, 12))
    for n in range(count):
        day = (START + timedelta(days=draw(DAYS))).date().isoformat()
        amount = draw(st.decimals(min_value=1, max_value=90000, places=2))
        line = draw(st.sampled_from(["cloud", "security"]))
        currency = draw(st.sampled_from(["USD", "USD", "USD", "EUR"]))
        events.append(closed(f"D-{n}", day, str(amount), line, currency))
        if draw(st.integers(0, 4)) == 0:
            later = (START + timedelta(days=draw(DAYS))).date().isoformat()
            events.append(cancelled(f"D-{n}", later))
        if draw(st.integers(0, 4)) == 0:
            events.append(
                registration_approved(
                    f"D-{n}", (START + timedelta(days=draw(DAYS))).date().isoformat()
                )
            )
    if draw(st.booleans()):
        start = START + timedelta(days=draw(DAYS))
        events.append(
            certified(
                "cloud", start.date().isoformat(), (start + timedelta(days=120)).date().isoformat()
            )
        )
    if draw(st.integers(0, 3)) == 0:
        events.append(
            event(
                "PartnerTerminated",
                {
                    "effective_date": (START + timedelta(days=draw(DAYS))).date().isoformat(),
                    "reason": "r",
                },
            )
        )
    return events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.randoms(use_true_random=False))
def test_any_order_and_duplication_gives_the_same_results(
    events: list[CloudEvent[Payload]], rng: random.Random
) -> None:
    reference = run(events)
    shuffled = rng.sample(events, len(events)) + rng.sample(events, min(3, len(events)))
    book = PartnerBook(P)
    published: dict[str, Revision] = {}
    for e in shuffled:
        apply_event(book, e)
        if rng.random() < 0.7:
            for deal_id, result in book.settle().items():
                revision = next_revision(published.get(deal_id), result)
                if revision is not None:
                    published[deal_id] = revision
                    assert revision.revision >= 1
    for deal_id, result in book.settle().items():
        revision = next_revision(published.get(deal_id), result)
        if revision is not None:
            published[deal_id] = revision
    assert table(book) == table(reference)
    # What was published last for each deal is the final result.
    assert {d: (r.result.commission, r.result.target_bonus) for d, r in published.items()} == {
        d: (r.commission, r.target_bonus) for d, r in reference.results().items()
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_invariants_of_every_line(events: list[CloudEvent[Payload]]) -> None:
    book = PartnerBook(P)
    published: dict[str, Revision] = {}
    deltas = Decimal(0)
    for e in events:
        apply_event(book, e)
        for deal_id, result in book.settle().items():
            revision = next_revision(published.get(deal_id), result)
            if revision is not None:
                published[deal_id] = revision
                deltas += revision.delta
    results = book.results().values()
    assert deltas == sum((r.payout for r in results), Decimal(0)), "deltas sum to the final totals"
    for r in results:
        assert r.base + r.uplift - r.cap_reduction == r.commission
        assert r.commission >= 0
        assert (
            r.base == r.base.quantize(Decimal("0.01"))
            or r.status is not CommissionStatus.COMMISSIONABLE
        )
        if r.status is not CommissionStatus.COMMISSIONABLE:
            assert r.payout == 0
    caps: dict[str, Decimal] = {}
    for r in results:
        contract = book.contracts.get(r.contract_id or "")
        if contract is not None and contract.plan.period_cap is not None:
            caps[r.period] = caps.get(r.period, Decimal(0)) + r.commission
            assert caps[r.period] <= contract.plan.period_cap
