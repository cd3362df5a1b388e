"""Oversized and over-deep events on real Kafka (docs/rules/events.md, "Bounds"): each
goes to the dead-letter topic naming why, reporting stays up, and the valid event sent
after them on the same partition is in its read models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from shared.settings import Settings
from tests.support.events import CONTRACT, DATA, PROFILE, envelope, send
from tests.support.eventually import eventually
from tests.support.kafka import first_record
from tests.support.processes import ServiceProcess


async def test_oversized_and_over_deep_events_are_dead_lettered_and_reporting_goes_on(
    settings: Settings,
    producer: AIOKafkaProducer,
    reporting_from_now: ServiceProcess,
    unique: str,
) -> None:
    partner = f"P-bounds-{unique}"
    key = partner.encode()
    signed = envelope("PartnerSigned", {"partner_id": partner, **PROFILE, "contract": CONTRACT})
    await send(producer, topics.PARTNERS, signed)
    deal = {
        "partner_id": partner,
        "deal_id": f"D-bounds-{unique}",
        "customer": "Initech",
        "product_line": "cloud",
        "amount": "1000.00",
        "currency": "USD",
        "closed_at": "2026-11-20T10:00:00Z",
    }
    huge = envelope(
        "DealClosed", {**deal, "deal_id": f"D-huge-{unique}", "customer": "x" * 900_000}
    )
    rich = envelope("DealClosed", {**deal, "deal_id": f"D-rich-{unique}", "amount": "1" + "0" * 15})
    deep = json.dumps(envelope("DealClosed", {**deal, "deal_id": f"D-deep-{unique}"}))
    deep = deep[:-2] + ', "nest": ' + "[" * 50_000 + "]" * 50_000 + "}}"
    await send(producer, topics.DEALS, huge)
    await send(producer, topics.DEALS, rich)
    await producer.send_and_wait(topics.DEALS, deep.encode(), key=key)
    # After them on the same partition: an event reporting reads itself (satisfaction).
    survey = {
        **DATA["CustomerSurveyCompleted"],
        "partner_id": partner,
        "survey_id": f"S-bounds-{unique}",
        "completed_at": datetime.now(UTC).isoformat(),
    }
    await send(producer, topics.DEALS, envelope("CustomerSurveyCompleted", survey))

    def served() -> None:
        answer = reporting_from_now.get(f"/partners/{partner}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["satisfaction"]["responses"] == 1

    await eventually(served, "the valid event after the bad ones is read")
    expected = {
        f"D-huge-{unique}": ("invalid_data", "data.customer: String should have at most 500"),
        f"D-rich-{unique}": ("invalid_data", "data.amount: money must be less than"),
        f"D-deep-{unique}": ("not_json", "recursion limit"),
    }
    for deal_id, (reason, error) in expected.items():

        def matches(record: Any, deal_id: str = deal_id) -> bool:
            return bool(
                record.key == key
                and deal_id.encode() in record.value
                and dict(record.headers).get("dlq-service") == b"reporting"
            )

        letter = await first_record(settings, topics.dead_letter_topic(topics.DEALS), matches)
        headers = dict(letter.headers)
        assert headers["dlq-reason"] == reason.encode(), deal_id
        assert error in headers["dlq-error"].decode(), headers["dlq-error"]
    assert reporting_from_now.get("/healthz").status_code == 200
