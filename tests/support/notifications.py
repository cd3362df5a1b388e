"""What the notifications unit tests share: the service's store in memory
(:class:`InMemoryNotificationsStore`), Kafka records as the consumer gets them
(:class:`Records`), a clock the test moves (:class:`Clock`) and a resolver answering
what the test says (:class:`FakeResolver`).

The store keeps its documents in the form :class:`~services.notifications.store.
NotificationsStore` writes them, with the same semantics (insert once by ``_id``, queue
entries written before deliveries and emails, ``$set`` upserts, sorting and
projections), and hands out copies, as a database does: a caller changing a document it
read changes nothing stored.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifications.domain import Person
from services.notifications.store import (
    PARKED,
    PENDING,
    Store,
    iso,
    mail_entry,
    queue_entry,
)
from shared.consuming import Consumed
from shared.events import PAYLOADS, parse_event
from shared.mongo import Document
from tests.support.events import DATA, envelope

COLLECTIONS = (
    "webhooks",
    "deliveries",
    "queue",
    "people",
    "preferences",
    "expiring",
    "emails",
    "mail_queue",
)


class CrashBetweenWrites(Exception):
    """What :attr:`InMemoryNotificationsStore.crash_after_queue` makes a queueing raise,
    after the queue's write and before the deliveries' (or the emails')."""


def _copy(doc: Document) -> Document:
    return copy.deepcopy(doc)


def _without(doc: Document, excluded: str) -> Document:
    return {k: copy.deepcopy(v) for k, v in doc.items() if k != excluded}


class InMemoryNotificationsStore:
    """:class:`~services.notifications.store.Store` in memory.

    ``crash_after_queue`` makes the next :meth:`queue_deliveries` or :meth:`queue_emails`
    stop between its two writes (the queue's entries written, the documents not), as a
    process killed there would.
    """

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, Document]] = {name: {} for name in COLLECTIONS}
        self.crash_after_queue = False

    def __getitem__(self, collection: str) -> dict[str, Document]:
        """The documents of ``collection`` by ``_id`` (the stored ones: read, don't write)."""
        return self.collections[collection]

    def _insert_new(self, collection: str, docs: Iterable[Document]) -> int:
        stored = self.collections[collection]
        new = 0
        for doc in docs:
            if doc["_id"] not in stored:
                stored[doc["_id"]] = _copy(doc)
                new += 1
        return new

    def _upsert(self, collection: str, docs: Iterable[Document]) -> None:
        stored = self.collections[collection]
        for doc in docs:
            target = stored.setdefault(doc["_id"], {"_id": doc["_id"]})
            target.update({k: copy.deepcopy(v) for k, v in doc.items() if k != "_id"})

    def _crash_if_told(self) -> None:
        if self.crash_after_queue:
            self.crash_after_queue = False
            raise CrashBetweenWrites("killed between the queue's write and the documents'")

    # ---------------------------------------------------------------- webhooks

    async def add_webhook(self, doc: Document) -> bool:
        return self._insert_new("webhooks", [doc]) == 1

    async def webhook(self, webhook_id: str) -> Document | None:
        doc = self.collections["webhooks"].get(webhook_id)
        return None if doc is None else _copy(doc)

    async def webhooks(self) -> list[Document]:
        docs = sorted(self.collections["webhooks"].values(), key=lambda d: d["created_at"])
        return [_copy(d) for d in docs]

    async def set_webhook_status(self, webhook_id: str, status: str) -> Document | None:
        doc = self.collections["webhooks"].get(webhook_id)
        if doc is not None:
            doc["status"] = status
        return await self.webhook(webhook_id)

    async def delete_webhook(self, webhook_id: str) -> bool:
        deleted = self.collections["webhooks"].pop(webhook_id, None) is not None
        for name in ("queue", "deliveries"):
            stored = self.collections[name]
            for doc_id in [i for i, d in stored.items() if d["webhook_id"] == webhook_id]:
                del stored[doc_id]
        return deleted

    # ---------------------------------------------------------------- deliveries

    async def queue_deliveries(self, deliveries: Sequence[Document]) -> int:
        self._insert_new("queue", [queue_entry(d) for d in deliveries])
        self._crash_if_told()
        return self._insert_new("deliveries", deliveries)

    async def queue(self) -> list[Document]:
        return [_copy(d) for d in self.collections["queue"].values()]

    async def deliveries(self, ids: Iterable[str]) -> dict[str, Document]:
        stored = self.collections["deliveries"]
        return {i: _copy(stored[i]) for i in ids if i in stored}

    async def record_attempt(
        self, delivery_id: str, attempt: Document, update: Document, *, queued: Document | None
    ) -> None:
        doc = self.collections["deliveries"].get(delivery_id)
        if doc is not None:
            doc.update(copy.deepcopy(update))
            doc.setdefault("attempts", []).append(_copy(attempt))
        queue = self.collections["queue"]
        if queued is None:
            queue.pop(delivery_id, None)
        elif delivery_id in queue:
            queue[delivery_id].update(copy.deepcopy(queued))

    async def drop_queued(self, ids: Iterable[str]) -> None:
        for doc_id in ids:
            self.collections["queue"].pop(doc_id, None)

    async def deliveries_of(
        self, webhook_id: str, status: str | None, limit: int, before: str | None
    ) -> list[Document]:
        found = [
            d
            for d in self.collections["deliveries"].values()
            if d["webhook_id"] == webhook_id
            and (status is None or d["status"] == status)
            and (before is None or d["seq"] < before)
        ]
        found.sort(key=lambda d: d["seq"], reverse=True)
        return [_without(d, "body") for d in found[:limit]]

    async def parked_of(self, webhook_id: str) -> list[Document]:
        return [
            _without(d, "body")
            for d in self.collections["deliveries"].values()
            if d["webhook_id"] == webhook_id and d["status"] == PARKED
        ]

    async def requeue(self, deliveries: Sequence[Document], now: datetime) -> None:
        at = iso(now)
        self._insert_new("queue", [queue_entry({**d, "next_attempt_at": at}) for d in deliveries])
        stored = self.collections["deliveries"]
        for d in deliveries:
            doc = stored.get(d["_id"])
            if doc is not None:
                doc.update(
                    {
                        "status": PENDING,
                        "next_attempt_at": at,
                        "first_attempt_at": None,
                        "failures": 0,
                        "replays": d.get("replays", 0) + 1,
                    }
                )

    # ---------------------------------------------------------------- people

    async def put_people(self, people: Sequence[Document]) -> None:
        self._upsert("people", people)

    async def people(self) -> list[Person]:
        stored = self.collections["people"]
        return [
            Person(doc["address"], doc.get("partner_id"), bool(doc.get("manager")))
            for doc in (stored[i] for i in sorted(stored))
        ]

    async def preferences(self) -> dict[str, frozenset[str]]:
        return {
            doc["_id"]: frozenset(doc.get("unsubscribed", ()))
            for doc in self.collections["preferences"].values()
        }

    async def unsubscribed_of(self, address: str) -> frozenset[str]:
        doc = self.collections["preferences"].get(address)
        return frozenset(doc.get("unsubscribed", ())) if doc else frozenset()

    async def set_unsubscribed(self, address: str, kinds: Iterable[str]) -> None:
        self._upsert("preferences", [{"_id": address, "unsubscribed": sorted(set(kinds))}])

    # ---------------------------------------------------------------- expiring things

    async def put_expiring(self, docs: Sequence[Document]) -> None:
        self._upsert("expiring", docs)

    async def extend_expiring(self, key: str, ends_at: datetime) -> None:
        doc = self.collections["expiring"].get(key)
        if doc is not None and doc["ends_at"] < iso(ends_at):
            doc["ends_at"] = iso(ends_at)

    async def drop_expiring(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.collections["expiring"].pop(key, None)

    async def ending_between(self, start: datetime, end: datetime) -> list[Document]:
        low, high = iso(start), iso(end)
        return [
            _copy(d) for d in self.collections["expiring"].values() if low <= d["ends_at"] <= high
        ]

    # ---------------------------------------------------------------- emails

    async def queue_emails(self, emails: Sequence[Document]) -> int:
        self._insert_new("mail_queue", [mail_entry(e) for e in emails])
        self._crash_if_told()
        return self._insert_new("emails", emails)

    async def mail_queue(self) -> list[Document]:
        return [_copy(d) for d in self.collections["mail_queue"].values()]

    async def emails_by_id(self, ids: Iterable[str]) -> dict[str, Document]:
        stored = self.collections["emails"]
        return {i: _copy(stored[i]) for i in ids if i in stored}

    async def record_email(
        self, email_id: str, update: Document, *, queued: Document | None
    ) -> None:
        doc = self.collections["emails"].get(email_id)
        if doc is not None:
            doc.update(copy.deepcopy(update))
        queue = self.collections["mail_queue"]
        if queued is None:
            queue.pop(email_id, None)
        elif email_id in queue:
            queue[email_id].update(copy.deepcopy(queued))

    async def emails(
        self, partner_id: str | None, kind: str | None, audience: str | None, limit: int
    ) -> list[Document]:
        found = [
            d
            for d in self.collections["emails"].values()
            if (audience is None or d["audience"] == audience)
            and (partner_id is None or d["partner_id"] == partner_id)
            and (kind is None or d["kind"] == kind)
        ]
        found.sort(key=lambda d: d["created_at"], reverse=True)
        return [_without(d, "html") for d in found[:limit]]


def _is_a_store(store: InMemoryNotificationsStore) -> Store:
    return store  # mypy checks here that the fake implements the Protocol


# --------------------------------------------------------------------------- time


@dataclass
class Clock:
    """The service's clock in a test: stands still until moved."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


# --------------------------------------------------------------------------- name resolution


@dataclass
class FakeResolver:
    """A :data:`~services.notifications.webhooks.Resolver` answering from ``addresses``
    (host → addresses), a public address for any other host, or raising what ``failures``
    gives for the host; every question asked is kept in ``asked``."""

    addresses: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)
    default: tuple[str, ...] = ("93.184.216.34",)
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host in self.failures:
            raise self.failures[host]
        return list(self.addresses.get(host, self.default))


#: What ``getaddrinfo`` raises for a name IDNA cannot encode (an empty or too long label).
IDNA_FAILURE = UnicodeError(
    "encoding with 'idna' codec failed (UnicodeError: label empty or too long)"
)


# --------------------------------------------------------------------------- Kafka records


@dataclass(frozen=True, slots=True)
class Record:
    """What the consumer reads of an aiokafka ``ConsumerRecord``."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # milliseconds since the epoch, as Kafka's
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def event(event_type: str, partner_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A whole CloudEvent (JSON object) of ``event_type``: the example data of
    :data:`tests.support.events.DATA` with ``partner_id`` and ``fields`` over it."""
    data = copy.deepcopy(DATA[event_type])
    if partner_id is not None:
        data["partner_id"] = partner_id
    data.update(fields)
    return envelope(event_type, data)


class Records:
    """Writes events to a pretend Kafka: each gets the next offset of its topic's
    partition 0, and the time it was written (``at``, default the clock's now)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.offsets: dict[str, itertools.count[int]] = {}

    def record(self, whole: dict[str, Any], *, at: datetime | None = None) -> Record:
        topic = PAYLOADS[whole["type"]].kafka_topic
        offset = next(self.offsets.setdefault(topic, itertools.count()))
        when = at if at is not None else self.clock()
        return Record(
            topic=topic,
            partition=0,
            offset=offset,
            timestamp=int(when.timestamp() * 1000),
            key=whole["subject"].encode(),
            value=json.dumps(whole).encode(),
        )

    def batch(self, *events: dict[str, Any], at: datetime | None = None) -> list[Consumed]:
        """``events`` as the consumer's handler gets them, in order."""
        consumed = []
        for whole in events:
            record = self.record(whole, at=at)
            consumed.append(Consumed(record, parse_event(record.value, topic=record.topic)))
        return consumed
