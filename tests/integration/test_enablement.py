"""Enablement over real Kafka and FerretDB, run as the process it is (``python -m services.enablement``).

One service process serves the whole module (its own database and consumer
group); every test uses its own partners, courses and product lines, so tests
never see each other's data. Partners become known the way they do in
production: PartnerSigned / PartnerTerminated on partners.v1, from a plain
Kafka producer; an external LMS is a plain producer of TrainingCompleted.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared import topics
from shared.infra import partition_ids
from shared.lag import consumer_lag
from shared.messaging import kafka_client_options
from shared.mongo import make_mongo_client
from shared.processes import ServiceProcess, httpx
from shared.settings import Settings
from tests.event_examples import CONTRACT, PROFILE, envelope
from tests.kafka_reading import collect, first_record

SUFFIX = uuid.uuid4().hex[:10]
KEYED_PARTNER = f"P-keyed-{SUFFIX}"
PARTNER_KEY = f"partner-key-{SUFFIX}"
MANAGER_KEY = f"manager-key-{SUFFIX}"
#: Budgets small enough to exhaust in a test; proves MDF_QUARTERLY_BUDGETS is read.
BUDGETS = "registered=0,silver=500,gold=1000,platinum=5000"

TODAY = datetime.now(UTC).date()
CONSUMED = topics.CONSUMED["enablement"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def service(settings: Settings) -> AsyncIterator[ServiceProcess]:
    database = f"test_enablement_{SUFFIX}"
    process = ServiceProcess(
        "enablement",
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "MONGODB_URL": settings.mongodb_url.get_secret_value(),
            "MONGODB_DATABASE": database,
            "CONSUMER_GROUP": f"enablement-{SUFFIX}",
            "API_KEYS": f"test-admin-key=admin,{MANAGER_KEY}=channel_manager,"
            f"{PARTNER_KEY}=partner:{KEYED_PARTNER}",
            "MDF_BUDGET_CURRENCY": "USD",
            "MDF_QUARTERLY_BUDGETS": BUDGETS,
        },
    ).start()
    try:
        yield process
    finally:
        process.stop()
        client = make_mongo_client(settings)
        await client.drop_database(database)
        await client.close()


# --------------------------------------------------------------------------- helpers


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


async def send(producer: AIOKafkaProducer, topic: str, event: dict[str, Any]) -> None:
    await producer.send_and_wait(
        topic,
        json.dumps(event).encode(),
        key=event["subject"].encode(),
        headers=[("content-type", b"application/cloudevents+json")],
    )


async def eventually(
    check: Callable[[], Any], what: str, seconds: float = 60.0, interval: float = 0.3
) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {seconds} s: {what}")
        await asyncio.sleep(interval)


async def known_as(service: ServiceProcess, partner_id: str, status: str) -> dict[str, Any]:
    """Wait until the service has consumed what makes ``partner_id`` have ``status``."""

    def check() -> Any:
        answer = service.get(f"/partners/{partner_id}/standing")
        return (
            answer.json()
            if answer.status_code == 200 and answer.json()["status"] == status
            else None
        )

    return dict(await eventually(check, f"{partner_id} known as {status}"))


async def sign(
    service: ServiceProcess, producer: AIOKafkaProducer, partner_id: str, tier: str = "gold"
) -> None:
    await send(producer, topics.PARTNERS, signed(partner_id, tier))
    await known_as(service, partner_id, "active")


def events_of(records: list[Any], event_type: str) -> dict[str, dict[str, Any]]:
    """CloudEvent id → event, for the records of ``event_type``."""
    found = {}
    for record in records:
        event = json.loads(record.value)
        if event["type"] == event_type:
            found[event["id"]] = event
    return found


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
    partitions = [
        TopicPartition(topics.ENABLEMENT, p)
        for p in await partition_ids(settings, topics.ENABLEMENT)
    ]
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                found.extend(r for r in records if r.key == partner_id.encode())
        return found
    finally:
        await consumer.stop()


async def exactly(
    settings: Settings, partner_id: str, event_type: str, count: int
) -> dict[str, dict[str, Any]]:
    """Exactly ``count`` distinct events: wait for them, let more time pass, count them all."""
    await partner_events(settings, partner_id, event_type, count)
    await asyncio.sleep(3)
    found = events_of(await everything_about(settings, partner_id), event_type)
    assert len(found) == count, f"{len(found)} {event_type} events, expected {count}"
    return found


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def field_errors(answer: Any) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]


# --------------------------------------------------------------------------- the catalogue


async def test_courses_and_certification_definitions(service: ServiceProcess) -> None:
    course = f"CLOUD-101-{SUFFIX}"
    line = f"cloud-{SUFFIX}"
    created = service.post(
        "/courses", {"course_id": course, "title": "Cloud basics", "product_line": line}
    )
    assert created.status_code == 201, created.text
    assert created.json()["passing_score"] == 70, "the default passing score"
    again = service.post(
        "/courses", {"course_id": course, "title": "Cloud basics", "product_line": line}
    )
    assert again.status_code == 200, "defining the same course again changes nothing"
    conflicting = service.post(
        "/courses", {"course_id": course, "title": "Other", "product_line": line}
    )
    assert conflicting.status_code == 409
    assert course in conflicting.json()["detail"]

    for bad in (101, -1, 70.5):
        refused = service.post(
            "/courses",
            {"course_id": f"X-{SUFFIX}", "title": "x", "product_line": line, "passing_score": bad},
        )
        assert refused.status_code == 422
        assert field_errors(refused) == ["body.passing_score"]

    certification = {
        "certification_id": f"CERT-{SUFFIX}",
        "product_line": line,
        "required_courses": [course],
        "validity_days": 365,
    }
    assert service.post("/certifications", certification).status_code == 201
    unknown = service.post(
        "/certifications",
        {**certification, "certification_id": f"CERT-2-{SUFFIX}", "required_courses": ["NOPE"]},
    )
    assert unknown.status_code == 422
    assert field_errors(unknown) == ["body.required_courses"]
    assert "NOPE" in unknown.json()["detail"][0]["msg"]
    no_validity = service.post(
        "/certifications", {**certification, "certification_id": "C3", "validity_days": 0}
    )
    assert field_errors(no_validity) == ["body.validity_days"]

    courses = service.get("/courses", product_line=line).json()["courses"]
    assert courses == [
        {"course_id": course, "title": "Cloud basics", "product_line": line, "passing_score": 70}
    ]
    certifications = service.get("/certifications", product_line=line).json()["certifications"]
    assert certifications == [certification]


# --------------------------------------------------------------------------- certifications


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


# --------------------------------------------------------------------------- partners


async def test_unknown_partners_404_and_terminated_partners_409_with_the_reason(
    service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    course = f"T-{SUFFIX}"
    service.post("/courses", {"course_id": course, "title": "t", "product_line": "x"})
    unknown, gone = f"P-unknown-{SUFFIX}", f"P-gone-{SUFFIX}"
    await send(producer, topics.PARTNERS, signed(gone))
    await send(
        producer,
        topics.PARTNERS,
        terminated(gone, TODAY - timedelta(days=1), "breach of contract"),
    )
    await known_as(service, gone, "terminated")

    def commands(partner: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (
                "/completions",
                completed(partner, "L1", course, datetime(2026, 1, 5, tzinfo=UTC), 90),
            ),
            ("/feedback", {"partner_id": partner, "rating": 4, "topic": "training", "text": ""}),
            (
                "/mdf-requests",
                {"partner_id": partner, "campaign": "c", "amount": "10.00", "currency": "USD"},
            ),
        ]

    for path, body in commands(unknown):
        answer = service.post(path, body)
        assert answer.status_code == 404, (path, answer.text)
        assert unknown in answer.json()["detail"]
        assert "not known" in answer.json()["detail"]
    for path, body in commands(gone):
        answer = service.post(path, body)
        assert answer.status_code == 409, (path, answer.text)
        assert "terminated" in answer.json()["detail"]
        assert "breach of contract" in answer.json()["detail"]


# --------------------------------------------------------------------------- MDF


async def test_mdf_within_budget_is_approved_beyond_it_rejected_with_the_reason(
    settings: Settings, service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    partner = f"P-mdf-{SUFFIX}"
    await sign(service, producer, partner, tier="gold")  # 1000 USD a quarter here

    def ask(amount: str, currency: str = "USD") -> dict[str, Any]:
        answer = service.post(
            "/mdf-requests",
            {"partner_id": partner, "campaign": "Roadshow", "amount": amount, "currency": currency},
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    first = ask("600.00")
    assert (first["status"], first["amount"]) == ("requested", "600.00")
    approved = service.post(f"/mdf-requests/{first['request_id']}/approve", None)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    again = service.post(f"/mdf-requests/{first['request_id']}/approve", None)
    assert again.status_code == 409, "a decided request cannot be decided again"

    over = ask("500.00")
    assert over["status"] == "rejected"
    assert over["reason"].startswith("over_budget"), over["reason"]
    assert "400" in over["reason"], "the reason says what is left"

    second, third = ask("300.00"), ask("300.00")
    assert (second["status"], third["status"]) == ("requested", "requested")
    assert (
        service.post(f"/mdf-requests/{second['request_id']}/approve", None).json()["status"]
        == "approved"
    )
    late = service.post(f"/mdf-requests/{third['request_id']}/approve", None)
    assert late.status_code == 200
    assert late.json()["status"] == "rejected", "the budget was used up in between"
    assert late.json()["reason"].startswith("over_budget")

    euros = ask("10.00", "EUR")
    assert euros["status"] == "rejected"
    assert euros["reason"].startswith("currency_mismatch")
    fourth = ask("50.00")
    rejected = service.post(
        f"/mdf-requests/{fourth['request_id']}/reject", {"reason": "not this campaign"}
    )
    assert rejected.json()["status"] == "rejected"

    listing = service.get("/mdf-requests", partner_id=partner).json()
    assert len(listing["requests"]) == 6
    assert listing["budget"]["budget"] == "1000"
    assert Decimal(listing["budget"]["remaining"]) == Decimal("100.00")

    for bad, location in (
        ({"amount": "-5"}, "body.amount"),
        ({"amount": 12.5}, "body.amount"),
        ({"currency": "ZZZ"}, "body.currency"),
    ):
        body = {"partner_id": partner, "campaign": "c", "amount": "5", "currency": "USD", **bad}
        answer = service.post("/mdf-requests", body)
        assert answer.status_code == 422
        assert field_errors(answer) == [location]

    requested = await partner_events(settings, partner, "MdfRequested", 6)
    decisions_approved = await partner_events(settings, partner, "MdfApproved", 2)
    decisions_rejected = await partner_events(settings, partner, "MdfRejected", 4)
    assert {e["data"]["amount"] for e in requested.values()} >= {"600.00", "500.00", "300.00"}
    assert {e["data"]["request_id"] for e in decisions_approved.values()} == {
        first["request_id"],
        second["request_id"],
    }
    reasons = {e["data"]["request_id"]: e["data"]["reason"] for e in decisions_rejected.values()}
    assert reasons[fourth["request_id"]] == "not this campaign"
    assert reasons[over["request_id"]].startswith("over_budget")


# --------------------------------------------------------------------------- materials


async def test_materials_are_listed_by_tier(
    service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    line = f"security-{SUFFIX}"
    gold_partner = f"P-gold-{SUFFIX}"
    await sign(service, producer, gold_partner, tier="gold")
    await sign(service, producer, KEYED_PARTNER, tier="silver")

    def add(title: str, tiers: list[str] | None) -> str:
        body: dict[str, Any] = {
            "title": title,
            "product_line": line,
            "kind": "deck",
            "url": f"https://materials.example/{title.replace(' ', '-')}",
        }
        if tiers is not None:
            body["tiers"] = tiers
        answer = service.post("/materials", body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["material_id"])

    everyone = add("A overview", None)
    premium = add("B premium playbook", ["gold", "platinum"])
    silver = add("C silver starter", ["silver"])

    def titles(key: str | None = None, **params: str) -> list[str]:
        answer = service.get("/materials", key=key, product_line=line, **params)
        assert answer.status_code == 200, answer.text
        return [m["material_id"] for m in answer.json()["materials"]]

    assert titles() == [everyone, premium, silver]
    assert titles(tier="silver") == [everyone, silver]
    assert titles(tier="gold") == [everyone, premium]
    assert titles(partner_id=gold_partner) == [everyone, premium]
    assert titles(key=PARTNER_KEY) == [everyone, silver], "a partner key sees its own tier's"
    assert titles(key=PARTNER_KEY, partner_id=KEYED_PARTNER) == [everyone, silver]
    other = service.get("/materials", key=PARTNER_KEY, partner_id=gold_partner)
    assert other.status_code == 403
    above = service.get("/materials", key=PARTNER_KEY, tier="gold")
    assert above.status_code == 403
    refused = service.post(
        "/materials",
        {"title": "x", "product_line": line, "kind": "deck", "url": "u", "tiers": ["diamond"]},
    )
    assert refused.status_code == 422
    assert field_errors(refused)[0].startswith("body.tiers")


# --------------------------------------------------------------------------- feedback


async def test_feedback_is_published_with_its_fields(
    settings: Settings, service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    partner = f"P-feedback-{SUFFIX}"
    await sign(service, producer, partner)
    for rating in (0, 6):
        answer = service.post(
            "/feedback", {"partner_id": partner, "rating": rating, "topic": "t", "text": ""}
        )
        assert answer.status_code == 422
        assert field_errors(answer) == ["body.rating"]

    answer = service.post(
        "/feedback",
        {"partner_id": partner, "rating": 4, "topic": "training", "text": "Good labs."},
    )
    assert answer.status_code == 201, answer.text
    given = answer.json()
    record = await first_record(
        settings,
        topics.ENABLEMENT,
        lambda r: r.key == partner.encode() and b"PartnerFeedbackSubmitted" in r.value,
    )
    assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
    event = json.loads(record.value)
    assert event["id"] == given["event_id"]
    assert (event["specversion"], event["type"], event["subject"]) == (
        "1.0",
        "PartnerFeedbackSubmitted",
        partner,
    )
    assert event["data"] == {
        "partner_id": partner,
        "feedback_id": given["feedback_id"],
        "rating": 4,
        "topic": "training",
        "text": "Good labs.",
        "submitted_at": event["data"]["submitted_at"],
    }
    assert instant(event["data"]["submitted_at"]) == instant(given["submitted_at"])
    listed = service.get("/feedback", partner_id=partner).json()["feedback"]
    assert [f["feedback_id"] for f in listed] == [given["feedback_id"]]


# --------------------------------------------------------------------------- idempotency


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


# --------------------------------------------------------------------------- access


async def test_keys_are_checked(service: ServiceProcess, producer: AIOKafkaProducer) -> None:
    assert httpx.get(f"{service.url}/courses").status_code == 401
    assert service.get("/courses", key="not-a-key").status_code == 401
    assert httpx.get(f"{service.url}/healthz").status_code == 200

    body = {"partner_id": KEYED_PARTNER, "rating": 5, "topic": "t", "text": ""}
    assert service.post("/feedback", body, key=PARTNER_KEY).status_code == 403
    assert service.post("/courses", {}, key=PARTNER_KEY).status_code == 403
    assert service.get("/courses", key=PARTNER_KEY).status_code == 403
    other = f"P-other-{SUFFIX}"
    for path, params in (
        ("/feedback", {"partner_id": other}),
        ("/mdf-requests", {"partner_id": other}),
        (f"/partners/{other}/certifications", {}),
        (f"/partners/{other}/standing", {}),
    ):
        assert service.get(path, key=PARTNER_KEY, **params).status_code == 403, path
    assert service.get("/feedback", key=PARTNER_KEY, partner_id=KEYED_PARTNER).status_code == 200

    await sign(service, producer, f"P-cm-{SUFFIX}")
    by_manager = service.post(
        "/feedback",
        {"partner_id": f"P-cm-{SUFFIX}", "rating": 3, "topic": "t", "text": ""},
        key=MANAGER_KEY,
    )
    assert by_manager.status_code == 201


# --------------------------------------------------------------------------- bad input


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

    def stored() -> bool:
        return service.get(f"/partners/{partner}/learners/L1").status_code == 200

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


# --------------------------------------------------------------------------- operations


async def test_operational_surface(service: ServiceProcess) -> None:
    ready = httpx.get(f"{service.url}/readyz").json()
    assert ready["status"] == "ready"
    assert ready["outbox_backlog"] == 0 or isinstance(ready["outbox_backlog"], int)
    paths = httpx.get(f"{service.url}/openapi.json").json()["paths"]
    for path in (
        "/courses",
        "/certifications",
        "/completions",
        "/materials",
        "/feedback",
        "/mdf-requests",
        "/mdf-requests/{request_id}/approve",
        "/mdf-requests/{request_id}/reject",
    ):
        assert path in paths, path
    asyncapi = httpx.get(f"{service.url}/asyncapi.json").json()
    assert "enablement.v1" in json.dumps(asyncapi)
    metrics = httpx.get(f"{service.url}/metrics").text
    assert any(
        line.startswith("partnerhub_http_requests_total{") and 'service="enablement"' in line
        for line in metrics.splitlines()
    )


# --------------------------------------------------------------------------- crashes


async def caught_up(settings: Settings, group: str) -> None:
    """Wait until ``group`` has consumed everything on its topics (as far as it goes)."""
    deadline = time.monotonic() + 60
    while sum((await consumer_lag(settings, group, CONSUMED)).values()) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} did not catch up")
        await asyncio.sleep(0.5)


@pytest.mark.parametrize(
    "failpoint", ["enablement_after_store", "enablement_after_publish", "enablement_before_commit"]
)
async def test_a_crash_at_any_step_loses_no_award_and_duplicates_none(
    settings: Settings, producer: AIOKafkaProducer, tmp_path: Any, failpoint: str
) -> None:
    suffix = uuid.uuid4().hex[:10]
    database, group = f"test_enablement_crash_{suffix}", f"enablement-crash-{suffix}"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "MONGODB_DATABASE": database,
        "CONSUMER_GROUP": group,
    }
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
        client = make_mongo_client(settings)
        await client.drop_database(database)
        await client.close()
