"""Rebuilding reporting's read models from the topics while the service answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from services.reporting.store import Generation
from shared import topics
from shared.lag import consumer_lag
from shared.settings import Settings
from tests.integration.reporting.test_mdf_position import EXPECTED_QUARTERS, mdf_partner
from tests.support.eventually import eventually
from tests.support.processes import ROOT, ServiceProcess
from tests.support.reporting import (
    EXPECTED_CORRECTED_STATEMENT,
    EXPECTED_STATEMENT,
    PERIOD,
    RUN,
    P,
    corrected_partner,
    publish_shuffled,
)

#: A partner with commission inquiries and adjustments, which the rebuild replays too.
ADJUSTED = f"P-rebuilt-{RUN}"
#: A partner with MDF requests, claims and settlements paying them, replayed too.
MDF_PARTNER = f"P-mdf-rebuilt-{RUN}"


async def test_rebuild_gives_the_same_read_models_without_downtime(
    settings: Settings, producer: AIOKafkaProducer, reporting: ServiceProcess, unique: str
) -> None:
    await publish_shuffled(producer)
    for topic, event in corrected_partner(ADJUSTED):
        await producer.send(topic, json.dumps(event).encode(), key=ADJUSTED.encode())
    for topic, event in mdf_partner(MDF_PARTNER):
        await producer.send(topic, json.dumps(event).encode(), key=MDF_PARTNER.encode())
    await producer.flush()

    def statement_matches() -> None:
        assert reporting.get(f"/partners/{P}/statements/{PERIOD}").json() == EXPECTED_STATEMENT
        adjusted = reporting.get(f"/partners/{ADJUSTED}/statements/{PERIOD}").json()
        assert adjusted == {**EXPECTED_CORRECTED_STATEMENT, "partner_id": ADJUSTED}
        mdf = reporting.get(f"/partners/{MDF_PARTNER}/mdf").json()
        assert mdf == {"partner_id": MDF_PARTNER, "quarters": EXPECTED_QUARTERS}

    await eventually(statement_matches)
    # The old generation stops receiving writes at the switch: let the live service
    # catch up with every topic first (it may be replaying other tests' history),
    # so that the generation kept for comparison is complete.
    group = reporting.env["CONSUMER_GROUP"]
    deadline = time.monotonic() + 300
    while sum((await consumer_lag(settings, group, topics.CONSUMED["reporting"])).values()) > 0:
        assert time.monotonic() < deadline, "the live reporting service did not catch up"
        await asyncio.sleep(1)
    env = {**os.environ, **reporting.env}
    rebuild = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.reporting",
        "rebuild",
        "--keep-old",
        "--settle",
        "1",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []

    async def read_output() -> None:
        assert rebuild.stdout is not None
        async for line in rebuild.stdout:
            lines.append(line.decode())

    reader = asyncio.create_task(read_output())
    # The read API keeps answering, with the same numbers, while the rebuild runs.
    while rebuild.returncode is None:
        served = reporting.get(f"/partners/{P}/statements/{PERIOD}").json()
        assert served == EXPECTED_STATEMENT, "".join(lines)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rebuild.wait(), 0.2)
    await reader
    output = "".join(lines)
    assert rebuild.returncode == 0, output
    assert "switched readers to generation g2" in output
    assert "replayed" in output

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url.get_secret_value()
    )
    try:
        database = client[f"test_reporting_{unique}"]

        async def generations_equal() -> None:
            old, new = (
                await Generation(database, "g1").snapshot(),
                await Generation(database, "g2").snapshot(),
            )
            for collection in old:
                assert new[collection] == old[collection], collection

        deadline = time.monotonic() + 30
        while True:
            try:
                await generations_equal()
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
    finally:
        await client.close()
    statement_matches()
