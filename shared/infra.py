"""Readiness of the infrastructure and creation of the contract's topics.

``python -m shared.infra ready [--create-topics] [--timeout S]`` waits until
the Kafka broker serves metadata and names a group coordinator, and the
MongoDB-protocol server answers a ping, creating the contract's topics and
their ``.dlq`` twins first when asked (``TOPIC_PARTITIONS`` partitions each,
6 by default). Topics are created explicitly, never by broker
auto-creation. ``make infra-up`` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from shared.messaging import kafka_client_options
from shared.mongo import make_mongo_client, ping
from shared.settings import Settings
from shared.topics import ALL_TOPICS, RATES

_TOPIC_ALREADY_EXISTS = 36

#: Topic settings beyond the broker's defaults: rates are kept for good (a pair has a
#: rate per day, so the topic is not compacted, and a rebuild needs every one).
TOPIC_CONFIGS: dict[str, dict[str, str]] = {RATES: {"retention.ms": "-1"}}


async def ensure_topics(settings: Settings, topics: tuple[str, ...] = ALL_TOPICS) -> list[str]:
    """Create the missing ones of ``topics``; return the names created."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    t,
                    num_partitions=settings.topic_partitions,
                    replication_factor=1,
                    topic_configs=TOPIC_CONFIGS.get(t, {}),
                )
                for t in missing
            ]
        )
        failures = [
            f"{name}: {rest[0] if rest and rest[0] else f'error code {code}'}"
            for name, code, *rest in response.topic_errors
            if code not in (0, _TOPIC_ALREADY_EXISTS)
        ]
        if failures:
            raise RuntimeError("could not create topics: " + "; ".join(failures))
        return missing
    finally:
        await admin.close()


async def _kafka_answers(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


async def _coordinator_answers(settings: Settings) -> None:
    """Kafka names a group coordinator: on a fresh broker only once its offsets topic exists,
    which the first such request creates; until then every consumer group's start-up
    logs GroupCoordinatorNotAvailable and retries."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.find_coordinator("partnerhub-ready")
    finally:
        await admin.close()


async def _until(
    settings: Settings, check: Callable[[Settings], Awaitable[None]], what: str, deadline: float
) -> None:
    last_error: Exception | None = None
    while True:
        try:
            await check(settings)
            return
        except (KafkaError, OSError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"Kafka at {settings.kafka_bootstrap_servers}: {what} not ready in time ({last_error})"
            )
        await asyncio.sleep(0.5)


async def wait_ready(settings: Settings, *, create_topics: bool, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    await _until(settings, _kafka_answers, "metadata", deadline)
    if create_topics:
        created = await ensure_topics(settings)
        if created:
            print(f"created topics: {', '.join(created)}", file=sys.stderr)
    await _until(settings, _coordinator_answers, "group coordinator", deadline)
    client = make_mongo_client(settings, serverSelectionTimeoutMS=2000)
    try:
        while not await ping(client):
            if time.monotonic() > deadline:
                raise TimeoutError(f"MongoDB not answering after {seconds:.0f} s")
            await asyncio.sleep(0.5)
    finally:
        await client.close()


async def partition_ids(settings: Settings, topic: str) -> list[int]:
    """The partition numbers of ``topic``, as the broker describes it."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0:
        raise RuntimeError(f"topic {topic}: error code {described['error_code']}")
    return sorted(p["partition"] for p in described["partitions"])


async def start_group_at_end(settings: Settings, group: str, topics: Sequence[str]) -> None:
    """Commit the topics' current end offsets for ``group``: its consumers skip the history.

    For a consumer group that must see only what is published from now on (a
    benchmark, a fault test on a broker others have filled). A group that has
    already committed offsets is moved to the end too.
    """
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in await partition_ids(settings, topic)
        ]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.infra")
    sub = parser.add_subparsers(dest="command", required=True)
    ready = sub.add_parser("ready", help="wait for Kafka and MongoDB, optionally create topics")
    ready.add_argument("--create-topics", action="store_true")
    ready.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(wait_ready(Settings(), create_topics=args.create_topics, seconds=args.timeout))
    except (TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
