"""The carry-forward arithmetic of settlements (shared/settlement.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.settlement import (
    AlreadySettled,
    Payout,
    Settlement,
    accounted,
    pending_adjustments,
    period_order,
    settle,
)

D = Decimal
AT = datetime(2027, 1, 5, tzinfo=UTC)


def recorded(payout: Payout, settlement_id: str) -> Settlement:
    """The Settlement a PayoutSettled of ``payout`` stands for."""
    return Settlement(
        settlement_id,
        payout.period,
        payout.currency,
        payout.amount_paid,
        payout.period_amount,
        payout.carried,
        AT,
        payout.unrecovered,
    )


def test_the_worked_example_settled_then_cancelled_carries_minus_12500() -> None:
    # The worked example (docs/rules/commissions.md): 45 600.00 commission
    # + 5 000.00 target bonus in 2026-Q4.
    q4 = settle("2026-Q4", "USD", {"2026-Q4": D("50600.00")}, [])
    assert (q4.amount_paid, q4.period_amount, q4.carried, q4.unrecovered) == (
        D("50600.00"),
        D("50600.00"),
        (),
        (),
    )
    history = [recorded(q4, "S-1")]
    # D-2 is cancelled: the quarter now pays 38 100.00 + 0.00.
    totals = {"2026-Q4": D("38100.00"), "2027-Q1": D("26000.00")}
    assert pending_adjustments(totals, history, "USD") == {"2026-Q4": D("-12500.00")}
    q1 = settle("2027-Q1", "USD", totals, history)
    assert q1.carried == (("2026-Q4", D("-12500.00")),)
    assert q1.period_amount == D("26000.00")
    assert q1.amount_paid == D("13500.00")
    assert q1.unrecovered == ()
    history.append(recorded(q1, "S-2"))
    assert pending_adjustments(totals, history, "USD") == {}
    assert accounted(history, "USD") == {"2026-Q4": D("38100.00"), "2027-Q1": D("26000.00")}


def test_a_clawback_bigger_than_the_next_payout_carries_forward_instead_of_paying_negative() -> (
    None
):
    history = [recorded(settle("2026-Q4", "USD", {"2026-Q4": D("50600.00")}, []), "S-1")]
    totals = {"2026-Q4": D("38100.00"), "2027-Q1": D("3000.00")}
    q1 = settle("2027-Q1", "USD", totals, history)
    assert q1.amount_paid == D("0.00")
    assert str(q1.amount_paid) == "0.00"
    assert q1.carried == (("2026-Q4", D("-3000.00")),)
    assert q1.unrecovered == (("2026-Q4", D("-9500.00")),)
    history.append(recorded(q1, "S-2"))
    assert pending_adjustments(totals, history, "USD") == {"2026-Q4": D("-9500.00")}

    # The next quarter pays 20 000.00 of its own, less the 9 500.00 still owed.
    totals["2027-Q2"] = D("20000.00")
    q2 = settle("2027-Q2", "USD", totals, history)
    assert q2.carried == (("2026-Q4", D("-9500.00")),)
    assert q2.amount_paid == D("10500.00")
    history.append(recorded(q2, "S-3"))
    assert pending_adjustments(totals, history, "USD") == {}


def test_nothing_to_net_against_leaves_the_whole_clawback_pending() -> None:
    history = [recorded(settle("2026-Q4", "USD", {"2026-Q4": D("50600.00")}, []), "S-1")]
    q1 = settle("2027-Q1", "USD", {"2026-Q4": D("38100.00")}, history)
    assert (q1.amount_paid, q1.carried, q1.unrecovered) == (
        D("0.00"),
        (),
        (("2026-Q4", D("-12500.00")),),
    )
    assert str(q1.amount_paid) == "0.00"
    assert str(q1.period_amount) == "0.00"


def test_negative_payouts_when_configured() -> None:
    history = [recorded(settle("2026-Q4", "USD", {"2026-Q4": D("50600.00")}, []), "S-1")]
    q1 = settle(
        "2027-Q1",
        "USD",
        {"2026-Q4": D("38100.00"), "2027-Q1": D("3000.00")},
        history,
        allow_negative=True,
    )
    assert q1.amount_paid == D("-9500.00")
    assert q1.carried == (("2026-Q4", D("-12500.00")),)
    assert q1.unrecovered == ()


def test_several_carried_periods_are_netted_oldest_first() -> None:
    history: list[Settlement] = []
    before: dict[str, Decimal] = {}
    for n, (period, total) in enumerate(
        [("2026-Q2", "10000.00"), ("2026-Q3", "8000.00"), ("2026-Q4", "5000.00")]
    ):
        before[period] = D(total)
        history.append(recorded(settle(period, "USD", before, history), f"S-{n}"))
    assert [s.amount_paid for s in history] == [D("10000.00"), D("8000.00"), D("5000.00")]
    # Q2 gains a late deal (+1 500), Q3 and Q4 lose to clawbacks (−6 000, −4 000).
    totals = {
        "2026-Q2": D("11500.00"),
        "2026-Q3": D("2000.00"),
        "2026-Q4": D("1000.00"),
        "2027-Q1": D("7000.00"),
    }
    q1 = settle("2027-Q1", "USD", totals, history)
    # Room: 1 500 + 7 000 = 8 500; Q3 nets −6 000 in full, Q4 only −2 500 of −4 000.
    assert q1.carried == (
        ("2026-Q2", D("1500.00")),
        ("2026-Q3", D("-6000.00")),
        ("2026-Q4", D("-2500.00")),
    )
    assert q1.amount_paid == D("0.00")
    assert q1.unrecovered == (("2026-Q4", D("-1500.00")),)


def test_settling_twice_is_refused_and_a_rerun_pays_only_the_difference() -> None:
    history = [recorded(settle("2026-Q4", "USD", {"2026-Q4": D("40000.00")}, []), "S-1")]
    with pytest.raises(AlreadySettled, match="2026-Q4 is already settled \\(S-1\\)"):
        settle("2026-Q4", "USD", {"2026-Q4": D("41000.00")}, history)
    rerun = settle("2026-Q4", "USD", {"2026-Q4": D("41000.00")}, history, rerun=True)
    assert (rerun.period_amount, rerun.amount_paid, rerun.carried) == (
        D("1000.00"),
        D("1000.00"),
        (),
    )
    history.append(recorded(rerun, "S-2"))
    assert settle("2026-Q4", "USD", {"2026-Q4": D("41000.00")}, history, rerun=True).empty


def test_other_currencies_are_neither_netted_nor_refused() -> None:
    history = [recorded(settle("2026-Q4", "EUR", {"2026-Q4": D("900.00")}, []), "S-1")]
    usd = settle("2026-Q4", "USD", {"2026-Q4": D("100.00")}, history)
    assert (usd.amount_paid, usd.carried) == (D("100.00"), ())


def test_a_settlement_must_add_up() -> None:
    with pytest.raises(ValueError, match=r"amount_paid 10\.00 is not period_amount"):
        Settlement("S-1", "2026-Q4", "USD", D("10.00"), D("5.00"), (), AT)


def test_periods_sort_chronologically() -> None:
    labels = ["2027-Q1", "2026-11", "2026", "2026-Q4", "2026-02", "2026-Q1"]
    assert sorted(labels, key=period_order) == [
        "2026",
        "2026-Q1",
        "2026-02",
        "2026-Q4",
        "2026-11",
        "2027-Q1",
    ]


cents = st.integers(min_value=-2_000_000, max_value=5_000_000).map(lambda c: D(c) / 100)
quarters = [f"2026-Q{q}" for q in range(1, 5)] + [f"2027-Q{q}" for q in range(1, 5)]


@given(st.lists(st.tuples(cents, cents), min_size=1, max_size=8), st.booleans())
def test_settling_every_quarter_pays_exactly_the_final_totals(
    changes: list[tuple[Decimal, Decimal]], allow_negative: bool
) -> None:
    """Whatever happens between settlements, what was paid plus what is pending equals the totals.

    Each quarter is settled in turn; before each settlement the current
    quarter gets a total and an earlier quarter changes by some amount.
    Without negative payouts, no payment is ever negative.
    """
    totals: dict[str, Decimal] = {}
    history: list[Settlement] = []
    for n, (total, change) in enumerate(changes):
        quarter = quarters[n]
        totals[quarter] = abs(total)
        if n:
            earlier = quarters[n - 1]
            totals[earlier] = max(D("0.00"), totals[earlier] + change)
        payout = settle(quarter, "USD", totals, history, allow_negative=allow_negative)
        if not allow_negative:
            assert payout.amount_paid >= 0
        history.append(recorded(payout, f"S-{n}"))
    paid = sum((s.amount_paid for s in history), D("0.00"))
    pending = sum(pending_adjustments(totals, history, "USD").values(), D("0.00"))
    assert paid + pending == sum(totals.values(), D("0.00"))


def test_reporting_shows_current_total_paid_and_pending_per_period() -> None:
    from services.reporting.domain import PeriodPayment, period_payments
    from services.reporting.views import PeriodPaymentView

    def as_json(payment: PeriodPayment) -> dict[str, object]:
        return PeriodPaymentView.of(payment).model_dump(mode="json")

    history = [recorded(settle("2026-Q4", "USD", {"2026-Q4": D("50600.00")}, []), "S-1")]
    totals = {("2026-Q4", "USD"): D("38100.00"), ("2027-Q1", "USD"): D("3000.00")}
    rows = [as_json(p) for p in period_payments(totals, history)]
    assert rows == [
        {
            "period": "2026-Q4",
            "currency": "USD",
            "current_total": "38100.00",
            "paid": "50600.00",
            "settled": True,
            "pending_adjustment": "-12500.00",
        },
        {
            "period": "2027-Q1",
            "currency": "USD",
            "current_total": "3000.00",
            "paid": "0.00",
            "settled": False,
            "pending_adjustment": "0.00",
        },
    ]
    q1 = settle("2027-Q1", "USD", {"2026-Q4": D("38100.00"), "2027-Q1": D("3000.00")}, history)
    history.append(recorded(q1, "S-2"))
    after = {p.period: as_json(p) for p in period_payments(totals, history)}
    assert (after["2026-Q4"]["paid"], after["2026-Q4"]["pending_adjustment"]) == (
        "47600.00",
        "-9500.00",
    )
    assert (after["2027-Q1"]["paid"], after["2027-Q1"]["pending_adjustment"]) == ("3000.00", "0.00")


def test_a_settlement_document_round_trips_and_every_field_is_required() -> None:
    from shared.settlement import from_document, to_document

    history = [recorded(settle("2026-Q4", "USD", {"2026-Q4": D("50600.00")}, []), "S-1")]
    q1 = recorded(settle("2027-Q1", "USD", {"2026-Q4": D("38100.00")}, history), "S-2")
    assert from_document(to_document(q1)) == q1
    document = to_document(history[0])
    assert document["carried_adjustments"] == []
    del document["carried_adjustments"]
    with pytest.raises(KeyError, match="carried_adjustments"):
        from_document(document)


def test_reporting_gives_a_stored_payout_its_dropped_empty_lists_back() -> None:
    from services.reporting.store import decode_payout
    from shared.settlement import from_document, to_document

    settled = recorded(settle("2026-Q4", "USD", {"2026-Q4": D("50600.00")}, []), "S-1")
    stored = to_document(settled)
    del stored["carried_adjustments"], stored["unrecovered"]  # as FerretDB v1 stores them
    assert from_document(decode_payout(stored)) == settled
    kept = to_document(
        recorded(settle("2027-Q1", "USD", {"2026-Q4": D("38100.00")}, [settled]), "S-2")
    )
    assert decode_payout(kept) == kept, "lists that were stored stay as they are"
