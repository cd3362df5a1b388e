"""Enablement processes that crash at each step of a batch: every certification earned is
awarded, none twice. Each test runs a process of its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared import topics
from shared.settings import Settings
from tests.support.enablement import caught_up, completed, exactly, instant, sign
from tests.support.events import envelope, send
from tests.support.processes import ServiceProcess
from tests.support.services import drop_database, service_env


@pytest.mark.parametrize(
    "failpoint", ["enablement_after_store", "enablement_after_publish", "enablement_before_commit"]
)
async def test_a_crash_at_any_step_loses_no_award_and_duplicates_none(
    settings: Settings, producer: AIOKafkaProducer, tmp_path: Any, failpoint: str
) -> None:
    suffix = uuid.uuid4().hex[:10]
    database, group = f"test_enablement_crash_{suffix}", f"enablement-crash-{suffix}"
    env = service_env(settings, database, group)
    partner, a, b, certification = (
        f"P-crash-{suffix}",
        f"A-{suffix}",
        f"B-{suffix}",
        f"CERT-{suffix}",
    )
    process = ServiceProcess("enablement", env).start()
    try:
        for course in (a, b):
            process.post("/courses", {"course_id": course, "title": course, "product_line": "x"})
        process.post(
            "/certifications",
            {
                "certification_id": certification,
                "product_line": "x",
                "required_courses": [a, b],
                "validity_days": 365,
            },
        )
        await sign(process, producer, partner)
        await caught_up(settings, group)
        process.stop()

        d1 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
        learners = [f"L{n}" for n in range(5)]
        for n, learner in enumerate(learners):
            for course, at in ((a, d1 + timedelta(days=n)), (b, d1 + timedelta(days=n, hours=2))):
                data = completed(partner, learner, course, at, 90)
                await send(producer, topics.ENABLEMENT, envelope("TrainingCompleted", data))

        process.env = {
            **env,
            "PARTNERHUB_FAILPOINTS": failpoint,
            "PARTNERHUB_FAILPOINT_DIR": str(tmp_path),
        }
        process.start(wait_ready=False)
        assert process.process is not None
        assert process.process.wait(90) == 137, f"the failpoint did not fire:\n{process.tail()}"
        assert (tmp_path / failpoint).exists()
        process.start()

        awards = await exactly(settings, partner, "CertificationAwarded", len(learners))
        assert sorted(instant(e["data"]["awarded_at"]) for e in awards.values()) == [
            d1 + timedelta(days=n, hours=2) for n in range(len(learners))
        ]
    finally:
        process.stop()
        await drop_database(settings, database)
