"""Onboarding's service layer in memory: the HTTP app and the command side against fakes.

``create_app`` takes the store and the publisher as parameters; here they
are an in-memory store (:class:`InMemoryPartners`, keeping documents in their
stored form) and the shared in-memory publisher
(:class:`tests.support.fakes.InMemoryPublisher`), whose relay step
(``flush``) runs after each request, as the outbox relay does once a
command has handed its partner over. The app's lifespan is not entered, so
neither Kafka nor MongoDB is touched: every test runs in milliseconds. The same behaviour on the real infrastructure is in
``tests/integration/onboarding/``.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import SecretStr

from services.onboarding.app import create_app
from services.onboarding.commands import (
    ApplicationBody,
    OnboardingCommands,
    RejectionBody,
    derived_ids,
)
from services.onboarding.settings import OnboardingRules, OnboardingSettings
from services.onboarding.store import (
    PARTNERS,
    Page,
    StoredPartner,
    decode_cursor,
    decode_partner,
    encode_cursor,
    encode_partner,
)
from shared import access
from shared.commands import CommandKey, KeptLosing
from shared.events import Actor, ActorKind, PartnerStatus
from shared.mongo import Document
from tests.support.fakes import InMemoryPublisher, ServiceHarness
from tests.support.onboarding import SCORECARD, application, contract

ADMIN_KEY, MANAGER_KEY, PARTNER_KEY = "admin-key", "manager-key", "partner-key"
#: The Idempotency-Key of the application whose partner holds PARTNER_KEY.
KEYED_APPLICATION = "keyed-application"
#: Not the default weights: customer_base counts more, expertise less.
WEIGHTS = "customer_base=0.30,sales_network=0.20,expertise=0.20,track_record=0.20,fit=0.10"
NOTICE_DAYS = 45
#: SCORECARD under WEIGHTS (77.0 under the default weights).
SCORE = 76.0
#: The tests' now: the service's clock too, so a run across midnight sees one day.
NOW = datetime.now(UTC)
TODAY = NOW.date()


# --------------------------------------------------------------------------- the fakes


class InMemoryPartners:
    """A :class:`~services.onboarding.store.PartnerStore` in memory.

    Documents are kept as the MongoDB store writes them (``encode_partner``), so
    what a command stores is read back the way the service reads it.
    ``lose_writes`` makes that many next writes lose to another writer.
    """

    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}
        self.lose_writes = 0

    async def load(self, partner_id: str) -> StoredPartner | None:
        doc = self.docs.get(partner_id)
        return None if doc is None else decode_partner(copy.deepcopy(doc))

    async def load_by_application(self, application_id: str) -> StoredPartner | None:
        for doc in self.docs.values():
            if doc["application_id"] == application_id:
                return decode_partner(copy.deepcopy(doc))
        return None

    async def save(self, stored: StoredPartner) -> bool:
        current = self.docs.get(stored.partner_id)
        if self.lose_writes or (0 if current is None else current["version"]) != stored.version:
            self.lose_writes = max(0, self.lose_writes - 1)
            return False
        self.docs[stored.partner_id] = copy.deepcopy(encode_partner(stored, stored.version + 1))
        stored.version += 1
        return True

    async def page(
        self, status: PartnerStatus | None, limit: int, cursor: str | None = None
    ) -> Page:
        after = ("", "") if cursor is None else decode_cursor(cursor)
        found = sorted(
            (
                doc
                for doc in self.docs.values()
                if (status is None or doc["status"] == status.value)
                and (doc["applied_key"], doc["_id"]) > after
            ),
            key=lambda doc: (doc["applied_key"], doc["_id"]),
        )
        shown = found[:limit]
        return Page(
            partners=[decode_partner(copy.deepcopy(doc)) for doc in shown],
            next_cursor=encode_cursor(shown[-1]) if len(found) > limit else None,
        )


def publisher_of(store: InMemoryPartners) -> InMemoryPublisher:
    """The in-memory publisher over the store's partners."""
    return InMemoryPublisher({PARTNERS: store.docs})


class Onboarding(ServiceHarness):
    """The app with its fakes, and a client for it that sends a key."""

    admin_key = ADMIN_KEY

    def __init__(self, **settings_changes: Any) -> None:
        self.store = InMemoryPartners()
        self.kafka = publisher_of(self.store)
        settings = OnboardingSettings(
            api_keys=SecretStr(
                f"{ADMIN_KEY}=admin,{MANAGER_KEY}=channel_manager,"
                f"{PARTNER_KEY}=partner:{keyed_partner_id()}"
            ),
            api_keys_file=None,
            scorecard_weights=WEIGHTS,
            termination_notice_days=NOTICE_DAYS,
            **settings_changes,
        )
        app = create_app(settings, store=self.store, publisher=self.kafka, clock=lambda: NOW)
        self.client = TestClient(app)


@pytest.fixture
def onboarding() -> Iterator[Onboarding]:
    service = Onboarding()
    yield service
    service.client.close()


# --------------------------------------------------------------------------- helpers


def keyed_partner_id() -> str:
    key = CommandKey.of(KEYED_APPLICATION, "/applications", application())
    assert key is not None
    return derived_ids(key)[0]


def field_errors(answer: Response) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]


def ok(answer: Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


def apply(onboarding: Onboarding, **changes: Any) -> dict[str, Any]:
    return ok(onboarding.post("/applications", application(**changes)), 201)


def active_partner(onboarding: Onboarding) -> tuple[str, str]:
    """A partner applied, approved and signed to a contract running from a month ago."""
    applied = apply(onboarding)
    ok(onboarding.post(f"/applications/{applied['application_id']}/approve"))
    partner_id = applied["partner_id"]
    contract_id = f"C-{partner_id}-1"
    signed = contract(contract_id, TODAY - timedelta(days=30), TODAY + timedelta(days=335))
    ok(onboarding.post(f"/partners/{partner_id}/contracts", signed), 201)
    return partner_id, contract_id


# --------------------------------------------------------------------------- the lifecycle


def test_an_application_is_scored_with_the_configured_weights(onboarding: Onboarding) -> None:
    answer = apply(onboarding)
    partner_id = answer["partner_id"]
    assert partner_id.startswith("P-")
    assert len(partner_id) == 12
    application_id = answer["application_id"]
    assert application_id.startswith("A-")
    assert len(application_id) == 12
    assert application_id.removeprefix("A-") != partner_id.removeprefix("P-"), "ids of their own"
    assert (answer["score"], answer["recommendation"]) == (SCORE, "approve")
    assert answer["weights"] == dict(item.split("=") for item in WEIGHTS.split(","))
    assert (answer["status"], answer["decided_at"], answer["rejection_reason"]) == (
        "applied",
        None,
        None,
    )
    assert datetime.fromisoformat(answer["applied_at"]).utcoffset() == timedelta(0)

    (event,) = onboarding.kafka.published
    assert (event["id"], event["type"], event["subject"]) == (
        answer["event_id"],
        "PartnerApplied",
        partner_id,
    )
    assert event["source"] == "/partnerhub/onboarding"
    assert event["data"]["scorecard"] == SCORECARD
    assert (event["data"]["score"], event["data"]["recommendation"]) == (SCORE, "approve")

    stored = ok(onboarding.get(f"/applications/{answer['application_id']}"))
    assert stored["events"] == [
        {"event_id": answer["event_id"], "type": "PartnerApplied", "time": answer["applied_at"]}
    ]
    assert {k: v for k, v in stored.items() if k != "events"} == {
        k: v for k, v in answer.items() if k != "event_id"
    }


def test_an_application_states_capabilities_and_is_warned_of_missing_ones(
    onboarding: Onboarding,
) -> None:
    answer = apply(
        onboarding,
        industry="manufacturing",
        capabilities=["training", "logistics", "training"],
    )
    warnings = [
        "missing_capability: after_sales (manufacturing partners need logistics and after_sales)"
    ]
    assert answer["capabilities"] == ["logistics", "training"], "each once, in the list's order"
    assert answer["warnings"] == warnings
    assert (answer["score"], answer["recommendation"]) == (SCORE, "approve"), "not changed"

    (event,) = onboarding.kafka.published
    assert event["data"]["capabilities"] == ["logistics", "training"]
    assert event["data"]["warnings"] == warnings

    shown = ok(onboarding.get(f"/applications/{answer['application_id']}"))
    assert (shown["capabilities"], shown["warnings"]) == (["logistics", "training"], warnings)
    (listed,) = ok(onboarding.get("/applications"))["applications"]
    assert (listed["capabilities"], listed["warnings"]) == (["logistics", "training"], warnings)

    complete = apply(
        onboarding, industry="Manufacturing", capabilities=["after_sales", "logistics"]
    )
    assert (complete["capabilities"], complete["warnings"]) == (["logistics", "after_sales"], [])
    assert complete["score"] == SCORE


def test_an_application_without_capabilities_states_none(onboarding: Onboarding) -> None:
    it = apply(onboarding)
    assert (it["industry"], it["capabilities"]) == ("IT", [])
    assert it["warnings"] == [
        "missing_capability: technical_support (IT partners need technical_support)"
    ]
    assert apply(onboarding, industry="retail")["warnings"] == []
    event = onboarding.kafka.about(it["partner_id"])[0]
    assert (event["data"]["capabilities"], len(event["data"]["warnings"])) == ([], 1)


def test_an_unknown_capability_is_422_naming_it(onboarding: Onboarding) -> None:
    refused = onboarding.post(
        "/applications", application(capabilities=["technical_support", "juggling"])
    )
    assert (refused.status_code, field_errors(refused)) == (422, ["body.capabilities.1"])
    not_a_list = onboarding.post("/applications", application(capabilities="technical_support"))
    assert (not_a_list.status_code, field_errors(not_a_list)) == (422, ["body.capabilities"])
    assert onboarding.kafka.published == []
    assert onboarding.store.docs == {}


def test_configured_industries_decide_requirements_and_weights() -> None:
    service = Onboarding(
        industry_required_capabilities="retail=training,consulting",
        industry_scorecard_weights=(
            "manufacturing=customer_base:0.10,sales_network:0.40,expertise:0.10,"
            "track_record:0.30,fit:0.10"
        ),
    )
    try:
        # SCORECARD 4,3,5,3,4: 0.10×4 + 0.40×3 + 0.10×5 + 0.30×3 + 0.10×4 = 3.4 → 68.0
        manufacturing = apply(service, industry="manufacturing")
        assert (manufacturing["score"], manufacturing["recommendation"]) == (68.0, "review")
        assert manufacturing["weights"] == {
            "customer_base": "0.10",
            "sales_network": "0.40",
            "expertise": "0.10",
            "track_record": "0.30",
            "fit": "0.10",
        }
        assert manufacturing["warnings"] == [], "manufacturing is not listed: nothing required"
        it = apply(service, industry="IT")
        assert (it["score"], it["warnings"]) == (SCORE, []), "SCORECARD_WEIGHTS, no requirement"
        retail = apply(service, industry=" RETAIL ", capabilities=["consulting"])
        assert retail["warnings"] == [
            "missing_capability: training (RETAIL partners need training and consulting)"
        ]
        assert retail["score"] == SCORE
        published = [e["data"] for e in service.kafka.published]
        assert [(d["score"], d["warnings"]) for d in published] == [
            (68.0, []),
            (SCORE, []),
            (SCORE, retail["warnings"]),
        ]
    finally:
        service.client.close()  # the lifespan (Kafka, MongoDB) is never entered


def test_the_whole_lifecycle_publishes_one_event_per_step(onboarding: Onboarding) -> None:
    applied = apply(onboarding, name="Lifecycle Systems")
    partner_id, application_id = applied["partner_id"], applied["application_id"]
    approved = ok(onboarding.post(f"/applications/{application_id}/approve"))
    assert approved["partner_id"] == partner_id
    assert (approved["status"], approved["approved_at"][:10]) == ("approved", TODAY.isoformat())

    first = contract(f"C-{partner_id}-1", TODAY - timedelta(days=30), TODAY + timedelta(days=335))
    signed = ok(onboarding.post(f"/partners/{partner_id}/contracts", first), 201)
    assert (signed["status"], signed["tier"]) == ("active", "gold")
    assert signed["contract"] == first

    second = contract(
        f"C-{partner_id}-2", TODAY + timedelta(days=10), TODAY + timedelta(days=740), tier="silver"
    )
    renewed = ok(
        onboarding.post(
            f"/partners/{partner_id}/contracts/{first['contract_id']}/renew", {"contract": second}
        ),
        201,
    )
    assert (renewed["renewed_contract_id"], renewed["tier"]) == (first["contract_id"], "silver")

    effective = TODAY + timedelta(days=30)
    tier = ok(
        onboarding.post(
            f"/partners/{partner_id}/tier",
            {"tier": "platinum", "effective_date": effective.isoformat(), "reason": "top seller"},
        )
    )
    assert (tier["previous_tier"], tier["tier"], tier["reason"]) == (
        "silver",
        "platinum",
        "top seller",
    )

    ends = TODAY + timedelta(days=NOTICE_DAYS + 15)
    terminated = ok(
        onboarding.post(
            f"/partners/{partner_id}/terminate",
            {"reason": "strategic realignment", "effective_date": ends.isoformat()},
        )
    )
    assert terminated == {
        "partner_id": partner_id,
        "status": "terminated",
        "effective_date": ends.isoformat(),
        "reason": "strategic realignment",
        "noticed_on": TODAY.isoformat(),
        "event_id": terminated["event_id"],
    }

    answers = [applied, approved, signed, renewed, tier, terminated]
    assert [e["id"] for e in onboarding.kafka.about(partner_id)] == [a["event_id"] for a in answers]
    admin = {"kind": "key", "id": access.key_id(ADMIN_KEY)}
    assert [e["data"]["actor"] for e in onboarding.kafka.about(partner_id)] == [admin] * 6
    assert onboarding.kafka.types(partner_id) == [
        "PartnerApplied",
        "PartnerApproved",
        "PartnerSigned",
        "ContractRenewed",
        "PartnerTierChanged",
        "PartnerTerminated",
    ]
    view = ok(onboarding.get(f"/partners/{partner_id}"))
    assert (view["status"], view["tier"], view["name"]) == (
        "terminated",
        "platinum",
        "Lifecycle Systems",
    )
    assert view["contract"] == second
    assert view["contracts"] == [first, second]
    assert view["termination"] == {
        "effective_date": ends.isoformat(),
        "reason": "strategic realignment",
        "noticed_on": TODAY.isoformat(),
    }
    assert view["decided_at"] == approved["approved_at"]


def test_a_rejection_is_final(onboarding: Onboarding) -> None:
    applied = apply(onboarding, scorecard={**SCORECARD, "expertise": 0, "customer_base": 1})
    assert applied["recommendation"] == "reject"
    rejected = ok(
        onboarding.post(f"/applications/{applied['application_id']}/reject", {"reason": "no fit"})
    )
    assert (rejected["status"], rejected["reason"]) == ("rejected", "no fit")
    view = ok(onboarding.get(f"/partners/{applied['partner_id']}"))
    assert (view["status"], view["rejection_reason"], view["contract"]) == (
        "rejected",
        "no fit",
        None,
    )
    assert onboarding.kafka.types(applied["partner_id"]) == ["PartnerApplied", "PartnerRejected"]


def test_commands_answer_while_kafka_is_down_and_their_events_follow(
    onboarding: Onboarding,
) -> None:
    """A command hands its partner over to the relay and answers: Kafka being down delays
    its event, in the partner's outbox, and fails nothing."""
    onboarding.kafka.down = True
    applied = apply(onboarding)
    approved = ok(onboarding.post(f"/applications/{applied['application_id']}/approve"))
    assert onboarding.kafka.published == []
    assert asyncio.run(onboarding.kafka.known_backlog()) == 2, "waiting in the outbox"

    onboarding.kafka.down = False
    assert onboarding.kafka.flush() == 2
    assert [e["id"] for e in onboarding.kafka.published] == [
        applied["event_id"],
        approved["event_id"],
    ]
    assert asyncio.run(onboarding.kafka.known_backlog()) == 0
    assert onboarding.kafka.pending() == 0, "published, then removed from the outbox"


# --------------------------------------------------------------------------- idempotency


def test_a_retried_application_returns_the_first_answer_and_publishes_once(
    onboarding: Onboarding,
) -> None:
    first = onboarding.post("/applications", application(), idempotency="apply-1")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = onboarding.post("/applications", application(), idempotency="apply-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert len(onboarding.kafka.published) == 1

    reused = onboarding.post("/applications", application(name="Other"), idempotency="apply-1")
    assert reused.status_code == 422
    assert field_errors(reused) == ["header.Idempotency-Key"]
    other = onboarding.post("/applications", application(), idempotency="apply-2")
    assert other.json()["partner_id"] != first.json()["partner_id"]


def test_the_partner_id_follows_from_the_key(onboarding: Onboarding) -> None:
    answer = onboarding.post("/applications", application(), idempotency=KEYED_APPLICATION)
    assert answer.json()["partner_id"] == keyed_partner_id()


def test_every_retried_command_returns_the_first_answer(onboarding: Onboarding) -> None:
    applied = apply(onboarding)
    partner_id = applied["partner_id"]
    commands: list[tuple[str, Any]] = [
        (f"/applications/{applied['application_id']}/approve", None),
        (f"/partners/{partner_id}/contracts", contract("C-1", TODAY, TODAY + timedelta(days=365))),
        (f"/partners/{partner_id}/tier", {"tier": "silver", "effective_date": TODAY.isoformat()}),
    ]
    for path, body in commands:
        once = onboarding.post(path, body, idempotency=f"{path}-once")
        assert once.status_code in (200, 201), once.text
        twice = onboarding.post(path, body, idempotency=f"{path}-once")
        assert (twice.status_code, twice.json()) == (once.status_code, once.json())
        assert twice.headers["idempotent-replayed"] == "true"
    # Without a key, a repeated approval is a new command, refused by the state machine.
    assert onboarding.post(f"/applications/{applied['application_id']}/approve").status_code == 409
    assert len(onboarding.kafka.about(partner_id)) == 4


# --------------------------------------------------------------------------- refusals


def test_unknown_ids_are_404(onboarding: Onboarding) -> None:
    assert onboarding.post("/applications/A-nothing/approve").status_code == 404
    assert onboarding.post("/applications/A-nothing/reject", {"reason": "x"}).status_code == 404
    assert onboarding.get("/applications/A-nothing").json() == {
        "detail": "application A-nothing does not exist"
    }
    assert onboarding.get("/partners/P-nothing").json() == {
        "detail": "partner P-nothing does not exist"
    }
    missing = onboarding.post(
        "/partners/P-nothing/contracts", contract("C-x", TODAY, TODAY + timedelta(days=10))
    )
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "partner P-nothing does not exist"},
    )
    assert onboarding.kafka.published == []


def test_a_step_the_status_does_not_allow_is_409_with_the_reason(onboarding: Onboarding) -> None:
    applied = apply(onboarding)
    partner_id = applied["partner_id"]
    ok(onboarding.post(f"/applications/{applied['application_id']}/reject", {"reason": "no"}))
    refused = onboarding.post(
        f"/partners/{partner_id}/contracts", contract("C-1", TODAY, TODAY + timedelta(days=365))
    )
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": f"cannot sign contract C-1: partner {partner_id} is rejected; "
        "only an approved partner can sign a contract"
    }
    again = onboarding.post(f"/applications/{applied['application_id']}/approve")
    assert again.status_code == 409
    assert "is rejected" in again.json()["detail"]
    assert onboarding.kafka.types(partner_id) == ["PartnerApplied", "PartnerRejected"]


def test_a_terminated_partner_takes_no_more_steps(onboarding: Onboarding) -> None:
    partner_id, contract_id = active_partner(onboarding)
    notice = (TODAY + timedelta(days=NOTICE_DAYS)).isoformat()
    ok(
        onboarding.post(
            f"/partners/{partner_id}/terminate", {"reason": "x", "effective_date": notice}
        )
    )
    renewal = contract("C-2", TODAY + timedelta(days=1), TODAY + timedelta(days=700))
    for path, body in (
        (f"/partners/{partner_id}/contracts/{contract_id}/renew", {"contract": renewal}),
        (f"/partners/{partner_id}/tier", {"tier": "silver", "effective_date": TODAY.isoformat()}),
        (f"/partners/{partner_id}/terminate", {"reason": "again", "effective_date": notice}),
    ):
        refused = onboarding.post(path, body)
        assert refused.status_code == 409, path
        assert "terminated" in refused.json()["detail"]
    assert len(onboarding.kafka.about(partner_id)) == 4


def test_a_rule_broken_by_a_field_is_422_naming_it(onboarding: Onboarding) -> None:
    partner_id, contract_id = active_partner(onboarding)
    too_soon = onboarding.post(
        f"/partners/{partner_id}/terminate",
        {"reason": "x", "effective_date": (TODAY + timedelta(days=30)).isoformat()},
    )
    assert too_soon.status_code == 422, "TERMINATION_NOTICE_DAYS=45 is read"
    assert field_errors(too_soon) == ["body.effective_date"]
    early = contract("C-2", TODAY - timedelta(days=31), TODAY + timedelta(days=700))
    refused = onboarding.post(
        f"/partners/{partner_id}/contracts/{contract_id}/renew", {"contract": early}
    )
    assert field_errors(refused) == ["body.contract.start_date"]
    outside = onboarding.post(
        f"/partners/{partner_id}/tier",
        {"tier": "silver", "effective_date": (TODAY + timedelta(days=400)).isoformat()},
    )
    assert field_errors(outside) == ["body.effective_date"]
    backwards = contract("C-3", TODAY, TODAY - timedelta(days=1))
    assert field_errors(onboarding.post(f"/partners/{partner_id}/contracts", backwards)) == [
        "body.end_date"
    ]
    assert len(onboarding.kafka.about(partner_id)) == 3

    bad_email = onboarding.post("/applications", application(contact_email="not an address"))
    assert (bad_email.status_code, field_errors(bad_email)) == (422, ["body.contact_email"])
    blank_name = onboarding.post("/applications", application(name="  "))
    assert field_errors(blank_name) == ["body.name"]
    undecided = apply(onboarding)
    blank = onboarding.post(f"/applications/{undecided['application_id']}/reject", {"reason": " "})
    assert (blank.status_code, field_errors(blank)) == (422, ["body.reason"])


# --------------------------------------------------------------------------- reads


def test_applications_are_listed_by_status_a_page_at_a_time(onboarding: Onboarding) -> None:
    mine = [apply(onboarding, name=f"Lister {n}") for n in range(5)]
    ok(onboarding.post(f"/applications/{mine[1]['application_id']}/reject", {"reason": "no"}))
    ok(onboarding.post(f"/applications/{mine[3]['application_id']}/approve"))

    def every_page(**params: Any) -> list[str]:
        listed: list[str] = []
        cursor: str | None = None
        while True:
            page = ok(
                onboarding.get(
                    "/applications", limit=2, **params, **({"cursor": cursor} if cursor else {})
                )
            )
            assert len(page["applications"]) <= 2
            listed.extend(a["application_id"] for a in page["applications"])
            cursor = page["next_cursor"]
            if cursor is None:
                return listed

    ids = [a["application_id"] for a in mine]
    assert sorted(every_page()) == sorted(ids)
    assert sorted(every_page(status="applied")) == sorted([ids[0], ids[2], ids[4]])
    assert every_page(status="rejected") == [ids[1]]
    listed = ok(onboarding.get("/applications", status="rejected"))["applications"]
    assert listed[0]["rejection_reason"] == "no"

    bad = onboarding.get("/applications", cursor="nonsense")
    assert (bad.status_code, field_errors(bad)) == (422, ["query.cursor"])
    assert field_errors(onboarding.get("/applications", status="sleeping")) == ["query.status"]


def test_every_route_documents_its_answer(onboarding: Onboarding) -> None:
    paths = onboarding.client.get("/openapi.json").json()["paths"]
    documented = {
        ("/applications", "post", "201"): "ApplicationAnswer",
        ("/applications", "get", "200"): "ApplicationsView",
        ("/applications/{application_id}", "get", "200"): "ApplicationHistoryView",
        ("/applications/{application_id}/approve", "post", "200"): "ApprovalAnswer",
        ("/applications/{application_id}/reject", "post", "200"): "RejectionAnswer",
        ("/partners/{partner_id}/contracts", "post", "201"): "SigningAnswer",
        ("/partners/{partner_id}/contracts/{contract_id}/renew", "post", "201"): "RenewalAnswer",
        ("/partners/{partner_id}/tier", "post", "200"): "TierChangeAnswer",
        ("/partners/{partner_id}/terminate", "post", "200"): "TerminationAnswer",
        ("/partners/{partner_id}", "get", "200"): "PartnerView",
    }
    for (path, method, status), model in documented.items():
        content = paths[path][method]["responses"][status]["content"]["application/json"]
        assert content["schema"]["$ref"].endswith(f"/{model}"), (path, method)
    assert "Idempotency-Key" in json.dumps(paths["/applications"]["post"]["parameters"])


# --------------------------------------------------------------------------- access


def test_a_partner_key_reads_only_its_own_partner(onboarding: Onboarding) -> None:
    own = ok(onboarding.post("/applications", application(), idempotency=KEYED_APPLICATION), 201)
    other = apply(onboarding)

    assert onboarding.client.get("/applications").status_code == 401
    assert onboarding.get("/applications", key="not-a-key").status_code == 401
    assert onboarding.get(f"/partners/{own['partner_id']}", key=PARTNER_KEY).status_code == 200
    assert onboarding.get(f"/partners/{other['partner_id']}", key=PARTNER_KEY).status_code == 403
    assert onboarding.get("/applications", key=PARTNER_KEY).status_code == 403
    assert (
        onboarding.get(f"/applications/{own['application_id']}", key=PARTNER_KEY).status_code == 403
    )
    for path, body in (
        ("/applications", application()),
        (f"/applications/{own['application_id']}/approve", None),
        (f"/applications/{own['application_id']}/reject", {"reason": "x"}),
        (f"/partners/{own['partner_id']}/contracts", contract("C-own", TODAY, TODAY)),
        (f"/partners/{own['partner_id']}/tier", {"tier": "silver", "effective_date": "2030-01-01"}),
        (
            f"/partners/{own['partner_id']}/terminate",
            {"reason": "x", "effective_date": "2030-01-01"},
        ),
    ):
        assert onboarding.post(path, body, key=PARTNER_KEY).status_code == 403, path

    by_manager = onboarding.post(
        f"/applications/{other['application_id']}/approve", key=MANAGER_KEY
    )
    assert by_manager.status_code == 200
    assert onboarding.get(f"/partners/{other['partner_id']}", key=MANAGER_KEY).status_code == 200
    assert len(onboarding.kafka.published) == 3


# --------------------------------------------------------------------------- the command side


async def test_a_write_that_loses_to_another_writer_is_decided_again() -> None:
    store = InMemoryPartners()
    kafka = publisher_of(store)
    commands = OnboardingCommands(store, OnboardingRules(), kafka)
    body = ApplicationBody.model_validate(application())

    manager = Actor(kind=ActorKind.PERSON, id="maria")
    store.lose_writes = 3
    applied = await commands.apply(body, None, manager)
    assert applied.body["score"] == 77.0, "the default weights"
    store.lose_writes = 2
    approved = await commands.approve(applied.body["application_id"], None, manager)
    assert approved.status == 200
    assert kafka.flush() == 2
    assert [e["id"] for e in kafka.published] == [
        applied.body["event_id"],
        approved.body["event_id"],
    ]

    assert [e["data"]["actor"] for e in kafka.published] == [{"kind": "person", "id": "maria"}] * 2

    other = await commands.apply(body, None, manager)
    store.lose_writes = 1_000
    with pytest.raises(KeptLosing, match=other.body["application_id"]):
        await commands.reject(
            other.body["application_id"], RejectionBody(reason="no"), None, manager
        )
    kafka.flush()
    assert len(kafka.published) == 3
