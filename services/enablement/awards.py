"""Certification awards kept current with the learners' completions and the catalogue.

:func:`settle_learner` queues a CertificationAwarded for every award a learner
is now due (:func:`services.enablement.domain.awards_due`: published awards
are fixed points, so a recomputation never publishes one twice) and stamps
the learner with the catalogue's definitions version it was computed under.
The command side and the consumer call it whenever a learner gains a
completion.

**Definitions added later.** A course or certification defined after a
learner was computed may award that learner something:
:meth:`AwardSettling.settle_stale_learners` recomputes every learner computed
under an older catalogue. Finding them is a query over the learners, so it
runs only when there may be some: when this process adds a definition
(:meth:`AwardSettling.definitions_added`); when the catalogue's version (one
lookup by ``_id`` every few seconds) is not the one the last pass left
settled (another replica added one); and when a writer of learners finds,
right after its write, that the catalogue moved on since it read it
(:meth:`AwardSettling.learners_written`), which catches a learner computed
just before a definition was added and written after the pass that followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from services.enablement import SERVICE
from services.enablement.domain import Award, awards_due
from services.enablement.publishing import award_event
from services.enablement.store import LEARNERS, Catalogue, Learner, Store
from shared.events import Actor
from shared.metrics import WRITE_CONFLICTS
from shared.outbox import OutboxEntry, Publisher

log = logging.getLogger("partnerhub.enablement")

#: Learners recomputed per write in a pass.
SETTLE_CHUNK = 100
#: Pause after a chunk lost writes to other writers, before the next one.
CONFLICT_PAUSE_SECONDS = 0.05


def settle_learner(
    learner: Learner, catalogue: Catalogue, now: datetime, actor: Actor | None = None
) -> list[Award]:
    """Queue a CertificationAwarded for every award now due, naming ``actor`` when a
    command's completion brought it; stamp the definitions version."""
    due = awards_due(
        catalogue.certifications.values(), catalogue.courses, learner.completions, learner.awards
    )
    for award in due:
        learner.awards.append(award)
        learner.outbox.append(OutboxEntry.of(award_event(award, now, actor)))
    learner.catalogue_version = catalogue.definitions_version
    return list(due)


class AwardSettling:
    """Recomputes the awards of learners computed under an older catalogue."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        service: str = SERVICE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.service = service
        self.clock = clock
        self.wake = asyncio.Event()
        # The definitions version at which the last pass found no stale learner.
        self._settled_at: int | None = None

    def definitions_added(self) -> None:
        """A course or certification was defined: a pass runs soon."""
        self.wake.set()

    async def awards_current(self) -> bool:
        """Whether the last pass left every learner computed under the current catalogue
        (for ``/readyz``; one lookup by ``_id``)."""
        return self._settled_at == await self.store.definitions_version()

    async def learners_written(self, catalogue_version: int) -> None:
        """After writing learners computed under ``catalogue_version``: if a definition was
        added since, they may be stale, and a pass runs soon."""
        if await self.store.definitions_version() != catalogue_version:
            self._settled_at = None
            self.wake.set()

    async def settle_stale_learners(self) -> int:
        """Recompute the learners computed under an older catalogue, a chunk at a time, until
        none is left; return how many changed."""
        settled = 0
        while (count := await self._settle_chunk()) is not None:
            settled += count
        return settled

    async def _settle_chunk(self) -> int | None:
        """Recompute up to :data:`SETTLE_CHUNK` stale learners; how many were written, or
        None when there were none (the catalogue's version is then settled). A learner
        another writer changed meanwhile is found again by the next chunk if still stale."""
        catalogue = await self.store.load_catalogue()
        stale = await self.store.stale_learners(catalogue.definitions_version, SETTLE_CHUNK)
        if not stale:
            self._settled_at = catalogue.definitions_version
            return None
        now = self.clock()
        added: dict[str, list[OutboxEntry]] = {}
        for learner in stale:
            already = len(learner.outbox)
            settle_learner(learner, catalogue, now)
            added[learner.key] = learner.outbox[already:]
        lost = await self.store.save_learners(stale)
        if lost:
            WRITE_CONFLICTS.labels(self.service, LEARNERS).inc(len(lost))
            await asyncio.sleep(CONFLICT_PAUSE_SECONDS)
        await self.publisher.publish(
            LEARNERS, {k: v for k, v in added.items() if k not in lost and v}
        )
        return len(stale) - len(lost)

    async def keep_learners_settled(self, interval: float = 5.0) -> None:
        """Until cancelled: :meth:`settle_stale_learners` whenever woken, and whenever the
        catalogue's version, read every ``interval`` seconds, is not the one the last pass
        settled. A failed pass is logged and tried again at the next wake or interval."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=interval)
            woken = self.wake.is_set()
            self.wake.clear()
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
