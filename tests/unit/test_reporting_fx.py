"""Deals in another currency in reporting: a converted deal's line carries its own amount,
currency and the rate (``original_amount``, ``original_currency``, ``fx_rate``) in the
stored revision and in the statement, and counts in the totals by its converted amount in
the contract's currency; a deal waiting for a rate (``fx_pending``) is in its own
currency, earns nothing and is no revenue, until a later revision converts it."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.reporting.domain import Line, explain_revision, period_totals
from services.reporting.projection import Projection, received_at
from services.reporting.queries import ReportingQueries
from services.reporting.store import line_revisions, revision_key
from shared.events import parse_event
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.unit.test_reporting_service import FakeDatabase, Reporting, snapshot

PARTNER = "P-FX"
PERIOD = "2026-Q4"
STATEMENT = f"/partners/{PARTNER}/statements/{PERIOD}"
T1 = datetime(2026, 11, 3, tzinfo=UTC)
T2 = datetime(2026, 11, 10, tzinfo=UTC)


def signed() -> dict[str, Any]:
    """P-FX's contract: USD, quarterly, 10 % on the first 100 000."""
    return envelope(
        "PartnerSigned",
        {"partner_id": PARTNER, **PROFILE, "contract": CONTRACT},
        id=f"fx-test/{PARTNER}/signed",
    )


def revision(deal: str, number: int, **fields: Any) -> dict[str, Any]:
    """A CommissionCalculated of ``deal``: commissionable, 50 000.00 USD, 5 000.00
    commission, unless ``fields`` say otherwise."""
    data = {
        "partner_id": PARTNER,
        "deal_id": deal,
        "period": PERIOD,
        "currency": "USD",
        "amount": "50000.00",
        "status": "commissionable",
        "base": "5000.00",
        "uplift": "0.00",
        "commission": "5000.00",
        "target_bonus": "0.00",
        "delta": "5000.00",
        "revision": number,
        "closed_at": "2026-10-15T12:00:00Z",
        **fields,
    }
    return envelope("CommissionCalculated", data, id=f"fx-test/{PARTNER}/{deal}/{number}")


#: D-EUR waits for a EUR/USD rate: in its own currency, earning nothing.
PENDING = revision(
    "D-EUR",
    1,
    currency="EUR",
    amount="10000.00",
    status="fx_pending",
    base="0.00",
    commission="0.00",
    delta="0.00",
    reason="no EUR/USD rate for 2026-11-02 yet",
    closed_at="2026-11-02T12:00:00Z",
)
#: The rate arrived: D-EUR converted at 1.0860, 10 860.00 USD earning 10 %.
CONVERTED = revision(
    "D-EUR",
    2,
    amount="10860.00",
    base="1086.00",
    commission="1086.00",
    delta="1086.00",
    original_amount="10000.00",
    original_currency="EUR",
    fx_rate="1.0860",
    closed_at="2026-11-02T12:00:00Z",
)
#: A deal in the contract's own currency.
IN_USD = revision("D-USD", 1)


async def deliver(database: FakeDatabase, *batches: tuple[list[dict[str, Any]], datetime]) -> None:
    """Each batch of events, received at its instant."""
    projection = Projection(database)  # type: ignore[arg-type]
    for raw, at in batches:
        batch = [parse_event(json.dumps(event)) for event in raw]
        stamp = int(at.timestamp() * 1000)
        await projection.project(batch, received_at((e.id, stamp) for e in batch))


def stored(database: FakeDatabase, deal: str, number: int) -> dict[str, Any]:
    """The fields of a revision as the ``lines`` read model keeps them."""
    deals = line_revisions(database.documents("lines")[PARTNER])
    fields: dict[str, Any] = json.loads(deals[deal][revision_key(number)])
    return fields


# --------------------------------------------------------------------------- the read model


async def test_a_converted_revision_is_kept_with_its_own_amount_currency_and_rate() -> None:
    database = FakeDatabase()
    await deliver(database, ([signed(), IN_USD, CONVERTED], T1))
    converted = stored(database, "D-EUR", 2)
    assert {k: converted[k] for k in ("currency", "amount", "status")} == {
        "currency": "USD",
        "amount": "10860.00",
        "status": "commissionable",
    }
    assert (
        converted["original_amount"],
        converted["original_currency"],
        converted["fx_rate"],
    ) == ("10000.00", "EUR", "1.0860")
    plain = stored(database, "D-USD", 1)
    assert not {"original_amount", "original_currency", "fx_rate"} & set(plain), (
        "a revision of a deal not converted is kept without them"
    )

    queries = ReportingQueries(database)  # type: ignore[arg-type]
    found = {x.deal_id: x for x in (await queries.statement(PARTNER, PERIOD)).lines}
    assert found["D-EUR"].converted
    assert found["D-EUR"].conversion == (Decimal("10000.00"), "EUR", Decimal("1.0860"))
    assert not found["D-USD"].converted


async def test_totals_count_a_converted_deal_by_its_amount_in_the_contracts_currency() -> None:
    database = FakeDatabase()
    await deliver(database, ([signed(), IN_USD, CONVERTED], T1))
    totals = database.documents("period_totals")[f"{PARTNER}|{PERIOD}"]
    assert (totals["currency"], totals["revenue"], totals["commission"], totals["deals"]) == (
        "USD",
        "60860.00",  # 50 000.00 + 10 860.00: converted, never 10 000 EUR added to dollars
        "6086.00",
        2,
    )
    reporting = Reporting(database)
    answer = reporting.json(STATEMENT)
    assert (answer["currency"], answer["revenue"], answer["payout_total"]) == (
        "USD",
        "60860.00",
        "6086.00",
    )
    lines = {line["deal_id"]: line for line in answer["lines"]}
    assert lines["D-EUR"] == {
        "deal_id": "D-EUR",
        "closed_at": "2026-11-02T12:00:00.000000Z",
        "amount": "10860.00",
        "status": "commissionable",
        "base": "1086.00",
        "uplift": "0.00",
        "commission": "1086.00",
        "target_bonus": "0.00",
        "revision": 2,
        "original_amount": "10000.00",
        "original_currency": "EUR",
        "fx_rate": "1.0860",
    }
    assert set(lines["D-USD"]) == {
        "deal_id",
        "closed_at",
        "amount",
        "status",
        "base",
        "uplift",
        "commission",
        "target_bonus",
        "revision",
    }, "a line neither converted nor in another currency has none of their fields"
    partner = reporting.json(f"/partners/{PARTNER}")
    assert partner["revenue_total"] == "60860.00"
    summary = reporting.json("/programme/summary", period=PERIOD)
    assert (summary["revenue"], summary["commission"]) == (
        {"USD": "60860.00"},
        {"USD": "6086.00"},
    )
    board = reporting.json("/leaderboard", period=PERIOD, by="revenue")
    assert [(e["value"], e["currency"]) for e in board["entries"]] == [("60860.00", "USD")]


# --------------------------------------------------------------------------- waiting for a rate


async def test_a_deal_waiting_for_a_rate_earns_nothing_until_a_revision_converts_it() -> None:
    """D-EUR is fx_pending (received at T1): no revenue, no payout, its line in EUR in a
    USD statement. The rate arrives and revision 2 converts it (received at T2): the
    statement now counts 10 860.00 USD of revenue and 1 086.00 of commission, and what
    changed it says so."""
    database = FakeDatabase()
    await deliver(database, ([signed(), PENDING], T1), ([CONVERTED], T2))
    reporting = Reporting(database)
    before = (T1 + timedelta(days=1)).isoformat()

    then = reporting.json(STATEMENT, as_of=before)
    assert (then["currency"], then["revenue"], then["commission_total"], then["payout_total"]) == (
        "USD",
        "0.00",
        "0.00",
        "0.00",
    ), "the statement is in the contract's currency, and the pending deal earns nothing"
    [pending] = then["lines"]
    assert (pending["status"], pending["currency"], pending["amount"]) == (
        "fx_pending",
        "EUR",
        "10000.00",
    ), "its amount is the deal's own, and says in which currency"
    assert not {"original_amount", "original_currency", "fx_rate"} & set(pending)

    now = reporting.json(STATEMENT)
    assert (now["currency"], now["revenue"], now["commission_total"], now["payout_total"]) == (
        "USD",
        "10860.00",
        "1086.00",
        "1086.00",
    )
    [converted] = now["lines"]
    assert "currency" not in converted, "in the statement's currency now"
    assert (converted["status"], converted["revision"], converted["fx_rate"]) == (
        "commissionable",
        2,
        "1.0860",
    )

    changes = reporting.json(f"{STATEMENT}/changes", since=before)
    assert (changes["payout_total_then"], changes["payout_total_now"], changes["change"]) == (
        "0.00",
        "1086.00",
        "1086.00",
    )
    [change] = changes["changes"]
    assert change["explanation"] == (
        "D-EUR: now commissionable; converted from 10000.00 EUR at 1.0860 USD per EUR: +1086.00"
    )


async def test_the_pending_deals_totals_are_in_the_contracts_currency() -> None:
    """A period whose only deal waits for a rate totals nothing, in the contract's
    currency: its totals name no currency the partner is not paid in."""
    database = FakeDatabase()
    await deliver(database, ([signed(), PENDING], T1))
    totals = database.documents("period_totals")[f"{PARTNER}|{PERIOD}"]
    assert (totals["currency"], totals["revenue"], totals["payout"], totals["deals"]) == (
        "USD",
        "0.00",
        "0.00",
        1,
    )
    summary = Reporting(database).json("/programme/summary", period=PERIOD)
    assert summary["revenue"] == {"USD": "0.00"}


async def test_the_conversion_stands_whatever_arrives_first() -> None:
    natural, shuffled = FakeDatabase(), FakeDatabase()
    raw = [signed(), IN_USD, PENDING, CONVERTED]
    await deliver(natural, (raw, T1))
    mixed = random.Random(3).sample(raw, len(raw))
    for event in [*mixed, PENDING]:
        await deliver(shuffled, ([event], T1))
    assert await snapshot(shuffled) == await snapshot(natural)
    totals = natural.documents("period_totals")[f"{PARTNER}|{PERIOD}"]
    assert (totals["revenue"], totals["commission"]) == ("60860.00", "6086.00")


# --------------------------------------------------------------------------- the rules


def line(status: str, currency: str, amount: str, commission: str, **conversion: Any) -> Line:
    return Line(
        deal_id="D",
        partner_id="P",
        period=PERIOD,
        currency=currency,
        closed_at=None,
        amount=Decimal(amount),
        status=status,
        base=Decimal(commission),
        uplift=Decimal(0),
        commission=Decimal(commission),
        target_bonus=Decimal(0),
        revision=1,
        **conversion,
    )


def test_lines_that_earn_nothing_name_the_totals_currency_only_when_nothing_else_does() -> None:
    pending = line("fx_pending", "EUR", "10000", "0")
    mismatch = line("currency_mismatch", "GBP", "700", "0")
    earning = line("commissionable", "USD", "1000", "100")
    totals = period_totals("P", PERIOD, [pending, mismatch, earning], None, "USD")
    assert (totals.currency, totals.revenue, totals.payout) == (
        "USD",
        Decimal(1000),
        Decimal(100),
    )
    alone = period_totals("P", PERIOD, [pending, mismatch], None, "USD")
    assert (alone.currency, alone.revenue, alone.payout) == ("USD", Decimal(0), Decimal(0))
    unknown = period_totals("P", PERIOD, [pending], None, None)
    assert unknown.currency == "EUR", "no contract known: the line's own"
    assert period_totals("P", PERIOD, [], None, "USD").currency is None


def test_a_new_rate_is_explained_as_such() -> None:
    first = line(
        "commissionable",
        "USD",
        "10860",
        "1086",
        original_amount=Decimal(10000),
        original_currency="EUR",
        fx_rate=Decimal("1.0860"),
    )
    corrected = line(
        "commissionable",
        "USD",
        "10900",
        "1090",
        original_amount=Decimal(10000),
        original_currency="EUR",
        fx_rate=Decimal("1.0900"),
    )
    assert (
        explain_revision(first, corrected, None, PERIOD, "USD")
        == "D: rate 1.0860 → 1.0900 USD per EUR"
    )
    assert explain_revision(None, first, None, PERIOD, "USD") == (
        "D for 10860.00 (converted from 10000.00 EUR at 1.0860 USD per EUR), commissionable"
    )
    pending = line("fx_pending", "EUR", "10000", "0")
    assert explain_revision(None, pending, "no EUR/USD rate yet", PERIOD, "USD") == (
        "D for 10000.00 EUR, fx pending (no EUR/USD rate yet)"
    )
