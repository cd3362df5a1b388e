"""Settling a commission period: what is paid now, and what later changes carry forward. Pure.

A partner is paid per period. Settling period ``Q`` freezes what is payable
now and records it; a later change to an already settled period (a late
cancellation, a late earlier deal, a late certification) changes that
period's current total, and the difference becomes a **pending adjustment**
paid, positive or negative, with the partner's next settlement.

Everything is a function of two things: each period's current total (the sum
of ``commission + target_bonus`` over the deals of the period, as the latest
CommissionCalculated revisions say) and the settlements made so far (the
PayoutSettled events). In one currency:

- ``accounted(P)`` = the ``period_amount`` of every settlement *of* ``P``
  plus every ``carried_adjustments`` entry *for* ``P`` in any settlement;
- ``pending(P)`` = ``total(P) − accounted(P)``, for every settled ``P``;
- settling ``Q`` takes the components ``pending(Q)`` (all of ``total(Q)`` the
  first time) and ``pending(P)`` for every other settled ``P``, oldest period
  first. Positive components are paid in full. Negative ones (clawbacks) are
  netted against the rest, oldest first, only as far as the payment stays
  ≥ 0; what cannot be netted stays pending against its period and is netted
  by a later settlement (``unrecovered``). With negative payouts allowed,
  every component is taken in full and the payment may be negative.
- ``amount_paid`` = ``period_amount`` (the part of ``Q``'s own component
  taken) + the sum of ``carried_adjustments`` (the parts of the other
  periods' components taken).

Settling a period that is already settled is refused unless the caller asks
for a re-run, which pays only the difference (``pending(Q)``) and whatever is
pending elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Settlement:
    """One partner's share of one settlement run: what a PayoutSettled says."""

    settlement_id: str
    period: str
    currency: str
    amount_paid: Decimal
    period_amount: Decimal
    carried: tuple[tuple[str, Decimal], ...]
    settled_at: datetime
    unrecovered: tuple[tuple[str, Decimal], ...] = ()
    rerun: bool = False
    #: Approved MDF claims paid beside the commissions (not part of ``amount_paid``).
    mdf_reimbursed: Decimal = ZERO
    mdf_claims: tuple[str, ...] = ()
    #: Approved MDF claims in other currencies, paid apart: (currency, amount, claim ids),
    #: by currency.
    mdf_other: tuple[tuple[str, Decimal, tuple[str, ...]], ...] = ()

    @property
    def claims_paid(self) -> frozenset[str]:
        """Every MDF claim this settlement pays, in any currency."""
        return frozenset(self.mdf_claims).union(*(ids for _, _, ids in self.mdf_other))

    def __post_init__(self) -> None:
        netted = self.period_amount + sum((amount for _, amount in self.carried), ZERO)
        if netted != self.amount_paid:
            raise ValueError(
                f"settlement {self.settlement_id}: amount_paid {self.amount_paid} is not "
                f"period_amount {self.period_amount} plus the carried adjustments ({netted})"
            )


def to_document(s: Settlement) -> dict[str, Any]:
    """A settlement as JSON and BSON carry it: PayoutSettled's field names, money as strings."""
    return {
        "settlement_id": s.settlement_id,
        "period": s.period,
        "currency": s.currency,
        "amount_paid": str(s.amount_paid),
        "period_amount": str(s.period_amount),
        "carried_adjustments": [{"period": p, "amount": str(a)} for p, a in s.carried],
        "unrecovered": [{"period": p, "amount": str(a)} for p, a in s.unrecovered],
        "settled_at": s.settled_at.isoformat(),
        "rerun": s.rerun,
        "mdf_reimbursed": str(s.mdf_reimbursed),
        "mdf_claims": list(s.mdf_claims),
        "mdf_other_currencies": [
            {"currency": c, "amount": str(a), "claims": list(ids)} for c, a, ids in s.mdf_other
        ],
    }


def from_document(doc: Mapping[str, Any]) -> Settlement:
    """The inverse of :func:`to_document`: every field is required but the MDF claims' (a
    settlement recorded before claims were paid paid none)."""
    return Settlement(
        settlement_id=doc["settlement_id"],
        period=doc["period"],
        currency=doc["currency"],
        amount_paid=Decimal(doc["amount_paid"]),
        period_amount=Decimal(doc["period_amount"]),
        carried=tuple((a["period"], Decimal(a["amount"])) for a in doc["carried_adjustments"]),
        settled_at=datetime.fromisoformat(doc["settled_at"]),
        unrecovered=tuple((a["period"], Decimal(a["amount"])) for a in doc["unrecovered"]),
        rerun=bool(doc["rerun"]),
        mdf_reimbursed=Decimal(doc.get("mdf_reimbursed", "0.00")),
        mdf_claims=tuple(doc.get("mdf_claims", ())),
        mdf_other=tuple(
            (o["currency"], Decimal(o["amount"]), tuple(o["claims"]))
            for o in doc.get("mdf_other_currencies", ())
        ),
    )


@dataclass(frozen=True, slots=True)
class Payout:
    """What settling one period pays one partner."""

    period: str
    currency: str
    period_amount: Decimal
    carried: tuple[tuple[str, Decimal], ...]
    unrecovered: tuple[tuple[str, Decimal], ...]

    @property
    def amount_paid(self) -> Decimal:
        return self.period_amount + sum((amount for _, amount in self.carried), ZERO)

    @property
    def empty(self) -> bool:
        """Nothing paid, nothing carried, nothing left pending: a re-run with no difference."""
        return self.period_amount == 0 and not self.carried and not self.unrecovered


class AlreadySettled(Exception):
    """The period was settled for this partner, and no re-run was asked for."""

    def __init__(self, period: str, settlement_ids: list[str]) -> None:
        super().__init__(
            f"period {period} is already settled ({', '.join(settlement_ids)}); "
            "ask for a re-run to pay only the difference"
        )
        self.period = period
        self.settlement_ids = settlement_ids


def period_order(label: str) -> tuple[int, int, int]:
    """Chronological order of period labels: ``2026``, ``2026-Q4``, ``2026-11`` (start, then length)."""
    year, _, rest = label.partition("-")
    if not rest:
        return int(year), 1, 0
    if rest.startswith("Q"):
        return int(year), (int(rest[1:]) - 1) * 3 + 1, 1
    return int(year), int(rest), 2


def accounted(settlements: Iterable[Settlement], currency: str) -> dict[str, Decimal]:
    """How much of each period's total the settlements in ``currency`` have taken."""
    taken: dict[str, Decimal] = {}
    for s in settlements:
        if s.currency != currency:
            continue
        taken[s.period] = taken.get(s.period, ZERO) + s.period_amount
        for period, amount in s.carried:
            taken[period] = taken.get(period, ZERO) + amount
    return taken


def pending_adjustments(
    totals: Mapping[str, Decimal], settlements: Iterable[Settlement], currency: str
) -> dict[str, Decimal]:
    """``total(P) − accounted(P)`` for every settled period ``P`` where it is not zero."""
    settlements = [s for s in settlements if s.currency == currency]
    taken = accounted(settlements, currency)
    settled = {s.period for s in settlements}
    return {
        period: totals.get(period, ZERO) - taken.get(period, ZERO)
        for period in sorted(settled, key=period_order)
        if totals.get(period, ZERO) != taken.get(period, ZERO)
    }


def settle(
    period: str,
    currency: str,
    totals: Mapping[str, Decimal],
    settlements: Iterable[Settlement],
    *,
    rerun: bool = False,
    allow_negative: bool = False,
) -> Payout:
    """What settling ``period`` pays now; ``totals`` are the current period totals in ``currency``."""
    settlements = [s for s in settlements if s.currency == currency]
    earlier = [s.settlement_id for s in settlements if s.period == period]
    if earlier and not rerun:
        raise AlreadySettled(period, earlier)
    taken = accounted(settlements, currency)
    own = totals.get(period, ZERO) - taken.get(period, ZERO)
    others = pending_adjustments(totals, settlements, currency)
    others.pop(period, None)

    components = sorted([(period, own), *others.items()], key=lambda c: period_order(c[0]))
    if allow_negative:
        netted = dict(components)
    else:
        room = sum((amount for _, amount in components if amount > 0), ZERO)
        netted = {}
        for label, amount in components:
            if amount >= 0:
                netted[label] = amount
            else:
                take = amount if -amount <= room else ZERO - room  # never a "-0.00"
                netted[label] = take
                room += take
    return Payout(
        period=period,
        currency=currency,
        period_amount=netted[period],
        carried=tuple(
            (label, netted[label])
            for label, _ in components
            if label != period and netted[label] != 0
        ),
        unrecovered=tuple(
            (label, amount - netted[label])
            for label, amount in components
            if amount != netted[label]
        ),
    )
