"""The infrastructure the services stand on: topics as the contract says, a working store."""

from __future__ import annotations

import asyncio
import os
import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import UpdateOne, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from shared import topics
from shared.infra import ensure_topics
from shared.messaging import kafka_client_options
from shared.mongo import _FERRETDB, Document, make_mongo_client, ping, upsert_new
from shared.settings import Settings


async def test_every_topic_and_its_dead_letter_twin_exists_with_its_partitions(
    settings: Settings,
) -> None:
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(list(topics.ALL_TOPICS))}
    finally:
        await admin.close()
    assert set(described) == set(topics.ALL_TOPICS)
    for name, topic in described.items():
        assert topic["error_code"] == 0, name
        assert len(topic["partitions"]) == settings.topic_partitions, name
    assert await ensure_topics(settings) == [], "creating topics twice is harmless"


async def test_the_rates_topic_keeps_its_messages_for_good(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        answers = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topics.RATES)]
        )
    finally:
        await admin.close()
    entries = {
        entry[0]: entry[1]
        for answer in answers
        for resource in answer.resources
        for entry in resource[4]
    }
    assert entries["retention.ms"] == "-1", entries.get("retention.ms")


async def test_plain_producer_and_consumer(
    settings: Settings, producer: AIOKafkaProducer, unique: str
) -> None:
    metadata = await producer.send_and_wait(topics.PARTNERS, b"ping", key=f"K-{unique}".encode())
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topics.PARTNERS, metadata.partition)
        consumer.assign([partition])
        consumer.seek(partition, metadata.offset)
        record = await asyncio.wait_for(consumer.getone(), 15)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (f"K-{unique}".encode(), b"ping")


async def test_one_partners_events_share_a_partition(
    producer: AIOKafkaProducer, unique: str
) -> None:
    key = f"P-{unique}".encode()
    partitions = {
        (await producer.send_and_wait(topics.DEALS, b"x", key=key)).partition for _ in range(5)
    }
    assert len(partitions) == 1


async def test_mongodb_insert_find_and_ping(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    client = make_mongo_client(settings)
    try:
        assert await ping(client)
    finally:
        await client.close()
    await database["things"].insert_one({"_id": "a", "amount": "10.50"})
    assert await database["things"].find_one({"_id": "a"}) == {"_id": "a", "amount": "10.50"}


async def test_unreachable_mongodb_is_not_ready() -> None:
    settings = Settings(mongodb_url="mongodb://127.0.0.1:1")  # type: ignore[arg-type]
    client = make_mongo_client(settings, serverSelectionTimeoutMS=300)
    try:
        assert not await ping(client)
    finally:
        await client.close()


class FindsOf(monitoring.CommandListener):
    """The ``find`` commands a client sends to one collection (PyMongo's command monitoring)."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == self.collection:
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.mark.parametrize("path", ["as served", "as on MongoDB"])
async def test_replace_if_unchanged_lets_exactly_one_writer_win(
    database: AsyncDatabase[Document], path: str
) -> None:
    """Both ways of writing: FerretDB's (read the versions, replace by _id) and
    MongoDB's (a replace conditional on the version), which FerretDB serves too."""
    from shared.mongo import replace_if_unchanged

    if path == "as on MongoDB":
        _FERRETDB[database.client] = False
    things = database["things"]
    assert await replace_if_unchanged(things, [({"_id": "a", "version": 1, "x": 1}, 0)]) == set()
    # Two writers read version 1 (and one writer creates "b" twice): only the first of each wins.
    lost = await replace_if_unchanged(
        things, [({"_id": "a", "version": 2, "x": 2}, 1), ({"_id": "b", "version": 1, "x": 1}, 0)]
    )
    assert lost == set()
    lost = await replace_if_unchanged(
        things,
        [
            ({"_id": "a", "version": 2, "x": 3}, 1),
            ({"_id": "b", "version": 1, "x": 9}, 0),
            ({"_id": "c", "version": 1}, 0),
        ],
    )
    assert lost == {"a", "b"}
    stored = {d["_id"]: (d["version"], d.get("x")) async for d in things.find({})}
    assert stored == {"a": (2, 2), "b": (1, 1), "c": (1, None)}


@pytest.mark.parametrize("path", ["as served", "as on MongoDB"])
async def test_find_by_ids_finds_what_exists(settings: Settings, unique: str, path: str) -> None:
    """One lookup per _id on FerretDB, one ``$in`` query on MongoDB (which FerretDB serves
    too): the same documents either way."""
    from shared.mongo import find_by_ids, is_ferretdb

    finds = FindsOf("things")
    client = make_mongo_client(settings, event_listeners=[finds])
    if path == "as on MongoDB":
        _FERRETDB[client] = False
    things = client[f"test_{unique}"]["things"]
    try:
        await things.insert_many([{"_id": i, "n": n} for n, i in enumerate("abcd")])
        finds.count = 0
        found = await find_by_ids(things, ["c", "a", "zz", "a"], {"n": 1})
        assert found == {"a": {"_id": "a", "n": 0}, "c": {"_id": "c", "n": 2}}
        # FerretDB: c, a and zz looked up one by one.
        assert finds.count == (3 if await is_ferretdb(things) else 1)
    finally:
        await client.drop_database(f"test_{unique}")
        await client.close()


async def test_conditional_replaces_that_all_matched_are_not_read_back(
    settings: Settings, unique: str
) -> None:
    """On MongoDB a replace conditional on the version is atomic: when every one matched,
    every write won, and the token is read back only when one did not."""
    from shared.mongo import replace_if_unchanged

    finds = FindsOf("things")
    client = make_mongo_client(settings, event_listeners=[finds])
    _FERRETDB[client] = False
    database = client[f"test_{unique}"]
    things = database["things"]
    try:
        await replace_if_unchanged(things, [({"_id": i, "version": 1}, 0) for i in "ab"])
        finds.count = 0
        lost = await replace_if_unchanged(
            things, [({"_id": i, "version": 2, "x": 1}, 1) for i in "ab"]
        )
        assert (lost, finds.count) == (set(), 0)
        # "a" was written meanwhile: its replace matches nothing, so the tokens are read
        # back (one query on MongoDB).
        lost = await replace_if_unchanged(
            things, [({"_id": "a", "version": 3, "x": 2}, 1), ({"_id": "b", "version": 3}, 2)]
        )
        assert (lost, finds.count) == ({"a"}, 1)
        stored = {d["_id"]: (d["version"], d.get("x")) async for d in things.find({})}
        assert stored == {"a": (2, 1), "b": (3, None)}
    finally:
        await client.drop_database(f"test_{unique}")
        await client.close()


async def test_upsert_new_inserts_new_documents_and_upserts_the_rest(
    database: AsyncDatabase[Document],
) -> None:
    """The documents match what the upserts alone would give: compared with a twin
    collection written by plain upserts."""
    things, twin = database["things"], database["things_by_upsert"]
    existing: list[tuple[str, Document]] = [
        ("a", {"$set": {"versions.v1": "x"}, "$setOnInsert": {"partner_id": "P"}})
    ]
    batch: list[tuple[str, Document]] = [
        ("a", {"$set": {"versions.v2": "y"}, "$setOnInsert": {"partner_id": "P"}}),  # exists
        ("b", {"$set": {"versions.v1": "z"}, "$setOnInsert": {"partner_id": "P"}}),
        ("b", {"$min": {"cancelled_at": "2026-11-01"}}),  # a second update of a new document
        ("c", {"$setOnInsert": {"partner_id": "P", "empty": []}}),  # not certain: upserted
        ("d", {"$max": {"rank": 2}, "$addToSet": {"tags": {"$each": ["t", "u", "t"]}}}),
        ("e", {"$inc": {"n": 1}}),  # not an insertable operator: upserted
    ]
    await upsert_new(things, existing)
    await twin.bulk_write([UpdateOne({"_id": i}, u, upsert=True) for i, u in existing])

    upserted = await upsert_new(things, batch)

    await twin.bulk_write([UpdateOne({"_id": i}, u, upsert=True) for i, u in batch])
    ours = [doc async for doc in things.find({}).sort("_id", 1)]
    theirs = [doc async for doc in twin.find({}).sort("_id", 1)]
    assert ours == theirs
    assert [d["_id"] for d in ours] == ["a", "b", "c", "d", "e"]
    assert ours[1] == {
        "_id": "b",
        "partner_id": "P",
        "versions": {"v1": "z"},
        "cancelled_at": "2026-11-01",
    }
    assert upserted == 4, "a and b's second update (duplicates), c and e (not insertable)"


async def test_the_local_smtp_server_keeps_mail_in_its_inbox(unique: str) -> None:
    """The local SMTP server (Mailpit, deploy/local/infra.sh) takes a message and its web
    inbox's API serves it back, text and HTML, as the notification tests will read mail."""
    smtp = urlsplit(os.environ["PARTNERHUB_SMTP_URL"])
    inbox = os.environ["PARTNERHUB_MAIL_INBOX_URL"].rstrip("/")
    message = EmailMessage()
    message["From"] = "partnerhub@example.com"
    message["To"] = f"pat-{unique}@example.com"
    message["Subject"] = f"Registration approved {unique}"
    message.set_content("Your registration R-1 was approved.")
    message.add_alternative("<p>Your registration <b>R-1</b> was approved.</p>", subtype="html")
    with smtplib.SMTP(smtp.hostname or "127.0.0.1", smtp.port or 25, timeout=10) as client:
        client.send_message(message)
    found = httpx.get(
        f"{inbox}/api/v1/search", params={"query": f"to:pat-{unique}@example.com"}, timeout=10
    ).json()
    (summary,) = found["messages"]
    assert summary["Subject"] == f"Registration approved {unique}"
    full = httpx.get(f"{inbox}/api/v1/message/{summary['ID']}", timeout=10).json()
    assert full["Text"].strip() == "Your registration R-1 was approved."
    assert "<b>R-1</b>" in full["HTML"]
    assert httpx.get(f"{inbox}/", timeout=10).status_code == 200, "the web inbox"
