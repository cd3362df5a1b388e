"""Settling a period for many partners: the ``POST /settlements`` use case.

What a settlement pays is written out in ``docs/rules/settlement.md``; the
arithmetic is :mod:`shared.settlement`, the period totals and the currency
are :mod:`services.incentives.domain`'s.

Each partner is settled in **one single-document write** of its ledger (the
settlement recorded beside the facts, its PayoutSettled in the outbox),
guarded by the ledger's version like a batch of events: a batch that changes
the partner meanwhile makes the settlement read the ledger and compute again
(:func:`shared.commands.retry_until_written`), so a payout is always computed
from the totals it is recorded against. Then, like every command's, the
ledger is handed over to the outbox relay (:mod:`shared.outbox`), which
publishes the PayoutSettled: the answer does not wait for Kafka, and a
PayoutSettled recorded reaches Kafka whatever happens to the process
afterwards.

A run over many partners is not atomic across partners (the store has no
transactions): a crash half-way leaves some partners settled. Running the
same request again with the same ``settlement_id`` finishes the run: a partner
that already carries that settlement answers what it recorded, and is not
paid twice. Before writing anything a run refuses as a whole: an unknown
partner named (:class:`UnknownPartners`), or a period already settled
(:class:`SettlementRefused`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from services.incentives import SERVICE, SOURCE
from services.incentives.domain import (
    period_totals,
    settlement_currency,
    unpaid_claims,
    unpaid_claims_elsewhere,
)
from services.incentives.ledgers import Ledgers
from services.incentives.store import PartnerLedger
from shared import events
from shared.commands import Conflict, NotFound, retry_until_written
from shared.events import Actor, deterministic_id, new_event
from shared.outbox import OutboxEntry
from shared.settlement import ZERO, AlreadySettled, Settlement, pending_adjustments, settle


class UnknownPartners(NotFound):
    """Partners named in the request have no commission data: nothing was settled."""

    def __init__(self, partner_ids: list[str]) -> None:
        super().__init__(f"no commission data for partner(s) {', '.join(partner_ids)}")
        self.partner_ids = partner_ids


class SettlementRefused(Conflict):
    """Some partners' period is already settled: nothing was settled."""

    def __init__(self, refusals: dict[str, AlreadySettled]) -> None:
        super().__init__(
            "; ".join(f"partner {pid}: {refusal}" for pid, refusal in sorted(refusals.items()))
        )
        self.refusals = refusals


@dataclass(slots=True)
class PartnerOutcome:
    """What a run did for one partner: a settlement (new or ``replayed``), or why not."""

    partner_id: str
    settlement: Settlement | None = None
    event_id: str | None = None
    replayed: bool = False
    skipped: str | None = None
    #: What stays pending against settled periods after this settlement.
    pending_after: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SettlementRun:
    """A run's outcome, one partner at a time in id order."""

    settlement_id: str
    period: str
    settled_at: datetime
    dry_run: bool
    outcomes: list[PartnerOutcome]

    @property
    def payouts(self) -> list[PartnerOutcome]:
        return [o for o in self.outcomes if o.settlement is not None]

    @property
    def skipped(self) -> list[PartnerOutcome]:
        return [o for o in self.outcomes if o.settlement is None]

    @property
    def recorded(self) -> bool:
        """Whether the run recorded a settlement (not a dry run, not only replays)."""
        return not self.dry_run and any(not o.replayed for o in self.payouts)

    def totals(self) -> dict[str, Decimal]:
        """What the run pays in each currency."""
        paid: dict[str, Decimal] = {}
        for o in self.payouts:
            assert o.settlement is not None
            s = o.settlement
            paid[s.currency] = paid.get(s.currency, Decimal("0.00")) + s.amount_paid
        return paid


def payout_event(
    partner_id: str, s: Settlement, actor: Actor | None = None
) -> events.CloudEvent[events.PayoutSettled]:
    """The PayoutSettled of one partner's share of a settlement, naming who settled."""
    data = events.PayoutSettled(
        actor=actor,
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
        mdf_reimbursed=s.mdf_reimbursed,
        mdf_claims=list(s.mdf_claims),
        mdf_other_currencies=[
            events.MdfReimbursement(currency=c, amount=a, claims=list(ids))
            for c, a, ids in s.mdf_other
        ],
    )
    return new_event(
        data,
        source=SOURCE,
        time=s.settled_at,
        event_id=payout_event_id(s.settlement_id, partner_id),
    )


def payout_event_id(settlement_id: str, partner_id: str) -> str:
    return deterministic_id(SERVICE, "PayoutSettled", settlement_id, partner_id)


class Settlements:
    """Settles periods for partners, from the ledgers the consumer keeps."""

    def __init__(
        self,
        ledgers: Ledgers,
        *,
        allow_negative: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledgers = ledgers
        self.allow_negative = allow_negative
        self.clock = clock

    async def settle(
        self,
        period: str,
        partner_ids: list[str] | None,
        *,
        settlement_id: str | None = None,
        rerun: bool = False,
        dry_run: bool = False,
        actor: Actor | None = None,
    ) -> SettlementRun:
        """Settle ``period`` for ``partner_ids`` (None: every partner not yet settled); the
        PayoutSettled events name ``actor``, who asked.

        Raises :class:`UnknownPartners` or :class:`SettlementRefused` before anything is
        written; a dry run computes and records nothing.
        """
        sid = settlement_id or f"S-{period}-{uuid.uuid4().hex[:12]}"
        now = self.clock()
        outcomes = await self._compute_all(period, partner_ids, sid, rerun, now)
        if not dry_run:
            await self._record(period, sid, rerun, now, actor, outcomes)
        return SettlementRun(sid, period, now, dry_run, [outcomes[p] for p in sorted(outcomes)])

    async def _compute_all(
        self, period: str, partner_ids: list[str] | None, sid: str, rerun: bool, now: datetime
    ) -> dict[str, PartnerOutcome]:
        """What settling pays each partner; refuses before anything is written."""
        explicit = partner_ids is not None
        wanted = set(partner_ids) if partner_ids is not None else await self.ledgers.partner_ids()
        ledgers = await self.ledgers.fresh(wanted)
        unknown = [pid for pid, ledger in sorted(ledgers.items()) if ledger.version == 0]
        if explicit and unknown:
            raise UnknownPartners(unknown)
        refusals: dict[str, AlreadySettled] = {}
        outcomes: dict[str, PartnerOutcome] = {}
        for pid, ledger in ledgers.items():
            if ledger.version == 0:
                continue
            try:
                outcomes[pid] = self._compute(ledger, period, sid, rerun, now)
            except AlreadySettled as refusal:
                refusals[pid] = refusal
        # Named partners are settled all or none; for every partner, the ones not yet settled.
        if refusals and (explicit or not any(o.settlement for o in outcomes.values())):
            raise SettlementRefused(refusals)
        for pid, already in refusals.items():
            outcomes[pid] = PartnerOutcome(pid, skipped=str(already))
        return outcomes

    async def _record(
        self,
        period: str,
        sid: str,
        rerun: bool,
        now: datetime,
        actor: Actor | None,
        outcomes: dict[str, PartnerOutcome],
    ) -> None:
        """Record each new settlement and have it published, computing again where a
        ledger changed."""
        await retry_until_written(
            {pid for pid, o in outcomes.items() if o.settlement and not o.replayed},
            lambda partner_ids: self._record_partners(
                partner_ids, period, sid, rerun, now, actor, outcomes
            ),
            what=f"the ledgers of the partners settled by {sid}",
        )

    async def _record_partners(
        self,
        partner_ids: set[str],
        period: str,
        sid: str,
        rerun: bool,
        now: datetime,
        actor: Actor | None,
        outcomes: dict[str, PartnerOutcome],
    ) -> set[str]:
        """One attempt of :meth:`_record`; returns the partners whose write lost."""
        ledgers = await self.ledgers.fresh(partner_ids)
        changed: list[PartnerLedger] = []
        for pid in sorted(partner_ids):
            ledger = ledgers[pid]
            try:
                outcome = self._compute(ledger, period, sid, rerun, now)
            except AlreadySettled as meanwhile:  # settled by another run meanwhile
                outcomes[pid] = PartnerOutcome(pid, skipped=str(meanwhile))
                continue
            outcomes[pid] = outcome
            if outcome.settlement is None or outcome.replayed:
                continue
            ledger.settlements.append(outcome.settlement)
            ledger.outbox.append(OutboxEntry.of(payout_event(pid, outcome.settlement, actor)))
            changed.append(ledger)
        lost = await self.ledgers.save(changed)
        self.ledgers.hand_over(ledger for ledger in changed if ledger.partner_id not in lost)
        return lost

    def _compute(
        self, ledger: PartnerLedger, period: str, settlement_id: str, rerun: bool, now: datetime
    ) -> PartnerOutcome:
        """What settling ``ledger``'s partner pays (raises AlreadySettled); changes nothing."""
        outcome = PartnerOutcome(ledger.partner_id)
        published = ledger.published.values()
        adjustments = ledger.adjustments.values()
        done = next((s for s in ledger.settlements if s.settlement_id == settlement_id), None)
        if done is not None:
            outcome.settlement, outcome.replayed = done, True
            outcome.event_id = payout_event_id(settlement_id, ledger.partner_id)
            outcome.pending_after = pending_adjustments(
                period_totals(published, done.currency, adjustments),
                ledger.settlements,
                done.currency,
            )
            return outcome
        currency = settlement_currency(
            published, ledger.book.contracts.values(), period, adjustments
        )
        if currency is None:
            outcome.skipped = "no contract, nothing to settle"
            return outcome
        totals = period_totals(published, currency, adjustments)
        approved = ledger.book.mdf_claims.values()
        claims = unpaid_claims(approved, ledger.settlements, currency)
        elsewhere = unpaid_claims_elsewhere(approved, ledger.settlements, currency)
        payout = settle(
            period,
            currency,
            totals,
            ledger.settlements,
            rerun=rerun,
            allow_negative=self.allow_negative,
        )
        first = not any(s.period == period and s.currency == currency for s in ledger.settlements)
        if payout.empty and not claims and not elsewhere and (not first or period not in totals):
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
            mdf_reimbursed=sum((c.amount for c in claims), ZERO),
            mdf_claims=tuple(c.claim_id for c in claims),
            mdf_other=tuple(
                (other, sum((c.amount for c in unpaid), ZERO), tuple(c.claim_id for c in unpaid))
                for other, unpaid in elsewhere
            ),
        )
        outcome.event_id = payout_event_id(settlement_id, ledger.partner_id)
        outcome.pending_after = pending_adjustments(
            totals, [*ledger.settlements, outcome.settlement], currency
        )
        return outcome
