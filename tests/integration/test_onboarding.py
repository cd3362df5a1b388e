"""Onboarding over real Kafka and FerretDB, run as the process it is (``python -m services.onboarding``).

HTTP commands go in; what comes out is read back from partners.v1 by a plain
Kafka consumer, as any other system would read it. One service process serves
most of the module (its own database; configured with non-default scorecard
weights and notice, to prove both are read); the crash tests run their own.
Every partner id is new, so tests never see each other's events.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from services.onboarding.commands import ApplicationBody, CommandKey, Onboarding
from services.onboarding.configuration import OnboardingRules
from services.onboarding.store import OnboardingStore
from shared import topics
from shared.events import CLOUDEVENTS_CONTENT_TYPE, parse_event
from shared.infra import partition_ids
from shared.messaging import kafka_client_options, make_broker
from shared.mongo import Document, make_mongo_client
from shared.outbox import Outbox
from shared.processes import ServiceProcess, httpx
from shared.settings import Settings
from tests.event_examples import CONTRACT
from tests.infra_control import outage, require_local_infrastructure
from tests.kafka_reading import collect

SUFFIX = uuid.uuid4().hex[:10]
MANAGER_KEY = f"manager-key-{SUFFIX}"
PARTNER_KEY = f"partner-key-{SUFFIX}"
#: The Idempotency-Key of the application whose partner holds PARTNER_KEY.
KEYED_APPLICATION = f"keyed-application-{SUFFIX}"
#: Not the SPEC's defaults: customer_base counts more, expertise less.
WEIGHTS = "customer_base=0.30,sales_network=0.20,expertise=0.20,track_record=0.20,fit=0.10"
NOTICE_DAYS = 45

TODAY = datetime.now(UTC).date()
SCORECARD = {"customer_base": 4, "sales_network": 3, "expertise": 5, "track_record": 3, "fit": 4}
#: SCORECARD under WEIGHTS: (0.3·4 + 0.2·3 + 0.2·5 + 0.2·3 + 0.1·4) / 5 · 100 (77.0 by default).
SCORE = 76.0
LIFECYCLE = [
    "PartnerApplied",
    "PartnerApproved",
    "PartnerSigned",
    "ContractRenewed",
    "PartnerTierChanged",
    "PartnerTerminated",
]


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


def keyed_partner_id() -> str:
    """The partner id the service derives from KEYED_APPLICATION (same rule as the service)."""
    key = CommandKey.of(KEYED_APPLICATION, "/applications", ApplicationBody(**application()))
    assert key is not None
    return f"P-{key.partner_suffix(0)}"


def idempotency(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def field_errors(answer: Any) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]


def onboarding_env(settings: Settings, database: str, **extra: str) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "MONGODB_DATABASE": database,
        **extra,
    }


async def drop(settings: Settings, database: str) -> None:
    client = make_mongo_client(settings)
    await client.drop_database(database)
    await client.close()


@pytest.fixture(scope="module")
async def service(settings: Settings) -> AsyncIterator[ServiceProcess]:
    database = f"test_onboarding_{SUFFIX}"
    process = ServiceProcess(
        "onboarding",
        onboarding_env(
            settings,
            database,
            API_KEYS=f"test-admin-key=admin,{MANAGER_KEY}=channel_manager,"
            f"{PARTNER_KEY}=partner:{keyed_partner_id()}",
            SCORECARD_WEIGHTS=WEIGHTS,
            TERMINATION_NOTICE_DAYS=str(NOTICE_DAYS),
        ),
    ).start()
    try:
        yield process
    finally:
        process.stop()
        await drop(settings, database)


# --------------------------------------------------------------------------- reading partners.v1


async def records_about(settings: Settings, partner_id: str) -> list[Any]:
    """Every record on partners.v1 keyed by ``partner_id``, up to the end of the topic now."""
    partitions = [
        TopicPartition(topics.PARTNERS, p) for p in await partition_ids(settings, topics.PARTNERS)
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


def by_id(records: list[Any]) -> dict[str, dict[str, Any]]:
    return {event["id"]: event for event in (json.loads(r.value) for r in records)}


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


# --------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------- the event contract


async def test_an_application_is_scored_and_published_as_a_cloudevent(
    settings: Settings, service: ServiceProcess
) -> None:
    answer = apply(service)
    partner_id = answer["partner_id"]
    assert partner_id.startswith("P-")
    assert len(partner_id) == 12
    assert answer["application_id"].startswith("A-")
    assert answer["score"] == SCORE, "SCORECARD_WEIGHTS is read"
    assert answer["recommendation"] == "approve"
    assert answer["weights"] == dict(item.split("=") for item in WEIGHTS.split(","))
    assert answer["status"] == "applied"

    record = (await settled(settings, partner_id, 1))[0]
    assert record.key == partner_id.encode()
    assert dict(record.headers)["content-type"] == CLOUDEVENTS_CONTENT_TYPE.encode()
    event = json.loads(record.value)
    assert event["specversion"] == "1.0"
    assert event["id"] == answer["event_id"]
    assert event["type"] == "PartnerApplied"
    assert event["subject"] == partner_id
    assert event["source"] == "/partnerhub/onboarding"
    assert event["datacontenttype"] == "application/json"
    assert datetime.fromisoformat(event["time"]).utcoffset() is not None
    data = event["data"]
    assert data["partner_id"] == partner_id
    assert data["application_id"] == answer["application_id"]
    assert data["scorecard"] == SCORECARD
    assert (data["score"], data["recommendation"]) == (SCORE, "approve")
    assert data["contact_email"] == "channel@acme.example"
    parse_event(record.value, topic=topics.PARTNERS)  # valid against the contract

    stored = service.get(f"/applications/{answer['application_id']}").json()
    assert stored["events"][0]["event_id"] == answer["event_id"]
    assert {k: stored[k] for k in answer if k != "event_id"} == {
        k: v for k, v in answer.items() if k != "event_id"
    }


async def test_the_whole_lifecycle_publishes_one_event_per_step(
    settings: Settings, service: ServiceProcess
) -> None:
    applied = apply(service, name="Lifecycle Systems")
    partner_id, application_id = applied["partner_id"], applied["application_id"]

    approved = service.post(f"/applications/{application_id}/approve", {})
    assert approved.status_code == 200, approved.text
    assert approved.json()["partner_id"] == partner_id
    assert approved.json()["status"] == "approved"

    first = contract(f"C-{partner_id}-1", TODAY - timedelta(days=30), TODAY + timedelta(days=335))
    signed = service.post(f"/partners/{partner_id}/contracts", first)
    assert signed.status_code == 201, signed.text
    assert (signed.json()["status"], signed.json()["tier"]) == ("active", "gold")

    second = contract(
        f"C-{partner_id}-2",
        TODAY + timedelta(days=10),
        TODAY + timedelta(days=740),
        tier="silver",
        commission_plan=plan(period_cap="75000.50"),
    )
    renewed = service.post(
        f"/partners/{partner_id}/contracts/{first['contract_id']}/renew", {"contract": second}
    )
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["renewed_contract_id"] == first["contract_id"]

    effective = TODAY + timedelta(days=30)
    tier = service.post(
        f"/partners/{partner_id}/tier",
        {"tier": "platinum", "effective_date": effective.isoformat(), "reason": "top seller"},
    )
    assert tier.status_code == 200, tier.text
    assert (tier.json()["previous_tier"], tier.json()["tier"]) == ("silver", "platinum")

    too_soon = service.post(
        f"/partners/{partner_id}/terminate",
        {"reason": "strategy", "effective_date": (TODAY + timedelta(days=30)).isoformat()},
    )
    assert too_soon.status_code == 422, "TERMINATION_NOTICE_DAYS=45 is read"
    assert field_errors(too_soon) == ["body.effective_date"]
    ends = TODAY + timedelta(days=NOTICE_DAYS + 15)
    terminated = service.post(
        f"/partners/{partner_id}/terminate",
        {"reason": "strategic realignment", "effective_date": ends.isoformat()},
    )
    assert terminated.status_code == 200, terminated.text

    answers = [applied, approved.json(), signed.json(), renewed.json(), tier.json()]
    answers.append(terminated.json())
    records = await settled(settings, partner_id, len(LIFECYCLE))
    assert types_of(records) == LIFECYCLE
    assert len({r.partition for r in records}) == 1, "keyed by partner: one partition, in order"
    events = by_id(records)
    assert list(events) == [a["event_id"] for a in answers]
    for record in records:
        event = json.loads(record.value)
        assert record.key == partner_id.encode()
        assert event["subject"] == event["data"]["partner_id"] == partner_id
        assert dict(record.headers)["content-type"] == CLOUDEVENTS_CONTENT_TYPE.encode()
        parse_event(record.value, topic=topics.PARTNERS)

    by_type = {e["type"]: e["data"] for e in events.values()}
    assert by_type["PartnerApproved"]["application_id"] == application_id
    signed_contract = by_type["PartnerSigned"]["contract"]
    assert signed_contract["contract_id"] == first["contract_id"]
    assert by_type["PartnerSigned"]["name"] == "Lifecycle Systems"
    money = signed_contract["commission_plan"]
    assert [b["from"] for b in money["brackets"]] == ["0", "100000", "250000"]
    assert [b["rate"] for b in money["brackets"]] == ["0.10", "0.12", "0.15"]
    assert (money["target_amount"], money["target_bonus"]) == ("300000", "5000")
    assert money["period_cap"] is None
    renewal = by_type["ContractRenewed"]
    assert renewal["contract"]["commission_plan"]["period_cap"] == "75000.50"
    assert renewal["contract"]["tier"] == "silver"
    assert by_type["PartnerTierChanged"] == {
        "partner_id": partner_id,
        "tier": "platinum",
        "effective_date": effective.isoformat(),
        "reason": "top seller",
    }
    assert by_type["PartnerTerminated"] == {
        "partner_id": partner_id,
        "effective_date": ends.isoformat(),
        "reason": "strategic realignment",
    }

    view = service.get(f"/partners/{partner_id}").json()
    assert view["status"] == "terminated"
    assert view["tier"] == "platinum"
    assert view["contract"]["contract_id"] == second["contract_id"]
    assert [c["contract_id"] for c in view["contracts"]] == [
        first["contract_id"],
        second["contract_id"],
    ]
    assert view["termination"] == {
        "effective_date": ends.isoformat(),
        "reason": "strategic realignment",
        "noticed_on": TODAY.isoformat(),
    }


# --------------------------------------------------------------------------- refusals


async def test_signing_a_rejected_applicant_is_409_and_publishes_nothing(
    settings: Settings, service: ServiceProcess
) -> None:
    applied = apply(service, scorecard={**SCORECARD, "expertise": 0, "customer_base": 1})
    assert applied["recommendation"] == "reject"
    partner_id = applied["partner_id"]
    rejected = service.post(
        f"/applications/{applied['application_id']}/reject", {"reason": "no expertise"}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"

    refused = service.post(
        f"/partners/{partner_id}/contracts",
        contract(f"C-{partner_id}", TODAY, TODAY + timedelta(days=365)),
    )
    assert refused.status_code == 409, refused.text
    assert "rejected" in refused.json()["detail"]
    again = service.post(f"/applications/{applied['application_id']}/approve", None)
    assert again.status_code == 409
    assert "is rejected" in again.json()["detail"]

    records = await settled(settings, partner_id, 2)
    assert types_of(records) == ["PartnerApplied", "PartnerRejected"]
    rejection = json.loads(records[-1].value)["data"]
    assert rejection["reason"] == "no expertise"
    assert service.get(f"/partners/{partner_id}").json()["status"] == "rejected"


async def test_renewing_a_terminated_partner_is_409_and_publishes_nothing(
    settings: Settings, service: ServiceProcess
) -> None:
    partner_id, contract_id = active_partner(service)
    terminated = service.post(
        f"/partners/{partner_id}/terminate",
        {"reason": "breach", "effective_date": (TODAY + timedelta(days=NOTICE_DAYS)).isoformat()},
    )
    assert terminated.status_code == 200, terminated.text

    renewal = contract(f"C-{partner_id}-2", TODAY + timedelta(days=1), TODAY + timedelta(days=700))
    refused = service.post(
        f"/partners/{partner_id}/contracts/{contract_id}/renew", {"contract": renewal}
    )
    assert refused.status_code == 409, refused.text
    assert "terminated" in refused.json()["detail"]
    tier = service.post(
        f"/partners/{partner_id}/tier", {"tier": "silver", "effective_date": TODAY.isoformat()}
    )
    assert tier.status_code == 409
    again = service.post(
        f"/partners/{partner_id}/terminate",
        {"reason": "again", "effective_date": (TODAY + timedelta(days=60)).isoformat()},
    )
    assert again.status_code == 409

    records = await settled(settings, partner_id, 4)
    assert types_of(records) == [
        "PartnerApplied",
        "PartnerApproved",
        "PartnerSigned",
        "PartnerTerminated",
    ]


async def test_unknown_ids_are_404(service: ServiceProcess) -> None:
    assert service.post("/applications/A-nothing/approve", None).status_code == 404
    assert service.post("/applications/A-nothing/reject", {"reason": "x"}).status_code == 404
    assert service.get("/applications/A-nothing").status_code == 404
    assert service.get("/partners/P-nothing").status_code == 404
    missing = service.post(
        "/partners/P-nothing/contracts", contract("C-x", TODAY, TODAY + timedelta(days=10))
    )
    assert missing.status_code == 404
    assert "P-nothing" in missing.json()["detail"]


INVALID_CONTRACTS: list[tuple[str, dict[str, Any], str]] = [
    ("a bracket rate above 1", {"commission_plan": plan(brackets=[{"from": "0", "rate": "1.5"}])},
     "body.commission_plan.brackets.0.rate"),
    ("end before start", {"end_date": (TODAY - timedelta(days=1)).isoformat()}, "body.end_date"),
    ("an unknown currency", {"currency": "XYZ"}, "body.currency"),
    ("a lower-case currency", {"currency": "usd"}, "body.currency"),
    ("brackets out of order",
     {"commission_plan": plan(brackets=[{"from": "0", "rate": "0.1"}, {"from": "5", "rate": "0.2"},
                                        {"from": "2", "rate": "0.3"}])},
     "body.commission_plan.brackets"),
    ("a first bracket above 0", {"commission_plan": plan(brackets=[{"from": "10", "rate": "0.1"}])},
     "body.commission_plan.brackets"),
    ("negative money", {"commission_plan": plan(target_amount="-1")},
     "body.commission_plan.target_amount"),
    ("money as a JSON number", {"commission_plan": plan(target_bonus=5000)},
     "body.commission_plan.target_bonus"),
    ("a negative clawback", {"commission_plan": plan(clawback_days=-1)},
     "body.commission_plan.clawback_days"),
    ("an unknown tier", {"tier": "diamond"}, "body.tier"),
]  # fmt: skip


async def test_each_invalid_contract_is_422_naming_the_field(
    settings: Settings, service: ServiceProcess
) -> None:
    applied = apply(service)
    partner_id = applied["partner_id"]
    service.post(f"/applications/{applied['application_id']}/approve", None)
    valid = contract(f"C-{partner_id}", TODAY, TODAY + timedelta(days=365))
    for what, change, field in INVALID_CONTRACTS:
        answer = service.post(f"/partners/{partner_id}/contracts", {**valid, **change})
        assert answer.status_code == 422, (what, answer.text)
        assert field_errors(answer) == [field], what

    signed = service.post(f"/partners/{partner_id}/contracts", valid)
    assert signed.status_code == 201, signed.text
    early = contract(f"C-{partner_id}-2", TODAY - timedelta(days=1), TODAY + timedelta(days=700))
    refused = service.post(
        f"/partners/{partner_id}/contracts/{valid['contract_id']}/renew", {"contract": early}
    )
    assert refused.status_code == 422, refused.text
    assert field_errors(refused) == ["body.contract.start_date"]
    outside = service.post(
        f"/partners/{partner_id}/tier",
        {"tier": "silver", "effective_date": (TODAY + timedelta(days=400)).isoformat()},
    )
    assert field_errors(outside) == ["body.effective_date"]

    bad_email = service.post("/applications", application(contact_email="not an address"))
    assert bad_email.status_code == 422
    assert field_errors(bad_email) == ["body.contact_email"]
    bad_score = service.post("/applications", application(scorecard={**SCORECARD, "fit": 6}))
    assert field_errors(bad_score) == ["body.scorecard.fit"]
    blank_name = service.post("/applications", application(name="  "))
    assert field_errors(blank_name) == ["body.name"]
    undecided = apply(service)
    blank = service.post(f"/applications/{undecided['application_id']}/reject", {"reason": " "})
    assert blank.status_code == 422
    assert field_errors(blank) == ["body.reason"]

    records = await settled(settings, partner_id, 3)
    assert types_of(records) == ["PartnerApplied", "PartnerApproved", "PartnerSigned"]


# --------------------------------------------------------------------------- idempotency


async def test_a_retried_command_returns_the_first_answer_and_publishes_once(
    settings: Settings, service: ServiceProcess
) -> None:
    key = f"apply-{uuid.uuid4().hex}"
    first = service.post("/applications", application(), **idempotency(key))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    partner_id, application_id = first.json()["partner_id"], first.json()["application_id"]

    # Two more deliveries at once, as a client retrying on a timeout would.
    both = await asyncio.gather(
        *(
            asyncio.to_thread(service.post, "/applications", application(), **idempotency(key))
            for _ in range(2)
        )
    )
    for again in both:
        assert (again.status_code, again.json()) == (201, first.json())
        assert again.headers["idempotent-replayed"] == "true"
    reused = service.post("/applications", application(name="Other"), **idempotency(key))
    assert reused.status_code == 422
    assert field_errors(reused) == ["header.Idempotency-Key"]

    commands: list[tuple[str, Any]] = [
        (f"/applications/{application_id}/approve", None),
        (
            f"/partners/{partner_id}/contracts",
            contract(f"C-{partner_id}", TODAY, TODAY + timedelta(days=365)),
        ),
        (f"/partners/{partner_id}/tier", {"tier": "silver", "effective_date": TODAY.isoformat()}),
    ]
    answers = [first.json()]
    for path, body in commands:
        command_key = idempotency(f"{path}-{uuid.uuid4().hex}")
        once = service.post(path, body, **command_key)
        assert once.status_code in (200, 201), once.text
        twice = service.post(path, body, **command_key)
        assert (twice.status_code, twice.json()) == (once.status_code, once.json())
        assert twice.headers["idempotent-replayed"] == "true"
        answers.append(once.json())
    # Without a key, a repeated approval is a new command, refused by the state machine.
    assert service.post(f"/applications/{application_id}/approve", None).status_code == 409

    records = await settled(settings, partner_id, 4)
    assert len(records) == 4, "no event was published twice"
    assert list(by_id(records)) == [a["event_id"] for a in answers]
    assert types_of(records) == [
        "PartnerApplied",
        "PartnerApproved",
        "PartnerSigned",
        "PartnerTierChanged",
    ]


# --------------------------------------------------------------------------- access


async def test_keys_are_checked(service: ServiceProcess) -> None:
    own = apply(service, KEYED_APPLICATION)
    assert own["partner_id"] == keyed_partner_id(), "the partner id follows from the key"
    other = apply(service)

    assert httpx.get(f"{service.url}/applications").status_code == 401
    assert httpx.post(f"{service.url}/applications", json=application()).status_code == 401
    assert service.get("/applications", key="not-a-key").status_code == 401
    assert httpx.get(f"{service.url}/healthz").status_code == 200

    assert service.get(f"/partners/{own['partner_id']}", key=PARTNER_KEY).status_code == 200
    assert service.get(f"/partners/{other['partner_id']}", key=PARTNER_KEY).status_code == 403
    assert service.get("/applications", key=PARTNER_KEY).status_code == 403
    assert service.get(f"/applications/{own['application_id']}", key=PARTNER_KEY).status_code == 403
    for path, body in (
        ("/applications", application()),
        (f"/applications/{own['application_id']}/approve", None),
        (f"/partners/{own['partner_id']}/contracts", contract("C-own", TODAY, TODAY)),
        (
            f"/partners/{own['partner_id']}/terminate",
            {"reason": "x", "effective_date": "2030-01-01"},
        ),
    ):
        assert service.post(path, body, key=PARTNER_KEY).status_code == 403, path

    by_manager = service.post(
        f"/applications/{other['application_id']}/approve", None, key=MANAGER_KEY
    )
    assert by_manager.status_code == 200
    assert service.get(f"/partners/{other['partner_id']}", key=MANAGER_KEY).status_code == 200


# --------------------------------------------------------------------------- reads


async def test_applications_are_listed_by_status_a_page_at_a_time(service: ServiceProcess) -> None:
    mine = [apply(service, name=f"Lister {n}") for n in range(5)]
    service.post(f"/applications/{mine[1]['application_id']}/reject", {"reason": "no fit"})
    service.post(f"/applications/{mine[3]['application_id']}/approve", None)

    def every_page(**params: Any) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = service.get(
                "/applications", limit=2, **params, **({"cursor": cursor} if cursor else {})
            )
            assert page.status_code == 200, page.text
            assert len(page.json()["applications"]) <= 2
            listed.extend(page.json()["applications"])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return listed

    ids = [a["application_id"] for a in mine]
    everything = [a["application_id"] for a in every_page()]
    assert len(everything) == len(set(everything)), "no application on two pages"
    assert [i for i in everything if i in ids] == ids, "in the order they arrived"
    applied = [a["application_id"] for a in every_page(status="applied")]
    assert [i for i in applied if i in ids] == [ids[0], ids[2], ids[4]]
    rejected = {a["application_id"]: a for a in every_page(status="rejected")}
    assert [i for i in rejected if i in ids] == [ids[1]]
    assert rejected[ids[1]]["status"] == "rejected"
    assert rejected[ids[1]]["rejection_reason"] == "no fit"
    assert rejected[ids[1]]["score"] == mine[1]["score"]
    assert all(a["status"] == "approved" for a in every_page(status="approved"))

    bad = service.get("/applications", cursor="nonsense")
    assert bad.status_code == 422
    assert field_errors(bad) == ["query.cursor"]
    assert field_errors(service.get("/applications", status="sleeping")) == ["query.status"]


async def test_operational_surface(service: ServiceProcess) -> None:
    ready = httpx.get(f"{service.url}/readyz").json()
    assert ready["status"] == "ready"
    assert isinstance(ready["outbox_backlog"], int)
    paths = httpx.get(f"{service.url}/openapi.json").json()["paths"]
    for path in (
        "/applications",
        "/applications/{application_id}",
        "/applications/{application_id}/approve",
        "/applications/{application_id}/reject",
        "/partners/{partner_id}",
        "/partners/{partner_id}/contracts",
        "/partners/{partner_id}/contracts/{contract_id}/renew",
        "/partners/{partner_id}/tier",
        "/partners/{partner_id}/terminate",
    ):
        assert path in paths, path
    assert "partners.v1" in json.dumps(httpx.get(f"{service.url}/asyncapi.json").json())
    metrics = httpx.get(f"{service.url}/metrics").text
    assert any(
        line.startswith("partnerhub_events_published_total{") and 'service="onboarding"' in line
        for line in metrics.splitlines()
    )


# --------------------------------------------------------------------------- crashes


def outbox_recoveries(process: ServiceProcess) -> int:
    """Events a restarted process found in the outbox and published (from its log)."""
    since_restart = process.tail(400).rsplit("Started server process", 1)[-1]
    found = re.findall(r"published (\d+) outbox events left behind", since_restart)
    return sum(int(n) for n in found)


@pytest.mark.parametrize("failpoint", ["onboarding_after_store", "onboarding_after_publish"])
async def test_a_crash_while_publishing_loses_no_event_and_a_retry_duplicates_none(
    settings: Settings, tmp_path: Path, failpoint: str
) -> None:
    """The process dies after storing a command, before or after publishing its event.

    After the restart the event reaches Kafka by itself; the client, retrying
    with its Idempotency-Key, gets the stored answer naming that very event.
    """
    database = f"test_onboarding_crash_{uuid.uuid4().hex[:10]}"
    env = onboarding_env(settings, database)
    process = ServiceProcess(
        "onboarding",
        {**env, "PARTNERHUB_FAILPOINTS": failpoint, "PARTNERHUB_FAILPOINT_DIR": str(tmp_path)},
    )
    key = idempotency(f"crash-{uuid.uuid4().hex}")
    try:
        process.start()
        try:
            first: Any = process.post("/applications", application(), **key)
        except httpx.HTTPError:
            first = None  # the process died before answering
        assert process.process is not None
        assert process.process.wait(30) == 137, f"the failpoint did not fire:\n{process.tail()}"
        assert (tmp_path / failpoint).exists()
        if failpoint == "onboarding_after_store":
            assert first is None, "stored, but no answer was given"

        process.env = env
        process.start()
        listed = process.get("/applications").json()["applications"]
        assert len(listed) == 1, "the command was stored, once"
        partner_id = listed[0]["partner_id"]
        records = await settled(settings, partner_id, 1)
        (event_id,) = by_id(records)

        retried = process.post("/applications", application(), **key)
        assert retried.status_code == 201, retried.text
        assert retried.headers["idempotent-replayed"] == "true"
        assert retried.json()["event_id"] == event_id
        if first is not None:
            assert first.json() == retried.json()
        assert list(by_id(await settled(settings, partner_id, 1))) == [event_id]
    finally:
        process.stop()
        await drop(settings, database)


async def test_sigkill_right_after_the_answers_loses_no_event_and_duplicates_none(
    settings: Settings,
) -> None:
    """Every command answered 2xx before a SIGKILL has its event on Kafka after the restart."""
    database = f"test_onboarding_kill_{uuid.uuid4().hex[:10]}"
    process = ServiceProcess("onboarding", onboarding_env(settings, database))
    try:
        process.start()
        acknowledged: dict[str, list[str]] = {}  # partner id → event ids of 2xx answers

        def apply_and_approve(n: int) -> None:
            answer = process.post("/applications", application(name=f"Kill {n}"))
            assert answer.status_code == 201, answer.text
            partner_id = answer.json()["partner_id"]
            acknowledged[partner_id] = [answer.json()["event_id"]]
            if n % 2 == 0:
                approved = process.post(
                    f"/applications/{answer.json()['application_id']}/approve", None
                )
                assert approved.status_code == 200, approved.text
                acknowledged[partner_id].append(approved.json()["event_id"])

        await asyncio.gather(*(asyncio.to_thread(apply_and_approve, n) for n in range(16)))
        process.kill()  # right after the last answer
        assert process.process is not None
        assert process.process.returncode == -9

        process.start()
        found = await asyncio.gather(
            *(settled(settings, p, len(ids)) for p, ids in acknowledged.items())
        )
        counts: Counter[str] = Counter()
        for (partner_id, event_ids), records in zip(acknowledged.items(), found, strict=True):
            assert list(by_id(records)) == event_ids, partner_id
            counts.update(json.loads(r.value)["id"] for r in records)
        assert len(counts) == sum(len(ids) for ids in acknowledged.values()) == 24
        print(
            f"\n{len(counts)} commands answered 2xx before SIGKILL; after the restart "
            f"{len(counts)} distinct events on Kafka in {sum(counts.values())} records "
            f"({outbox_recoveries(process)} published from the outbox at restart)"
        )
        assert httpx.get(f"{process.url}/readyz").json()["outbox_backlog"] == 0
    finally:
        process.stop()
        await drop(settings, database)


async def test_kafka_stopped_mid_commands_loses_no_event_and_duplicates_none(
    settings: Settings,
) -> None:
    """The real broker is stopped while commands arrive, then started again.

    Every command answers 2xx while Kafka is down; once the broker is back,
    every acknowledged command's event is on partners.v1 exactly once.
    """
    require_local_infrastructure(settings)
    database = f"test_onboarding_outage_{uuid.uuid4().hex[:10]}"
    process = ServiceProcess("onboarding", onboarding_env(settings, database))
    acknowledged: dict[str, list[str]] = {}  # partner id → event ids of 2xx answers

    def command(n: int) -> None:
        answer = process.post("/applications", application(name=f"Outage {n}"))
        assert answer.status_code == 201, answer.text
        partner_id = answer.json()["partner_id"]
        acknowledged[partner_id] = [answer.json()["event_id"]]
        if n % 2 == 0:
            approved = process.post(
                f"/applications/{answer.json()['application_id']}/approve", None
            )
            assert approved.status_code == 200, approved.text
            acknowledged[partner_id].append(approved.json()["event_id"])

    try:
        process.start()
        command(0)  # one before the outage, published normally
        await arrived(settings, next(iter(acknowledged)), 2)
        with outage("kafka"):
            for n in range(1, 13):
                command(n)
            during = httpx.get(f"{process.url}/readyz", timeout=30).json()
            assert during["outbox_backlog"] == 18, during
        found = await asyncio.gather(
            *(settled(settings, p, len(ids)) for p, ids in acknowledged.items())
        )
        counts: Counter[str] = Counter()
        for (partner_id, event_ids), records in zip(acknowledged.items(), found, strict=True):
            assert list(by_id(records)) == event_ids, partner_id
            counts.update(json.loads(r.value)["id"] for r in records)
        assert len(counts) == sum(len(ids) for ids in acknowledged.values()) == 20
        assert max(counts.values()) == 1, "an event published twice"
        print(
            f"\n12 commands answered 2xx while Kafka was down (outbox backlog "
            f"{during['outbox_backlog']} events); after the restart {len(counts)} distinct events "
            f"on Kafka in {sum(counts.values())} records"
        )
        assert httpx.get(f"{process.url}/readyz").json()["outbox_backlog"] == 0
    finally:
        process.stop()
        await drop(settings, database)


async def test_commands_need_no_kafka_and_their_events_go_out_once_it_answers(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    """Kafka down at command time: the commands succeed, their events wait in the outbox.

    The command layer is driven directly, with no broker at all; a broker
    connected afterwards publishes the backlog, each event once.
    """
    store = OnboardingStore(database)
    await store.create_indexes()
    onboarding = Onboarding(store, OnboardingRules(), stored=lambda _partner_id: None)
    answers = [
        await onboarding.apply(ApplicationBody(**application(name=f"Offline {n}")), None)
        for n in range(3)
    ]
    approved = await onboarding.approve(answers[0].body["application_id"], None)
    assert [a.status for a in [*answers, approved]] == [201, 201, 201, 200]
    assert answers[0].body["score"] == 77.0, "the SPEC's default weights"
    # An application is found by its partner's _id (no query over every partner).
    found = await store.load_by_application(answers[1].body["application_id"])
    assert found is not None
    assert found.partner_id == answers[1].body["partner_id"]
    for unknown in ("A-nope", answers[1].body["partner_id"], "application"):
        assert await store.load_by_application(unknown) is None, unknown

    broker = make_broker(settings)
    outbox = Outbox(broker, "onboarding-test", [store.partners])
    assert await outbox.backlog() == 4
    await broker.connect()
    try:
        assert await outbox.publish_pending() == 4
    finally:
        await broker.stop()
    assert await outbox.backlog() == 0

    for answer in answers:
        partner_id = answer.body["partner_id"]
        expected = [answer.body["event_id"]]
        if partner_id == approved.body["partner_id"]:
            expected.append(approved.body["event_id"])
        records = await records_about(settings, partner_id)
        assert list(by_id(records)) == expected
        assert len(records) == len(expected)
