"""The in-memory publisher the service-layer tests share.

:class:`InMemoryPublisher` is a :class:`shared.outbox.Publisher` over the
documents a test's in-memory store keeps in their stored form (the outbox as
:func:`shared.outbox.encode_outbox` writes it), by collection name. It
behaves as the outbox does, without Kafka:

- ``publish_soon`` (a command's hand-over) only records the documents;
  :meth:`InMemoryPublisher.flush` then does what the relay does when woken:
  publishes their entries as stored and removes them. A test that calls
  ``flush`` only where it wants the relay to have run sees that answers do
  not wait for publishing.
- ``await publish(...)`` (a consumer's) publishes the entries given, then
  removes them from their documents, or with ``remove=False`` leaves them to
  the caller's ``remove`` (the relay does not publish them again meanwhile).
- ``down`` makes every publish fail as with Kafka unavailable: hand-overs stay
  for the next ``flush``, entries stay in their documents.

Every entry published is checked against the event contract and recorded,
in order, with its collection and document (:attr:`InMemoryPublisher.sent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from shared.events import CloudEvent, Payload, parse_event
from shared.mongo import Document
from shared.outbox import OutboxEntry, Outboxes, decode_outbox, encode_outbox


@dataclass(frozen=True)
class Sent:
    """One entry published: where it was stored, and the event it is."""

    collection: str
    doc_id: Any
    entry: OutboxEntry
    event: CloudEvent[Payload]

    @property
    def json(self) -> dict[str, Any]:
        """The event as outside systems read it from Kafka."""
        value: dict[str, Any] = json.loads(self.entry.value)
        return value


class KafkaDown(ConnectionError):
    """What a publish raises while the fake's Kafka is ``down``."""


class InMemoryPublisher:
    """:class:`shared.outbox.Publisher` over ``documents`` (collection name → the documents
    by ``_id``, as the in-memory store holds them)."""

    def __init__(self, documents: Mapping[str, MutableMapping[Any, Document]]) -> None:
        self.documents = documents
        self.sent: list[Sent] = []
        self.down = False
        # Documents handed over and not published yet, in order, by collection.
        self.handed_over: dict[str, dict[Any, None]] = {}
        # Entry ids published with remove=False and not removed yet, by collection.
        self.in_hand: dict[str, set[str]] = {}
        self._wake = asyncio.Event()

    # ----------------------------------------------------------------- the Publisher

    def publish_soon(self, collection: str, doc_ids: Iterable[Any]) -> None:
        self.handed_over.setdefault(collection, {}).update(dict.fromkeys(doc_ids))
        self._wake.set()

    async def publish(self, collection: str, outboxes: Outboxes, *, remove: bool = True) -> None:
        if self.down and any(outboxes.values()):
            self.publish_soon(collection, [d for d, entries in outboxes.items() if entries])
            raise KafkaDown("Kafka is not answering")
        self._send(collection, outboxes)
        if remove:
            await self.remove(collection, outboxes)
        else:
            held = self.in_hand.setdefault(collection, set())
            held.update(e.id for entries in outboxes.values() for e in entries)

    async def remove(self, collection: str, outboxes: Outboxes) -> None:
        self._remove(collection, outboxes)

    async def publish_pending(self) -> int:
        """Every entry any document holds but those in hand, as at start-up."""
        return self._publish_stored(
            {name: list(documents) for name, documents in self.documents.items()}
        )

    async def known_backlog(self) -> int:
        return sum(
            len(self._stored(name, doc_id))
            for name, doc_ids in self.handed_over.items()
            for doc_id in doc_ids
        )

    async def run(self) -> None:
        """The relay: :meth:`flush` whenever something is handed over; until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            self.flush()

    # ----------------------------------------------------------------- the relay's step

    def flush(self) -> int:
        """Publish and remove the entries of the documents handed over (raises
        :class:`KafkaDown` while ``down``); returns how many were published."""
        if self.down and any(self.handed_over.values()):
            raise KafkaDown("Kafka is not answering")
        taken = {name: list(doc_ids) for name, doc_ids in self.handed_over.items()}
        self.handed_over = {}
        return self._publish_stored(taken)

    # ----------------------------------------------------------------- what was published

    @property
    def events(self) -> list[CloudEvent[Payload]]:
        return [s.event for s in self.sent]

    @property
    def published(self) -> list[dict[str, Any]]:
        """Every event published, in order, as JSON."""
        return [s.json for s in self.sent]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [s.json for s in self.sent if s.event.type == event_type]

    def about(self, subject: str) -> list[dict[str, Any]]:
        return [s.json for s in self.sent if s.event.subject == subject]

    def types(self, subject: str) -> list[str]:
        return [e["type"] for e in self.about(subject)]

    def pending(self) -> int:
        """Entries still stored in any document (published or not)."""
        return sum(
            len(decode_outbox(doc)) for docs in self.documents.values() for doc in docs.values()
        )

    # ----------------------------------------------------------------- inside

    def _stored(self, collection: str, doc_id: Any) -> list[OutboxEntry]:
        doc = self.documents[collection].get(doc_id)
        held = self.in_hand.get(collection, set())
        return [] if doc is None else [e for e in decode_outbox(doc) if e.id not in held]

    def _publish_stored(self, doc_ids: Mapping[str, Iterable[Any]]) -> int:
        count = 0
        for name, ids in doc_ids.items():
            outboxes = {doc_id: self._stored(name, doc_id) for doc_id in ids}
            count += self._send(name, outboxes)
            self._remove(name, outboxes)
        return count

    def _send(self, collection: str, outboxes: Outboxes) -> int:
        count = 0
        for doc_id, entries in outboxes.items():
            for entry in entries:
                event = parse_event(entry.value, topic=entry.topic)  # valid on its topic
                assert (entry.id, entry.type, entry.key) == (event.id, event.type, event.subject)
                self.sent.append(Sent(collection, doc_id, entry, event))
                count += 1
        return count

    def _remove(self, collection: str, outboxes: Outboxes) -> None:
        if not any(outboxes.values()):
            return
        documents = self.documents[collection]
        held = self.in_hand.get(collection, set())
        for doc_id, entries in outboxes.items():
            gone = {e.id for e in entries}
            held -= gone
            doc = documents.get(doc_id)
            if doc is not None and gone:
                doc.update(encode_outbox([e for e in decode_outbox(doc) if e.id not in gone]))


class ServiceHarness:
    """A service's app through ``TestClient`` with its fakes, answering as the running
    service would: after each command the relay (here :meth:`InMemoryPublisher.flush`)
    publishes what the command handed over. Subclasses set ``client``, ``kafka`` and
    ``admin_key``."""

    client: TestClient
    kafka: InMemoryPublisher
    admin_key: str

    def post(
        self, path: str, body: Any = None, *, key: str | None = None, idempotency: str | None = None
    ) -> Response:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        if idempotency is not None:
            headers["Idempotency-Key"] = idempotency
        answer = self.client.post(path, json=body, headers=headers)
        with contextlib.suppress(KafkaDown):  # the relay tries again later
            self.kafka.flush()  # the relay, woken by the command
        return answer

    def get(self, path: str, *, key: str | None = None, **params: Any) -> Response:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return self.client.get(path, params=params, headers=headers)
