"""The reference oracle of demo/reference.py on deals in another currency than their
contract's: converted before every other rule at the plan's fixed rate or the pair's
standing rate of the close's UTC date (no inverse, no cross rates), fx_pending without a
rate; any order and any duplicates give the same results."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

from demo.reference import Event, Statement, expected_statements
from tests.unit.test_reference import (
    PLAN,
    P,
    cancelled,
    certified,
    closed,
    engine_rows,
    instant,
    only,
    oracle_rows,
    rate_event,
    signed,
    terminated,
    totals,
)

#: A line with its currency and conversion: (status, amount, currency, base, uplift,
#: commission, target bonus, original amount, original currency, fx rate).
FxRow = tuple[str, str, str, str, str, str, str, str | None, str | None, str | None]


def fx_row(statement: Statement, deal_id: str) -> FxRow:
    line = statement.line(deal_id)
    return (
        line.status,
        str(line.amount),
        line.currency,
        str(line.base),
        str(line.uplift),
        str(line.commission),
        str(line.target_bonus),
        None if line.original_amount is None else str(line.original_amount),
        line.original_currency,
        None if line.fx_rate is None else str(line.fx_rate),
    )


# --------------------------------------------------------------------------- the worked example

#: EUR/USD from 2026-10-01; from 2026-11-01, published at 1.0850, corrected to 1.0860.
OCTOBER = rate_event("EUR", "USD", "2026-10-01", "1.0800")
NOVEMBER = rate_event("EUR", "USD", "2026-11-01", "1.0850")
NOVEMBER_CORRECTED = rate_event("EUR", "USD", "2026-11-01", "1.0860")


def worked_example() -> list[Event]:
    """A USD contract (quarter, brackets 10 % / 12 % / 15 %, target 300 000); an EUR deal of
    10 000.00 closed 2026-11-05; a GBP deal with no GBP/USD rate; the EUR/USD rates."""
    return [
        signed(),
        closed("EUR-1", "2026-11-05", "10000.00", currency="EUR"),
        closed("GBP-1", "2026-11-06", "5000.00", currency="GBP"),
        OCTOBER,
        NOVEMBER,
        NOVEMBER_CORRECTED,
    ]


CONVERTED: FxRow = (
    "commissionable",
    "10860.00",
    "USD",
    "1086.00",
    "0.00",
    "1086.00",
    "0.00",
    "10000.00",
    "EUR",
    "1.0860",
)
PENDING: FxRow = (
    "fx_pending",
    "5000.00",
    "GBP",
    "0.00",
    "0.00",
    "0.00",
    "0.00",
    None,
    None,
    None,
)
#: Revenue, commission, bonus, payout of 2026-Q4: the converted deal alone.
WORKED_TOTALS = ("10860.00", "1086.00", "0.00", "1086.00")


def test_the_worked_example_converts_at_the_corrected_rate_of_the_day() -> None:
    statements = expected_statements(worked_example())
    assert list(statements) == [(P, "2026-Q4")]
    statement = statements[(P, "2026-Q4")]
    assert statement.currency == "USD"
    assert fx_row(statement, "EUR-1") == CONVERTED
    assert fx_row(statement, "GBP-1") == PENDING
    assert [line.deal_id for line in statement.lines] == ["EUR-1", "GBP-1"]
    assert totals(statement) == WORKED_TOTALS


def test_the_worked_example_in_every_order_with_duplicates() -> None:
    events = worked_example()
    for order in itertools.permutations(events):
        statement = only([*order, order[0], order[-1]])
        assert fx_row(statement, "EUR-1") == CONVERTED
        assert fx_row(statement, "GBP-1") == PENDING
        assert totals(statement) == WORKED_TOTALS
    rng = random.Random(11)
    for _ in range(50):
        doubled = events + rng.sample(events, rng.randint(0, len(events)))
        rng.shuffle(doubled)
        assert totals(only(doubled)) == WORKED_TOTALS


def test_the_rate_stands_as_the_rates_were_known() -> None:
    contract = signed()
    deal = closed("EUR-1", "2026-11-05", "10000.00", currency="EUR")
    # Before the correction: the first rate from 2026-11-01.
    assert only([contract, deal, OCTOBER, NOVEMBER]).line("EUR-1").amount == Decimal("10850.00")
    # Before any rate from November: October's.
    assert fx_row(only([contract, deal, OCTOBER]), "EUR-1")[1:] == (
        "10800.00",
        "USD",
        "1080.00",
        "0.00",
        "1080.00",
        "0.00",
        "10000.00",
        "EUR",
        "1.0800",
    )
    # A rate valid only from the day after the close does not convert it.
    after = rate_event("EUR", "USD", "2026-11-06", "2.0000")
    assert only([contract, deal, after]).line("EUR-1").status == "fx_pending"
    assert only([contract, deal, OCTOBER, after]).line("EUR-1").amount == Decimal("10800.00")
    # A rate valid from the very day of the close converts it.
    same_day = rate_event("EUR", "USD", "2026-11-05", "1.1000")
    assert only([contract, deal, *worked_example()[3:], same_day]).line("EUR-1").amount == Decimal(
        "11000.00"
    )


def test_of_two_rates_of_one_day_the_greatest_time_then_id_stands() -> None:
    contract = signed()
    deal = closed("EUR-1", "2026-11-05", "10000.00", currency="EUR")
    first = instant("2026-11-01T08:00:00Z")
    # The correction published earlier than the first version: the first version stands.
    late = rate_event("EUR", "USD", "2026-11-01", "1.0850", time=first, event_id="b")
    early = rate_event(
        "EUR", "USD", "2026-11-01", "1.0860", time=instant("2026-11-01T07:00:00Z"), event_id="z"
    )
    assert only([contract, deal, early, late]).line("EUR-1").amount == Decimal("10850.00")
    # On equal times the greater id stands.
    tied = rate_event("EUR", "USD", "2026-11-01", "1.0870", time=first, event_id="c")
    orders: list[list[Event]] = [[contract, deal, late, tied], [tied, deal, late, contract]]
    for events in orders:
        assert only(events).line("EUR-1").amount == Decimal("10870.00")


def test_the_day_of_the_close_is_its_utc_date() -> None:
    rates = worked_example()[3:]
    statement = only(
        [
            signed(commission_plan={**PLAN, "target_amount": None}),
            # 20:00 on 31 October at UTC-5 is 1 November in UTC: November's rate.
            closed("NY", "2026-10-31", "1000.00", currency="EUR", at="20:00:00-05:00"),
            # 00:30 on 1 November at UTC+1 is 31 October in UTC: October's rate.
            closed("PARIS", "2026-11-01", "1000.00", currency="EUR", at="00:30:00+01:00"),
            *rates,
        ]
    )
    assert statement.line("NY").fx_rate == Decimal("1.0860")
    assert statement.line("PARIS").fx_rate == Decimal("1.0800")


# --------------------------------------------------------------------------- where the rate comes from


def test_the_plans_fixed_rate_stands_over_the_published_ones() -> None:
    plan = {**PLAN, "fx_rates": {"EUR": "1.1000"}}
    statement = only([signed(commission_plan=plan), *worked_example()[1:]])
    assert fx_row(statement, "EUR-1") == (
        "commissionable",
        "11000.00",
        "USD",
        "1100.00",
        "0.00",
        "1100.00",
        "0.00",
        "10000.00",
        "EUR",
        "1.1000",
    )
    # The plan names no GBP: the deal waits for a published GBP/USD rate.
    assert fx_row(statement, "GBP-1") == PENDING
    gbp = rate_event("GBP", "USD", "2026-01-01", "1.2712")
    assert only([signed(commission_plan=plan), *worked_example()[1:], gbp]).line(
        "GBP-1"
    ).amount == Decimal("6356.00")


def test_no_inverse_and_no_cross_rate() -> None:
    statement = only(
        [
            signed(),
            closed("EUR-1", "2026-11-05", "10000.00", currency="EUR"),
            closed("GBP-1", "2026-11-06", "5000.00", currency="GBP"),
            rate_event("USD", "EUR", "2026-10-01", "0.9217"),  # the inverse of EUR/USD
            rate_event("GBP", "EUR", "2026-10-01", "1.17"),  # GBP/EUR then EUR/USD: a cross
            rate_event("EUR", "GBP", "2026-10-01", "0.85"),
        ]
    )
    assert statement.line("EUR-1").status == "fx_pending"
    assert statement.line("GBP-1").status == "fx_pending"
    assert totals(statement) == ("0.00", "0.00", "0.00", "0.00")


def test_a_rate_counts_for_every_partner() -> None:
    statements = expected_statements(
        [
            signed(),
            signed(partner="P-200"),
            closed("A", "2026-11-05", "10000.00", currency="EUR"),
            closed("B", "2026-11-05", "10000.00", currency="EUR", partner="P-200"),
            NOVEMBER_CORRECTED,
        ]
    )
    assert statements[(P, "2026-Q4")].line("A").amount == Decimal("10860.00")
    assert statements[("P-200", "2026-Q4")].line("B").amount == Decimal("10860.00")


# --------------------------------------------------------------------------- the converted amount in the rules


def test_the_converted_amount_is_rounded_half_even_to_cents() -> None:
    statement = only(
        [
            signed(),
            rate_event("EUR", "USD", "2026-10-01", "1.05"),
            closed("A", "2026-10-02", "0.50", currency="EUR"),  # 0.525 -> 0.52
            closed("B", "2026-10-03", "0.70", currency="EUR"),  # 0.735 -> 0.74
        ]
    )
    assert statement.line("A").amount == Decimal("0.52")
    assert statement.line("B").amount == Decimal("0.74")
    assert statement.revenue == Decimal("1.26")


def test_a_pending_deal_is_no_revenue_and_its_rate_moves_the_brackets_after_it() -> None:
    events = [
        signed(),
        closed("A", "2026-10-10", "90000.00"),
        closed("B", "2026-11-06", "10000.00", currency="GBP"),
        closed("C", "2026-11-20", "50000.00"),
    ]
    pending = only(events)
    assert pending.line("B").status == "fx_pending"
    # C starts at 90 000: 10 000 at 10 % and 40 000 at 12 %.
    assert pending.line("C").base == Decimal("5800.00")
    assert totals(pending) == ("140000.00", "14800.00", "0.00", "14800.00")

    converted = only([*events, rate_event("GBP", "USD", "2026-11-01", "1.2712")])
    # B is 12 712.00 USD from 90 000: 10 000 at 10 % and 2 712 at 12 %.
    assert fx_row(converted, "B") == (
        "commissionable",
        "12712.00",
        "USD",
        "1325.44",
        "0.00",
        "1325.44",
        "0.00",
        "10000.00",
        "GBP",
        "1.2712",
    )
    # C now starts at 102 712: all of it at 12 %.
    assert converted.line("C").base == Decimal("6000.00")
    assert totals(converted) == ("152712.00", "16325.44", "0.00", "16325.44")


def test_uplift_cap_and_target_use_the_converted_amount() -> None:
    plan = {**PLAN, "target_amount": "10500", "target_bonus": "500"}
    deal = closed("EUR-1", "2026-11-05", "10000.00", currency="EUR")
    cloud = certified("cloud", "2026-10-01", "2027-10-01")
    statement = only([signed(commission_plan=plan), deal, cloud, NOVEMBER_CORRECTED])
    # 10 860 at 10 %, 2 % of 10 860 for the certification; 10 860 reaches 10 500.
    assert fx_row(statement, "EUR-1")[:7] == (
        "commissionable",
        "10860.00",
        "USD",
        "1086.00",
        "217.20",
        "1303.20",
        "500.00",
    )
    capped = only(
        [signed(commission_plan={**plan, "period_cap": "1000"}), deal, cloud, NOVEMBER_CORRECTED]
    )
    assert (capped.line("EUR-1").commission, capped.line("EUR-1").target_bonus) == (
        Decimal("1000.00"),
        Decimal("500.00"),
    )


# --------------------------------------------------------------------------- the status order


def test_status_order_terminated_fx_pending_clawed_back() -> None:
    statement = only(
        [
            signed(),
            terminated("2026-12-01"),
            # Terminated before fx_pending: no rate is needed to say so.
            closed("GBP-LATE", "2026-12-02", "1000.00", currency="GBP"),
            # fx_pending before clawed_back.
            closed("GBP-CANCELLED", "2026-11-02", "1000.00", currency="GBP"),
            cancelled("GBP-CANCELLED", "2026-11-10"),
            # Converted, then clawed back: its line is converted, it is no revenue.
            closed("EUR-CANCELLED", "2026-11-05", "1000.00", currency="EUR"),
            cancelled("EUR-CANCELLED", "2026-11-10"),
            # Converted, then terminated: its line is converted too.
            closed("EUR-LATE", "2026-12-03", "1000.00", currency="EUR"),
            NOVEMBER_CORRECTED,
        ]
    )
    assert fx_row(statement, "GBP-LATE")[:3] == ("terminated", "1000.00", "GBP")
    assert fx_row(statement, "GBP-CANCELLED") == (
        "fx_pending",
        "1000.00",
        "GBP",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        None,
        None,
        None,
    )
    assert fx_row(statement, "EUR-CANCELLED") == (
        "clawed_back",
        "1086.00",
        "USD",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "1000.00",
        "EUR",
        "1.0860",
    )
    assert fx_row(statement, "EUR-LATE")[:3] + fx_row(statement, "EUR-LATE")[7:] == (
        "terminated",
        "1086.00",
        "USD",
        "1000.00",
        "EUR",
        "1.0860",
    )
    assert statement.revenue == Decimal("0.00")


def test_a_deal_with_no_contract_is_not_converted() -> None:
    statements = expected_statements(
        [signed(), closed("EARLY", "2026-09-30", "1000.00", currency="EUR"), OCTOBER]
    )
    assert fx_row(statements[(P, "2026-Q3")], "EARLY") == (
        "no_contract",
        "1000.00",
        "EUR",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        None,
        None,
        None,
    )


# --------------------------------------------------------------------------- the engine beside it


def test_the_engine_converts_the_worked_example_as_the_oracle() -> None:
    events = worked_example()
    expected = oracle_rows(events, fx=True)
    for order in (events, events[::-1]):
        for settle_each in (False, True):
            assert engine_rows(order, settle_each, fx=True) == expected
