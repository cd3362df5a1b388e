"""What enablement does with the events it consumes: one function per event type, in
:data:`HANDLERS`.

A batch (its valid events, after :mod:`shared.consuming`) is first folded into
:class:`BatchChanges` by the handlers: each partners.v1 event adds a change to
its partner's :class:`PartnerStanding` (merges commute and are idempotent, so
order and duplicates do not matter); each TrainingCompleted, whatever its
source (this service's API, an external LMS), adds a completion to its
learner. Then :class:`EnablementConsumer` writes them:

1. each partner's standing, one conditional write per partner;
2. each learner that gained a completion, with every award now due
   (:func:`services.enablement.awards.settle_learner`): completions, awards,
   the definitions version used and the outbox are one single-document write
   per learner;
3. the outbox entries this batch added are published from memory
   (``await publisher.publish``, :mod:`shared.outbox`), then removed;
4. only then does the subscriber commit the batch's offsets.

A write that lost to another writer is read and redone
(:func:`shared.commands.retry_until_written`). Event types without a handler
(enablement's own events on enablement.v1) are counted as ignored. An event
the rules cannot use although it passed validation (a learner id of blanks,
say) is a permanent failure: it is dead-lettered like invalid input
(:func:`shared.consuming.dead_letter_unusable`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.enablement import SERVICE
from services.enablement.awards import AwardSettling, settle_learner
from services.enablement.domain import (
    Completion,
    ContractTier,
    LearnerKey,
    PartnerStanding,
    Termination,
    TierChange,
)
from services.enablement.store import LEARNERS, PARTNERS, StandingRecord, Store
from shared import events
from shared.commands import retry_until_written
from shared.consuming import Consumed, DeadLetter
from shared.events import CloudEvent, Payload
from shared.failpoints import failpoint
from shared.metrics import EVENTS_CONSUMED, WRITE_CONFLICTS
from shared.outbox import OutboxEntry, Publisher

#: A change to one partner's standing, as an event brings it.
StandingChange = Callable[[PartnerStanding], PartnerStanding]


@dataclass(slots=True)
class BatchChanges:
    """What a batch's events change, before it is written."""

    standings: defaultdict[str, list[StandingChange]] = field(
        default_factory=lambda: defaultdict(list)
    )
    completions: defaultdict[LearnerKey, set[Completion]] = field(
        default_factory=lambda: defaultdict(set)
    )


# ----------------------------------------------------------------- one function per event type


def partner_applied(changes: BatchChanges, event: CloudEvent[Payload]) -> None:
    changes.standings[event.data.partner_id].append(PartnerStanding.with_application)


def partner_approved(changes: BatchChanges, event: CloudEvent[Payload]) -> None:
    changes.standings[event.data.partner_id].append(PartnerStanding.with_approval)


def partner_rejected(changes: BatchChanges, event: CloudEvent[Payload]) -> None:
    changes.standings[event.data.partner_id].append(PartnerStanding.with_rejection)


def contract_signed(changes: BatchChanges, event: CloudEvent[Payload]) -> None:
    """PartnerSigned and ContractRenewed: the contract's period and tier, versioned by the
    event's (time, id)."""
    data = event.data
    assert isinstance(data, events.PartnerSigned | events.ContractRenewed)
    contract = ContractTier(
        contract_id=data.contract.contract_id,
        start_date=data.contract.start_date,
        end_date=data.contract.end_date,
        tier=data.contract.tier,
        version=(event.time, event.id),
    )
    changes.standings[data.partner_id].append(lambda s: s.with_contract(contract))


def tier_changed(changes: BatchChanges, event: CloudEvent[Payload]) -> None:
    data = event.data
    assert isinstance(data, events.PartnerTierChanged)
    change = TierChange(data.effective_date, data.tier, (event.time, event.id))
    changes.standings[data.partner_id].append(lambda s: s.with_tier_change(change))


def partner_terminated(changes: BatchChanges, event: CloudEvent[Payload]) -> None:
    data = event.data
    assert isinstance(data, events.PartnerTerminated)
    termination = Termination(data.effective_date, data.reason)
    changes.standings[data.partner_id].append(lambda s: s.with_termination(termination))


def training_completed(changes: BatchChanges, event: CloudEvent[Payload]) -> None:
    data = event.data
    assert isinstance(data, events.TrainingCompleted)
    completion = Completion.from_event(data)
    changes.completions[completion.learner].add(completion)


#: How an event changes what enablement knows; raises ValueError when the rules cannot use it.
Handler = Callable[[BatchChanges, CloudEvent[Payload]], None]

#: The handler of each consumed event type, by payload class.
HANDLERS: dict[type[Payload], Handler] = {
    events.PartnerApplied: partner_applied,
    events.PartnerApproved: partner_approved,
    events.PartnerRejected: partner_rejected,
    events.PartnerSigned: contract_signed,
    events.ContractRenewed: contract_signed,
    events.PartnerTierChanged: tier_changed,
    events.PartnerTerminated: partner_terminated,
    events.TrainingCompleted: training_completed,
}


# ----------------------------------------------------------------- the consumer


class EnablementConsumer:
    """Folds each consumed batch through :data:`HANDLERS` and writes what it changes;
    ``dead_letter`` takes the events the rules cannot use."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        award_settling: AwardSettling,
        dead_letter: DeadLetter,
        *,
        service: str = SERVICE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.award_settling = award_settling
        self.dead_letter = dead_letter
        self.service = service
        self.clock = clock

    async def handle(self, batch: list[Consumed]) -> None:
        changes = BatchChanges()
        for consumed in batch:
            await self._fold(consumed, changes)
        if changes.standings:
            await self._merge_standings(changes.standings)
        if changes.completions:
            await self._record_completions(changes.completions)

    async def _fold(self, consumed: Consumed, changes: BatchChanges) -> None:
        event = consumed.event
        handler = HANDLERS.get(type(event.data))
        outcome = "ignored"
        if handler is not None:
            try:
                handler(changes, event)
            except ValueError as exc:
                await self.dead_letter(consumed, f"data: {exc}")
                return
            outcome = "processed"
        EVENTS_CONSUMED.labels(self.service, consumed.record.topic, event.type, outcome).inc()

    async def _merge_standings(self, standings: dict[str, list[StandingChange]]) -> None:
        async def write(partner_ids: set[str]) -> set[str]:
            records = await self.store.load_standings(partner_ids)
            changed: list[StandingRecord] = []
            for partner_id, record in records.items():
                before = record.standing
                for change in standings[partner_id]:
                    record.standing = change(record.standing)
                if record.standing != before or record.version == 0:
                    changed.append(record)
            lost = await self.store.save_standings(changed)
            if lost:
                WRITE_CONFLICTS.labels(self.service, PARTNERS).inc(len(lost))
            return lost

        await retry_until_written(standings, write, what="the standings of this batch's partners")

    async def _record_completions(self, completions: dict[LearnerKey, set[Completion]]) -> None:
        async def write(keys: set[LearnerKey]) -> set[LearnerKey]:
            catalogue = await self.store.load_catalogue()
            learners = await self.store.load_learners(keys)
            now = self.clock()
            added: dict[str, list[OutboxEntry]] = {}
            for learner in learners.values():
                new = completions[(learner.partner_id, learner.learner_id)] - learner.completions
                if new:
                    already = len(learner.outbox)
                    learner.completions |= new
                    settle_learner(learner, catalogue, now)
                    added[learner.key] = learner.outbox[already:]
            lost = await self.store.save_learners(x for x in learners.values() if x.key in added)
            if added:
                failpoint("enablement_after_store")
                await self.award_settling.learners_written(catalogue.definitions_version)
            # Only what this write added: entries another writer left are theirs (or the relay's).
            await self.publisher.publish(
                LEARNERS, {k: v for k, v in added.items() if k not in lost}
            )
            if lost:
                WRITE_CONFLICTS.labels(self.service, LEARNERS).inc(len(lost))
            return {(x.partner_id, x.learner_id) for x in learners.values() if x.key in lost}

        await retry_until_written(completions, write, what="the learners of this batch")
