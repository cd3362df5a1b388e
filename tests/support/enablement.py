"""What the enablement tests share: the keys and settings of the process most of them use,
the events that make partners known and learners complete courses, and reading
enablement.v1 back.

Every test uses its own partners, courses and product lines, so tests never see each
other's data. Partners become known the way they do in production: PartnerSigned /
PartnerTerminated on partners.v1, from a plain Kafka producer; an external LMS is a
plain producer of TrainingCompleted.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from shared.settings import Settings
from tests.support import kafka
from tests.support.events import CONTRACT, PROFILE, envelope, send
from tests.support.eventually import eventually
from tests.support.kafka import collect, events_of, records_keyed
from tests.support.processes import ServiceProcess

SUFFIX = uuid.uuid4().hex[:10]
KEYED_PARTNER = f"P-keyed-{SUFFIX}"
PARTNER_KEY = f"partner-key-{SUFFIX}"
MANAGER_KEY = f"manager-key-{SUFFIX}"
#: Budgets small enough to exhaust in a test; proves MDF_QUARTERLY_BUDGETS is read.
BUDGETS = "registered=0,silver=500,gold=1000,platinum=5000"

TODAY = datetime.now(UTC).date()
CONSUMED = topics.CONSUMED["enablement"]


# --------------------------------------------------------------------------- events


def signed(partner_id: str, tier: str = "gold", **contract: Any) -> dict[str, Any]:
    return envelope(
        "PartnerSigned",
        {
            "partner_id": partner_id,
            **PROFILE,
            "contract": {
                **CONTRACT,
                "contract_id": f"C-{partner_id}",
                "tier": tier,
                "start_date": (TODAY - timedelta(days=30)).isoformat(),
                "end_date": (TODAY + timedelta(days=365)).isoformat(),
                **contract,
            },
        },
    )


def terminated(partner_id: str, effective: date, reason: str) -> dict[str, Any]:
    return envelope(
        "PartnerTerminated",
        {"partner_id": partner_id, "effective_date": effective.isoformat(), "reason": reason},
    )


def completed(
    partner_id: str, learner_id: str, course_id: str, at: datetime, score: int
) -> dict[str, Any]:
    return {
        "partner_id": partner_id,
        "learner_id": learner_id,
        "course_id": course_id,
        "completed_at": at.isoformat(),
        "score": score,
    }


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- partners


async def known_as(service: ServiceProcess, partner_id: str, status: str) -> dict[str, Any]:
    """Wait until the service has consumed what makes ``partner_id`` have ``status``."""

    def check() -> dict[str, Any]:
        answer = service.get(f"/partners/{partner_id}/standing")
        assert answer.status_code == 200, answer.text
        standing: dict[str, Any] = answer.json()
        assert standing["status"] == status, standing
        return standing

    return await eventually(check, f"{partner_id} known as {status}", interval=0.3)


async def sign(
    service: ServiceProcess, producer: AIOKafkaProducer, partner_id: str, tier: str = "gold"
) -> None:
    await send(producer, topics.PARTNERS, signed(partner_id, tier))
    await known_as(service, partner_id, "active")


# --------------------------------------------------------------------------- reading enablement.v1


async def partner_events(
    settings: Settings,
    partner_id: str,
    event_type: str,
    count: int,
    seconds: float = 60.0,
) -> dict[str, dict[str, Any]]:
    """At least ``count`` distinct events of ``event_type`` about ``partner_id``, by id."""
    key = partner_id.encode()
    records = await collect(
        settings,
        topics.ENABLEMENT,
        lambda r: r.key == key,
        lambda found: len(events_of(found, event_type)) >= count,
        seconds=seconds,
    )
    return events_of(records, event_type)


async def everything_about(settings: Settings, partner_id: str) -> list[Any]:
    """Every record on enablement.v1 keyed by ``partner_id``, up to the end of the topic."""
    return await records_keyed(settings, topics.ENABLEMENT, partner_id)


async def exactly(
    settings: Settings, partner_id: str, event_type: str, count: int
) -> dict[str, dict[str, Any]]:
    """Exactly ``count`` distinct events: wait for them, let more time pass, count them all."""
    await partner_events(settings, partner_id, event_type, count)
    await asyncio.sleep(3)
    found = events_of(await everything_about(settings, partner_id), event_type)
    assert len(found) == count, f"{len(found)} {event_type} events, expected {count}"
    return found


async def caught_up(settings: Settings, group: str) -> None:
    """Wait until ``group`` has consumed everything on enablement's topics."""
    await kafka.caught_up(settings, group, CONSUMED)
