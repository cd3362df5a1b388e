"""Settling a period for many partners: the ``POST /settlements`` use case.

Each partner is settled in **one single-document write** of its ledger (the
settlement recorded beside the facts, its PayoutSettled in the outbox),
guarded by the ledger's version like a batch of events: a batch that changes
the partner meanwhile makes the settlement reload and compute again, so a
payout is always computed from the totals it is recorded against. Then the
outbox is published (awaited) and emptied.

A run over many partners is not atomic across partners (FerretDB has no
transactions): a crash half-way leaves some partners settled. Running the
same request again with the same ``settlement_id`` finishes the run: a partner
that already carries that settlement answers what it recorded, and is not
paid twice.

The arithmetic lives in :mod:`shared.settlement`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.incentives.domain import to_cents
from services.incentives.handlers import MAX_ATTEMPTS, SOURCE, event_id
from services.incentives.store import PARTNERS, IncentivesStore, PartnerLedger
from shared import events
from shared.events import new_event
from shared.metrics import WRITE_CONFLICTS
from shared.outbox import Outbox, OutboxEntry
from shared.settlement import (
    AlreadySettled,
    Payout,
    Settlement,
    pending_adjustments,
    settle,
    to_document,
)


class UnknownPartners(Exception):
    def __init__(self, partner_ids: list[str]) -> None:
        super().__init__(f"no commission data for partner(s) {', '.join(partner_ids)}")
        self.partner_ids = partner_ids


class Refused(Exception):
    """Some partners' period is already settled: nothing was settled."""

    def __init__(self, refusals: dict[str, AlreadySettled]) -> None:
        super().__init__(
            "; ".join(f"partner {pid}: {refusal}" for pid, refusal in sorted(refusals.items()))
        )
        self.refusals = refusals


def period_totals(ledger: PartnerLedger, currency: str) -> dict[str, Decimal]:
    """Each period's current total (commission + target bonus) in ``currency``, as published."""
    totals: dict[str, Decimal] = {}
    for revision in ledger.published.values():
        result = revision.result
        if result.currency == currency:
            totals[result.period] = totals.get(result.period, Decimal("0.00")) + result.payout
    return {period: to_cents(total) for period, total in totals.items()}


def settlement_currency(ledger: PartnerLedger, period: str) -> str | None:
    """The currency ``period`` pays in: its paying deals', else the latest contract's."""
    paying = {
        r.result.currency
        for r in ledger.published.values()
        if r.result.period == period and r.result.payout
    }
    if len(paying) == 1:
        return paying.pop()
    contracts = sorted(ledger.book.contracts.values(), key=lambda c: (c.start_date, c.contract_id))
    if paying:  # several contracts in several currencies in one period: the latest one's
        in_period = [c.currency for c in contracts if c.currency in paying]
        return in_period[-1]
    return contracts[-1].currency if contracts else None


@dataclass(slots=True)
class PartnerOutcome:
    partner_id: str
    settlement: Settlement | None = None
    event_id: str | None = None
    replayed: bool = False
    skipped: str | None = None
    pending_after: dict[str, Decimal] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        if self.settlement is None:
            return {"partner_id": self.partner_id, "skipped": self.skipped}
        return {
            "partner_id": self.partner_id,
            **to_document(self.settlement),
            "event_id": self.event_id,
            "replayed": self.replayed,
            "pending_after": {p: str(a) for p, a in self.pending_after.items()},
        }


def payout_event(partner_id: str, s: Settlement) -> events.CloudEvent[events.PayoutSettled]:
    data = events.PayoutSettled(
        partner_id=partner_id,
        settlement_id=s.settlement_id,
        period=s.period,
        currency=s.currency,
        amount_paid=s.amount_paid,
        carried_adjustments=[events.CarriedAdjustment(period=p, amount=a) for p, a in s.carried],
        settled_at=s.settled_at,
        period_amount=s.period_amount,
        unrecovered=[events.CarriedAdjustment(period=p, amount=a) for p, a in s.unrecovered],
        rerun=s.rerun,
    )
    return new_event(
        data,
        source=SOURCE,
        time=s.settled_at,
        event_id=event_id("PayoutSettled", s.settlement_id, partner_id),
    )


class Settlements:
    def __init__(
        self,
        store: IncentivesStore,
        outbox: Outbox,
        *,
        allow_negative: bool = False,
        service: str = "incentives",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.allow_negative = allow_negative
        self.service = service
        self.clock = clock

    def _compute(
        self, ledger: PartnerLedger, period: str, settlement_id: str, rerun: bool, now: datetime
    ) -> PartnerOutcome:
        """What settling ``ledger``'s partner pays (raises AlreadySettled); changes nothing."""
        outcome = PartnerOutcome(ledger.partner_id)
        done = next((s for s in ledger.settlements if s.settlement_id == settlement_id), None)
        if done is not None:
            outcome.settlement, outcome.replayed = done, True
            outcome.event_id = event_id("PayoutSettled", settlement_id, ledger.partner_id)
            outcome.pending_after = pending_adjustments(
                period_totals(ledger, done.currency), ledger.settlements, done.currency
            )
            return outcome
        currency = settlement_currency(ledger, period)
        if currency is None:
            outcome.skipped = "no contract, nothing to settle"
            return outcome
        totals = period_totals(ledger, currency)
        payout: Payout = settle(
            period,
            currency,
            totals,
            ledger.settlements,
            rerun=rerun,
            allow_negative=self.allow_negative,
        )
        first = not any(s.period == period and s.currency == currency for s in ledger.settlements)
        if payout.empty and (not first or period not in totals):
            outcome.skipped = (
                "nothing changed since the period was settled"
                if not first
                else "nothing earned in the period and nothing pending"
            )
            return outcome
        outcome.settlement = Settlement(
            settlement_id=settlement_id,
            period=period,
            currency=currency,
            amount_paid=payout.amount_paid,
            period_amount=payout.period_amount,
            carried=payout.carried,
            settled_at=now,
            unrecovered=payout.unrecovered,
            rerun=not first,
        )
        outcome.event_id = event_id("PayoutSettled", settlement_id, ledger.partner_id)
        outcome.pending_after = pending_adjustments(
            totals, [*ledger.settlements, outcome.settlement], currency
        )
        return outcome

    async def run(
        self,
        period: str,
        partner_ids: list[str] | None,
        *,
        settlement_id: str | None = None,
        rerun: bool = False,
        dry_run: bool = False,
    ) -> tuple[str, datetime, list[PartnerOutcome]]:
        """Settle ``period`` for ``partner_ids`` (None: every partner); all or nothing refused.

        Raises UnknownPartners or Refused before anything is written.
        """
        sid = settlement_id or f"S-{period}-{uuid.uuid4().hex[:12]}"
        now = self.clock()
        explicit = partner_ids is not None
        wanted = (
            sorted(set(partner_ids)) if partner_ids is not None else await self.store.partner_ids()
        )
        ledgers = await self.store.load_ledgers(wanted)
        unknown = [pid for pid in wanted if ledgers[pid].version == 0]
        if explicit and unknown:
            raise UnknownPartners(unknown)

        # First pass: refuse before writing anything.
        refusals: dict[str, AlreadySettled] = {}
        outcomes: dict[str, PartnerOutcome] = {}
        for pid in wanted:
            if ledgers[pid].version == 0:
                continue
            try:
                outcomes[pid] = self._compute(ledgers[pid], period, sid, rerun, now)
            except AlreadySettled as refusal:
                refusals[pid] = refusal
        if refusals and (explicit or not any(o.settlement for o in outcomes.values())):
            raise Refused(refusals)
        for pid, already in refusals.items():
            outcomes[pid] = PartnerOutcome(pid, skipped=str(already))
        if dry_run:
            return sid, now, [outcomes[pid] for pid in sorted(outcomes)]

        # Second pass: record and publish, partner by partner, recomputing on a conflict.
        pending = {pid for pid, o in outcomes.items() if o.settlement and not o.replayed}
        for _attempt in range(MAX_ATTEMPTS):
            if not pending:
                break
            fresh = await self.store.load_ledgers(pending)
            changed: list[PartnerLedger] = []
            for pid in sorted(pending):
                ledger = fresh[pid]
                try:
                    outcome = self._compute(ledger, period, sid, rerun, now)
                except AlreadySettled as meanwhile:  # settled by another run meanwhile
                    outcomes[pid] = PartnerOutcome(pid, skipped=str(meanwhile))
                    continue
                outcomes[pid] = outcome
                if outcome.settlement is None or outcome.replayed:
                    continue
                ledger.settlements.append(outcome.settlement)
                ledger.outbox.append(OutboxEntry.of(payout_event(pid, outcome.settlement)))
                changed.append(ledger)
            lost = await self.store.save_ledgers(changed)
            if lost:
                WRITE_CONFLICTS.labels(self.service, PARTNERS).inc(len(lost))
            written = {ledger.partner_id: ledger.outbox for ledger in changed}
            await self.outbox.publish(
                self.outbox.collections[PARTNERS],
                {pid: entries for pid, entries in written.items() if pid not in lost},
            )
            pending = lost
        if pending:
            raise RuntimeError(
                f"partners {sorted(pending)} kept changing; run the settlement again"
            )
        return sid, now, [outcomes[pid] for pid in sorted(outcomes)]
