"""The reference oracle of demo/reference.py (docs/rules/commissions.md,
docs/rules/deal-registration.md, the conversion of deals in another currency), and the
engine checked against it."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.reference import (
    Event,
    Line,
    RegistrationOutcome,
    Statement,
    expected_registration_decisions,
    expected_statements,
)
from services.incentives.domain import (
    ExtensionAnswer,
    ManualDecision,
    PartnerBook,
    Registration,
    RegistrationFacts,
    apply_event,
    decide_registrations,
    exchange_rate,
)
from shared.events import (
    Actor,
    ActorKind,
    CloudEvent,
    DealRegistered,
    DealRegistrationApproved,
    DealRegistrationExtended,
    DealRegistrationExtensionRejected,
    DealRegistrationRejected,
    ExchangeRateSet,
    Payload,
    RateEvent,
    new_event,
    new_rate_event,
    parse_event,
)
from tests.support.events import CONTRACT, PROFILE, message

P = "P-100"
PLAN: dict[str, Any] = CONTRACT["commission_plan"]
_clock = itertools.count()


def _next_time() -> datetime:
    """A distinct, increasing CloudEvent time: later events are later versions."""
    return datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_clock))


def event(event_type: str, data: dict[str, Any], partner: str = P) -> CloudEvent[Payload]:
    """An event with a distinct, increasing CloudEvent time (the fact's version)."""
    return parse_event(
        message(event_type, {"partner_id": partner, **data}, time=_next_time().isoformat())
    )


def stamped(
    payload: Payload, time: datetime | None = None, event_id: str | None = None
) -> CloudEvent[Payload]:
    """``payload`` in a CloudEvent at ``time`` (default: the next distinct time)."""
    wrapped: CloudEvent[Any] = new_event(
        payload,
        source="/tests",
        time=time or _next_time(),
        event_id=event_id or f"e-{next(_clock)}",
    )
    return wrapped


def instant(text: str) -> datetime:
    """``2026-05-10`` (midnight UTC) or ``2026-05-10T00:00:01Z``."""
    if "T" not in text:
        text += "T00:00:00Z"
    return datetime.fromisoformat(text)


def signed(partner: str = P, **contract: Any) -> CloudEvent[Payload]:
    return event("PartnerSigned", {**PROFILE, "contract": {**CONTRACT, **contract}}, partner)


def closed(
    deal_id: str,
    day: str,
    amount: str,
    product_line: str = "cloud",
    currency: str = "USD",
    partner: str = P,
    at: str = "12:00:00Z",
) -> CloudEvent[Payload]:
    return event(
        "DealClosed",
        {
            "deal_id": deal_id,
            "customer": f"customer of {deal_id}",
            "product_line": product_line,
            "amount": amount,
            "currency": currency,
            "closed_at": f"{day}T{at}",
        },
        partner,
    )


def cancelled(deal_id: str, day: str, at: str = "12:00:00Z") -> CloudEvent[Payload]:
    return event(
        "DealCancelled",
        {"deal_id": deal_id, "cancelled_at": f"{day}T{at}", "reason": "customer withdrew"},
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


def decided(
    registration_id: str,
    approved: bool,
    when: str | datetime,
    *,
    by: str | None = None,
    expires: str | datetime | None = None,
    reason: str | None = None,
    deal_id: str | None = None,
    partner: str = P,
    time: datetime | None = None,
    event_id: str | None = None,
) -> CloudEvent[Payload]:
    """A decision on a registration: by the service (``by`` None: no actor, or
    ``"system"``) or by hand (``"person"``, ``"key"``); approved at ``when``, protecting
    the deal up to ``expires`` (None: no end)."""
    actor = None if by is None else Actor(kind=ActorKind(by), id=f"{by}-1")
    moment = when if isinstance(when, datetime) else instant(when)
    end = instant(expires) if isinstance(expires, str) else expires
    deal = deal_id or registration_id.removeprefix("R-")
    payload: Payload
    if approved:
        payload = DealRegistrationApproved(
            partner_id=partner,
            actor=actor,
            registration_id=registration_id,
            deal_id=deal,
            approved_at=moment,
            expires_at=end,
            reason=reason,
        )
    else:
        payload = DealRegistrationRejected(
            partner_id=partner,
            actor=actor,
            registration_id=registration_id,
            deal_id=deal,
            rejected_at=moment,
            reason=reason or "channel_conflict",
        )
    return stamped(payload, time, event_id)


def answered(
    registration_id: str,
    extension_id: str,
    days: int | None,
    *,
    deal_id: str | None = None,
    partner: str = P,
    customer: str = "Globex",
    time: datetime | None = None,
    event_id: str | None = None,
) -> CloudEvent[Payload]:
    """A channel manager's answer to an extension request: granted for ``days`` (more than
    90 is built without validation, to exercise the cap), refused when ``days`` is None."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    deal = deal_id or registration_id.removeprefix("R-")
    payload: Payload
    if days is None:
        payload = DealRegistrationExtensionRejected(
            partner_id=partner,
            registration_id=registration_id,
            extension_id=extension_id,
            deal_id=deal,
            customer=customer,
            product_line="security",
            reason="the deal is stalled",
            rejected_at=moment,
        )
    elif days <= 90:
        payload = DealRegistrationExtended(
            partner_id=partner,
            registration_id=registration_id,
            extension_id=extension_id,
            deal_id=deal,
            customer=customer,
            product_line="security",
            days=days,
            expires_at=moment,
            extended_at=moment,
        )
    else:
        payload = DealRegistrationExtended.model_construct(
            partner_id=partner,
            registration_id=registration_id,
            extension_id=extension_id,
            deal_id=deal,
            customer=customer,
            product_line="security",
            days=days,
            expires_at=moment,
            extended_at=moment,
        )
    return stamped(payload, time, event_id)


def registration_rejected(deal_id: str, day: str) -> CloudEvent[Payload]:
    return event(
        "DealRegistrationRejected",
        {
            "registration_id": f"R-{deal_id}",
            "deal_id": deal_id,
            "rejected_at": f"{day}T00:00:00Z",
            "reason": "channel_conflict",
        },
    )


def terminated(day: str) -> CloudEvent[Payload]:
    return event("PartnerTerminated", {"effective_date": day, "reason": "breach"})


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


Row = tuple[str, str, str, str, str, str]


def row(line: Line) -> Row:
    return (
        line.status,
        str(line.amount),
        str(line.base),
        str(line.uplift),
        str(line.commission),
        str(line.target_bonus),
    )


def table(statement: Statement) -> dict[str, Row]:
    return {line.deal_id: row(line) for line in statement.lines}


def only(events: Sequence[Event], period: str = "2026-Q4") -> Statement:
    statements = expected_statements(events)
    return statements[(P, period)]


def totals(statement: Statement) -> tuple[str, str, str, str]:
    return (
        str(statement.revenue),
        str(statement.commission_total),
        str(statement.bonus_total),
        str(statement.payout_total),
    )


# ------------------------------------------- the worked example (docs/rules/commissions.md)

EXPECTED_BEFORE = {
    "D-1": ("commissionable", "80000.00", "8000.00", "0.00", "8000.00", "0.00"),
    "D-2": ("commissionable", "50000.00", "5600.00", "0.00", "5600.00", "0.00"),
    "D-3": ("commissionable", "200000.00", "26400.00", "4000.00", "30400.00", "5000.00"),
    "D-4": ("commissionable", "10000.00", "1500.00", "100.00", "1600.00", "0.00"),
}
EXPECTED_AFTER = {
    "D-1": ("commissionable", "80000.00", "8000.00", "0.00", "8000.00", "0.00"),
    "D-2": ("clawed_back", "50000.00", "0.00", "0.00", "0.00", "0.00"),
    "D-3": ("commissionable", "200000.00", "24500.00", "4000.00", "28500.00", "0.00"),
    "D-4": ("commissionable", "10000.00", "1500.00", "100.00", "1600.00", "0.00"),
}


def test_worked_example_before_the_cancellation() -> None:
    statements = expected_statements(worked_example())
    assert list(statements) == [(P, "2026-Q4")]
    statement = statements[(P, "2026-Q4")]
    assert statement.currency == "USD"
    assert table(statement) == EXPECTED_BEFORE
    assert [line.deal_id for line in statement.lines] == ["D-1", "D-2", "D-3", "D-4"]
    assert totals(statement) == ("340000.00", "45600.00", "5000.00", "50600.00")


def test_worked_example_after_the_cancellation() -> None:
    statement = only([*worked_example(), cancelled("D-2", "2026-12-15")])
    assert table(statement) == EXPECTED_AFTER
    assert totals(statement) == ("290000.00", "38100.00", "0.00", "38100.00")


def test_any_permutation_and_duplication_gives_the_same_statement() -> None:
    events = [*worked_example(), cancelled("D-2", "2026-12-15")]
    rng = random.Random(7)
    for _ in range(100):
        shuffled = rng.sample(events, len(events))
        doubled = shuffled + rng.sample(events, rng.randint(0, len(events)))
        rng.shuffle(doubled)
        statement = only(doubled)
        assert table(statement) == EXPECTED_AFTER
        assert totals(statement) == ("290000.00", "38100.00", "0.00", "38100.00")


def test_every_permutation_of_the_worked_example() -> None:
    events = [*worked_example(), cancelled("D-2", "2026-12-15")]
    for n, order in enumerate(itertools.permutations(events[1:])):
        # The contract arrives last half the time: the order of arrival does not matter.
        statement = only([*order, events[0]] if n % 2 else [events[0], *order])
        assert totals(statement) == ("290000.00", "38100.00", "0.00", "38100.00")


# ------------------------------------------------ single rules (docs/rules/commissions.md)


def test_cap_limits_commission_but_not_the_target_bonus() -> None:
    statement = only(
        [
            signed(commission_plan={**PLAN, "period_cap": "10000"}),
            closed("A", "2026-10-01", "80000"),
            closed("B", "2026-10-02", "300000"),
            closed("C", "2026-10-03", "1000"),
        ]
    )
    assert table(statement) == {
        "A": ("commissionable", "80000.00", "8000.00", "0.00", "8000.00", "0.00"),
        # 20 000 at 10 %, 150 000 at 12 %, 130 000 at 15 %: 39 500, capped at 2 000 left.
        "B": ("commissionable", "300000.00", "39500.00", "0.00", "2000.00", "5000.00"),
        "C": ("commissionable", "1000.00", "150.00", "0.00", "0.00", "0.00"),
    }
    assert totals(statement) == ("381000.00", "10000.00", "5000.00", "15000.00")


def test_the_cap_is_per_period() -> None:
    statements = expected_statements(
        [
            signed(commission_plan={**PLAN, "period_cap": "1000", "period": "month"}),
            closed("OCT", "2026-10-01", "80000"),
            closed("NOV", "2026-11-01", "80000"),
        ]
    )
    assert statements[(P, "2026-10")].commission_total == Decimal("1000.00")
    assert statements[(P, "2026-11")].commission_total == Decimal("1000.00")


def test_clawback_window_boundary() -> None:
    plan = {**PLAN, "clawback_days": 30}
    statement = only(
        [
            signed(commission_plan=plan),
            closed("EXACT", "2026-10-01", "1000"),
            cancelled("EXACT", "2026-10-31"),  # exactly 30 days later: clawed back
            closed("DAY-MORE", "2026-10-02", "1000"),
            cancelled("DAY-MORE", "2026-11-02"),  # 31 days: commissionable
            closed("SECOND-MORE", "2026-10-03", "1000", at="12:00:00Z"),
            cancelled("SECOND-MORE", "2026-11-02", at="12:00:01Z"),  # 30 days and 1 s
        ]
    )
    statuses = {line.deal_id: line.status for line in statement.lines}
    assert statuses == {
        "EXACT": "clawed_back",
        "DAY-MORE": "commissionable",
        "SECOND-MORE": "commissionable",
    }
    assert statement.revenue == Decimal("2000.00")
    # The clawed-back deal does not count in cum: DAY-MORE starts at 0.
    assert statement.line("DAY-MORE").base == Decimal("100.00")


def test_earliest_cancellation_counts() -> None:
    statement = only(
        [
            signed(commission_plan={**PLAN, "clawback_days": 10}),
            closed("D", "2026-10-01", "1000"),
            cancelled("D", "2026-12-01"),
            cancelled("D", "2026-10-05"),
        ]
    )
    assert statement.line("D").status == "clawed_back"


def test_a_deal_in_another_currency_with_no_rate_earns_nothing_and_is_no_revenue() -> None:
    statement = only(
        [
            signed(),
            closed("EUR", "2026-10-01", "100000", currency="EUR"),
            closed("USD", "2026-10-02", "1000"),
        ]
    )
    assert table(statement)["EUR"] == (
        "fx_pending",
        "100000.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    )
    assert statement.line("USD").base == Decimal("100.00")
    assert statement.revenue == Decimal("1000.00")


def test_termination_from_its_effective_date_and_first_match_wins() -> None:
    statement = only(
        [
            signed(),
            terminated("2026-11-01"),
            terminated("2026-12-01"),  # the earliest applies
            closed("BEFORE", "2026-10-31", "1000", at="23:59:59Z"),
            closed("ON", "2026-11-01", "1000", at="00:00:00Z"),
            closed("EUR", "2026-11-02", "1000", currency="EUR"),  # terminated before fx_pending
        ]
    )
    assert {line.deal_id: line.status for line in statement.lines} == {
        "BEFORE": "commissionable",
        "ON": "terminated",
        "EUR": "terminated",
    }


def test_no_contract_is_reported_in_the_calendar_quarter() -> None:
    statements = expected_statements(
        [
            signed(commission_plan={**PLAN, "period": "year"}),
            closed("EARLY", "2026-09-30", "1000"),
            closed("IN", "2026-10-01", "1000"),
            closed("AFTER", "2027-10-01", "1000"),
        ]
    )
    assert set(statements) == {(P, "2026-Q3"), (P, "2026"), (P, "2027-Q4")}
    assert statements[(P, "2026-Q3")].line("EARLY").status == "no_contract"
    assert statements[(P, "2027-Q4")].line("AFTER").status == "no_contract"
    assert statements[(P, "2026")].line("IN").status == "commissionable"
    assert statements[(P, "2026-Q3")].payout_total == Decimal("0.00")


def test_dates_and_periods_are_utc() -> None:
    statements = expected_statements(
        [
            signed(commission_plan={**PLAN, "period": "month"}),
            # 20:00 on 30 September in New York is 1 October in UTC: inside the contract.
            closed("NY", "2026-09-30", "1000", at="20:00:00-04:00"),
        ]
    )
    assert statements[(P, "2026-10")].line("NY").status == "commissionable"


def test_renewal_with_a_later_start_governs() -> None:
    monthly = {**PLAN, "period": "month", "brackets": [{"from": "0", "rate": "0.5"}]}
    statements = expected_statements(
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
    assert statements[(P, "2026-Q4")].line("OCT").commission == Decimal("100.00")
    assert statements[(P, "2026-11")].line("NOV").commission == Decimal("500.00")


def test_latest_version_of_a_contract_and_of_a_deal_stands() -> None:
    old = signed(commission_plan={**PLAN, "brackets": [{"from": "0", "rate": "0.5"}]})
    new = signed()
    first = closed("D-1", "2026-10-05", "80000")
    correction = closed("D-1", "2026-10-05", "90000")
    for events in ([old, new, first, correction], [correction, new, first, old]):
        line = only(events).line("D-1")
        assert (line.amount, line.commission) == (Decimal("90000.00"), Decimal("9000.00"))


def test_rounding_is_half_even_on_base_and_uplift_separately() -> None:
    plan = {
        **PLAN,
        "brackets": [{"from": "0", "rate": "0.05"}],
        "certification_bonus_rate": "0.05",
        "target_amount": None,
    }
    statement = only(
        [
            signed(commission_plan=plan),
            certified("cloud", "2026-10-01", "2027-10-01"),
            # 0.05 × 0.50 = 0.025 -> 0.02 (half-even), for base and for uplift.
            closed("A", "2026-10-02", "0.50"),
            # 0.05 × 0.70 = 0.035 -> 0.04.
            closed("B", "2026-10-03", "0.70"),
        ]
    )
    assert row(statement.line("A"))[2:] == ("0.02", "0.02", "0.04", "0.00")
    assert row(statement.line("B"))[2:] == ("0.04", "0.04", "0.08", "0.00")


def test_uplift_windows() -> None:
    statement = only(
        [
            signed(commission_plan={**PLAN, "target_amount": None}),
            certified("cloud", "2026-10-10", "2026-10-20"),
            closed("BEFORE-CERT", "2026-10-09", "1000", at="23:59:59Z"),
            closed("AT-AWARD", "2026-10-10", "1000", at="00:00:00Z"),
            closed("AT-EXPIRY", "2026-10-20", "1000", at="00:00:00Z"),
            registration_approved("REG-LATE", "2026-10-21"),
            closed("REG-LATE", "2026-10-20", "1000", product_line="security"),
            registration_approved("REG-SAME", "2026-10-22"),
            closed("REG-SAME", "2026-10-22", "1000", product_line="security", at="00:00:00Z"),
        ]
    )
    uplifts = {line.deal_id: str(line.uplift) for line in statement.lines}
    assert uplifts == {
        "BEFORE-CERT": "0.00",
        "AT-AWARD": "20.00",
        "AT-EXPIRY": "0.00",
        "REG-LATE": "0.00",
        "REG-SAME": "10.00",
    }


def test_a_later_rejection_of_a_registration_stands() -> None:
    approved = registration_approved("D", "2026-10-01")
    rejected = registration_rejected("D", "2026-10-01")  # later (time, id)
    for events in ([approved, rejected], [rejected, approved]):
        line = only(
            [signed(), closed("D", "2026-10-05", "1000", product_line="security"), *events]
        ).line("D")
        assert line.uplift == Decimal("0.00")


def test_target_bonus_goes_to_the_first_deal_reaching_the_target_only() -> None:
    statement = only(
        [
            signed(commission_plan={**PLAN, "target_amount": "1000", "target_bonus": "50"}),
            closed("A", "2026-10-01", "999.99"),
            closed("B", "2026-10-02", "0.01"),  # cum + amount = 1000 exactly
            closed("C", "2026-10-03", "5000"),
        ]
    )
    assert [str(line.target_bonus) for line in statement.lines] == ["0.00", "50.00", "0.00"]
    assert statement.bonus_total == Decimal("50.00")


def test_same_closed_at_is_ordered_by_deal_id() -> None:
    statement = only(
        [
            signed(commission_plan={**PLAN, "target_amount": None}),
            closed("B", "2026-10-01", "100000"),
            closed("A", "2026-10-01", "100000"),
        ]
    )
    assert [line.deal_id for line in statement.lines] == ["A", "B"]
    assert (statement.line("A").base, statement.line("B").base) == (
        Decimal("10000.00"),
        Decimal("12000.00"),
    )


def test_partners_are_separate() -> None:
    statements = expected_statements(
        [
            signed(),
            signed(partner="P-200"),
            closed("A", "2026-10-01", "100000"),
            closed("B", "2026-10-02", "100000", partner="P-200"),
        ]
    )
    assert statements[(P, "2026-Q4")].line("A").base == Decimal("10000.00")
    assert statements[("P-200", "2026-Q4")].line("B").base == Decimal("10000.00")


# ----------------------------------------- registration (docs/rules/deal-registration.md)


def registered(
    rid: str,
    partner: str,
    day: str | datetime,
    customer: str = "Globex",
    product_line: str = "security",
    *,
    time: datetime | None = None,
    event_id: str | None = None,
) -> CloudEvent[Payload]:
    return stamped(
        DealRegistered(
            partner_id=partner,
            registration_id=rid,
            deal_id=f"D-{rid}",
            customer=customer,
            product_line=product_line,
            expected_amount=Decimal(1000),
            registered_at=day if isinstance(day, datetime) else instant(day),
        ),
        time,
        event_id,
    )


def verdicts(decisions: dict[str, RegistrationOutcome]) -> dict[str, tuple[bool, str | None]]:
    return {rid: (outcome.approved, outcome.reason) for rid, outcome in decisions.items()}


def test_first_registration_wins_whatever_the_order_and_conflicts_expire() -> None:
    events = [
        registered("R1", "P-1", "2026-01-01"),
        registered("R2", "P-2", "2026-02-01"),  # P-1 holds R1 (31 days earlier)
        registered("R3", "P-1", "2026-02-02"),  # same partner: no conflict
        registered("R4", "P-2", "2026-04-02"),  # R3 is 59 days earlier
        registered("R5", "P-3", "2026-04-01", customer="Initech"),
        registered("R6", "P-3", "2026-04-01", product_line="cloud"),
        registered("R7", "P-2", "2026-08-01"),  # R3 is 180 days earlier: expired
    ]
    expected = {
        "R1": (True, None),
        "R2": (False, "channel_conflict"),
        "R3": (True, None),
        "R4": (False, "channel_conflict"),
        "R5": (True, None),
        "R6": (True, None),
        "R7": (True, None),
    }
    for order in itertools.permutations(events):
        assert verdicts(expected_registration_decisions([*order, order[0]])) == expected


def test_registration_ninety_day_boundary_and_ties() -> None:
    decisions = expected_registration_decisions(
        [
            registered("R-A", "P-1", "2026-01-01"),
            registered("R-B", "P-2", "2026-04-01"),  # exactly 90 days later: still a conflict
            registered("R-C", "P-2", "2026-04-02"),  # 91 days: free
            registered("T-2", "P-5", "2026-06-01", customer="Tie"),
            registered("T-1", "P-4", "2026-06-01", customer="Tie"),  # tie: T-1 first
        ]
    )
    assert decisions == {
        "R-A": approved_until("2026-04-01"),
        "R-B": conflict_with("R-A"),
        "R-C": approved_until("2026-07-01"),
        "T-1": approved_until("2026-08-30"),
        "T-2": conflict_with("T-1"),
    }


def test_a_rejected_registration_blocks_nobody() -> None:
    decisions = expected_registration_decisions(
        [
            registered("R1", "P-1", "2026-01-01"),
            registered("R2", "P-2", "2026-01-02"),
            registered("R3", "P-3", "2026-01-03"),
        ]
    )
    assert decisions == {
        "R1": approved_until("2026-04-01"),
        "R2": conflict_with("R1"),
        "R3": conflict_with("R1"),
    }


def approved_until(end: str, reason: str | None = None) -> RegistrationOutcome:
    return RegistrationOutcome(True, reason, None, instant(end))


def conflict_with(registration_id: str) -> RegistrationOutcome:
    return RegistrationOutcome(False, "channel_conflict", registration_id, None)


def test_protection_days_is_a_setting() -> None:
    events = [registered("R1", "P-1", "2026-01-01"), registered("R2", "P-2", "2026-01-31")]
    assert expected_registration_decisions(events, protection_days=30) == {
        "R1": approved_until("2026-01-31"),
        "R2": conflict_with("R1"),  # exactly at the end: both ends included
    }
    assert expected_registration_decisions(events, protection_days=29) == {
        "R1": approved_until("2026-01-30"),
        "R2": approved_until("2026-03-01"),
    }


def test_extensions_count_twice_at_most_and_ninety_days_each() -> None:
    r1 = registered("R1", "P-1", "2026-01-01")  # protects to 2026-04-01 without extensions
    granted = [
        answered("R1", "X-1", 120, partner="P-1", time=instant("2026-02-01")),  # counts 90 days
        answered("R1", "X-2", 10, partner="P-1", time=instant("2026-02-02")),  # counts 10 days
        answered(
            "R1", "X-3", 30, partner="P-1", time=instant("2026-02-03")
        ),  # a third: does not count
    ]
    assert expected_registration_decisions([r1, *granted])["R1"] == approved_until("2026-07-10")
    # A later refusal of X-1 stands over its grant: count.
    refused = answered("R1", "X-1", None, partner="P-1", time=instant("2026-02-04"))
    assert expected_registration_decisions([refused, *granted, r1])["R1"] == approved_until(
        "2026-05-11"
    )


def test_the_first_protecting_registration_in_decision_order_is_the_conflict() -> None:
    decisions = expected_registration_decisions(
        [
            registered("R-B", "P-2", "2026-01-01"),
            registered("R-A", "P-1", "2026-01-01"),
            registered("R-C", "P-3", "2026-02-01"),
        ]
    )
    assert decisions["R-B"] == conflict_with("R-A")
    assert decisions["R-C"] == conflict_with("R-A")


def test_only_decisions_by_hand_are_inputs_to_the_rule() -> None:
    events = [
        registered("R1", "P-1", "2026-01-01"),
        registered("R2", "P-2", "2026-01-02"),
        # The service's own output (no actor, or the system): never an input.
        decided("R1", False, "2026-01-01", partner="P-1"),
        decided("R2", True, "2026-01-02", by="system", partner="P-2"),
    ]
    assert expected_registration_decisions(events) == {
        "R1": approved_until("2026-04-01"),
        "R2": conflict_with("R1"),
    }
    # Of two decisions by hand on one registration, the greater (time, id) stands.
    first = decided("R2", False, "2026-01-02", by="key", reason="duplicate", partner="P-2")
    second = decided("R2", True, "2026-01-02", by="person", reason="checked", partner="P-2")
    for order in ([first, second], [second, first]):
        decisions = expected_registration_decisions([*events, *order])
        assert decisions["R2"] == approved_until("2026-04-02", "checked")


# ------------------------------------ the lifecycle, the reference and the engine side by side


def engine_decisions(
    events: list[CloudEvent[Payload]], protection_days: int = 90
) -> dict[str, RegistrationOutcome]:
    """The engine's decisions (``decide_registrations``) on the facts of ``events``: the
    standing version of each registration, the standing answer of each extension request
    and the standing decision by hand of each registration (person or key)."""
    registrations: dict[str, CloudEvent[Payload]] = {}
    answers: dict[str, CloudEvent[Payload]] = {}
    by_hand: dict[str, CloudEvent[Payload]] = {}

    def keep(table: dict[str, CloudEvent[Payload]], key: str, e: CloudEvent[Payload]) -> None:
        if key not in table or (e.time, e.id) > (table[key].time, table[key].id):
            table[key] = e

    for e in events:
        data = e.data
        if isinstance(data, DealRegistered):
            keep(registrations, data.registration_id, e)
        elif isinstance(data, DealRegistrationExtended | DealRegistrationExtensionRejected):
            keep(answers, data.extension_id, e)
        elif isinstance(data, DealRegistrationApproved | DealRegistrationRejected) and (
            data.actor is not None and data.actor.kind is not ActorKind.SYSTEM
        ):
            keep(by_hand, data.registration_id, e)

    extensions: dict[str, list[ExtensionAnswer]] = {}
    for e in answers.values():
        data = e.data
        assert isinstance(data, DealRegistrationExtended | DealRegistrationExtensionRejected)
        granted = isinstance(data, DealRegistrationExtended)
        extensions.setdefault(data.registration_id, []).append(
            ExtensionAnswer(
                data.extension_id,
                data.registration_id,
                data.deal_id,
                granted,
                data.days if isinstance(data, DealRegistrationExtended) else 0,
                data.extended_at
                if isinstance(data, DealRegistrationExtended)
                else data.rejected_at,
                (e.time, e.id),
            )
        )
    manual: dict[str, ManualDecision] = {}
    for e in by_hand.values():
        data = e.data
        assert isinstance(data, DealRegistrationApproved | DealRegistrationRejected)
        manual[data.registration_id] = ManualDecision(
            data.registration_id,
            isinstance(data, DealRegistrationApproved),
            data.reason or "",
            (e.time, e.id),
        )
    inputs = []
    for e in registrations.values():
        data = e.data
        assert isinstance(data, DealRegistered)
        inputs.append(
            Registration(
                data.registration_id,
                data.deal_id,
                data.partner_id,
                data.customer,
                data.product_line,
                data.registered_at,
            )
        )
    return {
        d.registration.registration_id: RegistrationOutcome(
            d.approved,
            d.reason or None,
            d.conflicting_registration_id,
            d.expires_at if d.approved else None,
        )
        for d in decide_registrations(
            inputs, protection_days=protection_days, extensions=extensions, manual=manual
        )
    }


def both_decisions(
    events: list[CloudEvent[Payload]], protection_days: int = 90
) -> dict[str, RegistrationOutcome]:
    """The reference's decisions, once checked against the engine's."""
    expected = expected_registration_decisions(events, protection_days)
    assert engine_decisions(events, protection_days) == expected
    return expected


def both_uplifts(events: list[CloudEvent[Payload]], settle_each: bool = False) -> dict[str, str]:
    """Each deal's uplift by the reference, once checked against the engine's."""
    expected = oracle_rows(events)
    assert engine_rows(events, settle_each) == expected
    return {deal_id: str(row[4]) for deal_id, row in expected.items()}


YEAR = {"start_date": "2026-01-01", "end_date": "2026-12-31"}
NO_TARGET = {**PLAN, "target_amount": None}


def test_uplift_inside_the_window_both_ends_included() -> None:
    events = [
        signed(**YEAR, commission_plan=NO_TARGET),
        decided("R-AT", True, "2026-02-01", expires="2026-05-02"),
        closed("AT", "2026-05-02", "1000", product_line="security", at="00:00:00Z"),
        decided("R-LATE", True, "2026-02-01", expires="2026-05-02"),
        closed("LATE", "2026-05-02", "1000", product_line="security", at="00:00:01Z"),
        decided("R-START", True, "2026-02-01", expires="2026-05-02"),
        closed("START", "2026-02-01", "1000", product_line="security", at="00:00:00Z"),
        decided("R-EARLY", True, "2026-02-01", expires="2026-05-02"),
        closed("EARLY", "2026-01-31", "1000", product_line="security", at="23:59:59Z"),
        decided("R-NO-END", True, "2026-02-01"),  # no expires_at: no end
        closed("NO-END", "2026-12-31", "1000", product_line="security"),
    ]
    assert both_uplifts(events) == {
        "AT": "10.00",
        "LATE": "0.00",
        "START": "10.00",
        "EARLY": "0.00",
        "NO-END": "10.00",
    }


def test_extensions_move_the_end_of_the_uplift_window() -> None:
    # Expires 2026-03-01 before extensions; 20 days (refused once, then granted), then
    # 120 days counted as 90, then a third grant that does not count: 2026-06-19.
    answers: list[tuple[str, int | None]] = [("X-1", None), ("X-1", 20), ("X-2", 120), ("X-3", 30)]
    ext = [answered("R-AT", extension_id, days) for extension_id, days in answers]
    later = [answered("R-LATE", f"L{extension_id}", days) for extension_id, days in answers]
    registration = [
        decided("R-AT", True, "2026-01-01", expires="2026-03-01"),
        decided("R-LATE", True, "2026-01-01", expires="2026-03-01"),
    ]
    deals = [
        closed("AT", "2026-06-19", "1000", product_line="security", at="00:00:00Z"),
        closed("LATE", "2026-06-19", "1000", product_line="security", at="00:00:01Z"),
    ]
    contract = signed(**YEAR, commission_plan=NO_TARGET)
    # Extensions arriving before their registration's decision, and after it.
    for events in (
        [contract, *ext, *later, *registration, *deals],
        [contract, *deals, *registration, *ext, *later],
    ):
        for settle_each in (False, True):
            assert both_uplifts(events, settle_each) == {"AT": "10.00", "LATE": "0.00"}


def test_a_rejection_by_hand_of_an_automatic_approval_removes_the_uplift() -> None:
    automatic = decided("R-D", True, "2026-02-01", by="system", expires="2026-05-02")
    contract = signed(**YEAR, commission_plan=NO_TARGET)
    deal = closed("D", "2026-03-01", "1000", product_line="security")
    assert both_uplifts([contract, automatic, deal]) == {"D": "10.00"}
    # By hand stands over automatic, whatever their times: here the manager's
    # rejection is older than a correction the service publishes afterwards.
    by_hand = decided("R-D", False, "2026-02-01", by="person", reason="not ours")
    correction = decided("R-D", True, "2026-02-01", expires="2026-05-02")
    for events in ([contract, automatic, deal, by_hand, correction], [by_hand, deal, contract]):
        for settle_each in (False, True):
            assert both_uplifts(events, settle_each) == {"D": "0.00"}


def test_an_approval_by_hand_of_a_conflicting_registration_makes_it_protect() -> None:
    events = [
        registered("A", "P-1", "2026-01-10"),
        registered("B", "P-2", "2026-03-01"),
        registered("C", "P-3", "2026-03-15"),
        registered("D", "P-3", "2026-04-20"),
    ]
    assert both_decisions(events) == {
        "A": approved_until("2026-04-10"),
        "B": conflict_with("A"),
        "C": conflict_with("A"),
        "D": approved_until("2026-07-19"),  # A protected up to 2026-04-10 only
    }
    manager = decided("B", True, "2026-03-01", by="person", reason="verified", partner="P-2")
    assert both_decisions([manager, *events]) == {
        "A": approved_until("2026-04-10"),
        "B": approved_until("2026-05-30", "verified"),
        "C": conflict_with("A"),  # A is first in decision order
        "D": conflict_with("B"),  # B protects from 2026-03-01 to 2026-05-30
    }
    # A rejection by hand takes a registration out of the rule's protection too.
    rejected = decided("A", False, "2026-01-10", by="key", reason="fraud", partner="P-1")
    assert both_decisions([rejected, *events]) == {
        "A": RegistrationOutcome(False, "fraud", None, None),
        "B": approved_until("2026-05-30"),
        "C": conflict_with("B"),
        "D": conflict_with("B"),
    }


def worked_lifecycle() -> list[CloudEvent[Payload]]:
    """The worked example of docs/rules/deal-registration.md (Lifecycle)."""
    return [
        registered("A", "P-A", "2026-01-10"),
        registered("B", "P-B", "2026-03-01"),
        answered("A", "X-A1", 30, partner="P-A"),
        registered("C", "P-C", "2026-05-10T00:00:00Z"),
        registered("D", "P-D", "2026-05-11"),
    ]


def test_the_worked_example_of_the_lifecycle() -> None:
    before = [registered("A", "P-A", "2026-01-10"), registered("B", "P-B", "2026-03-01")]
    assert both_decisions(before) == {
        "A": approved_until("2026-04-10"),
        "B": conflict_with("A"),
    }
    events = worked_lifecycle()
    assert both_decisions(events) == {
        "A": approved_until("2026-05-10"),
        "B": conflict_with("A"),
        "C": conflict_with("A"),
        "D": approved_until("2026-08-09"),
    }
    manager = decided("B", True, "2026-03-01", by="person", reason="joint deal", partner="P-B")
    assert both_decisions([*events, manager]) == {
        "A": approved_until("2026-05-10"),
        "B": approved_until("2026-05-30", "joint deal"),
        "C": conflict_with("A"),
        "D": conflict_with("B"),  # corrected: B protects up to 2026-05-30
    }

    # A's deal: the approval published says 2026-04-10, the extension moves it on.
    commissions = [
        signed(**YEAR, commission_plan=NO_TARGET),
        decided("R-A1", True, "2026-01-10", by="system", expires="2026-04-10"),
        decided("R-A2", True, "2026-01-10", by="system", expires="2026-04-10"),
        answered("R-A1", "X-A1", 30),
        answered("R-A2", "X-A2", 30),
        closed("A1", "2026-05-10", "1000", "security", at="00:00:00Z"),
        closed("A2", "2026-05-10", "1000", "security", at="00:00:01Z"),
    ]
    assert both_uplifts(commissions) == {"A1": "10.00", "A2": "0.00"}


# The rule asks for a pure function of the set of events, whatever their order.


def test_a_registration_sent_again_counts_in_its_latest_version_whatever_the_order() -> None:
    first = registered("B", "P-2", "2026-03-01")
    corrected = registered("B", "P-2", "2026-06-01")  # a later version: registered 2026-06-01
    events = [registered("A", "P-1", "2026-01-10"), first, corrected]
    expected = expected_registration_decisions(events)
    assert expected["B"] == approved_until("2026-08-30")
    for order in (events, events[::-1]):
        facts = RegistrationFacts()
        for e in order:
            data = e.data
            assert isinstance(data, DealRegistered)
            facts.add_registration(
                Registration(
                    data.registration_id,
                    data.deal_id,
                    data.partner_id,
                    data.customer,
                    data.product_line,
                    data.registered_at,
                ),
                (e.time, e.id),
            )
        decided_now = {d.registration.registration_id: d.approved for d in facts.decide()}
        assert decided_now == {rid: o.approved for rid, o in expected.items()}


def test_an_extension_counts_for_its_registration_whatever_deal_it_names() -> None:
    events = [
        signed(**YEAR, commission_plan=NO_TARGET),
        decided("R-D", True, "2026-01-10", by="system", expires="2026-04-10"),
        closed("D", "2026-04-20", "1000", "security"),
    ]
    extension = answered("R-D", "X-1", 30, deal_id="ANOTHER")
    assert both_uplifts([extension, *events]) == {"D": "10.00"}
    assert both_uplifts([*events, extension]) == {"D": "10.00"}


# --------------------------------------------------------------------------- the engine vs the oracle

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = st.integers(min_value=0, max_value=420)


def _day(draw: st.DrawFn) -> str:
    return (START + timedelta(days=draw(DAYS))).date().isoformat()


#: Extension answers: refused (None), granted for so many days (over 90: capped).
ANSWER_DAYS = st.sampled_from([None, 1, 30, 90, 91, 120])


def counted_days(answers: list[tuple[str, int | None]]) -> int:
    """The days that ``answers`` (extension id, days or None, in version order) extend a
    registration by: the last answer to each request stands, and of the grants the first
    two count, 90 days at most each. Only to place closings on the window's end."""
    standing: dict[str, tuple[int, int | None]] = {}
    for index, (extension_id, days) in enumerate(answers):
        standing[extension_id] = (index, days)
    grants = sorted((index, days) for index, days in standing.values() if days is not None)
    return sum(min(days, 90) for _index, days in grants[:2])


def _lifecycle(draw: st.DrawFn, deal: str, closed_at: datetime) -> list[CloudEvent[Payload]]:
    """A registration of ``deal`` with a window: decisions by the service and by hand,
    extensions granted and refused (more than two, more than 90 days), and an end placed
    at ``closed_at``, a second before or after it, elsewhere, or absent."""
    rid = f"R-{deal}"
    specs = [
        (f"X-{deal}-{draw(st.integers(0, 3))}", draw(ANSWER_DAYS))
        for _ in range(draw(st.integers(0, 5)))
    ]
    place = draw(st.sampled_from(["at", "before", "after", "none", "far"]))
    end_before_extensions = closed_at - timedelta(days=counted_days(specs))
    expires: datetime | None = {
        "at": end_before_extensions,
        "before": end_before_extensions - timedelta(seconds=1),
        "after": end_before_extensions + timedelta(seconds=1),
        "none": None,
        "far": closed_at + timedelta(days=draw(st.integers(-200, 200))),
    }[place]
    midnight = closed_at.replace(hour=0, minute=0, second=0)
    approved_at = draw(
        st.sampled_from(
            [
                closed_at,
                closed_at + timedelta(seconds=1),
                midnight,
                midnight - timedelta(days=40),
                midnight + timedelta(days=1),
            ]
        )
    )
    automatic_approves = draw(st.integers(0, 3)) > 0
    automatic_actor = draw(st.sampled_from([None, "system"]))
    hands = [
        (
            draw(st.booleans()),
            draw(st.sampled_from(["person", "key"])),
            draw(st.sampled_from([expires, None])),
        )
        for _ in range(draw(st.integers(0, 2)))
    ]

    def automatic() -> list[CloudEvent[Payload]]:
        return [
            decided(
                rid,
                automatic_approves,
                approved_at,
                by=automatic_actor,
                expires=expires,
                deal_id=deal,
            )
        ]

    def by_hand() -> list[CloudEvent[Payload]]:
        return [
            decided(rid, approved, approved_at, by=by, expires=end, reason="checked", deal_id=deal)
            for approved, by, end in hands
        ]

    def answers() -> list[CloudEvent[Payload]]:
        return [answered(rid, extension_id, days, deal_id=deal) for extension_id, days in specs]

    # Published in one of these orders (each event's time is when it is made): the
    # extensions before or after the decisions, the decisions by hand before or after the
    # service's own (a correction the service publishes after a decision by hand).
    order = draw(
        st.sampled_from(
            [
                (answers, by_hand, automatic),
                (automatic, by_hand, answers),
                (by_hand, automatic, answers),
            ]
        )
    )
    made: list[CloudEvent[Payload]] = []
    for make in order:
        made.extend(make())
    return made


def rate_event(
    base: str,
    quote: str,
    valid_from: date | str,
    rate: str,
    *,
    time: datetime | None = None,
    event_id: str | None = None,
) -> RateEvent:
    """An ExchangeRateSet: one ``base`` is worth ``rate`` ``quote`` from ``valid_from`` on."""
    if isinstance(valid_from, str):
        valid_from = date.fromisoformat(valid_from)
    return new_rate_event(
        ExchangeRateSet(
            base=base,
            quote=quote,
            rate=Decimal(rate),
            valid_from=valid_from,
            source="tests",
        ),
        source="/tests/rates",
        time=time or _next_time(),
        event_id=event_id or f"r-{next(_clock)}",
    )


#: The deals' currencies in the histories with conversions; the contracts are in USD or EUR.
FX_DEAL_CURRENCIES = ["USD", "USD", "EUR", "EUR", "GBP", "CHF"]
#: The pairs a rate may be published for: CHF has none (only a plan's fx_rates converts
#: it), USD/EUR is the inverse of EUR/USD, EUR/GBP and GBP/EUR make cross rates possible.
RATE_PAIRS = [("EUR", "USD"), ("GBP", "USD"), ("USD", "EUR"), ("GBP", "EUR"), ("EUR", "GBP")]
#: Rates: 1.5 and 1.05 put many converted amounts on half a cent (half-even rounding).
RATE_VALUES = ["1.0800", "1.0850", "1.0860", "0.9217", "1.2712", "1.5", "1.05", "0.85123"]
#: A plan's fixed rates (by deal currency), over the published ones.
PLAN_FX_RATES: list[dict[str, str] | None] = [
    None,
    None,
    {"EUR": "1.0900"},
    {"CHF": "1.1234", "GBP": "1.25"},
    {"GBP": "1.1711", "USD": "0.9311"},
]
#: CloudEvent times of the rates: few, so a correction ties on time and the id decides.
RATE_TIMES = [datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=n) for n in range(3)]


def _rates(draw: st.DrawFn, deal_days: Sequence[date]) -> list[RateEvent]:
    """Rates of some pairs (a pair drawn out has none), each valid from a few dates (some
    on a deal's UTC date or the day after, some after every deal), some corrected by a
    second event with the same valid_from."""
    serial = itertools.count()
    made: list[RateEvent] = []
    for base, quote in RATE_PAIRS:
        if draw(st.integers(0, 3)) == 0:
            continue
        for _ in range(draw(st.integers(1, 3))):
            on_a_deal = draw(st.booleans())
            if on_a_deal and len(deal_days) > 0:
                valid_from = draw(st.sampled_from(deal_days)) + timedelta(
                    days=draw(st.sampled_from([0, 0, 1]))
                )
            else:
                valid_from = (START + timedelta(days=draw(st.integers(-30, 450)))).date()
            for _ in range(draw(st.integers(1, 2))):
                made.append(
                    rate_event(
                        base,
                        quote,
                        valid_from,
                        draw(st.sampled_from(RATE_VALUES)),
                        time=draw(st.sampled_from(RATE_TIMES)),
                        event_id=f"r{draw(st.integers(0, 9))}-{next(serial)}",
                    )
                )
    return made


@st.composite
def histories(draw: st.DrawFn, fx: bool = False) -> list[Event]:
    """One partner's events: contracts, deals with corrections, cancellations, uplifts.

    Every deal is in the currency of the contract that governs it, unless ``fx``: then
    deals come in other currencies too, with ExchangeRateSet events (see :func:`_rates`)
    and plans with fixed fx_rates.
    """
    brackets = draw(
        st.sampled_from(
            [
                PLAN["brackets"],
                [{"from": "0", "rate": "0.07"}],
                [{"from": "0", "rate": "0.033"}, {"from": "12345.67", "rate": "0.061"}],
            ]
        )
    )
    plan = {
        **PLAN,
        "brackets": brackets,
        "period": draw(st.sampled_from(["month", "quarter", "year"])),
        "period_cap": draw(st.sampled_from([None, "5000", "20000", "0"])),
        "clawback_days": draw(st.integers(0, 120)),
        "certification_bonus_rate": draw(st.sampled_from(["0.02", "0.015", "0"])),
        "registered_deal_bonus_rate": draw(st.sampled_from(["0.01", "0.005"])),
        "target_amount": draw(st.sampled_from([None, "50000", "150000", "0"])),
        "target_bonus": draw(st.sampled_from([None, "5000", "1234.56"])),
    }
    if fx:
        plan["fx_rates"] = draw(st.sampled_from(PLAN_FX_RATES))
    events: list[Event] = [
        signed(start_date="2026-01-01", end_date="2026-12-31", commission_plan=plan)
    ]
    if draw(st.booleans()):
        renewal_plan = {**plan, "period": draw(st.sampled_from(["month", "quarter", "year"]))}
        if fx:
            renewal_plan["fx_rates"] = draw(st.sampled_from(PLAN_FX_RATES))
        events.append(
            event(
                "ContractRenewed",
                {
                    **PROFILE,
                    "contract": {
                        **CONTRACT,
                        "contract_id": "C-2",
                        "start_date": draw(st.sampled_from(["2026-07-01", "2026-10-15"])),
                        "end_date": "2027-06-30",
                        "currency": draw(st.sampled_from(["USD", "EUR"])) if fx else "USD",
                        "commission_plan": renewal_plan,
                    },
                },
            )
        )
    if draw(st.integers(0, 4)) == 0:
        # A new version of the first contract (same contract_id), published later; with
        # conversions, its plan may name other fixed rates or none.
        corrected_plan = {**plan, "period_cap": None}
        if fx:
            corrected_plan["fx_rates"] = draw(st.sampled_from(PLAN_FX_RATES))
        events.append(
            signed(
                start_date="2026-01-01",
                end_date=draw(st.sampled_from(["2026-06-30", "2026-12-31"])),
                commission_plan=corrected_plan,
            )
        )
    deal_days: list[date] = []
    for n in range(draw(st.integers(1, 12))):
        deal = f"D-{n}"
        moment = START + timedelta(
            days=draw(DAYS), seconds=draw(st.sampled_from([0, 1, 43200, 86399]))
        )
        at = moment.strftime("%H:%M:%SZ")
        day = moment.date().isoformat()
        amount = str(draw(st.decimals(min_value=1, max_value=90000, places=2)))
        line = draw(st.sampled_from(["cloud", "security"]))
        currency = draw(st.sampled_from(FX_DEAL_CURRENCIES)) if fx else "USD"
        deal_days.append(moment.date())
        events.append(closed(deal, day, amount, line, currency, at=at))
        if draw(st.integers(0, 5)) == 0:
            corrected = str(draw(st.decimals(min_value=1, max_value=90000, places=2)))
            events.append(closed(deal, day, corrected, line, currency, at=at))
        if draw(st.integers(0, 3)) == 0:
            days_later = draw(st.integers(-5, 130))
            cancel = moment + timedelta(days=days_later)
            events.append(cancelled(deal, cancel.date().isoformat(), cancel.strftime("%H:%M:%SZ")))
        choice = draw(st.integers(0, 7))
        if choice == 0:
            events.append(registration_approved(deal, _day(draw)))
        elif choice == 1:
            events.append(registration_approved(deal, _day(draw)))
            events.append(registration_rejected(deal, _day(draw)))
        elif choice >= 4:
            events.extend(_lifecycle(draw, deal, moment))
    for _ in range(draw(st.integers(0, 2))):
        start = START + timedelta(days=draw(DAYS))
        events.append(
            certified(
                draw(st.sampled_from(["cloud", "security"])),
                start.date().isoformat(),
                (start + timedelta(days=draw(st.integers(1, 200)))).date().isoformat(),
            )
        )
    if draw(st.integers(0, 3)) == 0:
        events.append(terminated(_day(draw)))
    if fx:
        events.extend(_rates(draw, deal_days))
    return events


def merge_into_book(book: PartnerBook, e: Event) -> bool:
    """Merge one event into the engine's book: an ExchangeRateSet into its rates, any
    other event as the service merges it."""
    if isinstance(e, RateEvent):
        return book.add_rate(exchange_rate(e.data, (e.time, e.id)))
    return apply_event(book, e)


def engine_rows(
    events: Sequence[Event], settle_each: bool = False, fx: bool = False
) -> dict[str, tuple[Any, ...]]:
    """The engine's results, the events merged in the order given (settled after each
    one with ``settle_each``, as the service does, else once at the end). With ``fx``,
    each row also holds the line's currency and a converted deal's original amount,
    original currency and rate (as CommissionCalculated carries them)."""
    book = PartnerBook(P)
    for e in events:
        merge_into_book(book, e)
        if settle_each:
            book.settle()
    book.settle()
    rows: dict[str, tuple[Any, ...]] = {}
    for r in book.results().values():
        row: tuple[Any, ...] = (
            r.status.value,
            r.period,
            r.amount,
            r.base,
            r.uplift,
            r.commission,
            r.target_bonus,
        )
        if fx:
            row += (
                r.currency,
                r.original_amount,
                r.original_currency,
                r.fx_rate,
            )
        rows[r.deal_id] = row
    return rows


def oracle_rows(events: Sequence[Event], fx: bool = False) -> dict[str, tuple[Any, ...]]:
    """The reference's results, in the rows of :func:`engine_rows`."""
    rows: dict[str, tuple[Any, ...]] = {}
    for (_partner, period), statement in expected_statements(events).items():
        for line in statement.lines:
            row: tuple[Any, ...] = (
                line.status,
                period,
                line.amount,
                line.base,
                line.uplift,
                line.commission,
                line.target_bonus,
            )
            if fx:
                row += (line.currency, line.original_amount, line.original_currency, line.fx_rate)
            rows[line.deal_id] = row
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.randoms(use_true_random=False), st.booleans())
def test_the_engine_agrees_with_the_oracle(
    events: list[Event], rng: random.Random, settle_each: bool
) -> None:
    expected = oracle_rows(events)
    shuffled = rng.sample(events, len(events)) + rng.sample(events, min(3, len(events)))
    assert oracle_rows(shuffled) == expected, "the oracle itself depends on order"
    assert engine_rows(shuffled, settle_each) == expected  # Decimal equality: 0 == 0.00


def shuffled_with_duplicates(events: list[Event], rng: random.Random) -> list[Event]:
    """``events`` in a random order, a few of them (rates among them) delivered twice."""
    rates = [e for e in events if isinstance(e, RateEvent)]
    again = rng.sample(events, min(3, len(events))) + rng.sample(rates, min(2, len(rates)))
    return rng.sample(events, len(events)) + again


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(fx=True), st.randoms(use_true_random=False), st.booleans())
def test_the_engine_converts_as_the_oracle(
    events: list[Event], rng: random.Random, settle_each: bool
) -> None:
    expected = oracle_rows(events, fx=True)
    shuffled = shuffled_with_duplicates(events, rng)
    assert oracle_rows(shuffled, fx=True) == expected, "the oracle itself depends on order"
    assert engine_rows(shuffled, settle_each, fx=True) == expected


#: CloudEvent times of the registration histories: few, so versions tie on time and the
#: id decides.
VERSION_TIMES = [datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=n) for n in range(4)]


@st.composite
def registration_histories(draw: st.DrawFn) -> tuple[int, list[CloudEvent[Payload]]]:
    """Registrations of two pairs by three partners on a 10-day grid (give or take a
    second), so that they fall on the ends of protections (30 or 90 days, extensions of
    10 to 120 days); extension answers (several per request, more than two grants,
    more than 90 days); decisions by hand and the service's own decisions."""
    protection_days = draw(st.sampled_from([30, 90]))
    serial = itertools.count()

    def version() -> tuple[datetime, str]:
        return draw(st.sampled_from(VERSION_TIMES)), f"{draw(st.integers(0, 9))}-{next(serial)}"

    events: list[CloudEvent[Payload]] = []
    starts: list[datetime] = []
    for i in range(draw(st.integers(1, 8))):
        rid = f"R{i}"
        partner = draw(st.sampled_from(["P-1", "P-2", "P-3"]))
        customer = draw(st.sampled_from(["Globex", "Globex", "Initech"]))
        second = timedelta(seconds=draw(st.sampled_from([0, 0, 1, -1])))
        at_an_end = draw(st.booleans())
        if starts and at_an_end:
            # At the end of an earlier registration's protection, give or take a second.
            extended = draw(st.sampled_from([0, 0, 10, 30, 90]))
            moment = draw(st.sampled_from(starts)) + timedelta(days=protection_days + extended)
        else:
            moment = START + timedelta(days=10 * draw(st.integers(0, 30)))
        moment += second
        starts.append(moment)
        time, event_id = version()
        events.append(registered(rid, partner, moment, customer, time=time, event_id=event_id))
        for _ in range(draw(st.integers(0, 4))):
            extension_id = f"X{i}-{draw(st.integers(0, 2))}"
            days = draw(st.sampled_from([None, 10, 30, 90, 100, 120]))
            time, event_id = version()
            events.append(
                answered(
                    rid,
                    extension_id,
                    days,
                    deal_id=f"D-{rid}",
                    partner=partner,
                    customer=customer,
                    time=time,
                    event_id=event_id,
                )
            )
        for _ in range(draw(st.integers(0, 2))):
            approved = draw(st.booleans())
            by = draw(st.sampled_from([None, "system", "person", "key"]))
            reason = draw(st.sampled_from([None, "checked"]))
            time, event_id = version()
            events.append(
                decided(
                    rid,
                    approved,
                    moment,
                    by=by,
                    deal_id=f"D-{rid}",
                    reason=reason,
                    partner=partner,
                    time=time,
                    event_id=event_id,
                )
            )
    return protection_days, events


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registration_histories(), st.randoms(use_true_random=False))
def test_the_engine_decides_registrations_as_the_oracle(
    history: tuple[int, list[CloudEvent[Payload]]], rng: random.Random
) -> None:
    protection_days, events = history
    expected = expected_registration_decisions(events, protection_days)
    shuffled = rng.sample(events, len(events)) + rng.sample(events, min(3, len(events)))
    assert expected_registration_decisions(shuffled, protection_days) == expected, (
        "the oracle itself depends on order"
    )
    assert engine_decisions(shuffled, protection_days) == expected
