"""The transactional outbox, with single-document writes only (FerretDB has no transactions).

A service that must publish an event *because* it changed a document stores
the event **inside that document**, in an ``outbox`` array, in the same write
that changes the document. That write is the commit point: once it is
acknowledged, the event is as durable as the change. Afterwards the event is
published to Kafka (awaited), and only then removed from the document. A
crash in between leaves it in the outbox; :meth:`Outbox.publish_pending`
publishes it (at start-up, and every :data:`SWEEP_SECONDS` in
:meth:`Outbox.relay`, for what a replica that did not come back left). An
entry may therefore reach Kafka twice — always as the same CloudEvent, same
``id`` — and readers de-duplicate on the id.

Finding what is pending means reading every document of a collection (on
FerretDB any query but one by ``_id`` does), so the relay does that only
that rarely. In between it publishes the documents it knows to hold
entries, looked up by ``_id``: those whose publish failed (Kafka down;
:meth:`Outbox.publish` marks them) and those a writer marks
(:meth:`Outbox.mark`).

Removal uses ``$pullAll`` with the exact entries: FerretDB v1 accepts a
conditional ``$pull`` but does not apply it.

Stored form (:func:`encode_outbox`): ``outbox`` holds one ``{"id": …}``
element per entry, which is what says an entry is pending and what
``$pullAll`` removes; the events themselves are one zlib-compressed JSON
field beside it, ``outbox_events``, rewritten with the document's outbox
(after a ``$pullAll`` it may still hold removed events until then).
FerretDB decodes a stored document field by field at every read and
update, so the events stay out of the fields it decodes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bson import Binary
from faststream.kafka import KafkaBroker
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent
from shared.failpoints import failpoint
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from shared.mongo import Document, bulk_write_chunked, find_by_ids, write_lock
from shared.periodic import every

log = logging.getLogger("partnerhub.outbox")
FIELD = "outbox"
#: How often :meth:`Outbox.relay` reads every document for pending entries.
SWEEP_SECONDS = 60.0


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


EVENTS = "outbox_events"
#: zlib level of ``outbox_events``: the fastest.
COMPRESSION = 1
#: A projection that leaves a document's outbox out (for listings: only the relay reads it).
WITHOUT_OUTBOX: Document = {FIELD: 0, EVENTS: 0}


def encode_outbox(entries: Iterable[OutboxEntry]) -> Document:
    """A document's outbox as stored: ``{"outbox": [{"id": …}, …], "outbox_events": …}``."""
    entries = list(entries)
    events = [[e.id, e.type, e.topic, e.key, e.value] for e in entries]
    text = json.dumps(events, separators=(",", ":"), ensure_ascii=False)
    return {
        FIELD: _ids(entries),
        EVENTS: Binary(zlib.compress(text.encode(), COMPRESSION)) if entries else None,
    }


def decode_outbox(doc: Mapping[str, Any]) -> list[OutboxEntry]:
    """The pending entries of a stored document (see the module's docstring)."""
    stored = doc.get(EVENTS)
    events = (
        {row[0]: OutboxEntry(*row) for row in json.loads(zlib.decompress(stored))} if stored else {}
    )
    entries = []
    for item in doc.get(FIELD) or []:
        if item["id"] in events:
            entries.append(events[item["id"]])
        else:
            raise ValueError(
                f"document {doc.get('_id')!r}: outbox entry {item['id']!r} has no event in {EVENTS}"
            )
    return entries


def _ids(entries: Iterable[OutboxEntry]) -> list[Document]:
    return [{"id": e.id} for e in entries]


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
        # Documents known to hold entries not published yet, by collection name, each with
        # the number of its latest marking (a document marked again while its entries are
        # being published stays marked).
        self._marked: dict[str, dict[Any, int]] = {name: {} for name in self.collections}
        self._markings = itertools.count(1)
        self._last_sweep = time.monotonic()

    def marking(self) -> int:
        """A number greater than every marking so far and smaller than any later one."""
        return next(self._markings)

    def mark(self, collection: str, doc_ids: Iterable[Any]) -> None:
        """The documents hold entries to publish: the relay's next round looks them up."""
        marked = self._marked[collection]
        for doc_id in doc_ids:
            marked[doc_id] = next(self._markings)

    async def publish(
        self,
        collection: AsyncCollection[Document],
        outboxes: Mapping[Any, list[OutboxEntry]],
        *,
        remove: bool = True,
        read_before: int | None = None,
    ) -> int:
        """Publish each document's entries (awaited), then remove them from the documents.

        With ``remove=False`` the caller removes them later (:meth:`remove`, or
        by writing the document again without them): until then a crash
        leaves them to be published once more, as the same events.

        ``read_before`` says that ``outboxes`` hold every entry the documents had
        when read, and when that was (:meth:`marking` taken before reading them):
        once published, those documents are no longer marked, unless marked
        since. Without it (a writer publishing only what it just added) marks
        stay for the relay, which reads the documents.
        """
        entries = [(doc_id, e) for doc_id, outbox in outboxes.items() for e in outbox]
        if not entries:
            return 0
        try:
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
        except BaseException:
            if collection.name in self._marked:
                self.mark(
                    collection.name, (doc_id for doc_id, outbox in outboxes.items() if outbox)
                )
            raise
        failpoint(f"{self.service}_after_publish")
        for _, entry in entries:
            EVENTS_PUBLISHED.labels(self.service, entry.topic, entry.type).inc()
        if read_before is not None:
            marked = self._marked.get(collection.name, {})
            for doc_id in outboxes:
                if marked.get(doc_id, read_before) < read_before:
                    del marked[doc_id]
        if remove:
            await self.remove(collection, outboxes)
        return len(entries)

    async def remove(
        self, collection: AsyncCollection[Document], outboxes: Mapping[Any, list[OutboxEntry]]
    ) -> None:
        """Remove published entries from their documents (``$pullAll`` of their ids)."""
        async with write_lock(collection):
            await bulk_write_chunked(
                collection,
                [
                    UpdateOne(
                        {"_id": doc_id},
                        {"$pullAll": {FIELD: _ids(outbox)}},
                    )
                    for doc_id, outbox in outboxes.items()
                    if outbox
                ],
            )

    async def pending(self) -> dict[str, dict[Any, list[OutboxEntry]]]:
        """Every entry not yet acknowledged, by collection and document."""
        found: dict[str, dict[Any, list[OutboxEntry]]] = {}
        for name, collection in self.collections.items():
            query = {f"{FIELD}.id": {"$exists": True}}
            async for doc in collection.find(query, {FIELD: 1, EVENTS: 1}):
                if doc.get(FIELD):
                    found.setdefault(name, {})[doc["_id"]] = decode_outbox(doc)
        return found

    async def publish_pending(self) -> int:
        """Publish what an earlier crash, or Kafka being down, left behind (a read of every
        document of the collections)."""
        async with self._lock:
            before = self.marking()
            pending = await self.pending()
            backlog = sum(len(v) for docs in pending.values() for v in docs.values())
            OUTBOX_BACKLOG.labels(self.service).set(backlog)
            count = 0
            for name, outboxes in pending.items():
                count += await self.publish(self.collections[name], outboxes, read_before=before)
            # What this read found and could not publish (until the next such read).
            OUTBOX_BACKLOG.labels(self.service).set(backlog - count)
            if count:
                log.info("published %d outbox events left behind", count)
            return count

    async def publish_marked(self) -> int:
        """Publish the entries of the documents marked (:meth:`mark`, or a failed publish),
        looked up by ``_id``; a document whose publish fails again stays marked."""
        async with self._lock:
            count = 0
            for name, marked in self._marked.items():
                if not marked:
                    continue
                before = self.marking()
                taken = list(marked)
                found = await find_by_ids(self.collections[name], taken, {FIELD: 1, EVENTS: 1})
                outboxes = {
                    doc_id: decode_outbox(doc) for doc_id, doc in found.items() if doc.get(FIELD)
                }
                count += await self.publish(self.collections[name], outboxes, read_before=before)
                for doc_id in taken:  # found with nothing to publish: unmarked too
                    if marked.get(doc_id, before) < before:
                        del marked[doc_id]
            return count

    async def backlog(self) -> int:
        """Every entry not yet acknowledged (a read of every document of the collections)."""
        pending = await self.pending()
        return sum(len(v) for docs in pending.values() for v in docs.values())

    async def known_backlog(self) -> int:
        """The entries waiting in the documents this process knows to hold some (marked),
        looked up by ``_id``: cheap enough for every readiness probe. What a crash left
        in other documents counts once a sweep has tried and failed to publish it."""
        count = 0
        for name, marked in self._marked.items():
            if marked:
                found = await find_by_ids(self.collections[name], list(marked), {FIELD: 1})
                count += sum(len(doc.get(FIELD) or []) for doc in found.values())
        return count

    async def publish_due(self, sweep: float = SWEEP_SECONDS) -> int:
        """One round of a relay: every document's entries when the last such read is
        ``sweep`` seconds old (counted from this outbox's creation, start-up having read
        them), then the marked documents'."""
        count = 0
        if time.monotonic() - self._last_sweep >= sweep:
            self._last_sweep = time.monotonic()
            count += await self.publish_pending()
        return count + await self.publish_marked()

    async def relay(self, interval: float = 2.0, sweep: float = SWEEP_SECONDS) -> None:
        """Until cancelled: every ``interval`` s the marked documents' entries (Kafka may
        come back later), every ``sweep`` s every document's."""
        await every(interval, lambda: self.publish_due(sweep), what="outbox relay", log=log)
