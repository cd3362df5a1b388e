"""The outbox without a server: its stored form (``shared.outbox.encode_outbox``), and
what :class:`shared.outbox.Outbox` publishes when, over a collection and a broker in
memory. The same on the real server and broker is in ``tests/integration/test_outbox.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from shared.outbox import (
    EVENTS,
    FIELD,
    WITHOUT_OUTBOX,
    Outbox,
    OutboxEntry,
    decode_outbox,
    encode_outbox,
)

ENTRIES = [
    OutboxEntry("E-1", "Example", "example.v1", "P-1", '{"id":"E-1","note":"quote \\" é"}'),
    OutboxEntry("E-2", "Example", "example.v1", "P-2", '{"id":"E-2"}'),
]


def test_ids_in_the_outbox_and_the_events_beside_it() -> None:
    stored = {"_id": "doc", **encode_outbox(ENTRIES)}
    assert stored["outbox"] == [{"id": "E-1"}, {"id": "E-2"}]
    assert decode_outbox(stored) == ENTRIES
    assert encode_outbox(ENTRIES) == encode_outbox(list(ENTRIES)), "the same bytes each time"
    assert encode_outbox([]) == {"outbox": [], EVENTS: None}
    assert decode_outbox({"_id": "doc", **encode_outbox([])}) == []
    assert decode_outbox({"_id": "doc"}) == []


def test_an_id_without_its_event_is_an_error_that_names_both() -> None:
    stored = {"_id": "doc", **encode_outbox(ENTRIES[:1])}
    stored["outbox"].append({"id": "E-2"})
    with pytest.raises(ValueError, match=r"'doc'.*'E-2'"):
        decode_outbox(stored)


def test_the_listing_projection_leaves_out_every_stored_outbox_field() -> None:
    assert set(WITHOUT_OUTBOX) == set(encode_outbox(ENTRIES))
    assert set(WITHOUT_OUTBOX.values()) == {0}


# --------------------------------------------------------------------------- the relay


class FerretClient:
    """A client whose server says it is FerretDB: documents are looked up one ``_id`` at
    a time (``find_one``)."""

    admin = SimpleNamespace(command=lambda name: _answer({"ferretdbVersion": "in memory"}))


async def _answer(value: Any) -> Any:
    return value


class Books:
    """The little of a collection the outbox uses, in memory."""

    name = "books"

    def __init__(self, **docs: list[OutboxEntry]) -> None:
        self.database = SimpleNamespace(name="outbox-unit", client=FerretClient())
        self.docs = {doc_id: {"_id": doc_id, **encode_outbox(e)} for doc_id, e in docs.items()}

    def find(self, query: Any, projection: Any = None) -> AsyncIterator[dict[str, Any]]:
        async def found() -> AsyncIterator[dict[str, Any]]:
            for doc in list(self.docs.values()):
                if doc.get(FIELD):
                    yield copy.deepcopy(doc)

        return found()

    async def find_one(self, query: dict[str, Any], projection: Any = None) -> Any:
        doc = self.docs.get(query["_id"])
        return None if doc is None else copy.deepcopy(doc)

    async def bulk_write(self, operations: Sequence[Any], ordered: bool) -> Any:
        for op in operations:  # UpdateOne({"_id": …}, {"$pullAll": {"outbox": [...]}})
            doc = self.docs[op._filter["_id"]]
            gone = {item["id"] for item in op._doc["$pullAll"][FIELD]}
            doc[FIELD] = [item for item in doc[FIELD] if item["id"] not in gone]
        return SimpleNamespace(matched_count=len(operations))

    def write(self, doc_id: str, entries: list[OutboxEntry]) -> None:
        """A writer replaces the document (its next write)."""
        self.docs[doc_id] = {"_id": doc_id, **encode_outbox(entries)}

    def stored(self, doc_id: str) -> list[str]:
        return [item["id"] for item in self.docs[doc_id][FIELD]]


class Kafka:
    """A broker that records what it is sent; ``down`` refuses everything."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.down = False

    async def publish(self, value: bytes, topic: str, **options: Any) -> Awaitable[None]:
        if self.down:
            raise ConnectionError("Kafka is not answering")
        self.sent.append(json.loads(value)["id"])
        return _answer(None)


def entry(n: int) -> OutboxEntry:
    return OutboxEntry(f"E-{n}", "Example", "example.v1", "P-1", f'{{"id":"E-{n}"}}')


def outbox(books: Books, kafka: Kafka, **options: Any) -> Outbox:
    return Outbox(kafka, "outbox-unit", [books], **options)  # type: ignore[arg-type,list-item]


async def until(condition: Callable[[], bool]) -> None:
    """Wait (2 s at most) until ``condition`` holds."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 2 s")


@contextlib.asynccontextmanager
async def relaying(relay: Outbox) -> AsyncIterator[None]:
    running = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_command_hands_over_and_the_relay_publishes_at_once() -> None:
    books, kafka = Books(book=[entry(1)]), Kafka()
    relay = outbox(books, kafka, interval=60.0)  # only the hand-over can wake it in time
    async with relaying(relay):
        await asyncio.sleep(0.01)
        assert kafka.sent == [], "nothing handed over yet (the sweep is a minute away)"
        relay.publish_soon("books", ["book"])
        await until(lambda: kafka.sent == ["E-1"])
        await until(lambda: books.stored("book") == [])
    assert await relay.known_backlog() == 0


async def test_a_failed_publish_leaves_its_documents_to_the_relay() -> None:
    books, kafka = Books(book=[entry(1), entry(2)]), Kafka()
    relay = outbox(books, kafka, interval=0.01)
    kafka.down = True
    with pytest.raises(ConnectionError):
        await relay.publish("books", {"book": [entry(1), entry(2)]})
    assert await relay.known_backlog() == 2
    async with relaying(relay):
        await asyncio.sleep(0.05)  # rounds fail, are logged, and are tried again
        kafka.down = False
        await until(lambda: kafka.sent == ["E-1", "E-2"])
        await until(lambda: books.stored("book") == [])
    assert await relay.known_backlog() == 0


async def test_a_consumer_publishing_what_it_added_leaves_the_mark_to_the_relay() -> None:
    books, kafka = Books(book=[entry(1), entry(2)]), Kafka()
    relay = outbox(books, kafka)
    relay.publish_soon("books", ["book"])  # entry 1: a command's
    await relay.publish("books", {"book": [entry(2)]})  # entry 2: a consumer's, in hand
    assert (kafka.sent, books.stored("book")) == (["E-2"], ["E-1"])
    assert await relay.known_backlog() == 1
    assert await relay.publish_marked() == 1
    assert (kafka.sent, books.stored("book")) == (["E-2", "E-1"], [])
    assert await relay.publish_marked() == 0, "published: no longer marked"


async def test_a_document_handed_over_again_while_read_stays_marked() -> None:
    books, kafka = Books(book=[entry(1)]), Kafka()
    relay = outbox(books, kafka)
    relay.publish_soon("books", ["book"])
    before = relay.marking()  # the relay reads the document: [entry 1]
    books.write("book", [entry(1), entry(2)])
    relay.publish_soon("books", ["book"])  # the command that wrote entry 2
    assert await relay.publish_read("books", {"book": [entry(1)]}, before) == 1
    assert await relay.known_backlog() == 1, "still marked: entry 2 is waiting"
    assert await relay.publish_marked() == 1
    assert kafka.sent == ["E-1", "E-2"]


async def test_entries_in_hand_are_not_published_again_before_their_removal() -> None:
    books, kafka = Books(book=[entry(1)]), Kafka()
    relay = outbox(books, kafka)
    await relay.publish("books", {"book": [entry(1)]}, remove=False)
    books.write("book", [entry(1), entry(2)])
    relay.publish_soon("books", ["book"])
    assert await relay.known_backlog() == 1, "entry 1 is in hand, not waiting"
    assert await relay.publish_marked() == 1
    assert await relay.publish_pending() == 0, "nor does a sweep publish it again"
    assert (kafka.sent, books.stored("book")) == (["E-1", "E-2"], ["E-1"])
    await relay.remove("books", {"book": [entry(1)]})
    assert books.stored("book") == []
    # Once removed it is no longer in hand: written back (a stale copy), it is published.
    books.write("book", [entry(1)])
    assert await relay.publish_pending() == 1


async def test_entries_in_hand_a_rewrite_removed_are_forgotten_by_the_next_read() -> None:
    books, kafka = Books(book=[entry(1)]), Kafka()
    relay = outbox(books, kafka)
    await relay.publish("books", {"book": [entry(1)]}, remove=False)
    books.write("book", [])  # the consumer's next write leaves it out
    assert await relay.publish_pending() == 0
    books.write("book", [entry(1)])  # a stale copy written back: published again
    assert await relay.publish_pending() == 1
    assert kafka.sent == ["E-1", "E-1"]


async def test_the_sweep_reads_every_document_when_due_and_never_with_sweep_none() -> None:
    kafka = Kafka()
    unmarked = Books(book=[entry(1)])
    assert await outbox(unmarked, kafka, sweep=None).publish_due() == 0
    assert await outbox(unmarked, kafka, sweep=60.0).publish_due() == 0, "not due yet"
    assert await outbox(unmarked, kafka, sweep=0.0).publish_due() == 1
    assert kafka.sent == ["E-1"]
