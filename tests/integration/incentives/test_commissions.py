"""Incentives over real Kafka and FerretDB: the worked example of docs/rules/commissions.md,
in reverse order, exactly; a partner registering a deal through the API; bad input
dead-lettered; what /metrics shows."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import access, topics
from shared.settings import Settings
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.eventually import eventually
from tests.support.http import api_keys, idempotency
from tests.support.incentives import (
    from_now_on,
    incentives,
    latest_revisions,
    wait_for_worked_example,
)
from tests.support.kafka import events_of, first_record, records_keyed
from tests.support.processes import ServiceProcess, httpx
from tests.support.worked_example import TOTALS, WorkedExample, publish


async def test_worked_example_in_reverse_order(
    settings: Settings, producer: AIOKafkaProducer, service: ServiceProcess, unique: str
) -> None:
    example = WorkedExample(f"P-{unique}", unique)
    await publish(producer, list(reversed(example.messages())))
    records = await wait_for_worked_example(settings, example)

    latest = latest_revisions(records)
    for deal_id, row in example.expected_final().items():
        for field, value in row.items():
            actual = latest[deal_id][field]
            assert (actual == value) if field == "status" else Decimal(actual) == Decimal(value), (
                deal_id,
                field,
            )
    payouts = [Decimal(json.loads(r.value)["data"]["delta"]) for r in records]
    assert sum(payouts) == TOTALS["commission"] + TOTALS["bonus"], (
        "the deltas add up to the final totals"
    )
    ids = [json.loads(r.value)["id"] for r in records]
    revisions = {
        (json.loads(r.value)["data"]["deal_id"], json.loads(r.value)["data"]["revision"])
        for r in records
    }
    assert len(set(ids)) == len(revisions), "one CloudEvent id per (deal, revision)"

    statement = service.get(f"/partners/{example.partner_id}/commissions", period="2026-Q4").json()
    assert Decimal(statement["revenue"]) == TOTALS["revenue"]
    assert Decimal(statement["commission"]) == TOTALS["commission"]
    assert Decimal(statement["target_bonus"]) == TOTALS["bonus"]

    d3 = service.get(f"/commissions/{example.deal(3)}").json()
    assert d3["uplift_reasons"] == ["certified for cloud"]
    assert [tuple(Decimal(p[k]) for k in ("from", "amount", "rate")) for p in d3["portions"]] == [
        (Decimal(0), Decimal(20000), Decimal("0.10")),
        (Decimal(100000), Decimal(150000), Decimal("0.12")),
        (Decimal(250000), Decimal(30000), Decimal("0.15")),
    ]
    assert d3["revision"] == len(d3["history"]) >= 1

    registration = service.get(f"/registrations/R-4-{unique}").json()
    assert registration["status"] == "approved"
    decision = await first_record(
        settings,
        topics.DEALS,
        lambda r: r.key == example.partner_id.encode() and b"DealRegistrationApproved" in r.value,
    )
    assert json.loads(decision.value)["data"]["approved_at"] == "2026-11-15T00:00:00Z"

    simulation = service.post(
        "/simulations",
        {
            "plan": {
                **CONTRACT["commission_plan"],
                "brackets": [{"from": "0", "rate": "0.05"}],
                "target_amount": None,
            },
            "partner_ids": [example.partner_id],
            "period": "2026-Q4",
        },
    ).json()
    simulated = simulation["partners"][0]
    assert Decimal(simulated["actual"]["commission"]) == TOTALS["commission"]
    # 5 % of 290 000 plus the unchanged uplifts (4 000 certification, 100 registration).
    assert Decimal(simulated["simulated"]["commission"]) == Decimal("18600.00")


async def test_a_partner_registers_a_deal_that_is_then_decided(
    settings: Settings, unique: str
) -> None:
    """POST /registrations with a partner's key: 202 pending at once; the DealRegistered
    goes out through the outbox naming the key, comes back from deals.v1 and is decided
    there; the decision is read at the answer's url."""
    partner, key = f"P-reg-{unique}", f"partner-key-{unique}"
    await from_now_on(settings, unique)
    process = incentives(settings, unique, API_KEYS=api_keys(partner=(key, partner))).start()
    try:
        body = {
            "deal_id": f"D-reg-{unique}",
            "customer": f"Initech-{unique}",
            "product_line": "cloud",
            "expected_amount": "80000.00",
        }
        sent = idempotency(f"register-{unique}")
        answer = process.post("/registrations", body, key=key, **sent)
        assert answer.status_code == 202, answer.text
        registration_id = answer.json()["registration_id"]
        assert answer.json() == {
            "registration_id": registration_id,
            "status": "pending",
            "url": f"/registrations/{registration_id}",
        }
        again = process.post("/registrations", body, key=key, **sent)
        assert (again.status_code, again.json()) == (202, answer.json())
        assert again.headers["idempotent-replayed"] == "true"
        other = process.post("/registrations", {**body, "partner_id": f"P-{unique}"}, key=key)
        assert other.status_code == 403

        def decided() -> dict[str, Any]:
            seen = process.get(answer.json()["url"], key=key)
            assert seen.status_code == 200, seen.text
            assert seen.json()["status"] == "approved", seen.json()
            found: dict[str, Any] = seen.json()
            return found

        registration = await eventually(decided, "the registration decided")
        assert (registration["partner_id"], registration["deal_id"]) == (partner, body["deal_id"])
        # Decided when incentives consumed the registration: at or after it was made.
        assert registration["decided_at"] >= registration["registered_at"]

        registered = events_of(
            await records_keyed(settings, topics.DEALS, partner), "DealRegistered"
        )
        (event,) = registered.values()
        assert event["data"]["registration_id"] == registration_id
        assert event["data"]["actor"] == {"kind": "key", "id": access.key_id(key)}
    finally:
        process.stop()


async def test_bad_input_is_dead_lettered_and_the_consumer_keeps_going(
    settings: Settings, producer: AIOKafkaProducer, service: ServiceProcess, unique: str
) -> None:
    partner = f"P-{unique}"
    bad_brackets = {
        **CONTRACT["commission_plan"],
        "brackets": [{"from": "0", "rate": "0.1"}, {"from": "0", "rate": "1.5"}],
    }
    poison = [
        (
            topics.PARTNERS,
            envelope(
                "PartnerSigned",
                {
                    "partner_id": partner,
                    **PROFILE,
                    "contract": {**CONTRACT, "commission_plan": bad_brackets},
                },
            ),
        ),
        (
            topics.DEALS,
            envelope(
                "DealClosed",
                {
                    "partner_id": partner,
                    "deal_id": f"NEG-{unique}",
                    "customer": "c",
                    "product_line": "x",
                    "amount": "-5",
                    "currency": "USD",
                    "closed_at": "2026-10-01T00:00:00Z",
                },
            ),
        ),
        (
            topics.DEALS,
            envelope(
                "DealClosed",
                {
                    "partner_id": partner,
                    "deal_id": f"CUR-{unique}",
                    "customer": "c",
                    "product_line": "x",
                    "amount": "5",
                    "currency": "ZZZ",
                    "closed_at": "2026-10-01T00:00:00Z",
                },
            ),
        ),
    ]
    for topic, event in poison:
        await producer.send_and_wait(topic, json.dumps(event).encode(), key=partner.encode())
    await producer.send_and_wait(topics.DEALS, b"\x00 not json", key=partner.encode())
    # A valid partner after the poison is still processed.
    example = WorkedExample(f"P-ok-{unique}", unique)
    await publish(producer, example.messages())
    await wait_for_worked_example(settings, example)

    group = f"incentives-{unique}"
    for topic, expected_reason in (
        (topics.PARTNERS, "invalid_data"),
        (topics.DEALS, "invalid_data"),
        (topics.DEALS, "not_json"),
    ):
        letter = await first_record(
            settings,
            topics.dead_letter_topic(topic),
            lambda r, reason=expected_reason: (
                r.key == partner.encode()
                and dict(r.headers).get("dlq-reason") == reason.encode()
                and dict(r.headers).get("dlq-service") == b"incentives"
            ),
        )
        assert dict(letter.headers)["dlq-original-topic"] == topic.encode()
    assert group  # the DLQ headers name the service, not the group
    assert service.get(f"/partners/{partner}/commissions").status_code == 404, (
        "nothing of the poison was stored"
    )


async def test_metrics_show_http_traffic_and_consumer_lag(
    service: ServiceProcess, producer: AIOKafkaProducer, unique: str
) -> None:
    assert service.get("/partners/P-none/commissions").status_code == 404
    await publish(producer, WorkedExample(f"P-{unique}", unique).messages()[:1])
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        text = httpx.get(f"{service.url}/metrics", timeout=5).text
        # Each consumer group reports its own topics' lag (the rates' group too): wait for
        # the partners' events' group's.
        if (
            'partnerhub_consumer_lag_messages{partition="0",service="incentives",topic="deals.v1"}'
            in text
            and "partnerhub_batch_processing_seconds_bucket" in text
        ) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(1)
    assert (
        'partnerhub_http_requests_total{method="GET",route="/partners/{partner_id}/commissions",service="incentives",status="404"} 1.0'
        in text
    )
    assert (
        'partnerhub_consumer_lag_messages{partition="0",service="incentives",topic="deals.v1"}'
        in text
    )
    assert "partnerhub_batch_processing_seconds_bucket" in text
