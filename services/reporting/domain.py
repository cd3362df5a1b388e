"""Reporting's rules, pure: current versions, statements, period totals, payments, health.

The read models keep *facts*: each version of a thing under a key that orders
the versions, so that the current version is the one under the greatest key,
whatever order the events came in and however often (see ``store.py``). This
module turns such facts, as plain values, into what the read API serves:

- the current profile, status, tier and contract of a partner;
- a deal's current commission line: its highest revision stands
  (docs/rules/commissions.md, "Revisions");
- a partner's totals of a period, its target and attainment
  (docs/rules/commissions.md);
- what settlements paid for each period and what is pending
  (docs/rules/settlement.md);
- a partner's commission adjustments and inquiries: each adjustment counted
  once, each inquiry open or resolved whatever order its events came in
  (docs/rules/commissions.md, "The statement");
- the partner health score, and where a partner's last closed deal is found
  (docs/rules/health-score.md);
- a partner's MDF position per quarter: requested, approved, claimed,
  approved in claims, reimbursed by settlements (docs/rules/enablement.md,
  "The partner's MDF position").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, overload

from shared.settlement import Settlement, accounted, period_order

CENT = Decimal("0.01")
ZERO = Decimal(0)

#: Lifecycle statuses by rank: the highest rank seen is the status.
STATUS_RANK = {"applied": 1, "approved": 2, "rejected": 3, "active": 4, "terminated": 5}
STATUS_OF_RANK = {rank: status for status, rank in STATUS_RANK.items()}


@overload
def money(amount: Decimal | str) -> str: ...
@overload
def money(amount: None) -> None: ...
def money(amount: Decimal | str | None) -> str | None:
    """Money as the read API serves it: a string with two decimals (half-even)."""
    if amount is None:
        return None
    return str(Decimal(amount).quantize(CENT, rounding=ROUND_HALF_EVEN))


def utc_text(instant: datetime) -> str:
    """An instant as fixed-width UTC text, so text order is time order."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_instant(text: str) -> datetime:
    """An instant from ISO 8601 text (``Z`` or an offset; UTC when it has neither), in UTC."""
    instant = datetime.fromisoformat(text)
    return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(UTC)


def version_key(time: datetime, event_id: str) -> str:
    """A key ordering an event's versions by (CloudEvent ``time``, ``id``): the later event
    stands, and two events of one instant are ordered by id. Free of ``.`` and ``$``."""
    return time.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "_" + event_id.encode().hex()


def version_event(key: str) -> tuple[str, str]:
    """The CloudEvent (``time`` as UTC text, ``id``) that a :func:`version_key` names."""
    stamp, hex_id = key.split("_", 1)
    time = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    return utc_text(time), bytes.fromhex(hex_id).decode()


def current_key(versions: Mapping[str, Any] | None) -> str | None:
    """The greatest key: the current version's (or revision's), or None."""
    if not versions:
        return None
    return max(versions)


def current(versions: Mapping[str, Any] | None) -> Any:
    """The value under the greatest key, or None."""
    key = current_key(versions)
    return None if key is None or versions is None else versions[key]


# --------------------------------------------------------------------------- periods


def period_bounds(label: str) -> tuple[date, date]:
    """First and last day of ``2026``, ``2026-Q4`` or ``2026-11``."""
    year = int(label[:4])
    if len(label) == 4:
        return date(year, 1, 1), date(year, 12, 31)
    if label[5] == "Q":
        quarter = int(label[6])
        first_month = 3 * (quarter - 1) + 1
        return date(year, first_month, 1), _month_end(year, first_month + 2)
    month = int(label[5:7])
    return date(year, month, 1), _month_end(year, month)


def _month_end(year: int, month: int) -> date:
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)


def period_of(day: date, plan_period: str) -> str:
    """The label of the period of a plan (``month``, ``quarter``, ``year``) holding ``day``."""
    if plan_period == "year":
        return f"{day.year}"
    if plan_period == "month":
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


# --------------------------------------------------------------------------- partners


def current_contracts(contracts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each contract id's latest version (each entry carries its version key ``v``)."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in contracts:
        known = latest.get(entry["contract_id"])
        if known is None or entry["v"] > known["v"]:
            latest[entry["contract_id"]] = dict(entry)
    return list(latest.values())


def governing_contract(contracts: Iterable[Mapping[str, Any]], day: date) -> dict[str, Any] | None:
    """The contract covering ``day`` with the latest start date (docs/rules/commissions.md,
    "Governing contract")."""
    covering = [
        c
        for c in current_contracts(contracts)
        if date.fromisoformat(c["start_date"]) <= day <= date.fromisoformat(c["end_date"])
    ]
    if not covering:
        return None
    return max(covering, key=lambda c: (c["start_date"], c["contract_id"]))


def target_for(contracts: Iterable[Mapping[str, Any]], period: str) -> Decimal | None:
    """The sales target of the contract governing the period's last day (else its first),
    if that contract's plan counts in periods of this kind."""
    start, end = period_bounds(period)
    contract = governing_contract(contracts, end) or governing_contract(contracts, start)
    if contract is None:
        return None
    plan = contract["commission_plan"]
    if period_of(start, plan["period"]) != period or plan.get("target_amount") is None:
        return None
    return Decimal(plan["target_amount"])


def partner_view(facts: Mapping[str, Any]) -> dict[str, Any]:
    """A partner's current profile, status, tier and latest contract, from its facts:
    ``profiles`` and ``tiers`` by version key, the highest ``status_rank`` seen, every
    version of every ``contracts`` entry, the earliest ``terminated_from``."""
    profile = current(facts.get("profiles")) or {}
    contracts = current_contracts(facts.get("contracts", []))
    latest = max(contracts, key=lambda c: (c["start_date"], c["contract_id"]), default=None)
    if latest is not None:
        latest = {k: value for k, value in latest.items() if k != "v"}
    return {
        "name": profile.get("name"),
        "partner_type": profile.get("partner_type"),
        "region": profile.get("region"),
        "industry": profile.get("industry"),
        "status": STATUS_OF_RANK.get(int(facts.get("status_rank", 0)), "applied"),
        "tier": current(facts.get("tiers")),
        "contract": latest,
        "terminated_from": facts.get("terminated_from"),
        "capabilities": list(current(facts.get("capabilities")) or []),
    }


# --------------------------------------------------------------------------- satisfaction

#: How far back the partner 360 and the health score look for survey answers.
SATISFACTION_DAYS = 365


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """What customers' survey answers (0–10) add up to (docs/rules/satisfaction.md):
    promoters answered 9–10, passives 7–8, detractors 0–6; ``average`` to two decimals
    and ``nps`` (% of promoters − % of detractors) to one, half to even; both None
    without answers."""

    responses: int
    promoters: int
    passives: int
    detractors: int
    average: Decimal | None
    nps: Decimal | None


def satisfaction(scores: Iterable[int]) -> Satisfaction:
    """The satisfaction of these survey scores."""
    scores = list(scores)
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    if not scores:
        return Satisfaction(0, 0, 0, 0, None, None)
    n = len(scores)
    return Satisfaction(
        responses=n,
        promoters=promoters,
        passives=n - promoters - detractors,
        detractors=detractors,
        average=(Decimal(sum(scores)) / n).quantize(CENT, rounding=ROUND_HALF_EVEN),
        nps=(Decimal(100 * (promoters - detractors)) / n).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_EVEN
        ),
    )


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    """A survey as it stands: its version with the greatest (``time``, ``id``)."""

    survey_id: str
    partner_id: str
    customer: str
    score: int
    completed_at: str
    deal_id: str | None = None
    comment: str | None = None


def survey_answer(doc: Mapping[str, Any]) -> SurveyAnswer | None:
    """A ``surveys`` document as the answer that stands (None without a version)."""
    fields = current(doc.get("versions"))
    if not fields:
        return None
    return SurveyAnswer(
        survey_id=doc["_id"],
        partner_id=fields["partner_id"],
        customer=fields["customer"],
        score=int(fields["score"]),
        completed_at=fields["completed_at"],
        deal_id=fields.get("deal_id"),
        comment=fields.get("comment"),
    )


def answered_between(
    answers: Iterable[SurveyAnswer], first: str | None, last: str | None
) -> list[SurveyAnswer]:
    """The answers completed from ``first`` to ``last`` (UTC texts, both included; None: no
    bound)."""
    return [
        a
        for a in answers
        if (first is None or a.completed_at >= first) and (last is None or a.completed_at <= last)
    ]


def satisfaction_window(moment: datetime) -> tuple[str, str]:
    """The 12 months up to ``moment`` the partner 360 and the health score count: from
    :data:`SATISFACTION_DAYS` days before it (excluded) to it (included), as UTC texts."""
    return utc_text(moment - timedelta(days=SATISFACTION_DAYS) + timedelta(microseconds=1)), (
        utc_text(moment)
    )


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Line:
    """A deal's commission line: the fields of one CommissionCalculated revision."""

    deal_id: str
    partner_id: str
    period: str
    currency: str
    closed_at: str | None
    amount: Decimal
    status: str
    base: Decimal
    uplift: Decimal
    commission: Decimal
    target_bonus: Decimal
    revision: int
    #: A deal converted from another currency: its amount in its own currency, that
    #: currency, and the rate used (one unit of it in ``currency``); ``amount`` and
    #: ``currency`` are then the converted amount and the contract's currency. None unless
    #: the revision converted the deal (a deal waiting for a rate is fx_pending, unconverted).
    original_amount: Decimal | None = None
    original_currency: str | None = None
    fx_rate: Decimal | None = None

    @classmethod
    def from_revision(cls, partner_id: str, revision: int, data: Mapping[str, Any]) -> Line:
        original, rate = data.get("original_amount"), data.get("fx_rate")
        return cls(
            deal_id=data["deal_id"],
            partner_id=partner_id,
            period=data["period"],
            currency=data["currency"],
            closed_at=data.get("closed_at"),
            amount=Decimal(data["amount"]),
            status=data["status"],
            base=Decimal(data["base"]),
            uplift=Decimal(data["uplift"]),
            commission=Decimal(data["commission"]),
            target_bonus=Decimal(data["target_bonus"]),
            revision=revision,
            original_amount=None if original is None else Decimal(original),
            original_currency=data.get("original_currency"),
            fx_rate=None if rate is None else Decimal(rate),
        )

    @property
    def converted(self) -> bool:
        """Whether the deal was converted from another currency (all three facts known)."""
        return (
            self.original_amount is not None
            and self.original_currency is not None
            and self.fx_rate is not None
        )

    @property
    def conversion(self) -> tuple[Decimal | None, str | None, Decimal | None]:
        """``(original_amount, original_currency, fx_rate)`` as the revision states them."""
        return self.original_amount, self.original_currency, self.fx_rate


def superseded_periods(named: Iterable[str | None], lines: Iterable[Line]) -> set[str]:
    """Periods some revision of a partner's deals ``named`` that no current line is in:
    their totals are gone (a deal moved to another period)."""
    return {p for p in named if p} - {line.period for line in lines}


def lines_by_period(lines: Iterable[Line]) -> dict[str, list[Line]]:
    by_period: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        by_period[line.period].append(line)
    return dict(by_period)


@dataclass(frozen=True)
class PeriodTotals:
    partner_id: str
    period: str
    currency: str | None
    revenue: Decimal
    commission: Decimal
    bonus: Decimal
    deals: int
    target: Decimal | None

    @property
    def payout(self) -> Decimal:
        return self.commission + self.bonus

    @property
    def attainment(self) -> Decimal | None:
        if not self.target:
            return None
        return (self.revenue / self.target).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def period_totals(
    partner_id: str,
    period: str,
    lines: Iterable[Line],
    target: Decimal | None,
    contract_currency: str | None = None,
) -> PeriodTotals:
    """A period's totals: revenue of the commissionable deals (each by its line's
    ``amount``: a deal converted from another currency counts by its converted amount),
    every line's commission and target bonus.

    Their currency: the commissionable lines'; with lines but none commissionable, the
    contract's (``contract_currency``, :func:`contract_currency`) when known, else any
    line's; without lines, none. A line that earns nothing may be in the deal's own
    currency (a deal waiting for an exchange rate, or recorded as currency_mismatch), so
    it names the totals' currency only when nothing else does."""
    lines = list(lines)
    commissionable = [line for line in lines if line.status == "commissionable"]
    currencies = sorted({line.currency for line in commissionable})
    if not currencies and lines:
        currencies = (
            [contract_currency] if contract_currency else sorted({line.currency for line in lines})
        )
    return PeriodTotals(
        partner_id=partner_id,
        period=period,
        currency=currencies[0] if currencies else None,
        revenue=sum((line.amount for line in commissionable), ZERO),
        commission=sum((line.commission for line in lines), ZERO),
        bonus=sum((line.target_bonus for line in lines), ZERO),
        deals=len(lines),
        target=target,
    )


def sort_lines(lines: Iterable[Line]) -> list[Line]:
    return sorted(lines, key=lambda line: (line.closed_at or "", line.deal_id))


@dataclass(frozen=True, slots=True)
class PeriodPayment:
    """One period of one partner: what it totals now, what was paid for it, what is pending."""

    period: str
    currency: str
    current_total: Decimal
    paid: Decimal
    settled: bool

    @property
    def pending_adjustment(self) -> Decimal:
        """The difference the next settlement pays (zero for a period never settled)."""
        return self.current_total - self.paid if self.settled else ZERO


def period_payments(
    totals: Mapping[tuple[str, str], Decimal], settlements: Iterable[Settlement]
) -> list[PeriodPayment]:
    """Every (period, currency) with a total or a payment, in period order.

    ``totals``: the current payout total (commission + target bonus +
    adjustments) per (period, currency). Paid is what settlements took of the period, its own
    payments and the adjustments carried for it (docs/rules/settlement.md).
    """
    settlements = list(settlements)
    keys = set(totals) | {(s.period, s.currency) for s in settlements}
    for s in settlements:
        keys |= {(period, s.currency) for period, _ in s.carried}
    paid = {c: accounted(settlements, c) for c in {currency for _, currency in keys}}
    settled = {(s.period, s.currency) for s in settlements}
    return [
        PeriodPayment(
            period=period,
            currency=currency,
            current_total=totals.get((period, currency), ZERO),
            paid=paid[currency].get(period, ZERO),
            settled=(period, currency) in settled,
        )
        for period, currency in sorted(keys, key=lambda k: (period_order(k[0]), k[1]))
    ]


def pending_by_currency(payments: Iterable[PeriodPayment]) -> dict[str, Decimal]:
    """The adjustments pending over every period, per currency (sorted)."""
    pending: dict[str, Decimal] = defaultdict(Decimal)
    for p in payments:
        pending[p.currency] += p.pending_adjustment
    return dict(sorted(pending.items()))


# --------------------------------------------------------------------------- adjustments, inquiries


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A channel manager's adjustment of a partner's period (CommissionAdjusted): signed
    money that counts in the period's payout total."""

    adjustment_id: str
    deal_id: str | None
    period: str
    currency: str
    amount: Decimal
    reason: str
    adjusted_at: str
    inquiry_id: str | None
    actor: dict[str, Any] | None

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> Adjustment:
        """An adjustment from its stored fields (``projection.commission_adjusted``)."""
        return cls(
            adjustment_id=fields["adjustment_id"],
            deal_id=fields.get("deal_id"),
            period=fields["period"],
            currency=fields["currency"],
            amount=Decimal(fields["amount"]),
            reason=fields["reason"],
            adjusted_at=fields["adjusted_at"],
            inquiry_id=fields.get("inquiry_id"),
            actor=fields.get("actor"),
        )


def adjustments_of(
    stored: Mapping[str, Mapping[str, Mapping[str, Any]]] | None,
) -> list[Adjustment]:
    """A partner's adjustments from its facts (adjustment key → version key → fields), by
    (``adjusted_at``, ``adjustment_id``).

    An adjustment is immutable: of the statements of one ``adjustment_id``
    (a duplicate, a republication) the earliest version stands, so each id
    counts once whatever arrived first.
    """
    found = [
        Adjustment.of(versions[min(versions)]) for versions in (stored or {}).values() if versions
    ]
    return sorted(found, key=lambda a: (a.adjusted_at, a.adjustment_id))


@dataclass(frozen=True, slots=True)
class Inquiry:
    """A partner's question about a deal's commission (CommissionInquiryOpened) and its
    answer (CommissionInquiryResolved). Resolved before its opening arrived, it is
    resolved, and what only the opening says (``message``, ``opened_at``, ``actor``) is
    None until that arrives."""

    inquiry_id: str
    deal_id: str
    period: str
    message: str | None
    opened_at: str | None
    actor: dict[str, Any] | None
    resolution: str | None
    note: str | None
    resolved_at: str | None
    resolved_by: dict[str, Any] | None
    adjustment_id: str | None

    @property
    def status(self) -> str:
        """``open`` until resolved, ``resolved`` once a resolution is known."""
        return "open" if self.resolution is None else "resolved"


def inquiry(facts: Mapping[str, Any]) -> Inquiry | None:
    """An inquiry from its facts: ``opened`` and ``resolved``, each by version key (the
    greatest stands); None without either."""
    opened: Mapping[str, Any] = current(facts.get("opened")) or {}
    resolved: Mapping[str, Any] = current(facts.get("resolved")) or {}
    about = opened or resolved
    if not about:
        return None
    return Inquiry(
        inquiry_id=about["inquiry_id"],
        deal_id=about["deal_id"],
        period=about["period"],
        message=opened.get("message"),
        opened_at=opened.get("opened_at"),
        actor=opened.get("actor"),
        resolution=resolved.get("resolution"),
        note=resolved.get("note"),
        resolved_at=resolved.get("resolved_at"),
        resolved_by=resolved.get("actor"),
        adjustment_id=resolved.get("adjustment_id"),
    )


def inquiries_of(stored: Mapping[str, Mapping[str, Any]] | None) -> list[Inquiry]:
    """A partner's inquiries from its facts (inquiry key → facts), oldest first: by
    ``opened_at`` (``resolved_at`` while the opening is unknown), then ``inquiry_id``."""
    found = [i for facts in (stored or {}).values() if (i := inquiry(facts)) is not None]
    return sorted(found, key=lambda i: (i.opened_at or i.resolved_at or "", i.inquiry_id))


def open_inquiries(inquiries: Iterable[Inquiry]) -> list[Inquiry]:
    """The inquiries opened and not resolved."""
    return [i for i in inquiries if i.opened_at is not None and i.resolution is None]


def adjusted_totals(adjustments: Iterable[Adjustment]) -> dict[tuple[str, str], Decimal]:
    """The adjustments summed per (period, currency)."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for a in adjustments:
        sums[(a.period, a.currency)] += a.amount
    return dict(sums)


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Statement:
    """A partner's commission statement for one period, with the period's adjustments
    (of every currency; those in the statement's currency count) and inquiries."""

    partner_id: str
    period: str
    currency: str | None
    lines: list[Line]
    totals: PeriodTotals
    payment: PeriodPayment | None
    adjustments: list[Adjustment] = field(default_factory=list)
    adjustment_total: Decimal = ZERO
    inquiries: list[Inquiry] = field(default_factory=list)

    @property
    def payout_total(self) -> Decimal:
        """Commission, target bonus and adjustments."""
        return self.totals.payout + self.adjustment_total


def contract_currency(contracts: Iterable[Mapping[str, Any]], period: str) -> str | None:
    """The currency of the contract governing the period's last day, if any."""
    contract = governing_contract(contracts, period_bounds(period)[1])
    return None if contract is None else str(contract["currency"])


def statement_currency(
    line_currency: str | None, contract_currency: str | None, adjustments: Iterable[Adjustment]
) -> str | None:
    """A statement's currency: its lines'; without lines, its adjustments' (the
    contract's if they are in several and one is the contract's, else the first by
    code); without either, the contract's."""
    adjusted = sorted({a.currency for a in adjustments})
    if line_currency or not adjusted:
        return line_currency or contract_currency
    return contract_currency if contract_currency in adjusted else adjusted[0]


def statement(
    partner_id: str,
    period: str,
    lines: Iterable[Line],
    contracts: Iterable[Mapping[str, Any]],
    settlements: Iterable[Settlement],
    adjustments: Iterable[Adjustment] = (),
    inquiries: Iterable[Inquiry] = (),
) -> Statement:
    """The statement of ``period`` from the partner's current lines, contracts,
    settlements, adjustments and inquiries: the lines of the period (by closing), their
    totals against the target, the currency (:func:`statement_currency`; the contract
    governing the period's last day), the period's adjustments and what those in the
    statement's currency add, the period's inquiries, and what the settlements paid
    for it against its payout total (commission, bonus and adjustments)."""
    contracts = list(contracts)
    lines = [line for line in lines if line.period == period]
    adjustments = [a for a in adjustments if a.period == period]
    paid_in = contract_currency(contracts, period)
    totals = period_totals(partner_id, period, lines, target_for(contracts, period), paid_in)
    currency = statement_currency(totals.currency, paid_in, adjustments)
    adjustment_total = sum((a.amount for a in adjustments if a.currency == currency), ZERO)
    payout = totals.payout + adjustment_total
    payment = next(
        (
            p
            for p in period_payments({(period, currency or ""): payout}, settlements)
            if p.period == period and p.currency == (currency or "")
        ),
        None,
    )
    return Statement(
        partner_id,
        period,
        currency,
        sort_lines(lines),
        totals,
        payment,
        adjustments,
        adjustment_total,
        [i for i in inquiries if i.period == period],
    )


# --------------------------------------------------------------------------- MDF

#: The figures of a partner's MDF position, in the order served.
MDF_FIGURES = ("requested", "approved", "claimed", "claims_approved", "reimbursed", "released")


@dataclass(frozen=True, slots=True)
class MdfAmount:
    """One amount of a partner's MDF position: which figure it adds to, in which currency,
    filed under the ``requested_at`` (UTC text) of the request it belongs to."""

    requested_at: str
    currency: str
    figure: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class MdfFigures:
    """A partner's MDF figures in one currency: of one quarter (the quarter its requests
    were made in), or of every quarter (``quarter`` None)."""

    currency: str
    quarter: str | None = None
    requested: Decimal = ZERO
    approved: Decimal = ZERO
    claimed: Decimal = ZERO
    claims_approved: Decimal = ZERO
    reimbursed: Decimal = ZERO
    #: Unclaimed funds returned to the budget once the claim window closed
    #: (MdfFundsReleased).
    released: Decimal = ZERO


def _earliest(versions: Mapping[str, Mapping[str, Any]] | None) -> Mapping[str, Any] | None:
    """Of an immutable fact's versions (version key → fields), the earliest: a duplicate
    or a republication changes nothing, whatever arrived first."""
    return versions[min(versions)] if versions else None


def mdf_amounts(
    requests: Mapping[str, Mapping[str, Any]] | None,
    claims: Mapping[str, Mapping[str, Any]] | None,
    reimbursed: Mapping[str, Mapping[str, Any]] | None,
    released: Mapping[str, Mapping[str, Any]] | None,
) -> list[MdfAmount]:
    """A partner's MDF amounts from its facts: ``requests`` (request key → ``requested``,
    ``approved``, ``rejected``, each by version key), ``claims`` (claim key →
    ``submitted``, ``approved``, ``rejected``, each by version key), ``reimbursed``
    (claim key → the settlements that paid the claim, by settlement key) and
    ``released`` (request key → the releases of its unclaimed funds, by version key).

    Each fact is immutable: its earliest version stands (:func:`_earliest`).
    A request adds its amount to ``requested``, and, approved and not
    rejected, the approved amount to ``approved``. A claim is filed under its
    request: its submission adds its amount to ``claimed`` (whatever its
    decision), its approval the approved amount to ``claims_approved``, and
    that again to ``reimbursed`` once any settlement paid it (once, however
    many list it). An approval counts without its submission (the submission's
    amount then joins ``claimed`` when it arrives); a claim whose request is
    not known yet counts nowhere until the request arrives. A claim's
    rejection adds nothing: the claim still counts in ``claimed``.

    A release carries all its request has released so far, and a request's
    releases only grow: the greatest of them counts in ``released``, once,
    whatever arrived first or twice (:func:`_greatest`). Like a claim, it is
    filed under its request and counts nowhere until the request arrives.
    """
    found: list[MdfAmount] = []
    filed: dict[str, str] = {}  # request id → requested_at
    for facts in (requests or {}).values():
        asked = _earliest(facts.get("requested"))
        if asked is None:
            continue
        at = asked["requested_at"]
        filed[asked["request_id"]] = at
        found.append(MdfAmount(at, asked["currency"], "requested", Decimal(asked["amount"])))
        approval = _earliest(facts.get("approved"))
        if approval is not None and not facts.get("rejected"):
            found.append(
                MdfAmount(at, approval["currency"], "approved", Decimal(approval["amount"]))
            )
    for key, facts in (claims or {}).items():
        submitted = _earliest(facts.get("submitted"))
        approval = _earliest(facts.get("approved"))
        known = submitted or approval
        if known is None or known["request_id"] not in filed:
            continue
        at = filed[known["request_id"]]
        if submitted is not None:
            found.append(
                MdfAmount(at, submitted["currency"], "claimed", Decimal(submitted["amount"]))
            )
        if approval is not None:
            amount = Decimal(approval["approved_amount"])
            found.append(MdfAmount(at, approval["currency"], "claims_approved", amount))
            if (reimbursed or {}).get(key):
                found.append(MdfAmount(at, approval["currency"], "reimbursed", amount))
    for versions in (released or {}).values():
        release = _greatest(versions)
        if release is None or release["request_id"] not in filed:
            continue
        at = filed[release["request_id"]]
        found.append(MdfAmount(at, release["currency"], "released", Decimal(release["amount"])))
    return found


def _greatest(versions: Mapping[str, Mapping[str, Any]] | None) -> Mapping[str, Any] | None:
    """Of a cumulative amount's versions (version key → fields with an ``amount``), the
    greatest amount's (equal amounts: the latest version's), whatever arrived first."""
    if not versions:
        return None
    return max(versions.items(), key=lambda kv: (Decimal(kv[1]["amount"]), kv[0]))[1]


def mdf_quarter(requested_at: str) -> str:
    """The quarter a request (and its claims) is filed under: of its ``requested_at``,
    in UTC (enablement draws it on the budget of that quarter)."""
    return period_of(date.fromisoformat(requested_at[:10]), "quarter")


def in_period(instant: str, period: str) -> bool:
    """Whether ``instant`` (UTC text) falls on a day of ``period``."""
    first, last = period_bounds(period)
    return first <= date.fromisoformat(instant[:10]) <= last


def _mdf_figures(amounts: Iterable[MdfAmount], quarterly: bool) -> list[MdfFigures]:
    sums: dict[tuple[str | None, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for a in amounts:
        quarter = mdf_quarter(a.requested_at) if quarterly else None
        sums[(quarter, a.currency)][a.figure] += a.amount
    return [
        MdfFigures(currency, quarter, **sums[(quarter, currency)])
        for quarter, currency in sorted(sums, key=lambda k: (k[0] or "", k[1]))
    ]


def mdf_position(amounts: Iterable[MdfAmount]) -> list[MdfFigures]:
    """A partner's MDF position: its figures per quarter and currency, in quarter order
    (then by currency)."""
    return _mdf_figures(amounts, quarterly=True)


def mdf_totals(amounts: Iterable[MdfAmount]) -> list[MdfFigures]:
    """A partner's MDF figures over every quarter, per currency (by currency)."""
    return _mdf_figures(amounts, quarterly=False)


# --------------------------------------------------------------------------- health

#: The factors' maximum points (docs/rules/health-score.md).
ATTAINMENT_POINTS = 40
ACTIVITY_POINTS = 25
CERTIFICATION_POINTS = 20
FEEDBACK_POINTS = 15
#: A partner scoring below this is at risk.
AT_RISK_BELOW = Decimal(40)
#: Days after the last closed deal at which the activity factor reaches nothing.
ACTIVITY_DAYS = 90


def health_period(contracts: Iterable[Mapping[str, Any]], day: date) -> str:
    """The current period of the partner's plan on ``day``: the period of the day under
    the contract governing it, a calendar quarter without one."""
    contract = governing_contract(contracts, day)
    return period_of(day, contract["commission_plan"]["period"] if contract else "quarter")


def health_attainment(attainment: Decimal | None, target: Decimal | None) -> Decimal | None:
    """The attainment the score counts: the period's, 0 with a target and no revenue yet,
    None without a target."""
    if attainment is None and target:
        return ZERO
    return attainment


def average_rating(ratings: Iterable[int]) -> Decimal | None:
    """The average of the ratings to two decimals; None without any."""
    ratings = list(ratings)
    if not ratings:
        return None
    return (Decimal(sum(ratings)) / len(ratings)).quantize(CENT)


def days_since(instant: str | None, moment: datetime) -> int | None:
    """Whole days from ``instant`` (ISO 8601 text) to ``moment``; None without an instant."""
    return None if instant is None else (moment - parse_instant(instant)).days


def last_deal_candidates(lines: Iterable[Line], moment: datetime) -> list[str]:
    """Where a partner's last closed deal is looked for: the deals of its current lines
    that closed by ``moment`` as their line says, latest first (a tie: the greater deal id
    first)."""
    closed = sorted(
        (
            (closed_at, line.deal_id)
            for line in lines
            if line.closed_at and (closed_at := parse_instant(line.closed_at)) <= moment
        ),
        reverse=True,
    )
    return [deal_id for _, deal_id in closed]


def last_close(deals: Iterable[Mapping[str, Any] | None], moment: datetime) -> str | None:
    """The latest ``closed_at`` at or before ``moment`` among these ``deals`` documents
    that hold a DealClosed and no cancellation (None: a deal not known); None if none
    qualifies."""
    now = utc_text(moment)
    closed: list[str] = [
        current(deal["versions"])["closed_at"]
        for deal in deals
        if deal and deal.get("versions") and not deal.get("cancelled_at")
    ]
    return max((instant for instant in closed if instant <= now), default=None)


#: The satisfaction factor's weight by default: the points of a partner with answers.
SATISFACTION_WEIGHT = 20


@dataclass(frozen=True)
class Health:
    """A partner's health score and each factor's value and exact points; with survey
    answers, the four other factors' sum counts ``(100 − weight) / 100`` of itself and
    satisfaction up to ``weight`` points."""

    score: Decimal
    at_risk: bool
    attainment: Decimal | None
    days_since_last_deal: int | None
    valid_certifications: int
    average_rating: Decimal | None
    attainment_points: Decimal
    activity_points: Decimal
    certification_points: Decimal
    feedback_points: Decimal
    satisfaction: Satisfaction = Satisfaction(0, 0, 0, 0, None, None)
    satisfaction_points: Decimal | None = None
    satisfaction_weight: int = SATISFACTION_WEIGHT
    #: What the four other factors' sum is multiplied by: 1 without survey answers.
    others_scale: Decimal = Decimal(1)


def health(
    *,
    attainment: Decimal | None,
    days_since_last_deal: int | None,
    valid_certifications: int,
    average_rating: Decimal | None,
    customers: Satisfaction | None = None,
    satisfaction_weight: int = SATISFACTION_WEIGHT,
) -> Health:
    """The partner health score (docs/rules/health-score.md)."""
    attainment_points = (
        Decimal(ATTAINMENT_POINTS) / 2
        if attainment is None
        else ATTAINMENT_POINTS * min(attainment, Decimal(1))
    )
    activity_points = (
        ZERO
        if days_since_last_deal is None
        else ACTIVITY_POINTS * max(ZERO, 1 - Decimal(days_since_last_deal) / ACTIVITY_DAYS)
    )
    certification_points = Decimal(CERTIFICATION_POINTS // 2) * min(valid_certifications, 2)
    feedback_points = (
        Decimal(FEEDBACK_POINTS) / 2
        if average_rating is None
        else FEEDBACK_POINTS * (average_rating - 1) / 4
    )
    others = attainment_points + activity_points + certification_points + feedback_points
    customers = customers or satisfaction(())
    scale = Decimal(1)
    satisfaction_points: Decimal | None = None
    if customers.nps is not None:
        # A partner without answers is not penalised: only answers bring the factor in.
        scale = Decimal(100 - satisfaction_weight) / 100
        satisfaction_points = satisfaction_weight * (customers.nps + 100) / 200
    exact = others * scale + (satisfaction_points or ZERO)
    score = exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return Health(
        satisfaction=customers,
        satisfaction_points=satisfaction_points,
        satisfaction_weight=satisfaction_weight,
        others_scale=scale,
        score=score,
        at_risk=score < AT_RISK_BELOW,
        attainment=attainment,
        days_since_last_deal=days_since_last_deal,
        valid_certifications=valid_certifications,
        average_rating=average_rating,
        attainment_points=attainment_points,
        activity_points=activity_points,
        certification_points=certification_points,
        feedback_points=feedback_points,
    )


@dataclass(frozen=True)
class HealthFacts:
    """What a partner's health score counts but its last closed deal: its contracts, the
    current period of its plan, the period's stored attainment, its valid certifications
    and its feedback ratings."""

    contracts: list[dict[str, Any]]
    period: str
    attainment: Decimal | None
    valid_certifications: int
    ratings: list[int]
    #: The survey scores of the 12 months up to the moment scored.
    survey_scores: list[int] = field(default_factory=list)
    satisfaction_weight: int = SATISFACTION_WEIGHT

    def score(self, last_deal: str | None, moment: datetime) -> Health:
        """The score (:func:`health`) with ``last_deal`` the last closed deal's
        ``closed_at`` (None: no deal)."""
        return health(
            attainment=health_attainment(self.attainment, target_for(self.contracts, self.period)),
            days_since_last_deal=days_since(last_deal, moment),
            valid_certifications=self.valid_certifications,
            average_rating=average_rating(self.ratings),
            customers=satisfaction(self.survey_scores),
            satisfaction_weight=self.satisfaction_weight,
        )


# --------------------------------------------------------------------------- explaining a number


@dataclass(frozen=True, slots=True)
class StatedRevision:
    """A CommissionCalculated revision as the lines keep it, with when reporting received
    it (``at``: its Kafka timestamp as UTC text; None where that is not known, which
    counts as always known), its CloudEvent id and time, and the reason it states."""

    line: Line
    at: str | None = None
    event_id: str | None = None
    time: str | None = None
    reason: str | None = None


def known_lines(revisions: Iterable[StatedRevision], instant: str | None = None) -> list[Line]:
    """Every deal's line as known at ``instant`` (UTC text; None: now): the line of the
    highest revision received by then."""
    best: dict[str, Line] = {}
    for stated in revisions:
        line = stated.line
        if instant is not None and stated.at is not None and stated.at > instant:
            continue
        known = best.get(line.deal_id)
        if known is None or line.revision > known.revision:
            best[line.deal_id] = line
    return list(best.values())


@dataclass(frozen=True, slots=True)
class Change:
    """An event that changed a statement's ``payout_total``: by how much, and why."""

    event_id: str | None
    type: str
    time: str | None
    received_at: str | None
    deal_id: str | None
    delta: Decimal
    explanation: str


def _figure(amount: Decimal) -> str:
    return f"{money(amount)}"


def _signed(amount: Decimal) -> str:
    return f"{'+' if amount >= 0 else '−'}{_figure(abs(amount))}"


def _amount_of(line: Line, currency: str | None) -> str:
    """A line's amount as an explanation says it: with the line's currency where that is
    not the statement's (the statement's figures go without)."""
    figure = _figure(line.amount)
    return figure if currency is None or line.currency == currency else f"{figure} {line.currency}"


def _converted_words(line: Line) -> str:
    """How a converted line's amount came about: ``converted from 10000.00 EUR at 1.0860
    USD per EUR``."""
    return (
        f"converted from {_figure(line.original_amount or ZERO)} {line.original_currency} "
        f"at {line.fx_rate} {line.currency} per {line.original_currency}"
    )


def _conversion_change(before: Line, after: Line) -> str | None:
    """What changed in how the line's amount is reckoned in currencies, in words; None
    when nothing did."""
    if (before.currency, before.conversion) == (after.currency, after.conversion):
        return None
    if after.converted:
        same_deal = before.converted and (before.original_amount, before.original_currency) == (
            after.original_amount,
            after.original_currency,
        )
        if same_deal and before.currency == after.currency:
            unit = f"{after.currency} per {after.original_currency}"
            return f"rate {before.fx_rate} → {after.fx_rate} {unit}"
        return _converted_words(after)
    return "no longer converted" if before.converted else f"now in {after.currency}"


def explain_revision(
    before: Line | None,
    after: Line,
    reason: str | None,
    period: str,
    currency: str | None = None,
) -> str:
    """What a revision changed in ``period``'s statement (in ``currency``), in words."""
    deal = after.deal_id
    if before is None:
        closed = f" closed {after.closed_at[:10]}" if after.closed_at else ""
        converted = f" ({_converted_words(after)})" if after.converted else ""
        said = (
            f"{deal}{closed} for {_amount_of(after, currency)}{converted}, "
            f"{after.status.replace('_', ' ')}"
        )
    else:
        parts = []
        if before.period != after.period:
            parts.append(
                f"moved to {after.period}"
                if before.period == period
                else f"moved here from {before.period}"
            )
        if before.status != after.status:
            parts.append(f"now {after.status.replace('_', ' ')}")
        # A line that stops earning says why by its status alone; a change of currency or
        # rate explains the amount and the base that follow from it.
        earning = after.status == "commissionable"
        reckoned = _conversion_change(before, after)
        if reckoned is not None:
            parts.append(reckoned)
        elif earning and before.amount != after.amount:
            parts.append(f"amount corrected {_figure(before.amount)} → {_figure(after.amount)}")
        elif earning and before.base != after.base:
            parts.append(
                f"base {_figure(before.base)} → {_figure(after.base)} (the brackets moved as "
                "the period's earlier deals changed)"
            )
        if earning and before.uplift != after.uplift:
            parts.append(f"uplift {_figure(before.uplift)} → {_figure(after.uplift)}")
        if before.target_bonus != after.target_bonus:
            parts.append(
                "the target bonus reached with it"
                if after.target_bonus > before.target_bonus
                else "the target bonus no longer reached with it"
            )
        said = f"{deal}: {'; '.join(parts)}" if parts else f"{deal} recalculated"
    if reason and after.status != "commissionable":
        said += f" ({reason})"
    return said


def _in(line: Line | None, period: str) -> Decimal:
    """What a line adds to ``period``'s payout total."""
    return (
        line.commission + line.target_bonus if line is not None and line.period == period else ZERO
    )


def statement_changes(
    revisions: Iterable[StatedRevision],
    adjustments: Iterable[tuple[Adjustment, str | None, str | None]],
    period: str,
    currency: str | None,
    since: str,
) -> list[Change]:
    """Each event received after ``since`` that changed ``period``'s payout total, in the
    order received, with its delta: a revision that became its deal's highest known (its
    line's payout in the period, less the one it replaced), an adjustment of the period
    in the statement's ``currency`` (with when it was received and its event id). The
    deltas add up to the payout total now less the payout total as known at ``since``
    (:func:`known_lines`)."""
    revisions = list(revisions)
    known = {line.deal_id: line for line in known_lines(revisions, since)}
    later = sorted(
        (r for r in revisions if r.at is not None and r.at > since),
        key=lambda r: (r.at or "", r.line.deal_id, r.line.revision),
    )
    changes: list[Change] = []
    for stated in later:
        line = stated.line
        before = known.get(line.deal_id)
        if before is not None and before.revision >= line.revision:
            continue  # an older revision received late: the line already says more
        known[line.deal_id] = line
        delta = _in(line, period) - _in(before, period)
        if period not in (line.period, before.period if before else None):
            continue
        changes.append(
            Change(
                stated.event_id,
                "CommissionCalculated",
                stated.time,
                stated.at,
                line.deal_id,
                delta,
                explain_revision(before, line, stated.reason, period, currency)
                + f": {_signed(delta)}",
            )
        )
    for adjustment, at, event_id in adjustments:
        if at is None or at <= since or adjustment.period != period:
            continue
        if adjustment.currency != currency:
            continue
        who = (adjustment.actor or {}).get("id")
        by = f" by {who}" if who else ""
        changes.append(
            Change(
                event_id,
                "CommissionAdjusted",
                adjustment.adjusted_at,
                at,
                adjustment.deal_id,
                adjustment.amount,
                f"adjusted{by}: {adjustment.reason}: {_signed(adjustment.amount)}",
            )
        )
    return sorted(changes, key=lambda c: (c.received_at or "", c.deal_id or "", c.type))


def inquiries_known(inquiries: Iterable[Inquiry], instant: str) -> list[Inquiry]:
    """The inquiries as they stood at ``instant``: those opened by then, open again where
    their resolution came later."""
    known = []
    for i in inquiries:
        if i.opened_at is None or i.opened_at > instant:
            continue
        if i.resolved_at is not None and i.resolved_at > instant:
            i = replace(
                i,
                resolution=None,
                note=None,
                resolved_at=None,
                resolved_by=None,
                adjustment_id=None,
            )
        known.append(i)
    return known
