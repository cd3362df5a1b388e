"""Completions from the API and from an LMS on enablement.v1, and the certifications
they earn: each awarded once, at the completion that earned it, however often and in
whatever order the completions arrive.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from shared import topics
from shared.settings import Settings
from tests.support.enablement import (
    SUFFIX,
    completed,
    exactly,
    instant,
    partner_events,
    sign,
)
from tests.support.events import envelope, send
from tests.support.http import field_errors
from tests.support.processes import ServiceProcess


async def test_completions_from_the_api_and_an_lms_award_each_certification_once(
    settings: Settings, service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    partner = f"P-learn-{SUFFIX}"
    line = f"cloud-{SUFFIX}-awards"
    a, b = f"A-{SUFFIX}", f"B-{SUFFIX}"
    both, only_a = f"CERT-AB-{SUFFIX}", f"CERT-A-{SUFFIX}"
    await sign(service, producer, partner)
    for course, passing in ((a, 70), (b, 80)):
        answer = service.post(
            "/courses",
            {"course_id": course, "title": course, "product_line": line, "passing_score": passing},
        )
        assert answer.status_code == 201, answer.text
    assert (
        service.post(
            "/certifications",
            {
                "certification_id": both,
                "product_line": line,
                "required_courses": [a, b],
                "validity_days": 30,
            },
        ).status_code
        == 201
    )

    d1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    # L1 passes A (API), fails B at 75 < 80 (LMS), passes B later (LMS): awarded at the last.
    # L2 passes A and B within the hour, fails a retake during validity (ignored).
    # L3 passes only A: no award of both.
    api = [
        completed(partner, "L1", a, d1, 90),
        completed(partner, "L2", a, d1, 91),
    ]
    lms = [
        completed(partner, "L1", b, d1 + timedelta(days=2), 75),
        completed(partner, "L1", b, d1 + timedelta(days=3), 85),
        completed(partner, "L2", b, d1 + timedelta(hours=1), 90),
        completed(partner, "L2", b, d1 + timedelta(days=5), 50),
        completed(partner, "L3", a, d1 + timedelta(days=1), 99),
    ]
    # Every LMS event twice (once re-sent as is, once under a new id), in shuffled order.
    messages = []
    for data in lms:
        event = envelope("TrainingCompleted", data, source="/lms/acme")
        messages += [event, event, envelope("TrainingCompleted", data, source="/lms/acme")]
    random.Random(SUFFIX).shuffle(messages)
    for n, event in enumerate(messages):
        await send(producer, topics.ENABLEMENT, event)
        if n == len(messages) // 2:
            for data in api:
                answer = service.post("/completions", data)
                assert answer.status_code == 201, answer.text
                assert answer.json()["passed"] is True
    retried = service.post("/completions", api[0])
    assert retried.status_code == 201, "a completion already recorded is accepted again"

    awards = await exactly(settings, partner, "CertificationAwarded", 2)
    by_learner = {e["data"]["learner_id"]: e["data"] for e in awards.values()}
    assert set(by_learner) == {"L1", "L2"}
    assert instant(by_learner["L1"]["awarded_at"]) == d1 + timedelta(days=3)
    assert instant(by_learner["L1"]["expires_at"]) == d1 + timedelta(days=33)
    assert instant(by_learner["L2"]["awarded_at"]) == d1 + timedelta(hours=1)
    assert instant(by_learner["L2"]["expires_at"]) == d1 + timedelta(days=30, hours=1)
    assert {e["data"]["certification_id"] for e in awards.values()} == {both}
    assert {e["data"]["product_line"] for e in awards.values()} == {line}
    assert all(e["source"] == "/partnerhub/enablement" for e in awards.values())

    # Re-certification: L2 passes both again after the expiry (API and LMS, reversed order).
    await send(
        producer,
        topics.ENABLEMENT,
        envelope("TrainingCompleted", completed(partner, "L2", b, d1 + timedelta(days=41), 88)),
    )
    answer = service.post("/completions", completed(partner, "L2", a, d1 + timedelta(days=40), 95))
    assert answer.status_code == 201
    awards = await exactly(settings, partner, "CertificationAwarded", 3)
    second = sorted(
        instant(e["data"]["awarded_at"]) for e in awards.values() if e["data"]["learner_id"] == "L2"
    )
    assert second == [d1 + timedelta(hours=1), d1 + timedelta(days=41)]

    # A certification defined later is awarded to every learner who already qualifies.
    assert (
        service.post(
            "/certifications",
            {
                "certification_id": only_a,
                "product_line": line,
                "required_courses": [a],
                "validity_days": 365,
            },
        ).status_code
        == 201
    )
    awards = await exactly(settings, partner, "CertificationAwarded", 6)
    later = {
        e["data"]["learner_id"]: instant(e["data"]["awarded_at"])
        for e in awards.values()
        if e["data"]["certification_id"] == only_a
    }
    assert later == {"L1": d1, "L2": d1, "L3": d1 + timedelta(days=1)}

    # Every completion published by the API is a TrainingCompleted on Kafka, once.
    trainings = await partner_events(settings, partner, "TrainingCompleted", 3)
    from_api = [e for e in trainings.values() if e["source"] == "/partnerhub/enablement"]
    assert len(from_api) == 3

    view = service.get(f"/partners/{partner}/certifications").json()
    assert len(view["certifications"]) == 6
    learner = service.get(f"/partners/{partner}/learners/L1").json()
    assert len(learner["completions"]) == 3, "duplicates are stored once"


async def test_a_completion_needs_a_known_course_a_valid_score_and_a_past_date(
    service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    partner = f"P-bad-{SUFFIX}"
    course = f"BAD-{SUFFIX}"
    await sign(service, producer, partner)
    service.post("/courses", {"course_id": course, "title": "t", "product_line": "x"})
    good = completed(partner, "L1", course, datetime(2026, 1, 5, tzinfo=UTC), 80)
    cases = {
        "body.score": {**good, "score": 101},
        "body.course_id": {**good, "course_id": f"UNKNOWN-{SUFFIX}"},
        "body.completed_at": {
            **good,
            "completed_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        },
    }
    for location, body in cases.items():
        answer = service.post("/completions", body)
        assert answer.status_code == 422, (location, answer.text)
        assert field_errors(answer) == [location]
    naive = service.post("/completions", {**good, "completed_at": "2026-01-05T10:00:00"})
    assert field_errors(naive) == ["body.completed_at"]
