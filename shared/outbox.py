"""The transactional outbox, and the one way every service publishes its events.

**The outbox.** A service that must publish an event *because* it changed a
document stores the event **inside that document**, in an ``outbox`` array,
in the same write that changes the document (FerretDB has no transactions:
single-document writes only). That write is the commit point: once it is
acknowledged, the event is as durable as the change. The event is then
published to Kafka (awaited) and only then removed from the document. A
crash in between leaves it in the outbox, to be published again: an entry may
reach Kafka twice, always as the same CloudEvent (same ``id``), and readers
de-duplicate on the id.

**One rule for publishing** (:class:`Publisher`, which :class:`Outbox`
implements for every service):

- *A command hands over*: once its write is acknowledged it calls
  ``publish_soon(collection, [doc_id])`` and answers. That marks the
  document and wakes the relay, which publishes the document's entries and
  removes them. An answer never waits for Kafka, and Kafka being down delays
  events without failing commands.
- *A consumer publishes what it holds*: ``await publish(collection,
  outboxes)`` with the entries its batch just stored, before the batch's
  offsets are committed (so its events have left before the input that
  caused them is acknowledged), from memory, without reading the documents
  back. A failure fails the batch, which is delivered again; the documents
  stay marked for the relay meanwhile. With ``remove=False`` the caller
  removes the entries later (:meth:`Outbox.remove`, or by writing the
  document again without them); until then they are *in hand*, and the relay
  does not publish them again.

**The relay** (:meth:`Outbox.run`, one background task in every service that
has commands): woken by ``publish_soon``, else every ``interval`` seconds, it
publishes the marked documents' entries (documents handed over, and those
whose publish failed), looked up by ``_id``. Finding what else is pending
means reading every document of the collections (on FerretDB any query but
one by ``_id`` does), so :meth:`Outbox.publish_pending` does that only at
start-up, before the service serves, and every :data:`SWEEP_SECONDS` (what a
crash, or a replica that did not come back, left behind). A service whose
consumer leaves published entries in its documents for a while
(``remove=False``) sweeps at start-up only (``sweep=None``): a periodic sweep
would publish the entries another replica holds again, and remove them from
documents that replica is writing (:func:`shared.mongo.write_lock`). Because
one task does a process's relaying, a command's entry is not published twice
by two writers of that process.

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
import contextlib
import itertools
import json
import logging
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bson import Binary
from faststream.kafka import KafkaBroker
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent
from shared.failpoints import failpoint
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from shared.mongo import Document, bulk_write_chunked, find_by_ids, write_lock

log = logging.getLogger("partnerhub.outbox")
FIELD = "outbox"
#: How often the relay publishes the marked documents when nothing wakes it.
RELAY_INTERVAL_SECONDS = 2.0
#: How often the relay reads every document for pending entries.
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


#: Outbox entries by the ``_id`` of the document whose outbox holds them.
Outboxes = Mapping[Any, Sequence[OutboxEntry]]


class Publisher(Protocol):
    """How a service publishes what it stored in its documents' outboxes: commands hand
    over with :meth:`publish_soon`, consumers publish what they hold with :meth:`publish`
    (see the module's docstring). Collections are named as stored."""

    def publish_soon(self, collection: str, doc_ids: Iterable[Any]) -> None:
        """A command has stored entries in these documents of ``collection``: the relay
        publishes and removes them soon. Never waits, never fails on Kafka."""
        ...

    async def publish(self, collection: str, outboxes: Outboxes, *, remove: bool = True) -> None:
        """Publish the entries in hand (awaited, to Kafka's acknowledgement), then remove
        them from their documents; raises when Kafka does not take them (the documents
        stay marked for the relay). ``remove=False``: the caller removes them later."""
        ...

    async def remove(self, collection: str, outboxes: Outboxes) -> None:
        """Remove published entries from their documents."""
        ...

    async def publish_pending(self) -> int:
        """Publish every entry any document holds (a read of every document): at start-up,
        before serving, what a crash left behind. Returns how many were published."""
        ...

    async def known_backlog(self) -> int:
        """Entries waiting in the documents known to hold some (for readiness)."""
        ...

    async def run(self) -> None:
        """The relay, until cancelled (``service_app(background=[...])``)."""
        ...


class Outbox:
    """The :class:`Publisher` of a service: its collections' outboxes, and Kafka."""

    def __init__(
        self,
        broker: KafkaBroker,
        service: str,
        collections: Sequence[AsyncCollection[Document]],
        *,
        interval: float = RELAY_INTERVAL_SECONDS,
        sweep: float | None = SWEEP_SECONDS,
    ) -> None:
        self.broker = broker
        self.service = service
        self.collections = {c.name: c for c in collections}
        self.interval = interval
        self.sweep = sweep
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        # Documents known to hold entries not published yet, by collection name, each with
        # the number of its latest marking (a document marked again while its entries are
        # being published stays marked).
        self._marked: dict[str, dict[Any, int]] = {name: {} for name in self.collections}
        # Entries published with remove=False, by collection and document: what the latest
        # such publish of the document left in it, with that publish's marking number.
        self._in_hand: dict[str, dict[Any, tuple[int, frozenset[str]]]] = {
            name: {} for name in self.collections
        }
        self._markings = itertools.count(1)
        self._last_sweep = time.monotonic()

    def marking(self) -> int:
        """A number greater than every marking so far and smaller than any later one."""
        return next(self._markings)

    def _mark(self, collection: str, doc_ids: Iterable[Any]) -> None:
        marked = self._marked[collection]
        for doc_id in doc_ids:
            marked[doc_id] = next(self._markings)

    # ----------------------------------------------------------------- the Publisher

    def publish_soon(self, collection: str, doc_ids: Iterable[Any]) -> None:
        self._mark(collection, doc_ids)
        self._wake.set()

    async def publish(self, collection: str, outboxes: Outboxes, *, remove: bool = True) -> None:
        await self._send(collection, outboxes, remove=remove, read_before=None)

    async def remove(self, collection: str, outboxes: Outboxes) -> None:
        """Remove published entries from their documents (``$pullAll`` of their ids)."""
        operations = [
            UpdateOne({"_id": doc_id}, {"$pullAll": {FIELD: _ids(outbox)}})
            for doc_id, outbox in outboxes.items()
            if outbox
        ]
        if operations:
            stored = self.collections[collection]
            async with write_lock(stored):
                await bulk_write_chunked(stored, operations)
        in_hand = self._in_hand[collection]
        for doc_id, outbox in outboxes.items():
            held = in_hand.get(doc_id)
            if held is not None:
                left = held[1] - {e.id for e in outbox}
                if left:
                    in_hand[doc_id] = (held[0], left)
                else:
                    del in_hand[doc_id]

    async def _send(
        self, collection: str, outboxes: Outboxes, *, remove: bool, read_before: int | None
    ) -> int:
        """Publish (awaited), count, unmark what was read before ``read_before``, then
        remove, or keep in hand; returns how many entries were published."""
        entries = [entry for outbox in outboxes.values() for entry in outbox]
        if entries:
            try:
                confirmations = [
                    await self.broker.publish(
                        entry.value.encode(),
                        entry.topic,
                        key=entry.key.encode(),
                        headers={"content-type": CLOUDEVENTS_CONTENT_TYPE},
                        no_confirm=True,
                    )
                    for entry in entries
                ]
                await asyncio.gather(*confirmations)
            except BaseException:
                self._mark(collection, (doc_id for doc_id, outbox in outboxes.items() if outbox))
                raise
            failpoint(f"{self.service}_after_publish")
            for entry in entries:
                EVENTS_PUBLISHED.labels(self.service, entry.topic, entry.type).inc()
        if read_before is not None:
            marked = self._marked[collection]
            for doc_id in outboxes:
                if marked.get(doc_id, read_before) < read_before:
                    del marked[doc_id]
        if remove:
            await self.remove(collection, outboxes)
        elif entries:
            published = self.marking()
            for doc_id, outbox in outboxes.items():
                if outbox:
                    self._in_hand[collection][doc_id] = (published, frozenset(e.id for e in outbox))
        return len(entries)

    # ----------------------------------------------------------------- the relay

    async def publish_read(self, collection: str, outboxes: Outboxes, read_before: int) -> int:
        """Publish and remove what the relay read: every entry ``outboxes`` hold (each
        document's whole outbox, read after :meth:`marking` gave ``read_before``) but
        those in hand. Those documents are then no longer marked, unless marked since."""
        fresh = self._not_in_hand(collection, outboxes, read_before)
        return await self._send(collection, fresh, remove=True, read_before=read_before)

    def _not_in_hand(
        self, collection: str, outboxes: Outboxes, read_before: int
    ) -> dict[Any, list[OutboxEntry]]:
        """``outboxes`` without the entries in hand; forgets the entries in hand before
        ``read_before`` that these documents no longer hold (removed by a rewrite)."""
        in_hand = self._in_hand[collection]
        fresh: dict[Any, list[OutboxEntry]] = {}
        for doc_id, outbox in outboxes.items():
            held = in_hand.get(doc_id)
            if held is None:
                fresh[doc_id] = list(outbox)
                continue
            since, ids = held
            fresh[doc_id] = [e for e in outbox if e.id not in ids]
            if since < read_before:
                stored = ids & {e.id for e in outbox}
                if stored:
                    in_hand[doc_id] = (since, stored)
                else:
                    del in_hand[doc_id]
        return fresh

    async def pending(self) -> dict[str, dict[Any, list[OutboxEntry]]]:
        """Every entry not yet removed, by collection and document (a read of every
        document of the collections)."""
        found: dict[str, dict[Any, list[OutboxEntry]]] = {}
        for name, collection in self.collections.items():
            query = {f"{FIELD}.id": {"$exists": True}}
            async for doc in collection.find(query, {FIELD: 1, EVENTS: 1}):
                if doc.get(FIELD):
                    found.setdefault(name, {})[doc["_id"]] = decode_outbox(doc)
        return found

    async def publish_pending(self) -> int:
        async with self._lock:
            before = self.marking()
            pending = await self.pending()
            fresh: dict[str, dict[Any, list[OutboxEntry]]] = {}
            for name, in_hand in self._in_hand.items():
                outboxes = pending.get(name, {})
                # Entries in hand in a document that holds none any more were removed.
                for doc_id in [d for d, (since, _) in in_hand.items() if since < before]:
                    if doc_id not in outboxes:
                        del in_hand[doc_id]
                fresh[name] = self._not_in_hand(name, outboxes, before)
            backlog = sum(len(v) for docs in fresh.values() for v in docs.values())
            OUTBOX_BACKLOG.labels(self.service).set(backlog)
            count = 0
            for name, outboxes in fresh.items():
                count += await self._send(name, outboxes, remove=True, read_before=before)
            # What this read found and could not publish (until the next such read).
            OUTBOX_BACKLOG.labels(self.service).set(backlog - count)
            if count:
                log.info("published %d outbox events left behind", count)
            return count

    async def publish_marked(self) -> int:
        """Publish the entries of the marked documents (handed over, or whose publish
        failed), looked up by ``_id``; a document whose publish fails again stays marked."""
        async with self._lock:
            count = 0
            for name, marked in self._marked.items():
                if not marked:
                    continue
                before = self.marking()
                taken = list(marked)
                found = await find_by_ids(self.collections[name], taken, {FIELD: 1, EVENTS: 1})
                outboxes = {
                    doc_id: decode_outbox(found[doc_id]) if doc_id in found else []
                    for doc_id in taken
                }
                count += await self.publish_read(name, outboxes, before)
            return count

    async def backlog(self) -> int:
        """Every entry not yet removed (a read of every document of the collections)."""
        pending = await self.pending()
        return sum(len(v) for docs in pending.values() for v in docs.values())

    async def known_backlog(self) -> int:
        """The entries waiting in the documents this process knows to hold some (marked),
        looked up by ``_id``, those in hand left out: cheap enough for every readiness
        probe. What a crash left in other documents counts once a sweep has tried and
        failed to publish it."""
        count = 0
        for name, marked in self._marked.items():
            if marked:
                found = await find_by_ids(self.collections[name], list(marked), {FIELD: 1})
                held = self._in_hand[name]
                for doc_id, doc in found.items():
                    in_hand = held[doc_id][1] if doc_id in held else frozenset()
                    count += sum(1 for item in doc.get(FIELD) or [] if item["id"] not in in_hand)
        return count

    async def publish_due(self) -> int:
        """One round of the relay: every document's entries when the last such read is
        :attr:`sweep` seconds old (counted from this outbox's creation, start-up having
        read them; never with ``sweep=None``), then the marked documents'."""
        count = 0
        if self.sweep is not None and time.monotonic() - self._last_sweep >= self.sweep:
            self._last_sweep = time.monotonic()
            count += await self.publish_pending()
        return count + await self.publish_marked()

    async def run(self) -> None:
        """The relay, until cancelled: a round (:meth:`publish_due`) as soon as
        :meth:`publish_soon` wakes it, else every :attr:`interval` seconds (Kafka may
        have come back); a failed round is logged and tried again after the interval."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.publish_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay: %s; retrying in %.0f s", exc, self.interval)
                await asyncio.sleep(self.interval)
