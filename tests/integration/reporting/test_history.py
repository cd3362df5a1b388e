"""A partner's history and its statements explained, on real Kafka and a real store
(docs/rules/events.md, "A partner's history"; docs/rules/commissions.md, "Explaining a
number"): the events sent show in ``GET /partners/{partner_id}/history`` in the order
received, each with who caused it; a statement as known before a clawback, and the
changes since, whose deltas add up to the change."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from tests.support.events import CONTRACT, DATA, PROFILE, envelope, send
from tests.support.eventually import eventually
from tests.support.processes import ServiceProcess
from tests.support.reporting import RUN, calculated

PERSON = {"kind": "person", "id": "pat"}
KEY = {"kind": "key", "id": "0123456789ab"}


async def test_a_partners_events_show_in_its_history_in_order_with_their_actors(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    partner, deal, registration = (f"{kind}-history-{RUN}" for kind in ("P", "D", "R"))

    def event(event_type: str, actor: dict[str, str] | None, **data: Any) -> Any:
        payload = {**DATA[event_type], "partner_id": partner, **data}
        if actor is not None:
            payload["actor"] = actor
        return envelope(event_type, payload, id=f"{partner}-{event_type}")

    sent = [
        (topics.PARTNERS, event("PartnerSigned", PERSON, **PROFILE, contract=CONTRACT)),
        (
            topics.DEALS,
            event("DealRegistered", KEY, deal_id=deal, registration_id=registration),
        ),
        (topics.DEALS, event("DealClosed", None, deal_id=deal)),
        (topics.ENABLEMENT, event("MdfRequested", PERSON)),
        (topics.INCENTIVES, event("CommissionCalculated", None, deal_id=deal)),
    ]
    for topic, value in sent:
        await send(producer, topic, value)
    ours = {value["id"]: (value["type"], value["data"].get("actor")) for _, value in sent}

    def shown() -> list[dict[str, Any]]:
        answer = reporting_from_now.get(f"/partners/{partner}/history")
        assert answer.status_code == 200, answer.text
        entries: list[dict[str, Any]] = answer.json()["entries"]
        assert {e["event_id"]: (e["type"], e["actor"]) for e in entries} == ours
        return entries

    entries = await eventually(shown)
    assert [(e["received_at"], e["event_id"]) for e in entries] == sorted(
        (e["received_at"], e["event_id"]) for e in entries
    ), "in the order received"
    closed = next(e for e in entries if e["type"] == "DealClosed")
    assert closed["summary"] == f"Deal {deal} closed: 80,000.00 USD (Initech, cloud)"
    assert closed["source"] == "/tests"
    first = entries[0]["received_at"]
    later = reporting_from_now.get(
        f"/partners/{partner}/history", since=first.replace("Z", "+00:00"), until=_now()
    ).json()
    assert [e["event_id"] for e in later["entries"]] == [e["event_id"] for e in entries]


async def test_a_statement_as_known_before_a_clawback_and_what_changed_it(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    partner = f"P-explain-{RUN}"
    one, two = f"D-x1-{RUN}", f"D-x2-{RUN}"
    signed = envelope("PartnerSigned", {"partner_id": partner, **PROFILE, "contract": CONTRACT})
    await send(producer, topics.PARTNERS, signed)
    for event in (
        calculated(partner, one, 1, "2026-Q4", "80000.00", "commissionable", "8000.00",
                   "0.00", "8000.00", "0", "8000.00", "2026-10-05"),
        calculated(partner, two, 1, "2026-Q4", "50000.00", "commissionable", "5000.00",
                   "0.00", "5000.00", "0", "5000.00", "2026-10-20"),
    ):  # fmt: skip
        await send(producer, topics.INCENTIVES, event)
    url = f"/partners/{partner}/statements/2026-Q4"

    def payout(expected: str, **params: str) -> None:
        answer = reporting_from_now.get(url, **params)
        assert answer.status_code == 200, answer.text
        assert answer.json()["payout_total"] == expected, answer.json()

    await eventually(lambda: payout("13000.00"))
    await asyncio.sleep(0.05)  # the instant below lies between the two revisions' receipts
    before = _now()
    await asyncio.sleep(0.05)
    clawed = calculated(partner, two, 2, "2026-Q4", "50000.00", "clawed_back", "0", "0", "0",
                        "0", "-5000.00", "2026-10-20")  # fmt: skip
    await send(producer, topics.INCENTIVES, clawed)
    await eventually(lambda: payout("8000.00"))
    payout("13000.00", as_of=before)

    changes = reporting_from_now.get(f"{url}/changes", since=before).json()
    assert (changes["payout_total_then"], changes["payout_total_now"], changes["change"]) == (
        "13000.00",
        "8000.00",
        "-5000.00",
    )
    assert [(c["deal_id"], c["delta"]) for c in changes["changes"]] == [(two, "-5000.00")]
    assert changes["changes"][0]["explanation"] == f"{two}: now clawed back: −5000.00"
    assert sum(Decimal(c["delta"]) for c in changes["changes"]) == Decimal(changes["change"])


def _now() -> str:
    return datetime.now(UTC).isoformat()
