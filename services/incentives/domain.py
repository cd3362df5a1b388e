"""The commission engine, the deal-registration rule and its lifecycle, pure.

The rules are written out in ``docs/rules/commissions.md`` (governing
contract, statuses, periods, brackets, uplift, rounding, cap, target bonus,
revisions), ``docs/rules/deal-registration.md`` (channel conflict, protection,
extensions, decisions by hand), ``docs/rules/inquiries.md`` (adjustments) and
``docs/rules/settlement.md`` (what a settlement pays). No Kafka, no MongoDB, no
clock: everything here is a function of the facts it is given, so the same
events give the same results whatever their order or duplication.

**Commissions.** A :class:`PartnerBook` holds what is known about one partner
(contracts, terminations, deals, cancellations, certifications, registration
decisions). Each fact is merged so that merging is commutative and idempotent:
a deal keeps its version with the greatest (CloudEvent ``time``, ``id``); a
cancellation keeps the earliest ``cancelled_at``; a termination keeps the
earliest ``effective_date``; certifications are a set; a registration keeps its
decision made by hand over one made by the rule, then the one with the greatest
(``time``, ``id``); an answer to an extension request the greatest (``time``,
``id``). :func:`apply_event` merges an
event through the table :data:`MERGES`, one function per event type.
:meth:`PartnerBook.results` computes every deal's :class:`DealResult` with its
breakdown.

Incremental: merging a fact marks only the positions it can change as stale
(the deal's place in its period and every later place in that period, since
``cum`` and the cap run forward); :meth:`PartnerBook.settle` recomputes from
the first stale place of each touched period and returns the deals whose
result changed. A new contract re-sorts every deal into its period.

**Registrations.** :class:`RegistrationFacts` holds what is known of one
(customer, product line)'s registrations: the registrations, extension requests
and their answers, decisions by hand. :func:`decide_registrations` decides them
in (``registered_at``, ``registration_id``) order: a decision by hand stands;
otherwise rejected with ``channel_conflict`` when another partner's approved
registration protects at its ``registered_at`` (from its ``registered_at`` to
its ``expires_at``: ``protection_days`` later, moved on by its granted
extensions, :func:`extended_end`), else approved. The registered-deal uplift
applies to a deal closed inside an approval's protection.

**Adjustments** count in their period's total (:func:`period_totals`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from shared import events
from shared.events import CommissionStatus, PlanPeriod
from shared.settlement import Settlement, pending_adjustments

CENT = Decimal("0.01")
ZERO = Decimal("0")
ZERO_CENTS = Decimal("0.00")
#: How long an approved registration protects its (customer, product line) by default.
PROTECTION_DAYS = 90
#: At most this many extensions of a registration count, each at most this many days.
MAX_EXTENSIONS = 2
MAX_EXTENSION_DAYS = 90

#: A fact's version: the CloudEvent ``time`` and ``id``; the greatest stands.
Version = tuple[datetime, str]


def to_cents(amount: Decimal) -> Decimal:
    """Round to cents, half-even (the rounding rule of the commissions)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def utc_date(instant: datetime) -> date:
    return instant.astimezone(UTC).date()


def period_label(instant: datetime, period: PlanPeriod) -> str:
    """The calendar period of ``instant`` in UTC: ``2026``, ``2026-Q4`` or ``2026-11``."""
    day = utc_date(instant)
    if period is PlanPeriod.YEAR:
        return f"{day.year}"
    if period is PlanPeriod.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True)
class Bracket:
    start: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Plan:
    period: PlanPeriod
    brackets: tuple[Bracket, ...]
    certification_bonus_rate: Decimal
    registered_deal_bonus_rate: Decimal
    period_cap: Decimal | None
    clawback_days: int
    target_amount: Decimal | None
    target_bonus: Decimal | None
    #: Fixed exchange rates, by deal currency: one unit of it in the contract's currency.
    fx_rates: tuple[tuple[str, Decimal], ...] = ()

    def fixed_rate(self, currency: str) -> Decimal | None:
        """The plan's fixed rate for deals in ``currency``, if it names one."""
        return next((rate for named, rate in self.fx_rates if named == currency), None)


@dataclass(frozen=True, slots=True)
class ContractTerms:
    contract_id: str
    start_date: date
    end_date: date
    currency: str
    plan: Plan
    version: Version

    def governs(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date


@dataclass(frozen=True, slots=True)
class Deal:
    deal_id: str
    amount: Decimal
    currency: str
    product_line: str
    closed_at: datetime
    version: Version
    day: date = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "day", utc_date(self.closed_at))


@dataclass(frozen=True, slots=True)
class Certification:
    product_line: str
    awarded_at: datetime
    expires_at: datetime

    def valid_at(self, instant: datetime) -> bool:
        return self.awarded_at <= instant < self.expires_at


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """An ExchangeRateSet: one unit of ``base`` is worth ``rate`` of ``quote`` from
    ``valid_from``; of two for one pair and day the greatest version stands."""

    base: str
    quote: str
    valid_from: date
    rate: Decimal
    version: Version
    source: str = ""


class ExchangeRates:
    """The exchange rates known, by pair and day (docs/rules/fx.md): merged so that any
    order and any duplicates give the same rates."""

    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str], dict[date, ExchangeRate]] = {}
        self._days: dict[tuple[str, str], list[date]] = {}

    def add(self, rate: ExchangeRate) -> bool:
        """Merge ``rate``; False when a rate of the same day with a greater or equal
        version is known already."""
        pair = (rate.base, rate.quote)
        by_day = self._by_pair.setdefault(pair, {})
        known = by_day.get(rate.valid_from)
        if known is not None and known.version >= rate.version:
            return False
        if known is None:
            bisect.insort(self._days.setdefault(pair, []), rate.valid_from)
        by_day[rate.valid_from] = rate
        return True

    def on(self, base: str, quote: str, day: date) -> ExchangeRate | None:
        """The rate of (``base``, ``quote``) with the latest ``valid_from`` ≤ ``day``; no
        inverse, no cross rates."""
        days = self._days.get((base, quote))
        if not days:
            return None
        index = bisect.bisect_right(days, day)
        return None if index == 0 else self._by_pair[(base, quote)][days[index - 1]]

    def __iter__(self) -> Iterator[ExchangeRate]:
        for by_day in self._by_pair.values():
            yield from by_day.values()

    def __len__(self) -> int:
        return sum(len(by_day) for by_day in self._by_pair.values())


@dataclass(frozen=True, slots=True)
class Conversion:
    """A deal converted into its contract's currency: ``amount`` = the deal's amount ×
    ``rate``, half-even to cents."""

    amount: Decimal
    rate: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class RegistrationDecision:
    """A published decision on a registration, as the commissions see it: approved ones
    give their deal the registered-deal uplift from ``decided_at`` to ``expires_at``
    (moved on by the registration's granted extensions; None: no end)."""

    registration_id: str
    deal_id: str
    approved: bool
    decided_at: datetime
    version: Version
    manual: bool = False
    expires_at: datetime | None = None

    @property
    def rank(self) -> tuple[bool, Version]:
        """Which of two decisions on a registration stands: one made by hand over an
        automatic one, then the greatest version."""
        return self.manual, self.version


@dataclass(frozen=True, slots=True)
class ExtensionAnswer:
    """A channel manager's answer to a request to extend a registration's protection:
    granted (by ``days``) or refused. Of two answers to one request the greatest
    version stands."""

    extension_id: str
    registration_id: str
    deal_id: str
    granted: bool
    days: int
    answered_at: datetime
    version: Version
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ExtensionRequest:
    """A request to extend a registration's protection by ``days``."""

    extension_id: str
    registration_id: str
    days: int
    reason: str
    requested_at: datetime
    version: Version


def extended_end(expires_at: datetime, answers: Iterable[ExtensionAnswer]) -> datetime:
    """``expires_at`` moved on by the granted extensions that count: the first
    :data:`MAX_EXTENSIONS` by version, each at most :data:`MAX_EXTENSION_DAYS` days."""
    granted = sorted((a for a in answers if a.granted), key=lambda a: a.version)
    days = sum(min(a.days, MAX_EXTENSION_DAYS) for a in granted[:MAX_EXTENSIONS])
    return expires_at + timedelta(days=days)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class BracketPortion:
    """The part of a deal's amount that fell in one bracket, and what it earned."""

    start: Decimal
    end: Decimal | None
    amount: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class DealResult:
    """One deal's commission with everything needed to explain it."""

    deal_id: str
    period: str
    currency: str
    amount: Decimal
    closed_at: datetime
    status: CommissionStatus
    reason: str
    contract_id: str | None = None
    base: Decimal = ZERO
    uplift: Decimal = ZERO
    commission: Decimal = ZERO
    target_bonus: Decimal = ZERO
    cum_before: Decimal = ZERO
    brackets: tuple[Bracket, ...] = ()
    uplift_reasons: tuple[str, ...] = ()
    cap_reduction: Decimal = ZERO
    #: Converted deals: the deal's own amount and currency, and the rate used.
    original_amount: Decimal | None = None
    original_currency: str | None = None
    fx_rate: Decimal | None = None

    @property
    def portions(self) -> tuple[BracketPortion, ...]:
        """How the base splits across the brackets (computed when asked, not on the hot path)."""
        return (
            graduated_base(self.brackets, self.cum_before, self.amount)[1] if self.brackets else ()
        )

    @property
    def payout(self) -> Decimal:
        return self.commission + self.target_bonus

    def same_outcome(self, other: DealResult) -> bool:
        """Equal in every field a CommissionCalculated carries (explanations aside)."""
        return (
            self.period == other.period
            and self.currency == other.currency
            and self.amount == other.amount
            and self.closed_at == other.closed_at
            and self.status == other.status
            and self.base == other.base
            and self.uplift == other.uplift
            and self.commission == other.commission
            and self.target_bonus == other.target_bonus
            and self.original_amount == other.original_amount
            and self.original_currency == other.original_currency
            and self.fx_rate == other.fx_rate
        )


@dataclass(frozen=True, slots=True)
class Revision:
    """A published (or to be published) revision of one deal's result."""

    result: DealResult
    revision: int
    delta: Decimal


def next_revision(previous: Revision | None, result: DealResult) -> Revision | None:
    """The revision to publish for ``result``, or None when nothing a reader sees changed."""
    if previous is None:
        return Revision(result, 1, result.payout)
    if previous.result.same_outcome(result):
        return None
    return Revision(result, previous.revision + 1, result.payout - previous.result.payout)


# --------------------------------------------------------------------------- the engine


def graduated_amount(brackets: tuple[Bracket, ...], cum: Decimal, amount: Decimal) -> Decimal:
    """The unrounded base of [cum, cum + amount) over graduated brackets: the part that
    falls in each bracket earns that bracket's rate. Without the breakdown, for the
    engine's every deal; :func:`graduated_base` gives the breakdown too."""
    high = cum + amount
    base = ZERO
    last = len(brackets) - 1
    for index, bracket in enumerate(brackets):
        start = bracket.start
        if start >= high:
            break
        end = brackets[index + 1].start if index < last else high
        if end <= cum:
            continue
        base += ((high if high < end else end) - (cum if cum > start else start)) * bracket.rate
    return base


def graduated_base(
    brackets: tuple[Bracket, ...], cum: Decimal, amount: Decimal
) -> tuple[Decimal, tuple[BracketPortion, ...]]:
    """The unrounded base of [cum, cum + amount) over graduated brackets, and how it
    splits across them."""
    high = cum + amount
    base = ZERO
    portions: list[BracketPortion] = []
    last = len(brackets) - 1
    for index, bracket in enumerate(brackets):
        if bracket.start >= high:
            break
        end = brackets[index + 1].start if index < last else None
        if end is not None and end <= cum:
            continue
        part = (high if end is None or high < end else end) - (
            cum if cum > bracket.start else bracket.start
        )
        base += part * bracket.rate
        portions.append(BracketPortion(bracket.start, end, part, bracket.rate))
    return base, tuple(portions)


@dataclass(slots=True)
class _Running:
    """What the deals before a place in a period add up to."""

    cum: Decimal = ZERO
    earned: Decimal = ZERO
    bonus_given: bool = False


SortKey = tuple[datetime, str]


@dataclass(slots=True)
class _Period:
    keys: list[SortKey] = field(default_factory=list)
    #: None stands in a place until the place is computed.
    results: list[DealResult | None] = field(default_factory=list)
    #: (cum, earned, bonus_given) after each place: where a recomputation resumes.
    after: list[tuple[Decimal, Decimal, bool]] = field(default_factory=list)
    stale_from: int | None = None

    def mark(self, index: int) -> None:
        """Make ``index`` and every later place stale."""
        if self.stale_from is None or index < self.stale_from:
            self.stale_from = index


class PartnerBook:
    """Everything known about one partner, and the commissions that follow from it."""

    def __init__(self, partner_id: str) -> None:
        self.partner_id = partner_id
        self.contracts: dict[str, ContractTerms] = {}
        self.terminated_from: date | None = None
        self.deals: dict[str, Deal] = {}
        self.cancellations: dict[str, datetime] = {}
        self.certifications: set[Certification] = set()
        self.registrations: dict[str, RegistrationDecision] = {}
        #: Approved MDF claims, by claim id (the first approval stands).
        self.mdf_claims: dict[str, MdfClaim] = {}
        #: The exchange rates of the pairs its deals need (docs/rules/fx.md).
        self.rates = ExchangeRates()
        #: Answers to extension requests, by registration id and extension id.
        self.extensions: dict[str, dict[str, ExtensionAnswer]] = {}
        #: Each registered deal's uplift windows: (approved_at, end or None).
        self._windows: dict[str, list[tuple[datetime, datetime | None]]] = {}
        self._periods: dict[str, _Period] = {}
        self._place: dict[str, tuple[str, SortKey]] = {}
        self._contracts_by_start: list[ContractTerms] = []
        self._changed: set[str] = set()
        self._stale: set[str] = set()
        self._resort = False

    # ----------------------------------------------------------------- merging facts

    def add_contract(self, contract: ContractTerms) -> bool:
        known = self.contracts.get(contract.contract_id)
        if known is not None and known.version >= contract.version:
            return False
        self.contracts[contract.contract_id] = contract
        self._contracts_by_start = sorted(
            self.contracts.values(), key=lambda c: (c.start_date, c.contract_id), reverse=True
        )
        self._resort = True
        return True

    def add_termination(self, effective_date: date) -> bool:
        if self.terminated_from is not None and self.terminated_from <= effective_date:
            return False
        self.terminated_from = effective_date
        for deal in self.deals.values():
            if deal.day >= effective_date:
                self._mark_deal(deal.deal_id)
        return True

    def add_deal(self, deal: Deal) -> bool:
        known = self.deals.get(deal.deal_id)
        if known is not None and known.version >= deal.version:
            return False
        if known is not None:
            self._unplace(deal.deal_id)
        self.deals[deal.deal_id] = deal
        self._place_deal(deal)
        return True

    def add_cancellation(self, deal_id: str, cancelled_at: datetime) -> bool:
        known = self.cancellations.get(deal_id)
        if known is not None and known <= cancelled_at:
            return False
        self.cancellations[deal_id] = cancelled_at
        self._mark_deal(deal_id)
        return True

    def add_certification(self, certification: Certification) -> bool:
        if certification in self.certifications:
            return False
        self.certifications.add(certification)
        for deal in self.deals.values():
            if deal.product_line == certification.product_line and certification.valid_at(
                deal.closed_at
            ):
                self._mark_deal(deal.deal_id)
        return True

    def add_registration_decision(self, decision: RegistrationDecision) -> bool:
        known = self.registrations.get(decision.registration_id)
        if known is not None and known.rank >= decision.rank:
            return False
        self.registrations[decision.registration_id] = decision
        for deal_id in {decision.deal_id} | ({known.deal_id} if known else set()):
            self._refresh_windows(deal_id)
        return True

    def add_mdf_claim(self, claim: MdfClaim) -> bool:
        """An approved claim; a claim's approval is final, so only its first counts."""
        if claim.claim_id in self.mdf_claims:
            return False
        self.mdf_claims[claim.claim_id] = claim
        return True

    def add_rate(self, rate: ExchangeRate) -> bool:
        """An exchange rate: every deal in its ``base`` currency is looked at again (a
        contract in its ``quote`` currency may govern it)."""
        if not self.rates.add(rate):
            return False
        for deal in self.deals.values():
            if deal.currency == rate.base:
                self._mark_deal(deal.deal_id)
        return True

    def pairs_needed(self, deal_ids: Iterable[str] | None = None) -> set[tuple[str, str]]:
        """The (deal currency, contract currency) pairs of its deals (of ``deal_ids``
        only, if given) that no plan's fixed rate converts: the rates of these pairs decide
        those deals' amounts."""
        pairs: set[tuple[str, str]] = set()
        deals = (
            self.deals.values()
            if deal_ids is None
            else [self.deals[d] for d in deal_ids if d in self.deals]
        )
        for deal in deals:
            contract = self.governing_contract(deal.day)
            if (
                contract is not None
                and deal.currency != contract.currency
                and contract.plan.fixed_rate(deal.currency) is None
            ):
                pairs.add((deal.currency, contract.currency))
        return pairs

    def conversion(self, deal: Deal, contract: ContractTerms) -> Conversion | None:
        """``deal`` in ``contract``'s currency: by the plan's fixed rate for its currency,
        else by the rate of the pair on the day it closed; None without a rate. Only for a
        deal in another currency than the contract's."""
        fixed = contract.plan.fixed_rate(deal.currency)
        if fixed is not None:
            return Conversion(to_cents(deal.amount * fixed), fixed, "the plan's fixed rate")
        rate = self.rates.on(deal.currency, contract.currency, deal.day)
        if rate is None:
            return None
        source = f"{rate.base}/{rate.quote} from {rate.valid_from.isoformat()}"
        if rate.source:
            source += f" ({rate.source})"
        return Conversion(to_cents(deal.amount * rate.rate), rate.rate, source)

    def add_extension_answer(self, answer: ExtensionAnswer) -> bool:
        answers = self.extensions.setdefault(answer.registration_id, {})
        known = answers.get(answer.extension_id)
        if known is not None and known.version >= answer.version:
            return False
        answers[answer.extension_id] = answer
        decision = self.registrations.get(answer.registration_id)
        for deal_id in {answer.deal_id} | ({decision.deal_id} if decision else set()):
            self._refresh_windows(deal_id)
        return True

    def uplift_windows(self, deal_id: str) -> list[tuple[datetime, datetime | None]]:
        """When ``deal_id`` earns the registered-deal uplift if it closes: from each
        standing approval's ``decided_at`` to its end, extensions included (both ends
        included; None: no end)."""
        return list(self._windows.get(deal_id, ()))

    def _refresh_windows(self, deal_id: str) -> None:
        windows = sorted(
            (
                r.decided_at,
                None
                if r.expires_at is None
                else extended_end(
                    r.expires_at, self.extensions.get(r.registration_id, {}).values()
                ),
            )
            for r in self.registrations.values()
            if r.deal_id == deal_id and r.approved
        )
        if windows:
            self._windows[deal_id] = windows
        else:
            self._windows.pop(deal_id, None)
        self._mark_deal(deal_id)

    # ----------------------------------------------------------------- computing

    def settle(self) -> dict[str, DealResult]:
        """Recompute what merged facts made stale; return the deals whose result changed."""
        if self._resort:
            self._resort = False
            previous = self.results()
            self._periods.clear()
            self._place.clear()
            self._stale.clear()
            for deal in self.deals.values():
                self._place_deal(deal)
            self._recompute()
            changed = {
                deal_id: result
                for deal_id, result in self.results().items()
                if deal_id not in previous or not previous[deal_id].same_outcome(result)
            }
        else:
            changed = {}
            for deal_id in self._recompute():
                result = self.result(deal_id)
                if result is not None:
                    changed[deal_id] = result
        self._changed.clear()
        return changed

    def results(self) -> dict[str, DealResult]:
        return {
            result.deal_id: result
            for period in self._periods.values()
            for result in period.results
            if result is not None
        }

    def result(self, deal_id: str) -> DealResult | None:
        place = self._place.get(deal_id)
        if place is None:
            return None
        label, key = place
        period = self._periods[label]
        return period.results[bisect.bisect_left(period.keys, key)]

    def governing_contract(self, day: date) -> ContractTerms | None:
        """The governing contract: of the contracts covering ``day``, the one with the
        latest start date."""
        for contract in self._contracts_by_start:
            if contract.governs(day):
                return contract
        return None

    # ----------------------------------------------------------------- internals

    def _period_of(self, deal: Deal) -> str:
        contract = self.governing_contract(deal.day)
        return period_label(
            deal.closed_at, contract.plan.period if contract else PlanPeriod.QUARTER
        )

    def _place_deal(self, deal: Deal) -> None:
        label = self._period_of(deal)
        key = (deal.closed_at, deal.deal_id)
        period = self._periods.get(label)
        if period is None:
            period = self._periods[label] = _Period()
        index = bisect.bisect_left(period.keys, key)
        period.keys.insert(index, key)
        period.results.insert(index, None)
        period.after.insert(index, (ZERO, ZERO, False))
        period.mark(index)
        self._stale.add(label)
        self._place[deal.deal_id] = (label, key)
        self._changed.add(deal.deal_id)

    def _unplace(self, deal_id: str) -> None:
        label, key = self._place.pop(deal_id)
        period = self._periods[label]
        index = bisect.bisect_left(period.keys, key)
        del period.keys[index], period.results[index], period.after[index]
        period.mark(index)
        self._stale.add(label)
        if not period.keys:
            del self._periods[label]
            self._stale.discard(label)

    def _mark_deal(self, deal_id: str) -> None:
        place = self._place.get(deal_id)
        if place is None:
            return
        label, key = place
        period = self._periods[label]
        period.mark(bisect.bisect_left(period.keys, key))
        self._stale.add(label)

    def _recompute(self) -> set[str]:
        changed = set(self._changed)
        stale, self._stale = self._stale, set()
        for label in stale:
            period = self._periods[label]
            start = period.stale_from
            if start is None:
                continue
            period.stale_from = None
            running = _Running(*period.after[start - 1]) if start > 0 else _Running()
            for index in range(start, len(period.keys)):
                deal = self.deals[period.keys[index][1]]
                result = self._compute(deal, label, running)
                previous = period.results[index]
                if previous is None or not result.same_outcome(previous):
                    changed.add(deal.deal_id)
                period.results[index] = result
                period.after[index] = (running.cum, running.earned, running.bonus_given)
        return {deal_id for deal_id in changed if deal_id in self._place}

    def _status(
        self, deal: Deal, contract: ContractTerms | None, converted: Conversion | None
    ) -> tuple[CommissionStatus, str]:
        """The deal's status and why: the first of no contract, terminated, no exchange
        rate (fx pending), clawed back (cancelled within the clawback window) that
        applies, else commissionable."""
        day = deal.day
        if contract is None:
            return CommissionStatus.NO_CONTRACT, f"no contract covers {day}"
        if self.terminated_from is not None and self.terminated_from <= day:
            return CommissionStatus.TERMINATED, f"partner terminated from {self.terminated_from}"
        if deal.currency != contract.currency and converted is None:
            return (
                CommissionStatus.FX_PENDING,
                f"no {deal.currency}/{contract.currency} rate for {day} yet: deal in "
                f"{deal.currency}, contract {contract.contract_id} in {contract.currency}",
            )
        cancelled_at = self.cancellations.get(deal.deal_id)
        if cancelled_at is not None:
            window = timedelta(days=contract.plan.clawback_days)
            if cancelled_at - deal.closed_at <= window:
                return (
                    CommissionStatus.CLAWED_BACK,
                    f"cancelled {cancelled_at.isoformat()}, within the "
                    f"{contract.plan.clawback_days}-day clawback window",
                )
            return (
                CommissionStatus.COMMISSIONABLE,
                f"contract {contract.contract_id}; cancelled after the clawback window",
            )
        return CommissionStatus.COMMISSIONABLE, f"contract {contract.contract_id}"

    def _uplift_rate(self, deal: Deal, plan: Plan) -> tuple[Decimal, tuple[str, ...]]:
        """The uplift's rate and why: the certification bonus when the partner holds a
        certification for the deal's product line valid when it closed, plus the
        registered-deal bonus when it closed inside an approved registration's
        protection (``approved_at ≤ closed_at ≤ expires_at``)."""
        reasons: tuple[str, ...] = ()
        rate = ZERO
        if plan.certification_bonus_rate and any(
            c.product_line == deal.product_line and c.valid_at(deal.closed_at)
            for c in self.certifications
        ):
            rate += plan.certification_bonus_rate
            reasons += (f"certified for {deal.product_line}",)
        if plan.registered_deal_bonus_rate and any(
            approved_at <= deal.closed_at and (end is None or deal.closed_at <= end)
            for approved_at, end in self._windows.get(deal.deal_id, ())
        ):
            rate += plan.registered_deal_bonus_rate
            reasons += ("registered deal",)
        return rate, reasons

    def _compute(self, deal: Deal, label: str, running: _Running) -> DealResult:
        contract = self.governing_contract(deal.day)
        converted = (
            self.conversion(deal, contract)
            if contract is not None and deal.currency != contract.currency
            else None
        )
        status, reason = self._status(deal, contract, converted)
        if converted is not None:
            reason += (
                f"; {deal.amount} {deal.currency} converted at {converted.rate} "
                f"({converted.source})"
            )
        # A converted deal is its converted amount in the contract's currency for every rule.
        amount = deal.amount if converted is None else converted.amount
        currency = deal.currency if converted is None or contract is None else contract.currency
        original_amount = None if converted is None else deal.amount
        original_currency = None if converted is None else deal.currency
        fx_rate = None if converted is None else converted.rate
        if status is not CommissionStatus.COMMISSIONABLE or contract is None:
            return DealResult(
                deal_id=deal.deal_id,
                period=label,
                currency=currency,
                amount=amount,
                closed_at=deal.closed_at,
                status=status,
                reason=reason,
                contract_id=contract.contract_id if contract else None,
                cum_before=running.cum,
                original_amount=original_amount,
                original_currency=original_currency,
                fx_rate=fx_rate,
            )
        plan = contract.plan
        raw_base = graduated_amount(plan.brackets, running.cum, amount)
        bonus_rate, reasons = self._uplift_rate(deal, plan)
        base = to_cents(raw_base)
        uplift = to_cents(amount * bonus_rate) if bonus_rate else ZERO_CENTS
        commission = base + uplift
        cap_reduction = ZERO
        if plan.period_cap is not None:
            left = max(ZERO, plan.period_cap - running.earned)
            if commission > left:
                cap_reduction = commission - left
                commission = left
        bonus = ZERO
        cum_before = running.cum
        reached = cum_before + amount
        if (
            not running.bonus_given
            and plan.target_amount is not None
            and plan.target_bonus is not None
            and reached >= plan.target_amount
        ):
            bonus = plan.target_bonus
            running.bonus_given = True
        running.cum = reached
        running.earned += commission
        return DealResult(
            deal_id=deal.deal_id,
            period=label,
            currency=currency,
            amount=amount,
            closed_at=deal.closed_at,
            status=status,
            reason=reason,
            contract_id=contract.contract_id,
            original_amount=original_amount,
            original_currency=original_currency,
            fx_rate=fx_rate,
            base=base,
            uplift=uplift,
            commission=commission,
            target_bonus=bonus,
            cum_before=cum_before,
            brackets=plan.brackets,
            uplift_reasons=reasons,
            cap_reduction=cap_reduction,
        )


def with_plan(book: PartnerBook, plan: Plan) -> PartnerBook:
    """A copy of ``book`` in which every contract pays by ``plan``: the plan simulator."""
    draft = PartnerBook(book.partner_id)
    for contract in book.contracts.values():
        draft.add_contract(
            ContractTerms(
                contract.contract_id,
                contract.start_date,
                contract.end_date,
                contract.currency,
                plan,
                contract.version,
            )
        )
    if book.terminated_from is not None:
        draft.add_termination(book.terminated_from)
    for deal in book.deals.values():
        draft.add_deal(deal)
    for deal_id, cancelled_at in book.cancellations.items():
        draft.add_cancellation(deal_id, cancelled_at)
    for certification in book.certifications:
        draft.add_certification(certification)
    for decision in book.registrations.values():
        draft.add_registration_decision(decision)
    for answers in book.extensions.values():
        for answer in answers.values():
            draft.add_extension_answer(answer)
    for claim in book.mdf_claims.values():
        draft.add_mdf_claim(claim)
    for rate in book.rates:
        draft.add_rate(rate)
    draft.settle()
    return draft


# --------------------------------------------------------------------------- registrations


@dataclass(frozen=True, slots=True)
class Registration:
    registration_id: str
    deal_id: str
    partner_id: str
    customer: str
    product_line: str
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class ManualDecision:
    """A channel manager's decision on a registration: it stands over the automatic rule.
    Of two on one registration the greatest version stands."""

    registration_id: str
    approved: bool
    reason: str
    version: Version
    actor: events.Actor | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """A registration's decision: approved or rejected (``reason``; for a conflict, the
    registration it conflicts with), by hand or by the rule, and when its protection
    ends, extensions included."""

    registration: Registration
    approved: bool
    expires_at: datetime
    reason: str | None = None
    conflicting_registration_id: str | None = None
    manual: bool = False

    def protects(self, instant: datetime) -> bool:
        """Approved and protecting at ``instant`` (both ends included)."""
        return self.approved and self.registration.registered_at <= instant <= self.expires_at


def decide_registrations(
    registrations: Iterable[Registration],
    *,
    protection_days: int = PROTECTION_DAYS,
    extensions: Mapping[str, Iterable[ExtensionAnswer]] | None = None,
    manual: Mapping[str, ManualDecision] | None = None,
) -> Iterator[Decision]:
    """Each registration's decision, in (``registered_at``, ``registration_id``) order.

    A registration decided by hand keeps that decision. Any other is rejected
    (``channel_conflict``) when another partner's approved registration for the same
    (customer, product line) protects at its ``registered_at``, else approved. An
    approved registration protects from its ``registered_at`` to its ``expires_at``:
    ``protection_days`` later, moved on by its granted extensions (:func:`extended_end`).
    """
    extensions = extensions or {}
    manual = manual or {}
    holders: dict[tuple[str, str], list[Decision]] = {}
    ordered = sorted(
        {r.registration_id: r for r in registrations}.values(),
        key=lambda r: (r.registered_at, r.registration_id),
    )
    for registration in ordered:
        expires_at = extended_end(
            registration.registered_at + timedelta(days=protection_days),
            extensions.get(registration.registration_id, ()),
        )
        pair = holders.setdefault((registration.customer, registration.product_line), [])
        by_hand = manual.get(registration.registration_id)
        if by_hand is not None:
            decision = Decision(
                registration,
                by_hand.approved,
                expires_at,
                reason=by_hand.reason,
                manual=True,
            )
        else:
            conflict = next(
                (
                    other
                    for other in pair
                    if other.registration.partner_id != registration.partner_id
                    and other.protects(registration.registered_at)
                ),
                None,
            )
            decision = (
                Decision(registration, True, expires_at)
                if conflict is None
                else Decision(
                    registration,
                    False,
                    expires_at,
                    reason="channel_conflict",
                    conflicting_registration_id=conflict.registration.registration_id,
                )
            )
        if decision.approved:
            pair.append(decision)
        yield decision


@dataclass(slots=True)
class RegistrationFacts:
    """What is known of the registrations of one (customer, product line): the
    registrations, the extension requests and their answers, and the decisions made by
    hand. Each fact merges commutatively and idempotently: a registration, a request
    and a decision by hand keep their greatest version, an answer the greatest version
    for its request."""

    registrations: dict[str, Registration] = field(default_factory=dict)
    #: The version of each registration's DealRegistered that stands.
    versions: dict[str, Version] = field(default_factory=dict)
    requests: dict[str, ExtensionRequest] = field(default_factory=dict)
    #: Answers by registration id, then extension id.
    answers: dict[str, dict[str, ExtensionAnswer]] = field(default_factory=dict)
    manual: dict[str, ManualDecision] = field(default_factory=dict)

    def add_registration(self, registration: Registration, version: Version) -> bool:
        known = self.versions.get(registration.registration_id)
        if known is not None and known >= version:
            return False
        self.registrations[registration.registration_id] = registration
        self.versions[registration.registration_id] = version
        return True

    def add_request(self, request: ExtensionRequest) -> bool:
        known = self.requests.get(request.extension_id)
        if known is not None and known.version >= request.version:
            return False
        self.requests[request.extension_id] = request
        return True

    def add_answer(self, answer: ExtensionAnswer) -> bool:
        answers = self.answers.setdefault(answer.registration_id, {})
        known = answers.get(answer.extension_id)
        if known is not None and known.version >= answer.version:
            return False
        answers[answer.extension_id] = answer
        return True

    def add_manual(self, decision: ManualDecision) -> bool:
        known = self.manual.get(decision.registration_id)
        if known is not None and known.version >= decision.version:
            return False
        self.manual[decision.registration_id] = decision
        return True

    def decide(self, protection_days: int = PROTECTION_DAYS) -> Iterator[Decision]:
        """Every registration's decision (:func:`decide_registrations`)."""
        return decide_registrations(
            self.registrations.values(),
            protection_days=protection_days,
            extensions={rid: answers.values() for rid, answers in self.answers.items()},
            manual=self.manual,
        )

    def requests_of(self, registration_id: str) -> list[ExtensionRequest]:
        """The registration's extension requests, oldest first."""
        return sorted(
            (r for r in self.requests.values() if r.registration_id == registration_id),
            key=lambda r: (r.requested_at, r.extension_id),
        )

    def waiting(self, registration_id: str) -> ExtensionRequest | None:
        """The registration's extension request that has no answer yet, if any."""
        answered = self.answers.get(registration_id, {})
        return next(
            (r for r in self.requests_of(registration_id) if r.extension_id not in answered),
            None,
        )

    def granted(self, registration_id: str) -> list[ExtensionAnswer]:
        """The registration's granted extensions that count (:func:`extended_end`)."""
        answers = self.answers.get(registration_id, {}).values()
        return sorted((a for a in answers if a.granted), key=lambda a: a.version)[:MAX_EXTENSIONS]


# --------------------------------------------------------------------------- from events


def plan_terms(plan: events.CommissionPlan) -> Plan:
    return Plan(
        period=plan.period,
        brackets=tuple(Bracket(b.from_, b.rate) for b in plan.brackets),
        certification_bonus_rate=plan.certification_bonus_rate,
        registered_deal_bonus_rate=plan.registered_deal_bonus_rate,
        period_cap=plan.period_cap,
        clawback_days=plan.clawback_days,
        target_amount=plan.target_amount,
        target_bonus=plan.target_bonus,
        fx_rates=tuple(sorted((plan.fx_rates or {}).items())),
    )


def exchange_rate(data: events.ExchangeRateSet, version: Version) -> ExchangeRate:
    return ExchangeRate(data.base, data.quote, data.valid_from, data.rate, version, data.source)


def contract_terms(contract: events.Contract, version: Version) -> ContractTerms:
    return ContractTerms(
        contract_id=contract.contract_id,
        start_date=contract.start_date,
        end_date=contract.end_date,
        currency=contract.currency,
        plan=plan_terms(contract.commission_plan),
        version=version,
    )


def _deal_closed(book: PartnerBook, data: events.DealClosed, version: Version) -> bool:
    return book.add_deal(
        Deal(
            deal_id=data.deal_id,
            amount=data.amount,
            currency=data.currency,
            product_line=data.product_line,
            closed_at=data.closed_at,
            version=version,
        )
    )


def _deal_cancelled(book: PartnerBook, data: events.DealCancelled, version: Version) -> bool:
    return book.add_cancellation(data.deal_id, data.cancelled_at)


def _contract(
    book: PartnerBook, data: events.PartnerSigned | events.ContractRenewed, version: Version
) -> bool:
    return book.add_contract(contract_terms(data.contract, version))


def _terminated(book: PartnerBook, data: events.PartnerTerminated, version: Version) -> bool:
    return book.add_termination(data.effective_date)


def _certified(book: PartnerBook, data: events.CertificationAwarded, version: Version) -> bool:
    return book.add_certification(
        Certification(data.product_line, data.awarded_at, data.expires_at)
    )


def by_hand(data: events.Payload) -> bool:
    """Whether a decision event was made by a person or an API key (a channel manager's
    decision), not by the service's rule."""
    return data.actor is not None and data.actor.kind is not events.ActorKind.SYSTEM


def _registration_approved(
    book: PartnerBook, data: events.DealRegistrationApproved, version: Version
) -> bool:
    return book.add_registration_decision(
        RegistrationDecision(
            data.registration_id,
            data.deal_id,
            True,
            data.approved_at,
            version,
            manual=by_hand(data),
            expires_at=data.expires_at,
        )
    )


def _registration_rejected(
    book: PartnerBook, data: events.DealRegistrationRejected, version: Version
) -> bool:
    return book.add_registration_decision(
        RegistrationDecision(
            data.registration_id,
            data.deal_id,
            False,
            data.rejected_at,
            version,
            manual=by_hand(data),
        )
    )


def extension_answer(
    data: events.DealRegistrationExtended | events.DealRegistrationExtensionRejected,
    version: Version,
) -> ExtensionAnswer:
    if isinstance(data, events.DealRegistrationExtended):
        return ExtensionAnswer(
            data.extension_id,
            data.registration_id,
            data.deal_id,
            True,
            data.days,
            data.extended_at,
            version,
            data.note,
        )
    return ExtensionAnswer(
        data.extension_id,
        data.registration_id,
        data.deal_id,
        False,
        0,
        data.rejected_at,
        version,
        data.reason,
    )


def _extension_answered(
    book: PartnerBook,
    data: events.DealRegistrationExtended | events.DealRegistrationExtensionRejected,
    version: Version,
) -> bool:
    return book.add_extension_answer(extension_answer(data, version))


def _mdf_claim_approved(book: PartnerBook, data: events.MdfClaimApproved, version: Version) -> bool:
    return book.add_mdf_claim(
        MdfClaim(
            data.claim_id, data.request_id, data.currency, data.approved_amount, data.approved_at
        )
    )


#: Merges one event's data, at its version, into a book; False when it changes nothing.
Merge = Callable[[PartnerBook, Any, Version], bool]

#: The event types that bear on commissions, by payload class, each with how it merges
#: into a partner's book.
MERGES: dict[type[events.Payload], Merge] = {
    events.DealClosed: _deal_closed,
    events.DealCancelled: _deal_cancelled,
    events.PartnerSigned: _contract,
    events.ContractRenewed: _contract,
    events.PartnerTerminated: _terminated,
    events.CertificationAwarded: _certified,
    events.DealRegistrationApproved: _registration_approved,
    events.DealRegistrationRejected: _registration_rejected,
    events.DealRegistrationExtended: _extension_answered,
    events.DealRegistrationExtensionRejected: _extension_answered,
    events.MdfClaimApproved: _mdf_claim_approved,
}


def apply_event(book: PartnerBook, event: events.CloudEvent[events.Payload]) -> bool:
    """Merge one event into ``book``; False when it changes nothing.

    Events that do not bear on commissions (applications, tier changes,
    registrations themselves, training, MDF, …) change nothing.
    """
    merge = MERGES.get(type(event.data))
    return False if merge is None else merge(book, event.data, (event.time, event.id))


# --------------------------------------------------------------------------- what is reported


@dataclass(frozen=True, slots=True)
class Totals:
    """What a set of commission lines adds up to: revenue counts commissionable deals only."""

    revenue: Decimal
    commission: Decimal
    target_bonus: Decimal


def totals(results: Iterable[DealResult]) -> Totals:
    results = list(results)
    return Totals(
        revenue=to_cents(
            sum(
                (r.amount for r in results if r.status is CommissionStatus.COMMISSIONABLE),
                ZERO,
            )
        ),
        commission=to_cents(sum((r.commission for r in results), ZERO)),
        target_bonus=to_cents(sum((r.target_bonus for r in results), ZERO)),
    )


def in_period(results: Iterable[DealResult], period: str) -> list[DealResult]:
    """The results of ``period`` in the order the period counts them: (closed_at, deal_id)."""
    return sorted(
        (r for r in results if r.period == period), key=lambda r: (r.closed_at, r.deal_id)
    )


def simulate(
    book: PartnerBook, plan: Plan, period: str
) -> tuple[list[DealResult], list[DealResult]]:
    """``period``'s results as they are, and the same deals' results if every contract
    paid by ``plan`` (whatever period the draft plan puts them in), in (closed_at,
    deal_id) order."""
    actual = in_period(book.results().values(), period)
    deal_ids = {r.deal_id for r in actual}
    simulated = sorted(
        (r for r in with_plan(book, plan).results().values() if r.deal_id in deal_ids),
        key=lambda r: (r.closed_at, r.deal_id),
    )
    return actual, simulated


# --------------------------------------------------------------------------- MDF claims


@dataclass(frozen=True, slots=True)
class MdfClaim:
    """An approved MDF claim: money the partner's next settlement in its currency pays
    beside the commissions (docs/rules/settlement.md, "MDF claims")."""

    claim_id: str
    request_id: str
    currency: str
    amount: Decimal
    approved_at: datetime


def unpaid_claims_elsewhere(
    claims: Iterable[MdfClaim], settlements: Iterable[Settlement], currency: str
) -> list[tuple[str, list[MdfClaim]]]:
    """The approved claims no settlement has paid yet in every currency but ``currency``
    (a settlement in ``currency`` pays them apart), by currency."""
    claims = list(claims)
    settlements = list(settlements)
    others = sorted({c.currency for c in claims} - {currency})
    found = [(other, unpaid_claims(claims, settlements, other)) for other in others]
    return [(other, unpaid) for other, unpaid in found if unpaid]


def unpaid_claims(
    claims: Iterable[MdfClaim], settlements: Iterable[Settlement], currency: str
) -> list[MdfClaim]:
    """The approved claims in ``currency`` no settlement has paid yet, oldest first."""
    paid = {claim_id for s in settlements for claim_id in s.claims_paid}
    return sorted(
        (c for c in claims if c.currency == currency and c.claim_id not in paid),
        key=lambda c: (c.approved_at, c.claim_id),
    )


# --------------------------------------------------------------------------- inquiries


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Money a channel manager adds to (or, negative, takes from) a partner's period: it
    counts in the period's total like a commission (docs/rules/settlement.md)."""

    adjustment_id: str
    deal_id: str | None
    period: str
    currency: str
    amount: Decimal
    reason: str
    adjusted_at: datetime
    actor: events.Actor | None = None
    inquiry_id: str | None = None


@dataclass(frozen=True, slots=True)
class Inquiry:
    """A question about a deal's commission, open until a channel manager resolves it:
    explained, or adjusted (``adjustment_id``)."""

    inquiry_id: str
    deal_id: str
    period: str
    message: str
    opened_at: datetime
    opened_by: events.Actor | None = None
    resolution: str | None = None
    note: str | None = None
    resolved_at: datetime | None = None
    resolved_by: events.Actor | None = None
    adjustment_id: str | None = None

    @property
    def open(self) -> bool:
        return self.resolution is None


def adjustment_totals(adjustments: Iterable[Adjustment], currency: str) -> dict[str, Decimal]:
    """Each period's adjustments in ``currency``, summed."""
    sums: dict[str, Decimal] = {}
    for adjustment in adjustments:
        if adjustment.currency == currency:
            sums[adjustment.period] = sums.get(adjustment.period, ZERO_CENTS) + adjustment.amount
    return sums


# --------------------------------------------------------------------------- settlements


def period_totals(
    published: Iterable[Revision], currency: str, adjustments: Iterable[Adjustment] = ()
) -> dict[str, Decimal]:
    """Each period's current total (commission + target bonus + adjustments) in
    ``currency``, as the latest published revisions and the adjustments made say: what a
    settlement pays from."""
    sums: dict[str, Decimal] = {}
    for revision in published:
        result = revision.result
        if result.currency == currency:
            sums[result.period] = sums.get(result.period, ZERO_CENTS) + result.payout
    for period, amount in adjustment_totals(adjustments, currency).items():
        sums[period] = sums.get(period, ZERO_CENTS) + amount
    return {period: to_cents(total) for period, total in sums.items()}


def settlement_currency(
    published: Iterable[Revision],
    contracts: Iterable[ContractTerms],
    period: str,
    adjustments: Iterable[Adjustment] = (),
) -> str | None:
    """The currency ``period`` is settled in: its paying deals' and adjustments', else the
    latest contract's (with several currencies paying: the latest contract's of those)."""
    paying = {r.result.currency for r in published if r.result.period == period and r.result.payout}
    paying |= {a.currency for a in adjustments if a.period == period and a.amount}
    if len(paying) == 1:
        return paying.pop()
    ordered = sorted(contracts, key=lambda c: (c.start_date, c.contract_id))
    if paying:
        return [c.currency for c in ordered if c.currency in paying][-1]
    return ordered[-1].currency if ordered else None


def pending_by_currency(
    published: Collection[Revision],
    settlements: Sequence[Settlement],
    adjustments: Collection[Adjustment] = (),
) -> list[tuple[str, str, Decimal]]:
    """(period, currency, amount) of every adjustment pending against a settled period."""
    return [
        (period, currency, amount)
        for currency in sorted({s.currency for s in settlements})
        for period, amount in pending_adjustments(
            period_totals(published, currency, adjustments), settlements, currency
        ).items()
    ]
