"""What partners ask of enablement: MDF within their tier's budget, and feedback; and the
refusals for a partner not known or terminated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import access, topics
from shared.settings import Settings
from tests.support.enablement import (
    SUFFIX,
    TODAY,
    completed,
    instant,
    known_as,
    partner_events,
    sign,
    signed,
    terminated,
)
from tests.support.events import send
from tests.support.http import field_errors
from tests.support.kafka import first_record
from tests.support.processes import ServiceProcess


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
        "actor": {"kind": "key", "id": access.key_id(service.admin_key)},
    }
    assert instant(event["data"]["submitted_at"]) == instant(given["submitted_at"])
    listed = service.get("/feedback", partner_id=partner).json()["feedback"]
    assert [f["feedback_id"] for f in listed] == [given["feedback_id"]]
