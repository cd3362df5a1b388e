"""Reading a topic back with a plain aiokafka consumer, as an outside observer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.infra import partition_ids
from shared.messaging import kafka_client_options
from shared.settings import Settings


async def first_record(
    settings: Settings, topic: str, matches: Callable[[Any], bool], seconds: float = 30.0
) -> Any:
    """The first record on ``topic`` (from the beginning) for which ``matches`` is true."""
    partitions = [TopicPartition(topic, p) for p in await partition_ids(settings, topic)]
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        async with asyncio.timeout(seconds):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        if matches(record):
                            return record
    finally:
        await consumer.stop()


async def collect(
    settings: Settings,
    topic: str,
    matches: Callable[[Any], bool],
    done: Callable[[list[Any]], bool],
    seconds: float = 60.0,
) -> list[Any]:
    """Records on ``topic`` (from the beginning) that ``matches``, read until ``done`` says so.

    Raises TimeoutError with what was collected when ``done`` never holds.
    """
    partitions = [TopicPartition(topic, p) for p in await partition_ids(settings, topic)]
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = asyncio.get_running_loop().time() + seconds
        while not done(found):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(found)} matching records on {topic}, condition not met")
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found.extend(r for r in records if matches(r))
        return found
    finally:
        await consumer.stop()
