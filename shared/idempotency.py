"""Processed CloudEvent ids: the de-duplication half of exactly-once effect (SPEC §3).

Kafka delivers at least once, so a consumer sees some events again after a
crash or a rebalance. A consumer asks :meth:`ProcessedEvents.unseen` which ids
of a batch it has not applied yet, applies their effect, then records them
with :meth:`ProcessedEvents.record`. The order matters: recording first would
lose an event if the process died before its effect was stored; recording
after means a crash in between re-applies the effect, so that effect must be
conditional itself (an upsert on a revision or version field) and harmless to
repeat. One collection per service; the event id is the document ``_id``, so
the server's unique index does the work and recording twice is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Document, bulk_write_chunked, find_by_ids

COLLECTION = "processed_events"


class ProcessedEvents:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def unseen(self, event_ids: Iterable[str]) -> set[str]:
        """The ids among ``event_ids`` not recorded yet (one round trip)."""
        wanted = set(event_ids)
        if not wanted:
            return set()
        seen = set(await find_by_ids(self._collection, sorted(wanted), {"_id": 1}))
        return wanted - seen

    async def record(self, event_ids: Iterable[str]) -> None:
        """Record ``event_ids`` as applied (one bulk write; repeating it is harmless)."""
        now = datetime.now(UTC)
        operations = [
            UpdateOne({"_id": event_id}, {"$setOnInsert": {"processed_at": now}}, upsert=True)
            for event_id in set(event_ids)
        ]
        if operations:
            await bulk_write_chunked(self._collection, operations)
