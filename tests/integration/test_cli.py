"""The operators' command-line tool against the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from aiokafka import AIOKafkaProducer

from shared import topics
from shared.messaging import dead_letter_headers
from shared.settings import Settings
from tests.support.events import DATA, envelope
from tests.support.kafka import first_record
from tests.support.processes import ROOT


async def partnerhub(settings: Settings, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        *args,
        cwd=ROOT,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode()


async def test_publish_validates_and_tail_shows_it(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    event = envelope(
        "DealClosed", {**DATA["DealClosed"], "partner_id": f"P-{unique}", "deal_id": f"D-{unique}"}
    )
    good = tmp_path / "deal.json"
    good.write_text(json.dumps(event))
    code, out = await partnerhub(settings, "publish", str(good))
    assert code == 0, out
    assert f"published DealClosed {event['id']} to deals.v1" in out
    code, out = await partnerhub(
        settings, "tail", "deals.v1", "--from-beginning", "--partner", f"P-{unique}", "--count", "1"
    )
    assert code == 0, out
    assert json.loads(out.splitlines()[-1])["value"]["id"] == event["id"]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**event, "data": {**event["data"], "amount": 12.5}}))
    code, out = await partnerhub(settings, "publish", str(bad))
    assert code == 1
    assert "data.amount" in out


async def test_replay_dlq_republishes_the_original_message(
    settings: Settings, producer: AIOKafkaProducer, unique: str
) -> None:
    value = json.dumps(
        envelope("DealCancelled", {**DATA["DealCancelled"], "partner_id": f"P-{unique}"})
    ).encode()

    class Record:
        topic, partition, offset, key, headers = (
            topics.DEALS,
            0,
            0,
            f"P-{unique}".encode(),
            [("traceparent", b"t")],
        )

    headers = dead_letter_headers(
        Record(), error="a bug since fixed", reason="invalid_data", service="incentives"
    )
    await producer.send_and_wait(
        topics.dead_letter_topic(topics.DEALS),
        value,
        key=f"P-{unique}".encode(),
        headers=[(k, v.encode()) for k, v in headers.items()],
    )
    code, out = await partnerhub(settings, "replay-dlq", "deals.v1", "--dry-run")
    assert code == 0, out
    assert "would replay" in out
    code, out = await partnerhub(settings, "replay-dlq", "deals.v1")
    assert code == 0, out
    replayed = await first_record(
        settings, topics.DEALS, lambda r: r.key == f"P-{unique}".encode() and r.value == value
    )
    names = [name for name, _ in replayed.headers]
    assert "traceparent" in names
    assert not any(name.startswith("dlq-") for name in names)
    code, out = await partnerhub(settings, "replay-dlq", "deals.v1")
    assert "replayed 0 dead letters" in out, "a second run replays only what arrived since"
