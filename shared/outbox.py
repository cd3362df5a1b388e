"""The transactional outbox, with single-document writes only (FerretDB has no transactions).

A service that must publish an event *because* it changed a document stores
the event **inside that document**, in an ``outbox`` array, in the same write
that changes the document. That write is the commit point: once it is
acknowledged, the event is as durable as the change. Afterwards the event is
published to Kafka (awaited), and only then removed from the document. A
crash in between leaves it in the outbox; :meth:`Outbox.publish_pending` (at
start-up, and every few seconds by :meth:`Outbox.relay`) publishes it. An
entry may therefore reach Kafka twice — always as the same CloudEvent, same
``id`` — and readers de-duplicate on the id.

Removal uses ``$pullAll`` with the exact entries: FerretDB v1 accepts a
conditional ``$pull`` but does not apply it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent
from shared.failpoints import failpoint
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from shared.mongo import Document, bulk_write_chunked, write_lock
from shared.periodic import every

log = logging.getLogger("partnerhub.outbox")
FIELD = "outbox"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    type: str
    topic: str
    key: str
    value: str

    @classmethod
    def of(cls, event: CloudEvent[Any]) -> OutboxEntry:
        return cls(event.id, event.type, event.topic, event.subject, event.to_bytes().decode())


def encode_entries(entries: Iterable[OutboxEntry]) -> list[Document]:
    """The stored form; field order is fixed, since ``$pullAll`` matches whole documents."""
    return [
        {"id": e.id, "type": e.type, "topic": e.topic, "key": e.key, "value": e.value}
        for e in entries
    ]


def decode_entries(docs: Iterable[Mapping[str, Any]]) -> list[OutboxEntry]:
    return [OutboxEntry(d["id"], d["type"], d["topic"], d["key"], d["value"]) for d in docs]


class Outbox:
    """Publishes the outbox entries of a service's collections."""

    def __init__(
        self,
        broker: KafkaBroker,
        service: str,
        collections: Sequence[AsyncCollection[Document]],
    ) -> None:
        self.broker = broker
        self.service = service
        self.collections = {c.name: c for c in collections}
        self._lock = asyncio.Lock()

    async def publish(
        self,
        collection: AsyncCollection[Document],
        outboxes: Mapping[Any, list[OutboxEntry]],
        *,
        remove: bool = True,
    ) -> int:
        """Publish each document's entries (awaited), then remove them from the documents.

        With ``remove=False`` the caller removes them later (:meth:`remove`, or
        by writing the document again without them): until then a crash
        leaves them to be published once more, as the same events.
        """
        entries = [(doc_id, e) for doc_id, outbox in outboxes.items() for e in outbox]
        if not entries:
            return 0
        confirmations = [
            await self.broker.publish(
                entry.value.encode(),
                entry.topic,
                key=entry.key.encode(),
                headers={"content-type": CLOUDEVENTS_CONTENT_TYPE},
                no_confirm=True,
            )
            for _, entry in entries
        ]
        await asyncio.gather(*confirmations)
        failpoint(f"{self.service}_after_publish")
        for _, entry in entries:
            EVENTS_PUBLISHED.labels(self.service, entry.topic, entry.type).inc()
        if remove:
            await self.remove(collection, outboxes)
        return len(entries)

    async def remove(
        self, collection: AsyncCollection[Document], outboxes: Mapping[Any, list[OutboxEntry]]
    ) -> None:
        """Remove published entries from their documents (``$pullAll`` of the exact entries)."""
        async with write_lock(collection):
            await bulk_write_chunked(
                collection,
                [
                    UpdateOne({"_id": doc_id}, {"$pullAll": {FIELD: encode_entries(outbox)}})
                    for doc_id, outbox in outboxes.items()
                    if outbox
                ],
            )

    async def pending(self) -> dict[str, dict[Any, list[OutboxEntry]]]:
        """Every entry not yet acknowledged, by collection and document."""
        found: dict[str, dict[Any, list[OutboxEntry]]] = {}
        for name, collection in self.collections.items():
            async for doc in collection.find({f"{FIELD}.id": {"$exists": True}}, {FIELD: 1}):
                if doc.get(FIELD):
                    found.setdefault(name, {})[doc["_id"]] = decode_entries(doc[FIELD])
        return found

    async def publish_pending(self) -> int:
        """Publish what an earlier crash, or Kafka being down, left behind."""
        async with self._lock:
            pending = await self.pending()
            backlog = sum(len(v) for docs in pending.values() for v in docs.values())
            OUTBOX_BACKLOG.labels(self.service).set(backlog)
            count = 0
            for name, outboxes in pending.items():
                count += await self.publish(self.collections[name], outboxes)
            OUTBOX_BACKLOG.labels(self.service).set(backlog - count)
            if count:
                log.info("published %d outbox events left behind", count)
            return count

    async def backlog(self) -> int:
        pending = await self.pending()
        return sum(len(v) for docs in pending.values() for v in docs.values())

    async def relay(self, interval: float = 2.0) -> None:
        """Keep publishing what is left behind until cancelled (Kafka may come back later)."""
        await every(interval, self.publish_pending, what="outbox relay", log=log)
