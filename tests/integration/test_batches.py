"""The services' batch subscriber on the real broker: a batch is as large as what waits.

A Kafka client fetches at most 1 MiB per partition by default; the services' subscriber
fetches more, so that a batch holds up to ``CONSUMER_BATCH_SIZE`` records even when they
all wait on one partition (a larger batch writes each partner's documents once for more
of its events).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka.annotations import KafkaMessage

from shared.consuming import batch_subscription, records_of
from shared.messaging import kafka_client_options, make_broker
from shared.settings import Settings

TIMEOUT = 30.0


async def test_one_batch_takes_more_than_a_default_fetch_from_one_partition(
    settings: Settings, producer: AIOKafkaProducer, unique: str
) -> None:
    topic = f"test-batches-{unique}"
    count, body = 3_000, b"x" * 800
    assert count * len(body) > 1 << 20, "more than a Kafka client's default fetch"
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        for n in range(count):
            await producer.send(topic, body, key=str(n).encode())
        await producer.flush()

        configured = settings.model_copy(
            update={"consumer_batch_size": count, "consumer_group": f"test-batches-{unique}"}
        )
        broker = make_broker(configured)
        sizes: list[int] = []
        done = asyncio.Event()

        @broker.subscriber(topic, **batch_subscription(configured))
        async def take(message: KafkaMessage) -> None:
            sizes.append(len(records_of(message.raw_message)))
            if sum(sizes) >= count:
                done.set()

        await broker.start()
        try:
            await asyncio.wait_for(done.wait(), TIMEOUT)
        finally:
            await broker.stop()
        assert sizes == [count], f"batches of {sizes}: the first should hold every message"
    finally:
        await admin.delete_topics([topic])
        await admin.close()
