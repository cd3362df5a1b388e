"""A second, independent implementation of the commission rules and the deal-registration rule.

The rules are docs/rules/commissions.md and docs/rules/deal-registration.md.

It is written for clarity, not speed, and is meant as a test oracle: it takes the
whole set of events at once and computes every result from scratch, never
incrementally.

Two steps:

1. **Gather the final facts** out of the events, ignoring their order and any
   duplicates: the standing version of each deal, contract and registration
   decision, the earliest cancellation of each deal, every termination and
   every certification.
2. **Compute every deal** from those facts, period by period, following the
   numbered commission rules one after the other.

Facts are kept per partner (for one partner, the commission of every deal is a
pure function of the set of that partner's events): a deal, a contract, a
cancellation, a termination and a certification belong to the partner named
in their payload. Registration decisions are keyed by ``registration_id`` and
count for a deal only when they name that deal and its partner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from shared.events import (
    CertificationAwarded,
    CloudEvent,
    CommissionPlan,
    CommissionStatus,
    Contract,
    ContractRenewed,
    DealCancelled,
    DealClosed,
    DealRegistered,
    DealRegistrationApproved,
    DealRegistrationRejected,
    PartnerSigned,
    PartnerTerminated,
    Payload,
    PlanPeriod,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CONFLICT_WINDOW = timedelta(days=90)
CHANNEL_CONFLICT = "channel_conflict"

__all__ = [
    "Line",
    "Statement",
    "expected_registration_decisions",
    "expected_statements",
]


def cents(value: Decimal) -> Decimal:
    """``value`` rounded to cents, half to even (rule 7)."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Line:
    """One deal on a partner's statement for one period."""

    deal_id: str
    closed_at: datetime
    amount: Decimal
    status: str
    base: Decimal
    uplift: Decimal
    commission: Decimal
    target_bonus: Decimal


@dataclass
class Statement:
    """Every deal of one partner in one period, in (closed_at, deal_id) order."""

    partner_id: str
    period: str
    currency: str
    lines: list[Line] = field(default_factory=list)

    @property
    def revenue(self) -> Decimal:
        """The sum of the amounts of the commissionable deals."""
        total = ZERO
        for line in self.lines:
            if line.status == CommissionStatus.COMMISSIONABLE.value:
                total += line.amount
        return cents(total)

    @property
    def commission_total(self) -> Decimal:
        total = ZERO
        for line in self.lines:
            total += line.commission
        return total

    @property
    def bonus_total(self) -> Decimal:
        total = ZERO
        for line in self.lines:
            total += line.target_bonus
        return total

    @property
    def payout_total(self) -> Decimal:
        return self.commission_total + self.bonus_total

    def line(self, deal_id: str) -> Line:
        for line in self.lines:
            if line.deal_id == deal_id:
                return line
        raise KeyError(deal_id)


# --------------------------------------------------------------------------- step 1: facts


def _version(event: CloudEvent[Payload]) -> tuple[datetime, str]:
    """The order of two versions of one fact: the greater (time, id) stands."""
    return (event.time, event.id)


@dataclass
class _Facts:
    # (partner_id, deal_id) -> the standing DealClosed event
    deals: dict[tuple[str, str], CloudEvent[Payload]] = field(default_factory=dict)
    # (partner_id, deal_id) -> earliest cancelled_at
    cancelled_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # partner_id -> earliest termination effective_date
    terminated_from: dict[str, date] = field(default_factory=dict)
    # (partner_id, contract_id) -> the event carrying the standing version of the contract
    contracts: dict[tuple[str, str], CloudEvent[Payload]] = field(default_factory=dict)
    # every certification, as (partner_id, product_line, awarded_at, expires_at)
    certifications: set[tuple[str, str, datetime, datetime]] = field(default_factory=set)
    # registration_id -> the standing DealRegistrationApproved/Rejected event
    decisions: dict[str, CloudEvent[Payload]] = field(default_factory=dict)


K = TypeVar("K")


def _keep_latest(table: dict[K, CloudEvent[Payload]], key: K, event: CloudEvent[Payload]) -> None:
    """Store ``event`` under ``key`` unless a greater version is already there."""
    current = table.get(key)
    if current is None or _version(event) > _version(current):
        table[key] = event


def _gather(events: Iterable[CloudEvent[Payload]]) -> _Facts:
    facts = _Facts()
    for event in events:
        data = event.data
        partner = data.partner_id
        if isinstance(data, DealClosed):
            _keep_latest(facts.deals, (partner, data.deal_id), event)
        elif isinstance(data, DealCancelled):
            key = (partner, data.deal_id)
            earlier = facts.cancelled_at.get(key)
            if earlier is None or data.cancelled_at < earlier:
                facts.cancelled_at[key] = data.cancelled_at
        elif isinstance(data, PartnerTerminated):
            earliest = facts.terminated_from.get(partner)
            if earliest is None or data.effective_date < earliest:
                facts.terminated_from[partner] = data.effective_date
        elif isinstance(data, PartnerSigned | ContractRenewed):
            _keep_latest(facts.contracts, (partner, data.contract.contract_id), event)
        elif isinstance(data, CertificationAwarded):
            facts.certifications.add((partner, data.product_line, data.awarded_at, data.expires_at))
        elif isinstance(data, DealRegistrationApproved | DealRegistrationRejected):
            _keep_latest(facts.decisions, data.registration_id, event)
    return facts


def _contract_of(event: CloudEvent[Payload]) -> Contract:
    data = event.data
    assert isinstance(data, PartnerSigned | ContractRenewed)
    return data.contract


def _deal_of(event: CloudEvent[Payload]) -> DealClosed:
    data = event.data
    assert isinstance(data, DealClosed)
    return data


# --------------------------------------------------------------------------- step 2: rules


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _utc_date(moment: datetime) -> date:
    """The calendar date of an instant in UTC (rule 1 compares dates this way)."""
    return _utc(moment).date()


def governing_contract(facts: _Facts, partner_id: str, closed_at: datetime) -> Contract | None:
    """Rule 1: the contract covering date(closed_at); of several, the latest start_date.

    The rules leave two covering contracts with the same start_date open (onboarding
    never signs such a pair); here the one published last (greatest CloudEvent
    (time, id)) governs.
    """
    day = _utc_date(closed_at)
    best: tuple[date, datetime, str] | None = None
    chosen: Contract | None = None
    for (partner, _contract_id), event in facts.contracts.items():
        if partner != partner_id:
            continue
        contract = _contract_of(event)
        if not contract.start_date <= day <= contract.end_date:
            continue
        rank = (contract.start_date, event.time, event.id)
        if best is None or rank > best:
            best = rank
            chosen = contract
    return chosen


def status_of(
    facts: _Facts, partner_id: str, deal: DealClosed, contract: Contract | None
) -> CommissionStatus:
    """Rule 2: the first status that matches, in the rules' order."""
    if contract is None:
        return CommissionStatus.NO_CONTRACT
    terminated_from = facts.terminated_from.get(partner_id)
    if terminated_from is not None and terminated_from <= _utc_date(deal.closed_at):
        return CommissionStatus.TERMINATED
    if deal.currency != contract.currency:
        return CommissionStatus.CURRENCY_MISMATCH
    cancelled_at = facts.cancelled_at.get((partner_id, deal.deal_id))
    if cancelled_at is not None:
        window = timedelta(days=contract.commission_plan.clawback_days)
        if cancelled_at - deal.closed_at <= window:
            return CommissionStatus.CLAWED_BACK
    return CommissionStatus.COMMISSIONABLE


def period_label(closed_at: datetime, period: PlanPeriod) -> str:
    """Rule 3: the calendar period (UTC) of closed_at: ``2026-11``, ``2026-Q4`` or ``2026``."""
    moment = _utc(closed_at)
    if period is PlanPeriod.MONTH:
        return f"{moment.year:04d}-{moment.month:02d}"
    if period is PlanPeriod.QUARTER:
        quarter = (moment.month - 1) // 3 + 1
        return f"{moment.year:04d}-Q{quarter}"
    return f"{moment.year:04d}"


def graduated_base(plan: CommissionPlan, cum: Decimal, amount: Decimal) -> Decimal:
    """Rule 5: each bracket's rate on the part of [cum, cum + amount) inside that bracket."""
    low_end = cum
    high_end = cum + amount
    base = Decimal(0)
    brackets = plan.brackets
    for index, bracket in enumerate(brackets):
        bracket_low = bracket.from_
        if index + 1 < len(brackets):
            bracket_high: Decimal | None = brackets[index + 1].from_
        else:
            bracket_high = None  # the last bracket has no upper end
        part_low = max(low_end, bracket_low)
        part_high = high_end if bracket_high is None else min(high_end, bracket_high)
        if part_high > part_low:
            base += (part_high - part_low) * bracket.rate
    return base


def is_certified(facts: _Facts, partner_id: str, product_line: str, closed_at: datetime) -> bool:
    """Rule 6, first part: a certification for the product line valid at closed_at."""
    for partner, line, awarded_at, expires_at in facts.certifications:
        if partner == partner_id and line == product_line and awarded_at <= closed_at < expires_at:
            return True
    return False


def is_registered(facts: _Facts, partner_id: str, deal_id: str, closed_at: datetime) -> bool:
    """Rule 6, second part: a standing approval for this deal and partner dated ≤ closed_at."""
    for event in facts.decisions.values():
        decision = event.data
        if (
            isinstance(decision, DealRegistrationApproved)
            and decision.partner_id == partner_id
            and decision.deal_id == deal_id
            and decision.approved_at <= closed_at
        ):
            return True
    return False


@dataclass(frozen=True)
class _Placed:
    """A deal with its contract, status and period decided (rules 1 to 3)."""

    partner_id: str
    deal: DealClosed
    contract: Contract | None
    status: CommissionStatus
    period: str


def _zero_line(deal: DealClosed, status: CommissionStatus) -> Line:
    return Line(
        deal_id=deal.deal_id,
        closed_at=deal.closed_at,
        amount=cents(deal.amount),
        status=status.value,
        base=ZERO,
        uplift=ZERO,
        commission=ZERO,
        target_bonus=ZERO,
    )


def _statement_currency(placed: list[_Placed]) -> str:
    """The currency of the governing contract of the period's deals.

    With no contract at all, the currency of the first deal; with several
    contracts, the one governing the last deal that has one.
    """
    currency = placed[0].deal.currency
    for item in placed:
        if item.contract is not None:
            currency = item.contract.currency
    return currency


def _compute_period(
    partner_id: str, period: str, placed: list[_Placed], facts: _Facts
) -> Statement:
    """Rules 4 to 9 for every deal of one partner in one period."""
    placed = sorted(placed, key=lambda item: (item.deal.closed_at, item.deal.deal_id))
    statement = Statement(partner_id, period, _statement_currency(placed))
    cum = Decimal(0)  # commissionable revenue before the current deal
    paid = Decimal(0)  # commission (after the cap) of the deals before the current one
    bonus_given = False
    for item in placed:
        deal = item.deal
        if item.status is not CommissionStatus.COMMISSIONABLE:
            statement.lines.append(_zero_line(deal, item.status))
            continue
        assert item.contract is not None
        plan = item.contract.commission_plan

        base = cents(graduated_base(plan, cum, deal.amount))

        uplift_raw = Decimal(0)
        if is_certified(facts, partner_id, deal.product_line, deal.closed_at):
            uplift_raw += deal.amount * plan.certification_bonus_rate
        if is_registered(facts, partner_id, deal.deal_id, deal.closed_at):
            uplift_raw += deal.amount * plan.registered_deal_bonus_rate
        uplift = cents(uplift_raw)

        commission = base + uplift  # already whole cents
        if plan.period_cap is not None:
            left = plan.period_cap - paid
            if left < 0:
                left = Decimal(0)
            # A cap given with fractions of a cent is cut down to whole cents, so
            # the deal never earns more than what is left.
            left = left.quantize(CENT, rounding=ROUND_DOWN)
            if commission > left:
                commission = left

        target_bonus = ZERO
        if (
            not bonus_given
            and plan.target_amount is not None
            and cum + deal.amount >= plan.target_amount
        ):
            bonus_given = True
            if plan.target_bonus is not None:
                target_bonus = cents(plan.target_bonus)

        statement.lines.append(
            Line(
                deal_id=deal.deal_id,
                closed_at=deal.closed_at,
                amount=cents(deal.amount),
                status=item.status.value,
                base=base,
                uplift=uplift,
                commission=commission,
                target_bonus=target_bonus,
            )
        )
        cum += deal.amount
        paid += commission
    return statement


def expected_statements(
    events: Iterable[CloudEvent[Payload]],
) -> dict[tuple[str, str], Statement]:
    """Every partner's statement for every period, keyed by (partner_id, period label)."""
    facts = _gather(events)
    groups: dict[tuple[str, str], list[_Placed]] = {}
    for (partner_id, _deal_id), event in facts.deals.items():
        deal = _deal_of(event)
        contract = governing_contract(facts, partner_id, deal.closed_at)
        status = status_of(facts, partner_id, deal, contract)
        if contract is None:
            period = period_label(deal.closed_at, PlanPeriod.QUARTER)
        else:
            period = period_label(deal.closed_at, contract.commission_plan.period)
        groups.setdefault((partner_id, period), []).append(
            _Placed(partner_id, deal, contract, status, period)
        )
    return {key: _compute_period(key[0], key[1], placed, facts) for key, placed in groups.items()}


def expected_lines(events: Iterable[CloudEvent[Payload]]) -> dict[tuple[str, str], Line]:
    """Every deal's line, keyed by (partner_id, deal_id), for per-deal comparisons."""
    lines: dict[tuple[str, str], Line] = {}
    for (partner_id, _period), statement in expected_statements(events).items():
        for line in statement.lines:
            lines[(partner_id, line.deal_id)] = line
    return lines


# --------------------------------------------------------------------------- registration


def expected_registration_decisions(
    events: Iterable[CloudEvent[Payload]],
) -> dict[str, tuple[bool, str | None]]:
    """The deal-registration rule: registration_id -> (approved, reason) for every DealRegistered.

    Registrations are decided one after the other by (registered_at,
    registration_id). One is rejected with ``channel_conflict`` when another
    partner already holds an approved registration for the same (customer,
    product_line) whose registered_at lies within the 90 days up to its own.
    A registration sent twice counts once (the version with the greatest
    (time, id) stands).
    """
    standing: dict[str, CloudEvent[Payload]] = {}
    for event in events:
        if isinstance(event.data, DealRegistered):
            _keep_latest(standing, event.data.registration_id, event)

    registrations: list[DealRegistered] = []
    for event in standing.values():
        assert isinstance(event.data, DealRegistered)
        registrations.append(event.data)
    registrations.sort(key=lambda r: (r.registered_at, r.registration_id))

    decisions: dict[str, tuple[bool, str | None]] = {}
    approved: list[DealRegistered] = []
    for registration in registrations:
        conflict = False
        for other in approved:
            if (
                other.partner_id != registration.partner_id
                and other.customer == registration.customer
                and other.product_line == registration.product_line
                and registration.registered_at - other.registered_at <= CONFLICT_WINDOW
            ):
                conflict = True
                break
        if conflict:
            decisions[registration.registration_id] = (False, CHANNEL_CONFLICT)
        else:
            decisions[registration.registration_id] = (True, None)
            approved.append(registration)
    return decisions
