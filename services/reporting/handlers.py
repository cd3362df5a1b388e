"""What reporting does with a consumed batch: project it into every live generation."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.projection import derive, writes_for
from services.reporting.store import Generation, Writes, generation_state
from shared.consuming import Consumed
from shared.metrics import EVENTS_CONSUMED
from shared.mongo import Document


class Projector:
    """Projects batches into the active generation and, during a rebuild, the one being built."""

    def __init__(self, database: AsyncDatabase[Document], service: str = "reporting") -> None:
        self.database = database
        self.service = service

    async def generations(self) -> list[Generation]:
        state = await generation_state(self.database)
        names = [state.active] + ([state.building] if state.building else [])
        return [Generation(self.database, name) for name in names]

    async def handle(self, batch: list[Consumed]) -> None:
        writes = writes_for(c.event for c in batch)
        # Read at every batch: a rebuild that starts is seen by the next batch.
        for generation in await self.generations():
            await project_into(generation, writes)
        for consumed in batch:
            EVENTS_CONSUMED.labels(
                self.service, consumed.record.topic, consumed.event.type, "processed"
            ).inc()


async def project_into(generation: Generation, writes: Writes) -> None:
    """The batch's upserts (one bulk write per collection), then its partners' lines and
    the derived documents."""
    await generation.apply(writes)
    if writes.partners:
        lifecycle = set(writes.by_collection.get("partners", {}))
        lines = writes.by_collection.get("lines", {})
        await derive(generation, sorted(writes.partners), lines, lifecycle)
