"""Reading a topic back with a plain aiokafka consumer, as an outside observer; and
waiting until a consumer group has read what its topics hold."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.infra import partition_ids
from shared.lag import consumer_lag
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


async def records_keyed(settings: Settings, topic: str, key: str) -> list[Any]:
    """Every record on ``topic`` keyed by ``key`` (a partner id), up to the end of the
    topic now."""
    partitions = [TopicPartition(topic, p) for p in await partition_ids(settings, topic)]
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found.extend(r for r in records if r.key == key.encode())
        return found
    finally:
        await consumer.stop()


def by_id(records: list[Any]) -> dict[str, dict[str, Any]]:
    """CloudEvent id → event, for the records (a record delivered twice counts once)."""
    return {event["id"]: event for event in (json.loads(r.value) for r in records)}


def events_of(records: list[Any], event_type: str) -> dict[str, dict[str, Any]]:
    """CloudEvent id → event, for the records of ``event_type``."""
    found = {}
    for record in records:
        event = json.loads(record.value)
        if event["type"] == event_type:
            found[event["id"]] = event
    return found


async def caught_up(
    settings: Settings, group: str, topics: tuple[str, ...], seconds: float = 60.0
) -> None:
    """Wait until ``group`` has consumed everything on ``topics`` (as far as it goes)."""
    deadline = time.monotonic() + seconds
    while sum((await consumer_lag(settings, group, topics)).values()) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} did not catch up")
        await asyncio.sleep(0.5)
