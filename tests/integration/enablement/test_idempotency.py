"""A command sent again with its Idempotency-Key: the first answer, nothing new published."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from shared.settings import Settings
from tests.support.enablement import (
    SUFFIX,
    completed,
    everything_about,
    partner_events,
    sign,
)
from tests.support.http import field_errors
from tests.support.processes import ServiceProcess


async def test_a_retried_command_returns_the_first_answer_and_publishes_nothing_new(
    settings: Settings, service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    partner = f"P-retry-{SUFFIX}"
    course = f"R-{SUFFIX}"
    await sign(service, producer, partner)
    service.post("/courses", {"course_id": course, "title": "t", "product_line": "x"})
    commands = [
        ("/feedback", {"partner_id": partner, "rating": 5, "topic": "support", "text": "ok"}),
        ("/completions", completed(partner, "L1", course, datetime(2026, 2, 1, tzinfo=UTC), 90)),
        (
            "/mdf-requests",
            {"partner_id": partner, "campaign": "Webinar", "amount": "100.00", "currency": "USD"},
        ),
    ]
    for path, body in commands:
        key = f"{path}-{SUFFIX}"
        first = service.post(path, body, **{"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        second = service.post(path, body, **{"Idempotency-Key": key})
        assert (second.status_code, second.json()) == (201, first.json())
        assert second.headers["idempotent-replayed"] == "true"
        reused = service.post(
            path, {**body, "partner_id": partner + "-x"}, **{"Idempotency-Key": key}
        )
        assert reused.status_code == 422, reused.text
        assert field_errors(reused) == ["header.Idempotency-Key"]

    request_id = service.get("/mdf-requests", partner_id=partner).json()["requests"][0][
        "request_id"
    ]
    approve_key = {"Idempotency-Key": f"approve-{SUFFIX}"}
    approved = service.post(f"/mdf-requests/{request_id}/approve", None, **approve_key)
    replayed = service.post(f"/mdf-requests/{request_id}/approve", None, **approve_key)
    assert approved.status_code == replayed.status_code == 200
    assert approved.json() == replayed.json()

    types = ("PartnerFeedbackSubmitted", "TrainingCompleted", "MdfRequested", "MdfApproved")
    for event_type in types:
        await partner_events(settings, partner, event_type, 1)
    await asyncio.sleep(3)
    events = {
        json.loads(r.value)["id"]: json.loads(r.value)["type"]
        for r in await everything_about(settings, partner)
    }
    assert sorted(events.values()) == sorted(types), "one event per command however often sent"
