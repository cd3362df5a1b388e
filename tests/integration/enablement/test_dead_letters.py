"""Poison on enablement.v1: dead-lettered with the reason, and the consumer goes on."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from shared import topics
from shared.settings import Settings
from tests.support.enablement import SUFFIX, completed
from tests.support.events import envelope, send
from tests.support.eventually import eventually
from tests.support.kafka import first_record
from tests.support.processes import ServiceProcess


async def test_poison_on_enablement_v1_is_dead_lettered_and_the_consumer_keeps_going(
    settings: Settings, service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    partner = f"P-poison-{SUFFIX}"
    key = partner.encode()
    good = completed(partner, "L1", "ANY", datetime(2026, 1, 5, tzinfo=UTC), 90)
    await producer.send_and_wait(topics.ENABLEMENT, b"\x00 not json", key=key)
    await send(producer, topics.ENABLEMENT, envelope("TrainingCompleted", {**good, "score": 101}))
    await send(
        producer, topics.ENABLEMENT, envelope("TrainingCompleted", {**good, "learner_id": " "})
    )
    await send(producer, topics.ENABLEMENT, envelope("TrainingCompleted", good))

    def stored() -> None:
        assert service.get(f"/partners/{partner}/learners/L1").status_code == 200

    await eventually(stored, "the valid completion after the poison is stored")
    for reason, marker in (
        ("not_json", b"not json"),
        ("invalid_data", b"101"),
        ("invalid_data", b'" "'),
    ):
        letter = await first_record(
            settings,
            topics.dead_letter_topic(topics.ENABLEMENT),
            lambda r, reason=reason, marker=marker: (
                r.key == key
                and marker in r.value
                and dict(r.headers).get("dlq-service") == b"enablement"
                and dict(r.headers).get("dlq-reason") == reason.encode()
            ),
        )
        headers = dict(letter.headers)
        assert headers["dlq-original-topic"] == topics.ENABLEMENT.encode()
        assert headers["dlq-error"]
    learners = service.get(f"/partners/{partner}/learners").json()["learners"]
    assert [x["learner_id"] for x in learners] == ["L1"]
