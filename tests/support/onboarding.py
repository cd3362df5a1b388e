"""What the onboarding tests share: the bodies of its commands, the keys and settings of
the process most of them use, and reading partners.v1 back.

Every partner id is new, so tests never see each other's events.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared import topics
from shared.settings import Settings
from tests.support.events import CONTRACT
from tests.support.http import idempotency
from tests.support.kafka import by_id, collect, records_keyed
from tests.support.processes import ServiceProcess

SUFFIX = uuid.uuid4().hex[:10]
MANAGER_KEY = f"manager-key-{SUFFIX}"
PARTNER_KEY = f"partner-key-{SUFFIX}"
#: The Idempotency-Key of the application whose partner holds PARTNER_KEY.
KEYED_APPLICATION = f"keyed-application-{SUFFIX}"
#: Not the default weights of docs/rules/scorecard.md: customer_base counts more,
#: expertise less.
WEIGHTS = "customer_base=0.30,sales_network=0.20,expertise=0.20,track_record=0.20,fit=0.10"
NOTICE_DAYS = 45

TODAY = datetime.now(UTC).date()
SCORECARD = {"customer_base": 4, "sales_network": 3, "expertise": 5, "track_record": 3, "fit": 4}


# --------------------------------------------------------------------------- command bodies


def application(name: str = "Acme Cloud Resellers", **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "partner_type": "reseller",
        "region": "EMEA",
        "industry": "IT",
        "contact_email": "channel@acme.example",
        "scorecard": SCORECARD,
        **changes,
    }


def contract(contract_id: str, start: date, end: date, **changes: Any) -> dict[str, Any]:
    return {
        **CONTRACT,
        "contract_id": contract_id,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        **changes,
    }


def plan(**changes: Any) -> dict[str, Any]:
    return {**CONTRACT["commission_plan"], **changes}


def apply(service: ServiceProcess, key: str | None = None, **changes: Any) -> dict[str, Any]:
    headers = idempotency(key) if key else {}
    answer = service.post("/applications", application(**changes), **headers)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def active_partner(service: ServiceProcess) -> tuple[str, str]:
    """A partner applied, approved and signed to a contract running from a month ago."""
    applied = apply(service)
    approved = service.post(f"/applications/{applied['application_id']}/approve", None)
    assert approved.status_code == 200, approved.text
    partner_id = applied["partner_id"]
    contract_id = f"C-{partner_id}-1"
    signed = service.post(
        f"/partners/{partner_id}/contracts",
        contract(contract_id, TODAY - timedelta(days=30), TODAY + timedelta(days=335)),
    )
    assert signed.status_code == 201, signed.text
    return partner_id, contract_id


# --------------------------------------------------------------------------- reading partners.v1


async def records_about(settings: Settings, partner_id: str) -> list[Any]:
    """Every record on partners.v1 keyed by ``partner_id``, up to the end of the topic now."""
    return await records_keyed(settings, topics.PARTNERS, partner_id)


async def arrived(settings: Settings, partner_id: str, count: int, seconds: float = 60) -> None:
    """Wait until ``count`` distinct events about ``partner_id`` are on partners.v1."""
    key = partner_id.encode()
    await collect(
        settings,
        topics.PARTNERS,
        lambda r: r.key == key,
        lambda found: len(by_id(found)) >= count,
        seconds=seconds,
    )


async def settled(settings: Settings, partner_id: str, count: int) -> list[Any]:
    """The records about ``partner_id`` once ``count`` distinct events arrived and no more came."""
    await arrived(settings, partner_id, count)
    await asyncio.sleep(3)  # longer than the relay's interval: a stray event would be out by now
    records = await records_about(settings, partner_id)
    events = by_id(records)
    assert len(events) == count, sorted(e["type"] for e in events.values())
    return records


def types_of(records: list[Any]) -> list[str]:
    """Event types in partition order (one partner's events share a partition)."""
    return [json.loads(r.value)["type"] for r in sorted(records, key=lambda r: r.offset)]
