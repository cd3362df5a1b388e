"""The outbox's stored form on the real server: found, decoded and removed exactly, in the
current form (ids, events in one compressed field) and the earlier one (every field in
each element)."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from shared.messaging import make_broker
from shared.mongo import Document
from shared.outbox import EVENTS, Outbox, OutboxEntry, decode_outbox, encode_outbox
from shared.settings import Settings


def entry(n: int) -> OutboxEntry:
    value = f'{{"specversion":"1.0","id":"E-{n}","data":{{"note":"quote \\" and é"}}}}'
    return OutboxEntry(f"E-{n}", "Example", "example.v1", f"P-{n % 2}", value)


def earlier_form(entries: list[OutboxEntry]) -> list[Document]:
    return [
        {"id": e.id, "type": e.type, "topic": e.topic, "key": e.key, "value": e.value}
        for e in entries
    ]


async def test_entries_in_either_form_are_pending_until_removed_exactly(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    collection = database["books"]
    current, earlier, later = [entry(1), entry(2)], [entry(3), entry(4)], [entry(5)]
    await collection.insert_many(
        [
            {"_id": "current", "version": 1, **encode_outbox(current)},
            {"_id": "earlier", "version": 1, "outbox": earlier_form(earlier)},
            {"_id": "empty", "version": 1, **encode_outbox([])},
        ]
    )
    stored = await collection.find_one({"_id": "current"})
    assert stored is not None
    assert stored["outbox"] == [{"id": "E-1"}, {"id": "E-2"}]
    assert isinstance(stored[EVENTS], bytes)
    assert decode_outbox(stored) == current, "the events come back exactly, in order"

    outbox = Outbox(make_broker(settings), "outbox-test", [collection])
    assert await outbox.pending() == {"books": {"current": current, "earlier": earlier}}

    # Removing one entry of each leaves the other pending.
    await outbox.remove(collection, {"current": current[:1], "earlier": earlier[:1]})
    assert await outbox.pending() == {"books": {"current": current[1:], "earlier": earlier[1:]}}

    # A document rewritten whole meanwhile (its next write) holds only what it was given.
    await collection.replace_one({"_id": "current"}, {"version": 2, **encode_outbox(later)})
    await outbox.remove(collection, {"current": current[1:], "earlier": earlier[1:]})
    assert await outbox.pending() == {"books": {"current": later}}
    await outbox.remove(collection, {"current": later})
    assert await outbox.backlog() == 0
