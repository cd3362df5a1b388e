"""The outbox on the real server and broker: its stored form (ids, the events in one
compressed field) found, decoded and removed exactly; and what the relay publishes when.
The same logic without a server is in ``tests/unit/test_outbox_form.py``."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.infra import ensure_topics
from shared.messaging import make_broker
from shared.mongo import Document
from shared.outbox import EVENTS, Outbox, OutboxEntry, decode_outbox, encode_outbox
from shared.settings import Settings

#: A topic of these tests' own: no service reads it.
TOPIC = "outbox-test.v1"


def entry(n: int) -> OutboxEntry:
    value = f'{{"specversion":"1.0","id":"E-{n}","data":{{"note":"quote \\" and é"}}}}'
    return OutboxEntry(f"E-{n}", "Example", "example.v1", f"P-{n % 2}", value)


async def test_entries_are_pending_until_removed_exactly(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    collection = database["books"]
    current, other, later = [entry(1), entry(2)], [entry(3), entry(4)], [entry(5)]
    await collection.insert_many(
        [
            {"_id": "current", "version": 1, **encode_outbox(current)},
            {"_id": "other", "version": 1, **encode_outbox(other)},
            {"_id": "empty", "version": 1, **encode_outbox([])},
        ]
    )
    stored = await collection.find_one({"_id": "current"})
    assert stored is not None
    assert stored["outbox"] == [{"id": "E-1"}, {"id": "E-2"}]
    assert isinstance(stored[EVENTS], bytes)
    assert decode_outbox(stored) == current, "the events come back exactly, in order"

    outbox = Outbox(make_broker(settings), "outbox-test", [collection])
    assert await outbox.pending() == {"books": {"current": current, "other": other}}

    # Removing one entry of each leaves the other pending.
    await outbox.remove("books", {"current": current[:1], "other": other[:1]})
    assert await outbox.pending() == {"books": {"current": current[1:], "other": other[1:]}}

    # A document rewritten whole meanwhile (its next write) holds only what it was given.
    await collection.replace_one({"_id": "current"}, {"version": 2, **encode_outbox(later)})
    await outbox.remove("books", {"current": current[1:], "other": other[1:]})
    assert await outbox.pending() == {"books": {"current": later}}
    await outbox.remove("books", {"current": later})
    assert await outbox.backlog() == 0


def relayed(n: int) -> OutboxEntry:
    return OutboxEntry(f"R-{n}", "Example", TOPIC, f"P-{n}", f'{{"id":"R-{n}"}}')


async def test_a_failed_publish_leaves_its_documents_to_the_relay(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    await ensure_topics(settings, (TOPIC,))
    collection = database["books"]
    entries = [relayed(1), relayed(2)]
    await collection.insert_one({"_id": "book", "version": 1, **encode_outbox(entries)})
    broker = make_broker(settings)
    outbox = Outbox(broker, "outbox-test", [collection])
    assert await outbox.known_backlog() == 0, "nothing marked yet"
    with pytest.raises(Exception, match="connect"):
        await outbox.publish("books", {"book": entries})  # no broker yet: Kafka "down"
    assert await outbox.known_backlog() == 2
    await broker.connect()
    try:
        assert await outbox.publish_marked() == 2
        assert await outbox.pending() == {}
        assert await outbox.known_backlog() == 0
        assert await outbox.publish_marked() == 0, "published: no longer marked"
    finally:
        await broker.stop()


async def test_the_relay_publishes_what_is_marked_at_once_and_the_rest_at_its_sweep(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    """Marked documents are looked up by _id every round; finding the others means reading
    every document, which the relay does only every ``sweep`` seconds."""
    await ensure_topics(settings, (TOPIC,))
    collection = database["books"]
    marked, unmarked = [relayed(3)], [relayed(4)]
    await collection.insert_many(
        [
            {"_id": "marked", "version": 1, **encode_outbox(marked)},
            {"_id": "unmarked", "version": 1, **encode_outbox(unmarked)},
        ]
    )
    broker = make_broker(settings)
    await broker.connect()
    outbox = Outbox(broker, "outbox-test", [collection], interval=0.1, sweep=6.0)
    started = time.monotonic()
    relay = asyncio.create_task(outbox.run())
    try:
        outbox.publish_soon("books", ["marked"])
        while await outbox.pending() != {"books": {"unmarked": unmarked}}:
            assert time.monotonic() - started < 5, await outbox.pending()
            await asyncio.sleep(0.1)
        while await outbox.pending():
            assert time.monotonic() - started < 20, "the sweep publishes the rest"
            await asyncio.sleep(0.2)
        assert time.monotonic() - started >= 6, "not before the sweep was due"
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await broker.stop()


async def test_a_document_marked_after_its_entries_were_read_stays_marked(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    """A command may store an entry (and mark its document) while the relay publishes
    what it read of that document before: the new entry must not lose its mark."""
    await ensure_topics(settings, (TOPIC,))
    collection = database["books"]
    read, written_later = relayed(5), relayed(6)
    await collection.insert_one({"_id": "book", "version": 1, **encode_outbox([read])})
    broker = make_broker(settings)
    await broker.connect()
    outbox = Outbox(broker, "outbox-test", [collection])
    try:
        outbox.publish_soon("books", ["book"])
        before = outbox.marking()  # the relay reads the document's entries: [read]
        await collection.replace_one(
            {"_id": "book"}, {"version": 2, **encode_outbox([read, written_later])}
        )
        outbox.publish_soon("books", ["book"])  # the command that wrote the second entry
        assert await outbox.publish_read("books", {"book": [read]}, before) == 1
        assert await outbox.known_backlog() == 1, "still marked: its new entry is waiting"
        assert await outbox.publish_marked() == 1
        assert await outbox.known_backlog() == 0
        assert await outbox.pending() == {}
    finally:
        await broker.stop()


async def test_a_consumer_publishing_what_it_added_leaves_the_mark_to_the_relay(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    """A document marked (a failed publish, a command's hand-over), then written again by
    a consumer that publishes only its own entry: the first entry is still the relay's."""
    await ensure_topics(settings, (TOPIC,))
    collection = database["books"]
    failed, added = relayed(7), relayed(8)
    await collection.insert_one({"_id": "book", "version": 1, **encode_outbox([failed, added])})
    broker = make_broker(settings)
    await broker.connect()
    outbox = Outbox(broker, "outbox-test", [collection])
    try:
        outbox.publish_soon("books", ["book"])  # as a failed publish of [failed] does
        await outbox.publish("books", {"book": [added]})
        assert await outbox.pending() == {"books": {"book": [failed]}}
        assert await outbox.known_backlog() == 1, "still marked for the entry left"
        assert await outbox.publish_marked() == 1
        assert await outbox.pending() == {}
    finally:
        await broker.stop()


async def test_entries_in_hand_wait_for_their_removal_and_are_not_published_again(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    """A consumer publishing with remove=False removes its entries later: until then the
    relay (marked documents, the sweep) leaves them alone, and the backlog leaves them out."""
    await ensure_topics(settings, (TOPIC,))
    collection = database["books"]
    held, handed_over = relayed(9), relayed(10)
    await collection.insert_one({"_id": "book", "version": 1, **encode_outbox([held])})
    broker = make_broker(settings)
    await broker.connect()
    outbox = Outbox(broker, "outbox-test", [collection])
    try:
        await outbox.publish("books", {"book": [held]}, remove=False)
        await collection.replace_one(
            {"_id": "book"}, {"version": 2, **encode_outbox([held, handed_over])}
        )
        outbox.publish_soon("books", ["book"])
        assert await outbox.known_backlog() == 1, "the entry in hand is not waiting"
        assert await outbox.publish_marked() == 1, "only the entry handed over"
        assert await outbox.pending() == {"books": {"book": [held]}}
        assert await outbox.publish_pending() == 0, "nor does the sweep publish it again"
        await outbox.remove("books", {"book": [held]})
        assert await outbox.pending() == {}
    finally:
        await broker.stop()
