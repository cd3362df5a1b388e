"""Reporting's rules, pure: current versions, statements, period totals, partner health.

The read models store *facts* in a form where every write commutes (see
``store.py``): a document keeps each version of a thing under a sortable
version key and the greatest key seen, so the current version is a pure
function of the set of events, whatever their order or duplication. This
module turns those facts into what the read API serves.

**Partner health** (0–100, ``at_risk`` below 40), as of a day:

- attainment, 40 points: 40 × min(revenue ÷ target, 1) in the current
  period of the partner's plan; 20 when the partner has no target;
- activity, 25 points: 25 × max(0, 1 − days since the last closed deal ÷ 90);
  0 with no deal;
- certifications, 20 points: 10 per certification valid that day, at most 2;
- feedback, 15 points: 15 × (average rating − 1) ÷ 4; 7.5 with no feedback.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

from shared import events
from shared.settlement import Settlement, accounted, period_order

CENT = Decimal("0.01")
ZERO = Decimal(0)
AT_RISK_BELOW = Decimal(40)

#: Lifecycle statuses by rank: the highest rank seen is the status.
STATUS_RANK = {"applied": 1, "approved": 2, "rejected": 3, "active": 4, "terminated": 5}
STATUS_OF_RANK = {rank: status for status, rank in STATUS_RANK.items()}


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
    """A map key ordering versions by (CloudEvent ``time``, ``id``), free of ``.`` and ``$``."""
    return instant_key(time) + "_" + event_id.encode().hex()


def instant_key(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def deal_key(deal_id: str) -> str:
    """A deal id as a field name: no ``.`` (a path separator), no leading ``$``; reversible."""
    return deal_id.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def settlement_key(settlement_id: str) -> str:
    """A settlement id as a field name, escaped as :func:`deal_key` escapes deal ids."""
    return deal_key(settlement_id)


def partner_settlements(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A partner's ``partner_payouts`` document as its payout documents, oldest first
    (lists FerretDB did not store, being empty, given back empty)."""
    payouts = [
        {"carried_adjustments": [], "unrecovered": [], **payout}
        for payout in (doc or {}).get("settlements", {}).values()
    ]
    return sorted(payouts, key=lambda d: (d["settled_at"], d["settlement_id"]))


def line_revisions(doc: Mapping[str, Any] | None) -> Mapping[str, Mapping[str, Any]]:
    """A partner's ``lines`` document as deal key → revision key → revision (text or fields).

    Stored as zlib-compressed JSON in ``state``; documents of the earlier
    layout keep the mapping itself in ``deals``.
    """
    if not doc:
        return {}
    if "state" in doc:
        revisions: dict[str, dict[str, Any]] = json.loads(zlib.decompress(doc["state"]))
        return revisions
    deals: Mapping[str, Mapping[str, Any]] = doc.get("deals", {})
    return deals


def current_lines(partner_id: str, doc: Mapping[str, Any] | None) -> list[Line]:
    """Every deal's current line from a partner's ``lines`` document."""
    return [
        line
        for revisions in line_revisions(doc).values()
        if (line := current_line(partner_id, revisions)) is not None
    ]


def revision_fields(stored: Mapping[str, Any] | str) -> Mapping[str, Any]:
    """A stored CommissionCalculated revision's fields.

    Stored as JSON text (FerretDB reads one string far faster than a nested
    document); documents written before that hold the fields themselves.
    """
    return json.loads(stored) if isinstance(stored, str) else stored


def revision_text(fields: Mapping[str, Any]) -> str:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def superseded_periods(doc: Mapping[str, Any] | None, current: Iterable[Line]) -> set[str]:
    """Periods some revision of the partner's deals named that no current line is in."""
    named = {
        _period_of_text(revision) if isinstance(revision, str) else revision.get("period")
        for revisions in line_revisions(doc).values()
        for revision in revisions.values()
    }
    return {p for p in named if p} - {line.period for line in current}


def revision_key(revision: int) -> str:
    return f"r{revision:09d}"


def current(versions: Mapping[str, Any] | None) -> Any:
    """The value under the greatest key, or None."""
    if not versions:
        return None
    return versions[max(versions)]


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
    if plan_period == "year":
        return f"{day.year}"
    if plan_period == "month":
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


# --------------------------------------------------------------------------- contracts


def current_contracts(contracts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each contract id's latest version (the stored entries carry their version key)."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in contracts:
        known = latest.get(entry["contract_id"])
        if known is None or entry["v"] > known["v"]:
            latest[entry["contract_id"]] = dict(entry)
    return list(latest.values())


def governing_contract(contracts: Iterable[Mapping[str, Any]], day: date) -> dict[str, Any] | None:
    """SPEC §5 rule 1: the contract covering ``day`` with the latest start date."""
    covering = [
        c
        for c in current_contracts(contracts)
        if date.fromisoformat(c["start_date"]) <= day <= date.fromisoformat(c["end_date"])
    ]
    if not covering:
        return None
    return max(covering, key=lambda c: (c["start_date"], c["contract_id"]))


def target_for(contracts: Iterable[Mapping[str, Any]], period: str) -> Decimal | None:
    """The sales target of the contract governing the period's last day, if its plan
    counts in periods of this kind."""
    start, end = period_bounds(period)
    contract = governing_contract(contracts, end) or governing_contract(contracts, start)
    if contract is None:
        return None
    plan = contract["commission_plan"]
    if period_of(start, plan["period"]) != period or plan.get("target_amount") is None:
        return None
    return Decimal(plan["target_amount"])


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Line:
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

    @classmethod
    def from_revision(cls, partner_id: str, revision: int, data: Mapping[str, Any]) -> Line:
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
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "deal_id": self.deal_id,
            "closed_at": self.closed_at,
            "amount": money(self.amount),
            "status": self.status,
            "base": money(self.base),
            "uplift": money(self.uplift),
            "commission": money(self.commission),
            "target_bonus": money(self.target_bonus),
            "revision": self.revision,
        }


def current_line(partner_id: str, revisions: Mapping[str, Mapping[str, Any] | str]) -> Line | None:
    """The line of a deal's highest revision (SPEC §2: revisions 1, 2, …; the highest stands)."""
    if not revisions:
        return None
    key = max(revisions)
    stored = revisions[key]
    if isinstance(stored, str):
        return _line_of_text(partner_id, key, stored)
    return Line.from_revision(partner_id, int(key[1:]), stored)


def _parse_line(partner_id: str, key: str, text: str) -> Line:
    return Line.from_revision(partner_id, int(key[1:]), json.loads(text))


def _parse_period(text: str) -> str | None:
    period: str | None = json.loads(text).get("period")
    return period


# A partner's lines are derived again at every batch that touches it, from the same
# texts: the most recently parsed are kept (about 1.2 KB each; Line is immutable).
_line_of_text = lru_cache(maxsize=100_000)(_parse_line)
_period_of_text = lru_cache(maxsize=100_000)(_parse_period)


def configure_parsed_revisions(revisions: int) -> None:
    """Keep the lines and periods parsed from the last ``revisions`` texts (0: none)."""
    global _line_of_text, _period_of_text
    _line_of_text = lru_cache(maxsize=revisions)(_parse_line)
    _period_of_text = lru_cache(maxsize=revisions)(_parse_period)


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
    partner_id: str, period: str, lines: Iterable[Line], target: Decimal | None
) -> PeriodTotals:
    lines = list(lines)
    commissionable = [line for line in lines if line.status == "commissionable"]
    currencies = sorted(
        {line.currency for line in commissionable} or {line.currency for line in lines}
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


# --------------------------------------------------------------------------- health


@dataclass(frozen=True)
class Health:
    score: Decimal
    at_risk: bool
    factors: dict[str, Any]


def health(
    *,
    attainment: Decimal | None,
    days_since_last_deal: int | None,
    valid_certifications: int,
    average_rating: Decimal | None,
) -> Health:
    """The documented formula (module docstring)."""
    attainment_points = (
        Decimal(20) if attainment is None else Decimal(40) * min(attainment, Decimal(1))
    )
    activity_points = (
        ZERO
        if days_since_last_deal is None
        else Decimal(25) * max(ZERO, 1 - Decimal(days_since_last_deal) / 90)
    )
    certification_points = Decimal(10) * min(valid_certifications, 2)
    feedback_points = (
        Decimal("7.5") if average_rating is None else Decimal(15) * (average_rating - 1) / 4
    )
    score = (attainment_points + activity_points + certification_points + feedback_points).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_EVEN
    )
    return Health(
        score=score,
        at_risk=score < AT_RISK_BELOW,
        factors={
            "attainment": {
                "value": None if attainment is None else str(attainment),
                "points": str(attainment_points.quantize(Decimal("0.1"))),
                "max": 40,
            },
            "activity": {
                "days_since_last_deal": days_since_last_deal,
                "points": str(activity_points.quantize(Decimal("0.1"))),
                "max": 25,
            },
            "certifications": {
                "valid": valid_certifications,
                "points": str(certification_points.quantize(Decimal("0.1"))),
                "max": 20,
            },
            "feedback": {
                "average_rating": None if average_rating is None else str(average_rating),
                "points": str(feedback_points.quantize(Decimal("0.1"))),
                "max": 15,
            },
        },
    )


# --------------------------------------------------------------------------- payouts


def payout_document(data: events.PayoutSettled) -> dict[str, Any]:
    """A PayoutSettled as stored in ``payouts`` (money as strings with two decimals)."""
    return {
        "settlement_id": data.settlement_id,
        "partner_id": data.partner_id,
        "period": data.period,
        "currency": data.currency,
        "amount_paid": money(data.amount_paid),
        "period_amount": money(data.own_amount()),
        "carried_adjustments": [
            {"period": a.period, "amount": money(a.amount)} for a in data.carried_adjustments
        ],
        "unrecovered": [{"period": a.period, "amount": money(a.amount)} for a in data.unrecovered],
        "settled_at": utc_text(data.settled_at),
        "rerun": data.rerun,
    }


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

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "currency": self.currency,
            "current_total": money(self.current_total),
            "paid": money(self.paid),
            "settled": self.settled,
            "pending_adjustment": money(self.pending_adjustment),
        }


def period_payments(
    totals: Mapping[tuple[str, str], Decimal], settlements: Iterable[Settlement]
) -> list[PeriodPayment]:
    """Every (period, currency) with a total or a payment, in period order.

    ``totals``: the current payout total (commission + target bonus) per
    (period, currency). Paid is what settlements took of the period, its own
    payments and the adjustments carried for it (``shared.settlement``).
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
