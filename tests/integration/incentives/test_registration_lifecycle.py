"""The deal-registration lifecycle over real Kafka and FerretDB
(docs/rules/deal-registration.md, "Lifecycle"): a partner asks for an extension and a
channel manager grants it; another partner's key is refused on every lifecycle route;
a decision by hand frees the pair for the registration it had blocked and takes the
registered-deal uplift away from its deal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import access, topics
from shared.settings import Settings
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.eventually import eventually
from tests.support.http import api_keys, idempotency
from tests.support.incentives import from_now_on, incentives
from tests.support.kafka import events_of, records_keyed
from tests.support.processes import ADMIN_KEY, ServiceProcess


def registered(partner: str, rid: str, deal: str, customer: str, at: datetime) -> dict[str, Any]:
    return envelope(
        "DealRegistered",
        {
            "partner_id": partner,
            "registration_id": rid,
            "deal_id": deal,
            "customer": customer,
            "product_line": "cloud",
            "expected_amount": "10000.00",
            "registered_at": at.isoformat(),
        },
    )


async def send(producer: AIOKafkaProducer, topic: str, event: dict[str, Any]) -> None:
    key = event["data"]["partner_id"].encode()
    await producer.send_and_wait(topic, json.dumps(event).encode(), key=key)


def status_of(process: ServiceProcess, rid: str, expected: str) -> dict[str, Any]:
    seen = process.get(f"/registrations/{rid}")
    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == expected, seen.json()
    found: dict[str, Any] = seen.json()
    return found


def uplift_of(process: ServiceProcess, deal: str, expected: str) -> dict[str, Any]:
    seen = process.get(f"/commissions/{deal}")
    assert seen.status_code == 200, seen.text
    assert Decimal(seen.json()["uplift"]) == Decimal(expected), seen.json()
    found: dict[str, Any] = seen.json()
    return found


async def test_extension_and_decision_by_hand(
    settings: Settings, producer: AIOKafkaProducer, unique: str
) -> None:
    mine, theirs = f"P-lc-{unique}", f"P-lc2-{unique}"
    mine_key, theirs_key = f"lc-{unique}", f"lc2-{unique}"
    keys = ",".join([api_keys(partner=(mine_key, mine)), f"{theirs_key}=partner:{theirs}"])
    await from_now_on(settings, unique)
    process = incentives(settings, unique, API_KEYS=keys).start()
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        customer = f"Globex-{unique}"
        first, second = f"R-lc-{unique}", f"R-lc2-{unique}"
        deal = f"D-lc-{unique}"
        contract = {
            **CONTRACT,
            "start_date": (now - timedelta(days=60)).date().isoformat(),
            "end_date": (now + timedelta(days=300)).date().isoformat(),
        }
        await send(
            producer,
            topics.PARTNERS,
            envelope("PartnerSigned", {"partner_id": mine, **PROFILE, "contract": contract}),
        )
        await send(
            producer,
            topics.DEALS,
            registered(mine, first, deal, customer, now - timedelta(days=10)),
        )
        await send(
            producer,
            topics.DEALS,
            registered(theirs, second, f"D-lc2-{unique}", customer, now - timedelta(days=5)),
        )
        await send(
            producer,
            topics.DEALS,
            envelope(
                "DealClosed",
                {
                    "partner_id": mine,
                    "deal_id": deal,
                    "customer": customer,
                    "product_line": "cloud",
                    "amount": "10000.00",
                    "currency": "USD",
                    "closed_at": (now - timedelta(days=1)).isoformat(),
                },
            ),
        )
        blocked = await eventually(lambda: status_of(process, second, "rejected"), "B rejected")
        assert (blocked["reason"], blocked["conflicting_registration_id"]) == (
            "channel_conflict",
            first,
        )
        await eventually(lambda: uplift_of(process, deal, "100.00"), "the registered-deal uplift")

        url = f"/registrations/{first}"
        ask = {"days": 30, "reason": "the customer's board meets next month"}
        for route, body in (
            ("extension", ask),
            ("extension/approve", {}),
            ("extension/reject", {"reason": "no"}),
            ("decision", {"decision": "reject", "reason": "no"}),
        ):
            refused = process.post(f"{url}/{route}", body, key=theirs_key)
            assert refused.status_code == 403, (route, refused.text)
        for route, body in (
            ("extension/approve", {}),
            ("extension/reject", {"reason": "no"}),
            ("decision", {"decision": "reject", "reason": "no"}),
        ):
            assert process.post(f"{url}/{route}", body, key=mine_key).status_code == 403, route

        asked = process.post(f"{url}/extension", ask, key=mine_key, **idempotency(f"x-{unique}"))
        assert asked.status_code == 202, asked.text
        approved = process.post(f"{url}/extension/approve", {"note": "agreed"})
        assert approved.status_code == 200, approved.text
        view = approved.json()
        expected_end = now - timedelta(days=10) + timedelta(days=120)
        assert datetime.fromisoformat(view["expires_at"]) == expected_end
        assert [(x["status"], x["days"]) for x in view["extensions"]] == [("granted", 30)]

        by_hand = process.post(f"{url}/decision", {"decision": "reject", "reason": "duplicate"})
        assert by_hand.status_code == 200, by_hand.text
        assert (by_hand.json()["status"], by_hand.json()["decided_by_hand"]) == ("rejected", True)
        freed = await eventually(lambda: status_of(process, second, "approved"), "B approved")
        assert freed["conflicting_registration_id"] is None
        await eventually(lambda: uplift_of(process, deal, "0.00"), "the uplift taken away")

        mine_records = await records_keyed(settings, topics.DEALS, mine)
        (extended,) = events_of(mine_records, "DealRegistrationExtended").values()
        assert extended["data"]["actor"] == {"kind": "key", "id": access.key_id(ADMIN_KEY)}
        (requested,) = events_of(mine_records, "DealRegistrationExtensionRequested").values()
        assert requested["data"]["actor"] == {"kind": "key", "id": access.key_id(mine_key)}
        rejections = events_of(mine_records, "DealRegistrationRejected").values()
        assert [r["data"]["reason"] for r in rejections] == ["duplicate"]
    finally:
        process.stop()
