"""MDF claims against an approved request on the real infrastructure: a partner claims
with its key, a channel manager approves part and rejects, every refusal names its field,
a retried claim answers its first answer, and the events reach enablement.v1
(docs/rules/enablement.md, "Claims")."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from shared.settings import Settings
from tests.support.enablement import (
    KEYED_PARTNER,
    PARTNER_KEY,
    SUFFIX,
    TODAY,
    exactly,
    sign,
)
from tests.support.processes import ServiceProcess


def digest(n: int) -> str:
    return hashlib.sha256(f"{SUFFIX}-{n}".encode()).hexdigest()


def claim(amount: str, *numbers: int, **changes: Any) -> dict[str, Any]:
    body = {
        "amount": amount,
        "activity_end": (TODAY - timedelta(days=2)).isoformat(),
        "evidence": [
            {"kind": "invoice", "url": f"https://files.example.com/{n}.pdf", "sha256": digest(n)}
            for n in numbers
        ],
    }
    return {**body, **changes}


def approved_request(service: ServiceProcess, partner_id: str, amount: str) -> str:
    body = {"partner_id": partner_id, "campaign": "Roadshow", "amount": amount, "currency": "USD"}
    made = service.post("/mdf-requests", body)
    assert made.status_code == 201, made.text
    request_id = str(made.json()["request_id"])
    approved = service.post(f"/mdf-requests/{request_id}/approve", None)
    assert approved.json()["status"] == "approved", approved.text
    return request_id


async def test_a_request_is_paid_only_against_claims(
    settings: Settings, service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    other = f"P-claims-other-{SUFFIX}"
    await sign(service, producer, KEYED_PARTNER, tier="silver")  # 500 USD a quarter here
    await sign(service, producer, other, tier="gold")
    request_id = approved_request(service, KEYED_PARTNER, "300.00")
    others = approved_request(service, other, "100.00")
    claims = f"/mdf-requests/{request_id}/claims"

    retry = {"Idempotency-Key": f"claim-{SUFFIX}"}
    first = service.post(claims, claim("250.00", 1), key=PARTNER_KEY, **retry)
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["amount"]) == ("submitted", "250.00")
    again = service.post(claims, claim("250.00", 1), key=PARTNER_KEY, **retry)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"

    late = (TODAY - timedelta(days=61)).isoformat()
    for body, loc, rule in (
        (claim("50.01", 2), ["body", "amount"], "over_approved_amount"),
        (claim("1.00", 2, currency="EUR"), ["body", "currency"], "currency_mismatch"),
        (claim("1.00", 2, activity_end=late), ["body", "activity_end"], "claim_window_closed"),
        (claim("1.00"), ["body", "evidence"], "no_evidence"),
        (claim("1.00", 2, 1), ["body", "evidence", 1, "sha256"], "evidence_reused"),
    ):
        refused = service.post(claims, body, key=PARTNER_KEY)
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["detail"]
        assert (error["loc"], error["msg"].split(":")[0]) == (loc, rule), refused.text
    theirs = service.post(f"/mdf-requests/{others}/claims", claim("1.00", 3), key=PARTNER_KEY)
    assert theirs.status_code == 403, "a partner claims against its own requests only"

    claim_id = first.json()["claim_id"]
    decide = f"{claims}/{claim_id}"
    too_much = service.post(f"{decide}/approve", {"approved_amount": "250.01"})
    assert too_much.status_code == 422, too_much.text
    part = service.post(f"{decide}/approve", {"approved_amount": "200.00"})
    assert (part.status_code, part.json()["approved_amount"]) == (200, "200.00")
    assert service.post(f"{decide}/reject", {"reason": "late"}).status_code == 409

    second = service.post(claims, claim("100.00", 2), key=PARTNER_KEY)
    assert second.status_code == 201, "what the part approval left out is claimable"
    rejected = service.post(f"{claims}/{second.json()['claim_id']}/reject", {"reason": "blurred"})
    assert rejected.json()["status"] == "rejected"

    detail = service.get(f"/mdf-requests/{request_id}", key=PARTNER_KEY).json()
    assert [(c["status"], c["approved_amount"]) for c in detail["claims"]] == [
        ("approved", "200.00"),
        ("rejected", None),
    ]
    assert (detail["claimed"], detail["claims_approved"], detail["claimable"]) == (
        "200.00",
        "200.00",
        "100.00",
    )

    submitted = await exactly(settings, KEYED_PARTNER, "MdfClaimSubmitted", 2)
    (approved,) = (await exactly(settings, KEYED_PARTNER, "MdfClaimApproved", 1)).values()
    (refusal,) = (await exactly(settings, KEYED_PARTNER, "MdfClaimRejected", 1)).values()
    assert {e["data"]["claim_id"] for e in submitted.values()} == {
        claim_id,
        second.json()["claim_id"],
    }
    assert (approved["data"]["approved_amount"], approved["data"]["currency"]) == ("200.00", "USD")
    assert refusal["data"]["reason"] == "blurred"
