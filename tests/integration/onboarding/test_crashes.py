"""Onboarding processes that crash, are killed, or lose Kafka mid-commands: every
acknowledged command's event reaches partners.v1 exactly once (the outbox,
docs/architecture.md). Each test runs a process of its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shared.settings import Settings
from tests.support.http import idempotency
from tests.support.infrastructure import outage, require_local_infrastructure
from tests.support.kafka import by_id
from tests.support.onboarding import application, arrived, settled
from tests.support.processes import ServiceProcess, httpx
from tests.support.services import drop_database, service_env


def outbox_recoveries(process: ServiceProcess) -> int:
    """Events a restarted process found in the outbox and published (from its log)."""
    since_restart = process.tail(400).rsplit("Started server process", 1)[-1]
    found = re.findall(r"published (\d+) outbox events left behind", since_restart)
    return sum(int(n) for n in found)


@pytest.mark.parametrize("failpoint", ["onboarding_after_store", "onboarding_after_publish"])
async def test_a_crash_while_publishing_loses_no_event_and_a_retry_duplicates_none(
    settings: Settings, tmp_path: Path, failpoint: str
) -> None:
    """The process dies after storing a command, before or after publishing its event.

    After the restart the event reaches Kafka by itself; the client, retrying
    with its Idempotency-Key, gets the stored answer naming that very event.
    """
    database = f"test_onboarding_crash_{uuid.uuid4().hex[:10]}"
    env = service_env(settings, database)
    process = ServiceProcess(
        "onboarding",
        {**env, "PARTNERHUB_FAILPOINTS": failpoint, "PARTNERHUB_FAILPOINT_DIR": str(tmp_path)},
    )
    key = idempotency(f"crash-{uuid.uuid4().hex}")
    try:
        process.start()
        try:
            first: Any = process.post("/applications", application(), **key)
        except httpx.HTTPError:
            first = None  # the process died before answering
        assert process.process is not None
        assert process.process.wait(30) == 137, f"the failpoint did not fire:\n{process.tail()}"
        assert (tmp_path / failpoint).exists()
        if failpoint == "onboarding_after_store":
            assert first is None, "stored, but no answer was given"

        process.env = env
        process.start()
        listed = process.get("/applications").json()["applications"]
        assert len(listed) == 1, "the command was stored, once"
        partner_id = listed[0]["partner_id"]
        records = await settled(settings, partner_id, 1)
        (event_id,) = by_id(records)

        retried = process.post("/applications", application(), **key)
        assert retried.status_code == 201, retried.text
        assert retried.headers["idempotent-replayed"] == "true"
        assert retried.json()["event_id"] == event_id
        if first is not None:
            assert first.json() == retried.json()
        assert list(by_id(await settled(settings, partner_id, 1))) == [event_id]
    finally:
        process.stop()
        await drop_database(settings, database)


async def test_sigkill_right_after_the_answers_loses_no_event_and_duplicates_none(
    settings: Settings,
) -> None:
    """Every command answered 2xx before a SIGKILL has its event on Kafka after the restart."""
    database = f"test_onboarding_kill_{uuid.uuid4().hex[:10]}"
    process = ServiceProcess("onboarding", service_env(settings, database))
    try:
        process.start()
        acknowledged: dict[str, list[str]] = {}  # partner id → event ids of 2xx answers

        def apply_and_approve(n: int) -> None:
            answer = process.post("/applications", application(name=f"Kill {n}"))
            assert answer.status_code == 201, answer.text
            partner_id = answer.json()["partner_id"]
            acknowledged[partner_id] = [answer.json()["event_id"]]
            if n % 2 == 0:
                approved = process.post(
                    f"/applications/{answer.json()['application_id']}/approve", None
                )
                assert approved.status_code == 200, approved.text
                acknowledged[partner_id].append(approved.json()["event_id"])

        await asyncio.gather(*(asyncio.to_thread(apply_and_approve, n) for n in range(16)))
        process.kill()  # right after the last answer
        assert process.process is not None
        assert process.process.returncode == -9

        process.start()
        found = await asyncio.gather(
            *(settled(settings, p, len(ids)) for p, ids in acknowledged.items())
        )
        counts: Counter[str] = Counter()
        for (partner_id, event_ids), records in zip(acknowledged.items(), found, strict=True):
            assert list(by_id(records)) == event_ids, partner_id
            counts.update(json.loads(r.value)["id"] for r in records)
        assert len(counts) == sum(len(ids) for ids in acknowledged.values()) == 24
        print(
            f"\n{len(counts)} commands answered 2xx before SIGKILL; after the restart "
            f"{len(counts)} distinct events on Kafka in {sum(counts.values())} records "
            f"({outbox_recoveries(process)} published from the outbox at restart)"
        )
        assert httpx.get(f"{process.url}/readyz").json()["outbox_backlog"] == 0
    finally:
        process.stop()
        await drop_database(settings, database)


async def test_kafka_stopped_mid_commands_loses_no_event_and_duplicates_none(
    settings: Settings,
) -> None:
    """The real broker is stopped while commands arrive, then started again.

    Every command answers 2xx while Kafka is down; once the broker is back,
    every acknowledged command's event is on partners.v1 exactly once.
    """
    require_local_infrastructure(settings)
    database = f"test_onboarding_outage_{uuid.uuid4().hex[:10]}"
    process = ServiceProcess("onboarding", service_env(settings, database))
    acknowledged: dict[str, list[str]] = {}  # partner id → event ids of 2xx answers

    def command(n: int) -> None:
        answer = process.post("/applications", application(name=f"Outage {n}"))
        assert answer.status_code == 201, answer.text
        partner_id = answer.json()["partner_id"]
        acknowledged[partner_id] = [answer.json()["event_id"]]
        if n % 2 == 0:
            approved = process.post(
                f"/applications/{answer.json()['application_id']}/approve", None
            )
            assert approved.status_code == 200, approved.text
            acknowledged[partner_id].append(approved.json()["event_id"])

    try:
        process.start()
        command(0)  # one before the outage, published normally
        await arrived(settings, next(iter(acknowledged)), 2)
        with outage("kafka"):
            for n in range(1, 13):
                command(n)
            during = httpx.get(f"{process.url}/readyz", timeout=30).json()
            assert during["outbox_backlog"] == 18, during
        found = await asyncio.gather(
            *(settled(settings, p, len(ids)) for p, ids in acknowledged.items())
        )
        counts: Counter[str] = Counter()
        for (partner_id, event_ids), records in zip(acknowledged.items(), found, strict=True):
            assert list(by_id(records)) == event_ids, partner_id
            counts.update(json.loads(r.value)["id"] for r in records)
        assert len(counts) == sum(len(ids) for ids in acknowledged.values()) == 20
        assert max(counts.values()) == 1, "an event published twice"
        print(
            f"\n12 commands answered 2xx while Kafka was down (outbox backlog "
            f"{during['outbox_backlog']} events); after the restart {len(counts)} distinct events "
            f"on Kafka in {sum(counts.values())} records"
        )
        assert httpx.get(f"{process.url}/readyz").json()["outbox_backlog"] == 0
    finally:
        process.stop()
        await drop_database(settings, database)
