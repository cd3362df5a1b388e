"""How incentives stores a partner's ledger: what is left in the document once its events
are published, and how a deal finds its partner's ledger."""

from __future__ import annotations

import signal

from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from services.incentives.store import DEAL_PARTNERS, LEDGERS, IncentivesStore, decode_ledger
from shared.mongo import Document, make_mongo_client
from shared.outbox import decode_outbox
from shared.settings import Settings
from tests.support.incentives import wait_for_worked_example
from tests.support.processes import ServiceProcess
from tests.support.worked_example import WorkedExample, publish
from tests.unit.test_incentives_store import a_ledger


async def test_published_entries_leave_the_stored_ledger_and_its_state_is_compact(
    settings: Settings, producer: AIOKafkaProducer, service: ServiceProcess, unique: str
) -> None:
    """Published entries leave the document lazily (its next write, a while later, or at
    shutdown); the ledger's facts and revisions are one compressed field beside the
    queried ones."""
    example = WorkedExample(f"P-{unique}", unique)
    await publish(producer, example.messages())
    await wait_for_worked_example(settings, example)
    # SIGTERM: uvicorn exits by the signal after a graceful shutdown.
    assert service.stop() in (0, -signal.SIGTERM)
    client = make_mongo_client(settings)
    try:
        stored = await client[f"test_incentives_{unique}"][LEDGERS].find_one(
            {"_id": example.partner_id}
        )
        assert stored is not None
        assert stored["outbox"] == [], "published entries are removed from the document"
        assert decode_outbox(stored) == []
        assert set(stored) == {
            "_id",
            "version",
            "state",
            "outbox",
            "outbox_events",
            "write_token",
        }
        assert decode_ledger(stored).book.results().keys() == example.expected_final().keys()
        index = client[f"test_incentives_{unique}"][DEAL_PARTNERS]
        assert {
            doc["_id"]: doc["partner_id"]
            async for doc in index.find({"partner_id": example.partner_id})
        } == dict.fromkeys(example.expected_final(), example.partner_id)
    finally:
        await client.close()


async def test_a_deal_finds_its_ledger_by_the_index(database: AsyncDatabase[Document]) -> None:
    store = IncentivesStore(database)
    ledger = a_ledger()  # publishes D-1 and D-2
    ledger.version = 0  # not stored yet
    assert await store.save_ledgers([ledger]) == set()
    assert {d["_id"]: d["partner_id"] async for d in database[DEAL_PARTNERS].find({})} == {
        "D-1": ledger.partner_id,
        "D-2": ledger.partner_id,
    }
    found = await store.ledger_of_deal("D-1")
    assert found is not None
    assert (found.partner_id, found.indexed) == (ledger.partner_id, {"D-1", "D-2"})
    assert await store.index_deals([found]) == 0, "nothing new to index"
    found.indexed.clear()  # as if a batch were consumed again: the entries stay as they are
    assert await store.index_deals([found]) == 0
    assert await store.ledger_of_deal("D-none") is None
