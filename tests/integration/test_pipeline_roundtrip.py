"""The foundation's path through the real broker and store.

A CRM publishes a DealClosed CloudEvent to ``deals.v1`` with a plain aiokafka
producer; a FastStream subscriber (the way every service consumes) validates
it against the contract and stores it with PyMongo's async API (an upsert on
the deal's id, which a second delivery repeats harmlessly); the test reads it
back. A poison message on the same topic goes to ``deals.v1.dlq`` with its
original bytes and the headers saying why, and does not stop the consumer.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from aiokafka import AIOKafkaProducer
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pymongo.asynchronous.database import AsyncDatabase

from shared import topics
from shared.events import DealClosed, InvalidEvent, parse_event
from shared.messaging import dead_letter, make_broker
from shared.mongo import Document
from shared.settings import Settings
from tests.support.events import DATA, envelope
from tests.support.kafka import first_record

TIMEOUT = 30.0


async def test_deal_closed_travels_from_a_plain_producer_to_mongodb(
    settings: Settings,
    database: AsyncDatabase[Document],
    producer: AIOKafkaProducer,
    unique: str,
) -> None:
    partner = f"P-{unique}"
    deal_event = envelope(
        "DealClosed", {**DATA["DealClosed"], "partner_id": partner, "deal_id": f"D-{unique}"}
    )
    poison = f"not json {unique}".encode()
    deals = database["deals"]
    stored = asyncio.Event()
    dead_lettered = asyncio.Event()

    broker = make_broker(settings.model_copy(update={"service_name": f"roundtrip-{unique}"}))

    @broker.subscriber(
        topics.DEALS,
        group_id=f"roundtrip-{unique}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def store_deal(message: KafkaMessage) -> None:
        record = message.raw_message
        if record.key != partner.encode():  # the topic is shared with other tests
            return
        try:
            event = parse_event(record.value, topic=record.topic)
        except InvalidEvent as invalid:
            await dead_letter(
                broker, record, error=str(invalid), reason=invalid.reason.value, service="roundtrip"
            )
            dead_lettered.set()
            return
        assert isinstance(event.data, DealClosed)
        await deals.update_one(
            {"_id": event.data.deal_id},
            {"$set": event.data.model_dump(mode="json")},
            upsert=True,
        )
        stored.set()

    await broker.start()
    try:
        headers = [("content-type", b"application/cloudevents+json")]
        await producer.send_and_wait(topics.DEALS, poison, key=partner.encode())
        await producer.send_and_wait(
            topics.DEALS, json.dumps(deal_event).encode(), key=partner.encode(), headers=headers
        )
        await asyncio.wait_for(stored.wait(), TIMEOUT)
        await asyncio.wait_for(dead_lettered.wait(), TIMEOUT)
    finally:
        await broker.stop()

    document = await deals.find_one({"_id": f"D-{unique}"})
    assert document is not None
    assert document["partner_id"] == partner
    assert Decimal(document["amount"]) == Decimal("80000.00")
    assert document["amount"] == "80000.00", "money is stored as an exact string"
    assert await deals.count_documents({"partner_id": partner}) == 1, "the deal, stored once"

    letter = await first_record(
        settings, topics.dead_letter_topic(topics.DEALS), lambda r: r.key == partner.encode()
    )
    assert letter.value == poison, "a dead letter carries the original bytes unchanged"
    headers = {name: value.decode() for name, value in letter.headers}
    assert headers["dlq-reason"] == "not_json"
    assert headers["dlq-service"] == "roundtrip"
    assert headers["dlq-original-topic"] == topics.DEALS
    assert int(headers["dlq-original-offset"]) >= 0
    assert 0 <= int(headers["dlq-original-partition"]) < settings.topic_partitions
