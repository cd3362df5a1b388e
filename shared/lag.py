"""Consumer lag: how far a consumer group is behind the end of its topics."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.infra import partition_ids
from shared.messaging import kafka_client_options
from shared.metrics import CONSUMER_LAG
from shared.periodic import every
from shared.settings import Settings

log = logging.getLogger("partnerhub.lag")


async def consumer_lag(
    settings: Settings, group: str, topics: Sequence[str]
) -> dict[tuple[str, int], int]:
    """(topic, partition) → messages not yet committed by ``group`` (all of them if none)."""
    partitions = [TopicPartition(t, p) for t in topics for p in await partition_ids(settings, t)]
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
    lag = {}
    for tp in partitions:
        position = (
            committed[tp].offset if tp in committed and committed[tp].offset >= 0 else starts[tp]
        )
        lag[(tp.topic, tp.partition)] = max(0, ends[tp] - position)
    return lag


async def report_lag(
    settings: Settings, group: str, topics: Sequence[str], interval: float = 10.0
) -> None:
    """Keep ``partnerhub_consumer_lag_messages`` current until cancelled."""

    async def measure() -> None:
        for (topic, partition), messages in (await consumer_lag(settings, group, topics)).items():
            CONSUMER_LAG.labels(settings.service_name, topic, str(partition)).set(messages)

    await every(interval, measure, what="could not measure consumer lag", log=log, immediately=True)
