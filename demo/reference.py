"""A second, independent implementation of the commission rules and the deal-registration rule.

The rules are docs/rules/commissions.md, docs/rules/deal-registration.md,
docs/rules/fx.md (the conversion of deals in another currency, below) and, for
the adjustments a statement adds to its payout, docs/rules/inquiries.md.

It is written for clarity, not speed, and is meant as a test oracle: it takes the
whole set of events at once and computes every result from scratch, never
incrementally.

Commissions, in two steps:

1. **Gather the final facts** out of the events, ignoring their order and any
   duplicates: the standing version of each deal, contract and registration
   decision (one made by hand stands over an automatic one, then the greatest
   (time, id)), the standing answer to each extension request, the earliest
   cancellation of each deal, every termination, every certification and the
   standing exchange rate of each (base, quote, valid_from).
2. **Compute every deal** from those facts, period by period, following the
   numbered commission rules one after the other. A deal earns the
   registered-deal uplift inside an approved registration's window:
   ``approved_at ≤ closed_at ≤ expires_at``, the decision's ``expires_at``
   moved on by the registration's counted extensions (absent: no end).

Conversion (before the status, the brackets, the uplift, the cap and the
target): a deal whose currency is not its governing contract's is converted at
the rate of one unit of the deal's currency in the contract's. The rate is the
governing plan's ``fx_rates`` entry for the deal's currency when there is one;
else the ExchangeRateSet (RateEvent) with base = the deal's currency and quote =
the contract's whose ``valid_from`` is the latest on or before the UTC date of
``closed_at`` (of several events for one (base, quote, valid_from), the greatest
(time, id) stands; no inverse and no cross rates). The converted amount,
``amount × rate`` rounded half-even to cents, is the deal's amount for every
later rule and for revenue, in the contract's currency; its line keeps the
original amount, currency and the rate. With no rate the deal is ``fx_pending``:
it earns nothing and is no revenue, and its line stays in its own currency.
Statuses, the first that matches: no_contract, terminated, fx_pending,
clawed_back, commissionable. A deal in another currency is converted whenever
a rate is known, whatever its status (a terminated or clawed-back line shows its
converted amount too); a deal with no governing contract is never converted.

A statement's ``payout_total`` adds the period's CommissionAdjusted amounts in
its currency (each ``adjustment_id`` once) to its commissions and target bonus.

Facts are kept per partner (for one partner, the commission of every deal is a
pure function of the set of that partner's events and the exchange rates): a
deal, a contract, a cancellation, a termination, a certification, a registration
decision and an extension answer belong to the partner named in their payload;
an exchange rate belongs to no partner and counts for every one. Registration
decisions are keyed by (partner, ``registration_id``) and count for a deal only
when they name that deal; extension answers are keyed by (partner,
``extension_id``) and count for the registration of that partner they name.

Registrations (:func:`expected_registration_decisions`): every DealRegistered is
decided in (registered_at, registration_id) order; one decided by hand (a
decision whose ``actor`` is a person or a key) keeps that decision, any other is
rejected when another partner's approved registration of the same (customer,
product_line) protects at its registered_at. An approved registration protects
from its registered_at to registered_at + protection_days + its counted
extensions, both ends included. Of the granted extensions of a registration (the
standing answer per ``extension_id``), the first two by (time, id) count, each at
most 90 days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import NamedTuple, TypeVar

from shared.events import (
    ActorKind,
    CertificationAwarded,
    CloudEvent,
    CommissionAdjusted,
    CommissionPlan,
    CommissionStatus,
    Contract,
    ContractRenewed,
    DealCancelled,
    DealClosed,
    DealRegistered,
    DealRegistrationApproved,
    DealRegistrationExtended,
    DealRegistrationExtensionRejected,
    DealRegistrationRejected,
    Envelope,
    PartnerSigned,
    PartnerTerminated,
    Payload,
    PlanPeriod,
    RateEvent,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: How long an approved registration protects its pair, by default (a programme setting).
PROTECTION_DAYS = 90
#: Of a registration's granted extensions, this many count (the first by (time, id)) ...
MAX_EXTENSIONS = 2
#: ... each for at most this many days.
MAX_EXTENSION_DAYS = 90
CHANNEL_CONFLICT = "channel_conflict"

#: What the reference reads: the partners' events and the exchange rates (rates.v1).
Event = CloudEvent[Payload] | RateEvent

__all__ = [
    "Event",
    "Line",
    "RegistrationOutcome",
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
    """One deal on a partner's statement for one period.

    ``amount`` and ``currency`` are the converted amount and the contract's currency
    for a converted deal, which alone carries ``original_amount``,
    ``original_currency`` and ``fx_rate``; any other line is in the deal's own
    currency.
    """

    deal_id: str
    closed_at: datetime
    amount: Decimal
    currency: str
    status: str
    base: Decimal
    uplift: Decimal
    commission: Decimal
    target_bonus: Decimal
    original_amount: Decimal | None = None
    original_currency: str | None = None
    fx_rate: Decimal | None = None


@dataclass
class Statement:
    """Every deal of one partner in one period, in (closed_at, deal_id) order."""

    partner_id: str
    period: str
    currency: str
    lines: list[Line] = field(default_factory=list)
    #: The period's CommissionAdjusted amounts in its currency, by adjustment id.
    adjustments: dict[str, Decimal] = field(default_factory=dict)

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
    def adjustment_total(self) -> Decimal:
        total = ZERO
        for amount in self.adjustments.values():
            total += amount
        return total

    @property
    def payout_total(self) -> Decimal:
        """Commissions, target bonus and adjustments (docs/rules/inquiries.md)."""
        return self.commission_total + self.bonus_total + self.adjustment_total

    def line(self, deal_id: str) -> Line:
        for line in self.lines:
            if line.deal_id == deal_id:
                return line
        raise KeyError(deal_id)


# --------------------------------------------------------------------------- step 1: facts


def _version(event: Envelope) -> tuple[datetime, str]:
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
    # (partner_id, registration_id) -> the standing DealRegistrationApproved/Rejected event
    decisions: dict[tuple[str, str], CloudEvent[Payload]] = field(default_factory=dict)
    # (partner_id, extension_id) -> the standing DealRegistrationExtended/ExtensionRejected
    answers: dict[tuple[str, str], CloudEvent[Payload]] = field(default_factory=dict)
    # (partner_id, adjustment_id) -> its CommissionAdjusted (an adjustment never changes)
    adjustments: dict[tuple[str, str], CloudEvent[Payload]] = field(default_factory=dict)
    # (base, quote, valid_from) -> the standing ExchangeRateSet event
    rates: dict[tuple[str, str, date], RateEvent] = field(default_factory=dict)


K = TypeVar("K")


def _keep_latest(table: dict[K, CloudEvent[Payload]], key: K, event: CloudEvent[Payload]) -> None:
    """Store ``event`` under ``key`` unless a greater version is already there."""
    current = table.get(key)
    if current is None or _version(event) > _version(current):
        table[key] = event


def _by_hand(data: Payload) -> bool:
    """A decision made by a channel manager: its actor is a person or an API key.

    A decision with no actor, or with the system as actor, is the service's own
    output of the rule.
    """
    return data.actor is not None and data.actor.kind in (ActorKind.PERSON, ActorKind.KEY)


def _decision_rank(event: CloudEvent[Payload]) -> tuple[bool, datetime, str]:
    """Which of two decisions on one registration stands: by hand over automatic, then
    the greater (time, id)."""
    return (_by_hand(event.data), event.time, event.id)


def _keep_standing_decision(
    table: dict[tuple[str, str], CloudEvent[Payload]],
    key: tuple[str, str],
    event: CloudEvent[Payload],
) -> None:
    current = table.get(key)
    if current is None or _decision_rank(event) > _decision_rank(current):
        table[key] = event


def counted_extension_days(
    answers: dict[tuple[str, str], CloudEvent[Payload]], partner_id: str, registration_id: str
) -> int:
    """The days a registration's protection is extended by.

    ``answers`` holds the standing answer of each extension request. Of those that
    grant an extension of this registration, the first :data:`MAX_EXTENSIONS` by
    (time, id) count, each for at most :data:`MAX_EXTENSION_DAYS` days.
    """
    granted: list[CloudEvent[Payload]] = []
    for (partner, _extension_id), event in answers.items():
        data = event.data
        if (
            partner == partner_id
            and isinstance(data, DealRegistrationExtended)
            and data.registration_id == registration_id
        ):
            granted.append(event)
    granted.sort(key=_version)
    total = 0
    for event in granted[:MAX_EXTENSIONS]:
        assert isinstance(event.data, DealRegistrationExtended)
        total += min(event.data.days, MAX_EXTENSION_DAYS)
    return total


def _gather(events: Iterable[Event]) -> _Facts:
    facts = _Facts()
    for event in events:
        if isinstance(event, RateEvent):
            rate = event.data
            pair_from = (rate.base, rate.quote, rate.valid_from)
            current = facts.rates.get(pair_from)
            if current is None or _version(event) > _version(current):
                facts.rates[pair_from] = event
            continue
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
            _keep_standing_decision(facts.decisions, (partner, data.registration_id), event)
        elif isinstance(data, DealRegistrationExtended | DealRegistrationExtensionRejected):
            _keep_latest(facts.answers, (partner, data.extension_id), event)
        elif isinstance(data, CommissionAdjusted):
            facts.adjustments.setdefault((partner, data.adjustment_id), event)
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


def exchange_rate(facts: _Facts, deal: DealClosed, contract: Contract) -> Decimal | None:
    """One unit of the deal's currency in the contract's, or None when none is known.

    The governing plan's ``fx_rates`` entry for the deal's currency stands over any
    ExchangeRateSet. Otherwise the standing rate of (deal currency, contract
    currency) with the latest ``valid_from`` on or before the UTC date of the close.
    Only that direct pair counts: never its inverse, never a rate through a third
    currency.
    """
    fixed = contract.commission_plan.fx_rates
    if fixed is not None and deal.currency in fixed:
        return fixed[deal.currency]
    day = _utc_date(deal.closed_at)
    latest: date | None = None
    rate: Decimal | None = None
    for (base, quote, valid_from), event in facts.rates.items():
        if base != deal.currency or quote != contract.currency or valid_from > day:
            continue
        if latest is None or valid_from > latest:
            latest = valid_from
            rate = event.data.rate
    return rate


@dataclass(frozen=True)
class Conversion:
    """A deal in another currency than its contract's, converted (the FX rule)."""

    rate: Decimal
    #: ``deal.amount × rate`` rounded half-even to cents, in the contract's currency.
    amount: Decimal
    currency: str


def conversion_of(facts: _Facts, deal: DealClosed, contract: Contract | None) -> Conversion | None:
    """The deal's conversion into its governing contract's currency; None when it needs
    none (same currency, or no contract) or when no rate is known."""
    if contract is None or deal.currency == contract.currency:
        return None
    rate = exchange_rate(facts, deal, contract)
    if rate is None:
        return None
    return Conversion(rate, cents(deal.amount * rate), contract.currency)


def status_of(
    facts: _Facts,
    partner_id: str,
    deal: DealClosed,
    contract: Contract | None,
    conversion: Conversion | None = None,
) -> CommissionStatus:
    """Rule 2: the first status that matches, in the rules' order; ``conversion`` is the
    deal's conversion (None when it has none)."""
    if contract is None:
        return CommissionStatus.NO_CONTRACT
    terminated_from = facts.terminated_from.get(partner_id)
    if terminated_from is not None and terminated_from <= _utc_date(deal.closed_at):
        return CommissionStatus.TERMINATED
    if deal.currency != contract.currency and conversion is None:
        return CommissionStatus.FX_PENDING
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


def registration_window(
    facts: _Facts, partner_id: str, decision: DealRegistrationApproved
) -> tuple[datetime, datetime | None]:
    """When an approved registration gives its deal the registered-deal uplift.

    From ``approved_at`` to the decision's ``expires_at`` moved on by the
    registration's counted extensions, both ends included; ``None``: no end (a
    decision without ``expires_at``).
    """
    if decision.expires_at is None:
        return (decision.approved_at, None)
    days = counted_extension_days(facts.answers, partner_id, decision.registration_id)
    return (decision.approved_at, decision.expires_at + timedelta(days=days))


def is_registered(facts: _Facts, partner_id: str, deal_id: str, closed_at: datetime) -> bool:
    """Rule 6, second part: a standing approval of a registration of this deal and partner
    whose window holds closed_at (``approved_at ≤ closed_at ≤ expires_at``)."""
    for (partner, _registration_id), event in facts.decisions.items():
        decision = event.data
        if (
            partner != partner_id
            or not isinstance(decision, DealRegistrationApproved)
            or decision.deal_id != deal_id
        ):
            continue
        start, end = registration_window(facts, partner_id, decision)
        if start <= closed_at and (end is None or closed_at <= end):
            return True
    return False


@dataclass(frozen=True)
class _Placed:
    """A deal with its contract, conversion, status and period decided (rules 1 to 3)."""

    partner_id: str
    deal: DealClosed
    contract: Contract | None
    conversion: Conversion | None
    status: CommissionStatus
    period: str

    @property
    def amount(self) -> Decimal:
        """The amount every rule uses: the converted amount of a converted deal."""
        return self.deal.amount if self.conversion is None else self.conversion.amount

    def line(
        self,
        base: Decimal = ZERO,
        uplift: Decimal = ZERO,
        commission: Decimal = ZERO,
        target_bonus: Decimal = ZERO,
    ) -> Line:
        deal = self.deal
        conversion = self.conversion
        return Line(
            deal_id=deal.deal_id,
            closed_at=deal.closed_at,
            amount=cents(self.amount),
            currency=deal.currency if conversion is None else conversion.currency,
            status=self.status.value,
            base=base,
            uplift=uplift,
            commission=commission,
            target_bonus=target_bonus,
            original_amount=None if conversion is None else cents(deal.amount),
            original_currency=None if conversion is None else deal.currency,
            fx_rate=None if conversion is None else conversion.rate,
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
            statement.lines.append(item.line())
            continue
        assert item.contract is not None
        plan = item.contract.commission_plan
        amount = item.amount

        base = cents(graduated_base(plan, cum, amount))

        uplift_raw = Decimal(0)
        if is_certified(facts, partner_id, deal.product_line, deal.closed_at):
            uplift_raw += amount * plan.certification_bonus_rate
        if is_registered(facts, partner_id, deal.deal_id, deal.closed_at):
            uplift_raw += amount * plan.registered_deal_bonus_rate
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
            and cum + amount >= plan.target_amount
        ):
            bonus_given = True
            if plan.target_bonus is not None:
                target_bonus = cents(plan.target_bonus)

        statement.lines.append(item.line(base, uplift, commission, target_bonus))
        cum += amount
        paid += commission
    return statement


def expected_statements(events: Iterable[Event]) -> dict[tuple[str, str], Statement]:
    """Every partner's statement for every period, keyed by (partner_id, period label).

    ``events`` are the partners' events and the ExchangeRateSet events (RateEvent),
    in any order and with any duplicates.
    """
    facts = _gather(events)
    groups: dict[tuple[str, str], list[_Placed]] = {}
    for (partner_id, _deal_id), event in facts.deals.items():
        deal = _deal_of(event)
        contract = governing_contract(facts, partner_id, deal.closed_at)
        conversion = conversion_of(facts, deal, contract)
        status = status_of(facts, partner_id, deal, contract, conversion)
        if contract is None:
            period = period_label(deal.closed_at, PlanPeriod.QUARTER)
        else:
            period = period_label(deal.closed_at, contract.commission_plan.period)
        groups.setdefault((partner_id, period), []).append(
            _Placed(partner_id, deal, contract, conversion, status, period)
        )
    statements = {
        key: _compute_period(key[0], key[1], placed, facts) for key, placed in groups.items()
    }
    for event in facts.adjustments.values():
        data = event.data
        assert isinstance(data, CommissionAdjusted)
        key = (data.partner_id, data.period)
        statement = statements.setdefault(key, Statement(key[0], key[1], data.currency))
        if data.currency == statement.currency:
            statement.adjustments[data.adjustment_id] = data.amount
    return statements


def expected_lines(events: Iterable[Event]) -> dict[tuple[str, str], Line]:
    """Every deal's line, keyed by (partner_id, deal_id), for per-deal comparisons."""
    lines: dict[tuple[str, str], Line] = {}
    for (partner_id, _period), statement in expected_statements(events).items():
        for line in statement.lines:
            lines[(partner_id, line.deal_id)] = line
    return lines


# --------------------------------------------------------------------------- registration


class RegistrationOutcome(NamedTuple):
    """A registration's decision by the rule (or by hand), as the reference expects it."""

    approved: bool
    #: None when approved by the rule; ``channel_conflict`` when rejected by it; the
    #: channel manager's reason (if any) when decided by hand.
    reason: str | None = None
    #: The protecting registration it conflicts with (rejected by the rule only).
    conflicting_registration_id: str | None = None
    #: The end of its protection, extensions included, when approved; None when rejected.
    expires_at: datetime | None = None


@dataclass
class _RegistrationFacts:
    # registration_id -> the standing DealRegistered event
    registrations: dict[str, CloudEvent[Payload]] = field(default_factory=dict)
    # (partner_id, registration_id) -> the standing decision made by hand
    manual: dict[tuple[str, str], CloudEvent[Payload]] = field(default_factory=dict)
    # (partner_id, extension_id) -> the standing answer to the extension request
    answers: dict[tuple[str, str], CloudEvent[Payload]] = field(default_factory=dict)


def _gather_registrations(events: Iterable[Event]) -> _RegistrationFacts:
    facts = _RegistrationFacts()
    for event in events:
        if isinstance(event, RateEvent):
            continue
        data = event.data
        if isinstance(data, DealRegistered):
            _keep_latest(facts.registrations, data.registration_id, event)
        elif isinstance(data, DealRegistrationApproved | DealRegistrationRejected):
            # Decisions with no actor or the system as actor are the rule's own output,
            # never an input to it.
            if _by_hand(data):
                _keep_latest(facts.manual, (data.partner_id, data.registration_id), event)
        elif isinstance(data, DealRegistrationExtended | DealRegistrationExtensionRejected):
            _keep_latest(facts.answers, (data.partner_id, data.extension_id), event)
    return facts


def _protects(registration: DealRegistered, end: datetime, instant: datetime) -> bool:
    """An approved registration protects its pair from registered_at to end, both included."""
    return registration.registered_at <= instant <= end


def expected_registration_decisions(
    events: Iterable[Event],
    protection_days: int = PROTECTION_DAYS,
) -> dict[str, RegistrationOutcome]:
    """The deal-registration rule: registration_id -> its outcome, for every DealRegistered.

    Registrations are decided one after the other by (registered_at,
    registration_id). One decided by hand (the standing DealRegistrationApproved/
    Rejected whose actor is a person or a key, greatest (time, id)) keeps that
    decision. Any other is rejected with ``channel_conflict`` when another partner's
    registration of the same (customer, product_line), decided before it and approved,
    protects at its registered_at; the first such registration in decision order is
    the conflicting one. Otherwise it is approved.

    An approved registration protects from its registered_at to its expires_at =
    registered_at + ``protection_days`` + its counted extensions (both ends included).
    A registration sent twice counts once (the version with the greatest (time, id)
    stands). Decisions by hand and extension answers count for a registration when
    they name it and its partner.

    The outcome's ``expires_at`` is that end, extensions included, for an approved
    registration (by the rule or by hand), and None for a rejected one.
    """
    facts = _gather_registrations(events)

    registrations: list[DealRegistered] = []
    for event in facts.registrations.values():
        assert isinstance(event.data, DealRegistered)
        registrations.append(event.data)
    registrations.sort(key=lambda r: (r.registered_at, r.registration_id))

    outcomes: dict[str, RegistrationOutcome] = {}
    # The approved registrations decided so far, with the end of their protection.
    protecting: list[tuple[DealRegistered, datetime]] = []
    for registration in registrations:
        key = (registration.partner_id, registration.registration_id)
        days = protection_days + counted_extension_days(facts.answers, *key)
        end = registration.registered_at + timedelta(days=days)

        manual = facts.manual.get(key)
        if manual is not None:
            hand = manual.data
            if isinstance(hand, DealRegistrationApproved):
                outcome = RegistrationOutcome(True, hand.reason, None, end)
            else:
                assert isinstance(hand, DealRegistrationRejected)
                outcome = RegistrationOutcome(False, hand.reason, None, None)
        else:
            conflicting: str | None = None
            for other, other_end in protecting:
                if (
                    other.partner_id != registration.partner_id
                    and other.customer == registration.customer
                    and other.product_line == registration.product_line
                    and _protects(other, other_end, registration.registered_at)
                ):
                    conflicting = other.registration_id
                    break
            if conflicting is None:
                outcome = RegistrationOutcome(True, None, None, end)
            else:
                outcome = RegistrationOutcome(False, CHANNEL_CONFLICT, conflicting, None)

        outcomes[registration.registration_id] = outcome
        if outcome.approved:
            protecting.append((registration, end))
    return outcomes
