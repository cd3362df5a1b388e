"""A partner's lifecycle over real Kafka and FerretDB: signed, renewed, re-tiered,
terminated; what each step publishes on partners.v1, and what is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared import topics
from shared.access import key_id
from shared.events import CLOUDEVENTS_CONTENT_TYPE, parse_event
from shared.settings import Settings
from tests.support.http import field_errors
from tests.support.kafka import by_id
from tests.support.onboarding import (
    NOTICE_DAYS,
    SCORECARD,
    TODAY,
    active_partner,
    application,
    apply,
    contract,
    plan,
    settled,
    types_of,
)
from tests.support.processes import ServiceProcess


def utc_today() -> date:
    """The date now: each test takes it when it starts, so a run that crosses midnight
    still computes its dates from the day its commands are made."""
    return datetime.now(UTC).date()


LIFECYCLE = [
    "PartnerApplied",
    "PartnerApproved",
    "PartnerSigned",
    "ContractRenewed",
    "PartnerTierChanged",
    "PartnerTerminated",
]


async def test_the_whole_lifecycle_publishes_one_event_per_step(
    settings: Settings, service: ServiceProcess
) -> None:
    today = utc_today()
    applied = apply(service, name="Lifecycle Systems")
    partner_id, application_id = applied["partner_id"], applied["application_id"]

    approved = service.post(f"/applications/{application_id}/approve", {})
    assert approved.status_code == 200, approved.text
    assert approved.json()["partner_id"] == partner_id
    assert approved.json()["status"] == "approved"

    first = contract(f"C-{partner_id}-1", today - timedelta(days=30), today + timedelta(days=335))
    signed = service.post(f"/partners/{partner_id}/contracts", first)
    assert signed.status_code == 201, signed.text
    assert (signed.json()["status"], signed.json()["tier"]) == ("active", "gold")

    second = contract(
        f"C-{partner_id}-2",
        today + timedelta(days=10),
        today + timedelta(days=740),
        tier="silver",
        commission_plan=plan(period_cap="75000.50"),
    )
    renewed = service.post(
        f"/partners/{partner_id}/contracts/{first['contract_id']}/renew", {"contract": second}
    )
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["renewed_contract_id"] == first["contract_id"]

    effective = today + timedelta(days=30)
    tier = service.post(
        f"/partners/{partner_id}/tier",
        {"tier": "platinum", "effective_date": effective.isoformat(), "reason": "top seller"},
    )
    assert tier.status_code == 200, tier.text
    assert (tier.json()["previous_tier"], tier.json()["tier"]) == ("silver", "platinum")

    too_soon = service.post(
        f"/partners/{partner_id}/terminate",
        {"reason": "strategy", "effective_date": (today + timedelta(days=30)).isoformat()},
    )
    assert too_soon.status_code == 422, "TERMINATION_NOTICE_DAYS=45 is read"
    assert field_errors(too_soon) == ["body.effective_date"]
    ends = today + timedelta(days=NOTICE_DAYS + 15)
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
    # Every event a command published names the caller: the admin key, by its identifier.
    expected_actor = {"kind": "key", "id": key_id(service.admin_key)}
    for kind, data in by_type.items():
        assert data.pop("actor") == expected_actor, kind
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
    noticed = view["termination"].pop("noticed_on")
    assert today <= date.fromisoformat(noticed) <= utc_today(), "noticed on the day it was given"
    assert view["termination"] == {
        "effective_date": ends.isoformat(),
        "reason": "strategic realignment",
    }


async def test_renewing_a_terminated_partner_is_409_and_publishes_nothing(
    settings: Settings, service: ServiceProcess
) -> None:
    today = utc_today()
    partner_id, contract_id = active_partner(service)
    terminated = service.post(
        f"/partners/{partner_id}/terminate",
        {
            "reason": "breach",
            "effective_date": (today + timedelta(days=NOTICE_DAYS + 1)).isoformat(),
        },
    )
    assert terminated.status_code == 200, terminated.text

    renewal = contract(f"C-{partner_id}-2", today + timedelta(days=1), today + timedelta(days=700))
    refused = service.post(
        f"/partners/{partner_id}/contracts/{contract_id}/renew", {"contract": renewal}
    )
    assert refused.status_code == 409, refused.text
    assert "terminated" in refused.json()["detail"]
    tier = service.post(
        f"/partners/{partner_id}/tier", {"tier": "silver", "effective_date": today.isoformat()}
    )
    assert tier.status_code == 409
    again = service.post(
        f"/partners/{partner_id}/terminate",
        {"reason": "again", "effective_date": (today + timedelta(days=60)).isoformat()},
    )
    assert again.status_code == 409

    records = await settled(settings, partner_id, 4)
    assert types_of(records) == [
        "PartnerApplied",
        "PartnerApproved",
        "PartnerSigned",
        "PartnerTerminated",
    ]


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
