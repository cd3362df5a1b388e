"""``partnerhub``: a small command-line tool for operators.

    partnerhub publish EVENTS.json         validate a CloudEvent (or a JSON array of them, such
                                           as a day of ExchangeRateSet) and publish each on its
                                           topic: all of them, or none when one is bad
    partnerhub tail TOPIC [--partner P] [--from-beginning] [--count N]
    partnerhub partner PARTNER_ID          the partner 360 from the reporting API
    partnerhub replay-dlq TOPIC [--dry-run] [--reason R]
                                           re-publish dead letters of TOPIC to TOPIC, after a fix

Kafka and security settings come from the environment like the services'
(``KAFKA_BOOTSTRAP_SERVERS`` …); the reporting API from ``REPORTING_URL``
(default http://127.0.0.1:8004) with ``PARTNERHUB_ADMIN_KEY`` (or the local
``.env``). ``replay-dlq`` reads with its own consumer group, so running it
again replays only dead letters that arrived since.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx2 as httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.access import ADMIN_KEY_VARIABLE, read_admin_key
from shared.events import (
    CLOUDEVENTS_CONTENT_TYPE,
    CloudEvent,
    ExchangeRateSet,
    InvalidEvent,
    Payload,
    RateEvent,
    parse_event,
    parse_rate_event,
)
from shared.infra import partition_ids
from shared.messaging import DLQ_ORIGINAL_TOPIC, DLQ_REASON, kafka_client_options
from shared.settings import Settings
from shared.topics import EVENT_TOPICS, RATES, dead_letter_topic


def _admin_key() -> str:
    key = os.environ.get(ADMIN_KEY_VARIABLE) or read_admin_key(Path(".env"))
    if not key:
        raise SystemExit(f"no admin key: set {ADMIN_KEY_VARIABLE} (make up writes one into .env)")
    return key


Publishable = CloudEvent[Payload] | RateEvent


def read_events(raw: bytes) -> list[Publishable]:
    """The events of a file: one CloudEvent, or a JSON array of them (a finance system's
    day of rates, say), each validated as its type says. Raises :class:`InvalidEvent`
    naming the position of the first bad one in an array."""
    try:
        document = json.loads(raw)
    except ValueError:
        return [parse_event(raw)]  # not JSON: parse_event says so the usual way
    if not isinstance(document, list):
        return [_one(raw, document)]
    found: list[Publishable] = []
    for index, item in enumerate(document):
        try:
            found.append(_one(json.dumps(item).encode(), item))
        except InvalidEvent as exc:
            raise InvalidEvent(exc.reason, f"[{index}] {exc.message}") from exc
    return found


def _one(raw: bytes, document: Any) -> Publishable:
    if isinstance(document, dict) and document.get("type") == ExchangeRateSet.event_type:
        return parse_rate_event(raw)
    return parse_event(raw)


async def publish(settings: Settings, raw: bytes, path: Path) -> int:
    """Validate every event of the file first; publish them all, in order, or none."""
    try:
        found = read_events(raw)
    except InvalidEvent as exc:
        print(f"{path}: nothing published: {exc}", file=sys.stderr)
        return 1
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    await producer.start()
    try:
        for event in found:
            meta = await producer.send_and_wait(
                event.topic,
                event.to_bytes(),
                key=event.key,
                headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())],
            )
            print(
                f"published {event.type} {event.id} to {event.topic}[{meta.partition}]"
                f"@{meta.offset}"
            )
    finally:
        await producer.stop()
    return 0


async def tail(
    settings: Settings, topic: str, partner: str | None, from_beginning: bool, count: int | None
) -> int:
    partitions = [TopicPartition(topic, p) for p in await partition_ids(settings, topic)]
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    shown = 0
    try:
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        while count is None or shown < count:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if partner is not None and record.key != partner.encode():
                        continue
                    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
                    try:
                        value: Any = json.loads(record.value)
                    except ValueError:
                        value = record.value.decode("utf-8", "replace") if record.value else None
                    line = {
                        "partition": record.partition,
                        "offset": record.offset,
                        "key": (record.key or b"").decode(),
                        "value": value,
                    }
                    if any(h.startswith("dlq-") for h in headers):
                        line["headers"] = headers
                    print(json.dumps(line), flush=True)
                    shown += 1
    finally:
        await consumer.stop()
    return 0


def partner(partner_id: str) -> int:
    base = os.environ.get("REPORTING_URL", "http://127.0.0.1:8004")
    response = httpx.get(
        f"{base}/partners/{partner_id}",
        headers={"Authorization": f"Bearer {_admin_key()}"},
        timeout=10,
    )
    print(json.dumps(response.json(), indent=2))
    return 0 if response.status_code == 200 else 1


async def replay_dlq(settings: Settings, topic: str, dry_run: bool, reason: str | None) -> int:
    if topic not in (*EVENT_TOPICS, RATES):
        raise SystemExit(f"unknown topic {topic}: one of {', '.join((*EVENT_TOPICS, RATES))}")
    dlq = dead_letter_topic(topic)
    consumer = AIOKafkaConsumer(
        dlq,
        **kafka_client_options(settings),
        group_id=f"partnerhub-replay-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        **kafka_client_options(settings), acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    replayed = skipped = 0
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=3000)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers or ())
                    original = headers.get(DLQ_ORIGINAL_TOPIC, topic.encode()).decode()
                    if original != topic or (
                        reason and headers.get(DLQ_REASON, b"").decode() != reason
                    ):
                        skipped += 1
                        continue
                    kept = [(k, v) for k, v in record.headers or () if not k.startswith("dlq-")]
                    if not dry_run:
                        await producer.send(topic, record.value, key=record.key, headers=kept)
                    replayed += 1
            if dry_run:
                continue
            await producer.flush()
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    verb = "would replay" if dry_run else "replayed"
    print(f"{verb} {replayed} dead letters from {dlq} to {topic} ({skipped} skipped)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="partnerhub", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "publish", help="validate a CloudEvent JSON file (one event or an array) and publish it"
    )
    p.add_argument("file", type=Path)
    t = sub.add_parser("tail", help="print a topic's messages, one JSON object a line")
    t.add_argument("topic")
    t.add_argument("--partner")
    t.add_argument("--from-beginning", action="store_true")
    t.add_argument("--count", type=int)
    s = sub.add_parser("partner", help="the partner 360 from the reporting API")
    s.add_argument("partner_id")
    r = sub.add_parser("replay-dlq", help="re-publish a topic's dead letters to it")
    r.add_argument("topic")
    r.add_argument("--dry-run", action="store_true")
    r.add_argument("--reason", help="only dead letters with this dlq-reason")
    args = parser.parse_args(argv)
    settings = Settings(service_name="partnerhub-cli")
    if args.command == "publish":
        return asyncio.run(publish(settings, args.file.read_bytes(), args.file))
    if args.command == "tail":
        return asyncio.run(
            tail(settings, args.topic, args.partner, args.from_beginning, args.count)
        )
    if args.command == "partner":
        return partner(args.partner_id)
    return asyncio.run(replay_dlq(settings, args.topic, args.dry_run, args.reason))


if __name__ == "__main__":
    raise SystemExit(main())
