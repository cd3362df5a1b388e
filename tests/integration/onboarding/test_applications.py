"""Applications over real Kafka and FerretDB, onboarding run as the process it is.

HTTP commands go in; what comes out is read back from partners.v1 by a plain
Kafka consumer, as any other system would read it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from shared import topics
from shared.events import CLOUDEVENTS_CONTENT_TYPE, parse_event
from shared.settings import Settings
from tests.support.http import field_errors
from tests.support.onboarding import (
    SCORECARD,
    TODAY,
    WEIGHTS,
    application,
    apply,
    contract,
    settled,
    types_of,
)
from tests.support.processes import ServiceProcess

#: SCORECARD under WEIGHTS: (0.3·4 + 0.2·3 + 0.2·5 + 0.2·3 + 0.1·4) / 5 · 100 (77.0 by default).
SCORE = 76.0


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


async def test_a_manufacturer_without_logistics_is_warned_of_it(
    settings: Settings, service: ServiceProcess
) -> None:
    """docs/rules/scorecard.md, "Industry fit": the default requirements, on the real
    process; the warning is in the answer and the event, and the score is not changed."""
    lacking = apply(
        service, name="Fabrikam", industry="manufacturing", capabilities=["after_sales"]
    )
    assert lacking["warnings"] == [
        "missing_capability: logistics (manufacturing partners need logistics and after_sales)"
    ]
    assert (lacking["capabilities"], lacking["score"]) == (["after_sales"], SCORE)
    complete = apply(
        service,
        name="Contoso",
        industry="Manufacturing",
        capabilities=["training", "logistics", "after_sales", "logistics"],
    )
    assert complete["warnings"] == []
    assert complete["capabilities"] == ["logistics", "after_sales", "training"]
    (record,) = await settled(settings, lacking["partner_id"], 1)
    data = json.loads(record.value)["data"]
    assert (data["capabilities"], data["warnings"]) == (["after_sales"], lacking["warnings"])
    unknown = service.post(
        "/applications",
        {**application(name="Juggler"), "capabilities": ["juggling"]},
    )
    assert field_errors(unknown) == ["body.capabilities.0"]
