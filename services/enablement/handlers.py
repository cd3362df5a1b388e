"""What enablement does with consumed events, and how awards are kept up to date.

For each batch (after :func:`shared.consuming.validate_batch`):

1. **partners.v1** events are merged into each partner's
   :class:`PartnerStanding` (commutative and idempotent, so order and
   duplicates do not matter) and written back conditionally on the version
   read.
2. **TrainingCompleted** events, whatever their source (this service's own
   API, an external LMS), are added to their learner's completions; when a
   learner gains a completion, :func:`settle_learner` publishes every award
   now due (:func:`awards_due`: published awards are fixed points, so a
   recomputation never publishes one twice). Completions, awards, the
   definitions version used and the outbox are **one single-document write**
   per learner, conditional on the version read; a lost race reloads and
   redoes that learner.
3. The outbox entries are published (awaited), then removed.
4. Only then does the subscriber commit the batch's offsets.

A CertificationAwarded's CloudEvent id is derived from (partner, learner,
certification, awarded_at), so an entry published twice is the same event.

**Definitions added later.** Each learner remembers the catalogue's
definitions version its awards were computed under.
:meth:`Enablement.settle_stale_learners` recomputes every learner computed
under an older catalogue. Finding them means reading every learner (on
FerretDB), so it runs only when there may be some: when this process adds a
definition; when the catalogue's version (one lookup by ``_id`` every few
seconds) is not the one the last pass left settled (another replica added
one); and when a writer of learners finds, right after its write, that the
catalogue moved on since it read it (:meth:`Enablement.learners_written`),
which catches a learner computed just before a definition was added and
written after the pass that followed.

An event the rules cannot use although it passed validation (a learner id of
blanks, say) is a permanent failure: it is dead-lettered like invalid input.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker

from services.enablement.domain import Award, Completion, awards_due
from services.enablement.store import (
    LEARNERS,
    PARTNERS,
    Catalogue,
    EnablementStore,
    Learner,
    StandingRecord,
)
from shared import events, topics
from shared.consuming import Consumed
from shared.events import InvalidReason, new_event
from shared.failpoints import failpoint
from shared.messaging import dead_letter
from shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED, WRITE_CONFLICTS
from shared.outbox import Outbox, OutboxEntry

log = logging.getLogger("partnerhub.enablement")

SOURCE = "/partnerhub/enablement"
_IDS = uuid.UUID("0b7f3c52-3c1e-4a8e-9d47-5e2f61a9c4d3")
MAX_ATTEMPTS = 20
SETTLE_CHUNK = 100


def event_id(*parts: str) -> str:
    """A deterministic CloudEvent id, so a re-published event is the same event."""
    return str(uuid.uuid5(_IDS, "/".join(parts)))


def completion_event(
    completion: Completion, now: datetime
) -> events.CloudEvent[events.TrainingCompleted]:
    return new_event(
        completion.to_event(),
        source=SOURCE,
        time=now,
        event_id=event_id(
            "TrainingCompleted",
            completion.partner_id,
            completion.learner_id,
            completion.course_id,
            completion.completed_at.isoformat(),
            str(completion.score),
        ),
    )


def award_event(award: Award, now: datetime) -> events.CloudEvent[events.CertificationAwarded]:
    return new_event(
        award.to_event(),
        source=SOURCE,
        time=now,
        event_id=event_id(
            "CertificationAwarded",
            award.partner_id,
            award.learner_id,
            award.certification_id,
            award.awarded_at.isoformat(),
        ),
    )


def settle_learner(learner: Learner, catalogue: Catalogue, now: datetime) -> list[Award]:
    """Queue a CertificationAwarded for every award now due; stamp the definitions version."""
    due = awards_due(
        catalogue.certifications.values(), catalogue.courses, learner.completions, learner.awards
    )
    for award in due:
        learner.awards.append(award)
        learner.outbox.append(OutboxEntry.of(award_event(award, now)))
    learner.catalogue_version = catalogue.definitions_version
    return list(due)


class Enablement:
    """The consuming side of the service over its store and broker."""

    def __init__(
        self,
        store: EnablementStore,
        broker: KafkaBroker,
        service: str = "enablement",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.broker = broker
        self.service = service
        self.clock = clock
        self.outbox = Outbox(broker, service, store.with_outbox)
        self.catalogue_changed = asyncio.Event()
        # The definitions version at which the last pass found no stale learner.
        self._settled_at: int | None = None

    async def awards_current(self) -> bool:
        """Whether the last pass left every learner computed under the current catalogue
        (for ``/readyz``; one lookup by ``_id``)."""
        return self._settled_at == await self.store.definitions_version()

    async def learners_written(self, catalogue_version: int) -> None:
        """After writing learners computed under ``catalogue_version``: if a definition was
        added since, they may be stale, and a pass runs soon."""
        if await self.store.definitions_version() != catalogue_version:
            self._settled_at = None
            self.catalogue_changed.set()

    # ----------------------------------------------------------------- batches

    async def handle(self, batch: list[Consumed]) -> None:
        partner_events: list[Consumed] = []
        completions: list[Consumed] = []
        for consumed in batch:
            if consumed.record.topic == topics.PARTNERS:
                partner_events.append(consumed)
            elif isinstance(consumed.event.data, events.TrainingCompleted):
                completions.append(consumed)
            else:
                EVENTS_CONSUMED.labels(
                    self.service, consumed.record.topic, consumed.event.type, "ignored"
                ).inc()
        if partner_events:
            await self._merge_standings(partner_events)
        if completions:
            await self._record_completions(completions)

    async def _reject(self, consumed: Consumed, error: str) -> None:
        """Dead-letter an event that passed validation but that the rules cannot use."""
        record = consumed.record
        reason = InvalidReason.INVALID_DATA.value
        await dead_letter(self.broker, record, error=error, reason=reason, service=self.service)
        DEAD_LETTERS.labels(self.service, record.topic, reason).inc()
        EVENTS_CONSUMED.labels(
            self.service, record.topic, consumed.event.type, "dead_lettered"
        ).inc()
        log.warning(
            "dead-lettered %s from %s[%s]@%s: %s",
            consumed.event.type,
            record.topic,
            record.partition,
            record.offset,
            error,
        )

    async def _merge_standings(self, batch: list[Consumed]) -> None:
        by_partner: dict[str, list[Consumed]] = defaultdict(list)
        for consumed in batch:
            by_partner[consumed.event.data.partner_id].append(consumed)
        unusable: set[int] = set()
        pending = set(by_partner)
        for _attempt in range(MAX_ATTEMPTS):
            records = await self.store.load_standings(pending)
            changed: list[StandingRecord] = []
            for partner_id, record in records.items():
                before = record.standing
                for consumed in by_partner[partner_id]:
                    if id(consumed) in unusable:
                        continue
                    event = consumed.event
                    try:
                        record.standing = record.standing.with_event(
                            event.data, (event.time, event.id)
                        )
                    except ValueError as exc:
                        unusable.add(id(consumed))
                        await self._reject(consumed, f"data: {exc}")
                if record.standing != before or record.version == 0:
                    changed.append(record)
            lost = await self.store.save_standings(changed)
            if lost:
                WRITE_CONFLICTS.labels(self.service, PARTNERS).inc(len(lost))
            pending = lost
            if not pending:
                break
        else:
            raise RuntimeError(f"partners {sorted(pending)} kept changing; retrying the batch")
        for consumed in batch:
            if id(consumed) not in unusable:
                EVENTS_CONSUMED.labels(
                    self.service, consumed.record.topic, consumed.event.type, "processed"
                ).inc()

    async def _record_completions(self, batch: list[Consumed]) -> None:
        by_learner: dict[tuple[str, str], set[Completion]] = defaultdict(set)
        for consumed in batch:
            data = consumed.event.data
            assert isinstance(data, events.TrainingCompleted)
            try:
                completion = Completion.from_event(data)
            except ValueError as exc:
                await self._reject(consumed, f"data: {exc}")
                continue
            by_learner[completion.learner].add(completion)
            EVENTS_CONSUMED.labels(
                self.service, consumed.record.topic, consumed.event.type, "processed"
            ).inc()
        pending = set(by_learner)
        for _attempt in range(MAX_ATTEMPTS):
            if not pending:
                return
            catalogue = await self.store.load_catalogue()
            learners = await self.store.load_learners(pending)
            now = self.clock()
            changed: dict[str, list[OutboxEntry]] = {}
            for learner in learners.values():
                new = by_learner[(learner.partner_id, learner.learner_id)] - learner.completions
                if not new:
                    continue
                already = len(learner.outbox)
                learner.completions |= new
                settle_learner(learner, catalogue, now)
                changed[learner.key] = learner.outbox[already:]
            lost = await self.store.save_learners(x for x in learners.values() if x.key in changed)
            if lost:
                WRITE_CONFLICTS.labels(self.service, LEARNERS).inc(len(lost))
            if changed:
                failpoint("enablement_after_store")
                await self.learners_written(catalogue.definitions_version)
            # Only what this write added: entries another writer left are theirs (or the relay's).
            await self.publish(LEARNERS, {k: v for k, v in changed.items() if k not in lost})
            pending = {(x.partner_id, x.learner_id) for x in learners.values() if x.key in lost}
        raise RuntimeError(f"learners {sorted(pending)} kept changing; retrying the batch")

    # ----------------------------------------------------------------- definitions

    async def settle_stale_learners(self) -> int:
        """Recompute the learners computed under an older catalogue; return how many changed."""
        settled = 0
        while True:
            catalogue = await self.store.load_catalogue()
            stale = await self.store.stale_learners(catalogue.definitions_version, SETTLE_CHUNK)
            if not stale:
                self._settled_at = catalogue.definitions_version
                return settled
            now = self.clock()
            added: dict[str, list[OutboxEntry]] = {}
            for learner in stale:
                already = len(learner.outbox)
                settle_learner(learner, catalogue, now)
                added[learner.key] = learner.outbox[already:]
            # A learner another writer changed meanwhile is picked up again by the next pass
            # if it is still stale.
            lost = await self.store.save_learners(stale)
            if lost:
                WRITE_CONFLICTS.labels(self.service, LEARNERS).inc(len(lost))
                await asyncio.sleep(0.05)
            await self.publish(LEARNERS, {k: v for k, v in added.items() if k not in lost and v})
            settled += len(stale) - len(lost)

    async def keep_learners_settled(self, interval: float = 5.0) -> None:
        """Run :meth:`settle_stale_learners` whenever woken (a definition added here, learners
        written under an older catalogue), and when the catalogue's version, read every
        ``interval`` seconds, is not the one the last pass settled; until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.catalogue_changed.wait(), timeout=interval)
            woken = self.catalogue_changed.is_set()
            self.catalogue_changed.clear()
            try:
                if not woken and await self.store.definitions_version() == self._settled_at:
                    continue
                count = await self.settle_stale_learners()
                if count:
                    log.info("recomputed the awards of %d learners for new definitions", count)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("could not recompute awards: %s; retrying in %.0f s", exc, interval)

    # ----------------------------------------------------------------- the outbox

    async def publish(self, collection: str, outboxes: Mapping[Any, list[OutboxEntry]]) -> None:
        """Publish the entries (awaited), then remove them from their documents."""
        await self.outbox.publish(self.outbox.collections[collection], outboxes)

    async def publish_soon(
        self, collection: str, outboxes: Mapping[Any, Iterable[OutboxEntry]]
    ) -> None:
        """Publish what a command stored; if Kafka does not answer, the relay publishes it."""
        try:
            await self.publish(collection, {k: list(v) for k, v in outboxes.items()})
        except Exception as exc:
            log.warning("publishing after a command failed (%s); the outbox relay will retry", exc)
