"""Notifications' HTTP API on the in-memory store: ``create_app`` with the fake store, a
fake resolver and a clock of the test's, through ``TestClient`` without entering the
app's lifespan (neither Kafka nor MongoDB is touched).

What the API shows (deliveries, emails) is queued the way the service queues it: the
consumer handling records, the delivery worker making attempts, over the same store.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from standardwebhooks import Webhook

from services.notifications.app import create_app
from services.notifications.domain import NoticeKind, RetryPolicy, unsubscribe_token
from services.notifications.handlers import NotificationsConsumer
from services.notifications.mail import Outgoing
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import Deliverer
from tests.support.http import field_errors
from tests.support.notifications import (
    IDNA_FAILURE,
    Clock,
    FakeResolver,
    InMemoryNotificationsStore,
    Records,
    event,
)
from tests.support.tokens import Issuer

ADMIN_KEY, MANAGER_KEY, PARTNER_KEY = "admin-key", "manager-key", "partner-key"
SECRET = "the-unsubscribe-secret"
PORTAL = "http://127.0.0.1:8000"
MANAGERS = "maria@vendor.example"
HOOK_URL = "https://hooks.example.com/partnerhub"

PARTNER_KINDS = {
    "registration_decided",
    "registration_expiring",
    "mdf_request_decided",
    "mdf_claim_decided",
    "payout_settled",
    "certification_expiring",
}
MANAGER_KINDS = {
    "application_waiting",
    "extension_waiting",
    "mdf_request_waiting",
    "mdf_claim_waiting",
    "inquiry_waiting",
}


class Notifications:
    """The app on the fakes, with the consumer and the delivery worker over its store."""

    def __init__(self, *, allow_private: bool = False, issuer: str | None = None) -> None:
        self.store = InMemoryNotificationsStore()
        self.clock = Clock()
        self.resolver = FakeResolver()
        self.records = Records(self.clock)
        settings = NotificationsSettings(
            api_keys=SecretStr(
                f"{ADMIN_KEY}=admin,{MANAGER_KEY}=channel_manager,{PARTNER_KEY}=partner:P-A"
            ),
            api_keys_file=None,
            oidc_issuer=issuer,
            oidc_jwks_cooldown_seconds=0,
            webhook_allow_private=allow_private,
            notifications_secret=SecretStr(SECRET),
            notify_manager_emails=MANAGERS,
            portal_url=PORTAL,
        )
        self.client = TestClient(
            create_app(settings, store=self.store, resolver=self.resolver, clock=self.clock)
        )
        self.consumer = NotificationsConsumer(
            self.store,
            Outgoing(self.store, portal_url=PORTAL, secret=SECRET, manager_addresses=[MANAGERS]),
            max_event_age=timedelta(hours=72),
            clock=self.clock,
        )

    def call(self, method: str, path: str, key: str | None = ADMIN_KEY, **kwargs: Any) -> Any:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return self.client.request(method, path, headers=headers, **kwargs)

    def subscribe(self, url: str = HOOK_URL, **body: Any) -> dict[str, Any]:
        answer = self.call(
            "POST", "/webhooks", json={"url": url, "event_types": ["PayoutSettled"], **body}
        )
        assert answer.status_code == 201, answer.text
        made: dict[str, Any] = answer.json()
        return made

    def consume(self, *events: dict[str, Any]) -> None:
        asyncio.run(self.consumer.handle(self.records.batch(*events)))

    def park_everything(self) -> None:
        """Every queued delivery attempted once against a receiver that is down, with no
        retry budget: parked."""

        def down(request: httpx.Request) -> httpx.Response:
            return httpx.Response(503)

        deliverer = Deliverer(
            self.store,
            policy=RetryPolicy(first=1, longest=1, give_up_after=0),
            timeout=5,
            allow_private=False,
            poll_seconds=1,
            resolver=self.resolver,
            transport=httpx.MockTransport(down),
            clock=self.clock,
        )

        async def one_pass() -> None:
            async with deliverer.client() as client:
                await deliverer.deliver_due(client)

        asyncio.run(one_pass())


@pytest.fixture
def service() -> Iterator[Notifications]:
    made = Notifications()
    yield made
    made.client.close()


def payout(partner_id: str, settlement: str) -> dict[str, Any]:
    return event("PayoutSettled", partner_id, settlement_id=settlement)


# --------------------------------------------------------------------------- subscriptions


def test_a_subscription_gets_a_standard_webhooks_secret_shown_once(
    service: Notifications,
) -> None:
    made = service.subscribe(event_types=["PayoutSettled", "MdfApproved", "PayoutSettled"])
    secret = made["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "evt-1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign("evt-1", now, b'{"a":1}'),
    }
    assert Webhook(secret).verify(b'{"a":1}', headers) == {"a": 1}
    assert made["event_types"] == ["MdfApproved", "PayoutSettled"]
    assert made["status"] == "active"
    assert made["partner_id"] is None
    assert made["url"] == HOOK_URL

    listed = service.call("GET", "/webhooks")
    assert listed.status_code == 200
    (shown,) = listed.json()["webhooks"]
    assert shown == {k: v for k, v in made.items() if k != "secret"}
    assert secret not in listed.text
    one = service.call("GET", f"/webhooks/{made['webhook_id']}")
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert secret not in one.text
    assert service.subscribe()["secret"] != secret


def test_a_subscription_sent_again_with_its_idempotency_key_is_the_same_one(
    service: Notifications,
) -> None:
    body = {"url": HOOK_URL, "event_types": ["PayoutSettled"]}
    key = {"Authorization": f"Bearer {ADMIN_KEY}", "Idempotency-Key": "hook-1"}
    first = service.client.post("/webhooks", json=body, headers=key)
    again = service.client.post("/webhooks", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the secret included: the retry lost the answer
    assert len(service.store["webhooks"]) == 1

    other_body = service.client.post(
        "/webhooks", json={**body, "event_types": ["DealClosed"]}, headers=key
    )
    assert other_body.status_code == 409
    other_key = service.client.post(
        "/webhooks", json=body, headers={**key, "Idempotency-Key": "hook-2"}
    )
    assert other_key.status_code == 201
    assert other_key.json()["webhook_id"] != first.json()["webhook_id"]
    assert other_key.json()["secret"] != first.json()["secret"]
    assert len(service.store["webhooks"]) == 2


def test_a_subscription_may_name_one_partner(service: Notifications) -> None:
    made = service.subscribe(partner_id="P-A")
    assert made["partner_id"] == "P-A"


def test_an_unknown_event_type_is_refused_naming_its_place(service: Notifications) -> None:
    answer = service.call(
        "POST",
        "/webhooks",
        json={"url": HOOK_URL, "event_types": ["PayoutSettled", "PayoutSetled"]},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "event_types", "1"]
    assert "'PayoutSetled' is not an event type" in answer.json()["detail"][0]["msg"]
    assert service.store["webhooks"] == {}


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/in", "must be an http:// or https:// URL"),
        ("https://user:secret@hooks.example.com/in", "must not carry a user name or password"),
        ("https://hooks.example.com:70000/in", "has a bad port"),
        ("http://[::1/in", "is not a valid URL"),
    ],
)
def test_a_url_that_may_not_be_called_is_refused(
    service: Notifications, url: str, why: str
) -> None:
    answer = service.call("POST", "/webhooks", json={"url": url, "event_types": ["DealClosed"]})
    assert answer.status_code == 422
    assert field_errors(answer) == ["body.url"]
    assert why in answer.json()["detail"][0]["msg"]
    assert service.store["webhooks"] == {}


def test_a_url_resolving_to_the_private_network_is_refused(service: Notifications) -> None:
    service.resolver.addresses["hooks.internal.example"] = ["127.0.0.1"]
    answer = service.call(
        "POST",
        "/webhooks",
        json={"url": "http://hooks.internal.example:8080/in", "event_types": ["DealClosed"]},
    )
    assert answer.status_code == 422
    assert field_errors(answer) == ["body.url"]
    message = answer.json()["detail"][0]["msg"]
    assert "hooks.internal.example resolves to 127.0.0.1" in message
    assert "WEBHOOK_ALLOW_PRIVATE" in message
    assert ("hooks.internal.example", 8080) in service.resolver.asked
    assert service.store["webhooks"] == {}


@pytest.mark.parametrize(
    "failure", [IDNA_FAILURE, socket.gaierror(socket.EAI_NONAME, "Name or service not known")]
)
def test_a_url_that_cannot_be_resolved_is_refused(
    service: Notifications, failure: Exception
) -> None:
    service.resolver.failures["hooks..example"] = failure
    answer = service.call(
        "POST", "/webhooks", json={"url": "http://hooks..example/in", "event_types": ["DealClosed"]}
    )
    assert answer.status_code == 422, answer.text
    assert field_errors(answer) == ["body.url"]
    assert "hooks..example cannot be resolved" in answer.json()["detail"][0]["msg"]
    assert service.store["webhooks"] == {}


def test_private_urls_are_accepted_when_allowed() -> None:
    service = Notifications(allow_private=True)
    service.resolver.addresses["hooks.internal.example"] = ["127.0.0.1"]
    try:
        made = service.subscribe("http://hooks.internal.example:8080/in")
        assert made["url"] == "http://hooks.internal.example:8080/in"
        assert service.resolver.asked == []  # nothing to check: no name is resolved
        ftp = {"url": "ftp://x.example/", "event_types": ["DealClosed"]}
        answer = service.call("POST", "/webhooks", json=ftp)  # the form is checked all the same
        assert answer.status_code == 422
        assert field_errors(answer) == ["body.url"]
    finally:
        service.client.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/webhooks"),
        ("GET", "/webhooks"),
        ("GET", "/webhooks/WH-1"),
        ("POST", "/webhooks/WH-1/pause"),
        ("POST", "/webhooks/WH-1/resume"),
        ("DELETE", "/webhooks/WH-1"),
        ("GET", "/webhooks/WH-1/deliveries"),
        ("POST", "/webhooks/WH-1/replay"),
        ("POST", "/notices"),
    ],
)
def test_subscriptions_are_staffs_only(service: Notifications, method: str, path: str) -> None:
    body = {"url": HOOK_URL, "event_types": ["DealClosed"]} if method == "POST" else None
    assert service.call(method, path, key=None, json=body).status_code == 401
    assert service.call(method, path, key="not-a-key", json=body).status_code == 401
    assert service.call(method, path, key=PARTNER_KEY, json=body).status_code == 403
    assert service.store["webhooks"] == {}
    assert service.call(method, path, key=MANAGER_KEY, json=body).status_code != 403


def test_a_channel_manager_may_subscribe(service: Notifications) -> None:
    answer = service.call(
        "POST", "/webhooks", key=MANAGER_KEY, json={"url": HOOK_URL, "event_types": ["DealClosed"]}
    )
    assert answer.status_code == 201


def test_pause_resume_and_delete(service: Notifications) -> None:
    hook = service.subscribe()["webhook_id"]
    paused = service.call("POST", f"/webhooks/{hook}/pause")
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    assert service.call("GET", f"/webhooks/{hook}").json()["status"] == "paused"
    resumed = service.call("POST", f"/webhooks/{hook}/resume")
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "active"
    assert service.store["webhooks"][hook]["status"] == "active"

    service.consume(payout("P-A", "S-1"))
    assert len(service.store["queue"]) == 1
    deleted = service.call("DELETE", f"/webhooks/{hook}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert service.call("GET", f"/webhooks/{hook}").status_code == 404
    assert service.call("GET", "/webhooks").json() == {"webhooks": []}
    assert service.store["queue"] == {}
    assert service.store["deliveries"] == {}
    assert service.call("DELETE", f"/webhooks/{hook}").status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("DELETE", ""),
        ("GET", "/deliveries"),
        ("POST", "/replay"),
    ],
)
def test_an_unknown_subscription_is_404(service: Notifications, method: str, suffix: str) -> None:
    service.subscribe()
    answer = service.call(method, f"/webhooks/WH-nope{suffix}")
    assert answer.status_code == 404
    assert "no webhook WH-nope" in answer.json()["detail"]
    assert service.call("GET", "/webhooks").json()["webhooks"][0]["status"] == "active"


# --------------------------------------------------------------------------- deliveries


def test_deliveries_are_listed_newest_first_a_page_at_a_time(service: Notifications) -> None:
    hook = service.subscribe()["webhook_id"]
    events = [payout("P-A", f"S-{n}") for n in range(5)]
    for whole in events:
        service.consume(whole)
        service.clock.advance(1)
    newest_first = [e["id"] for e in reversed(events)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        answer = service.call("GET", f"/webhooks/{hook}/deliveries", params=params)
        assert answer.status_code == 200
        page = answer.json()
        pages += 1
        assert page["webhook_id"] == hook
        assert len(page["deliveries"]) <= 2
        for delivery in page["deliveries"]:
            assert "body" not in delivery
            assert delivery["status"] == "pending"
            assert delivery["attempts"] == []
            assert delivery["delivery_id"] == f"{hook}:{delivery['event_id']}"
            assert delivery["event_type"] == "PayoutSettled"
            assert delivery["partner_id"] == "P-A"
        seen.extend(d["event_id"] for d in page["deliveries"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == newest_first

    everything = service.call("GET", f"/webhooks/{hook}/deliveries").json()
    assert [d["event_id"] for d in everything["deliveries"]] == newest_first
    assert everything["next_cursor"] is None
    exact = service.call("GET", f"/webhooks/{hook}/deliveries", params={"limit": 5}).json()
    assert exact["next_cursor"] is None


def test_deliveries_are_filtered_by_status(service: Notifications) -> None:
    hook = service.subscribe()["webhook_id"]
    service.consume(payout("P-A", "S-1"), payout("P-B", "S-2"))
    service.park_everything()
    service.consume(payout("P-C", "S-3"))

    def listed(status: str) -> list[str]:
        answer = service.call("GET", f"/webhooks/{hook}/deliveries", params={"status": status})
        assert answer.status_code == 200
        return sorted(d["partner_id"] for d in answer.json()["deliveries"])

    assert listed("parked") == ["P-A", "P-B"]
    assert listed("pending") == ["P-C"]
    assert listed("delivered") == []
    parked = service.call(
        "GET", f"/webhooks/{hook}/deliveries", params={"status": "parked"}
    ).json()["deliveries"][0]
    assert parked["next_attempt_at"] is None
    assert parked["parked_at"] is not None
    (attempt,) = parked["attempts"]
    assert attempt["status_code"] == 503
    assert attempt["error"] == "answered 503"
    bad = service.call("GET", f"/webhooks/{hook}/deliveries", params={"status": "lost"})
    assert bad.status_code == 422


def test_a_replay_answers_how_many_parked_deliveries_are_queued_again(
    service: Notifications,
) -> None:
    hook = service.subscribe()["webhook_id"]
    other = service.subscribe("https://other.example.com/in")["webhook_id"]
    service.consume(payout("P-A", "S-1"), payout("P-B", "S-2"))
    service.park_everything()
    assert service.store["queue"] == {}

    answer = service.call("POST", f"/webhooks/{hook}/replay")
    assert answer.status_code == 200
    assert answer.json() == {"webhook_id": hook, "replayed": 2}
    assert sorted(e["webhook_id"] for e in service.store["queue"].values()) == [hook, hook]
    pending = service.call("GET", f"/webhooks/{hook}/deliveries", params={"status": "pending"})
    assert len(pending.json()["deliveries"]) == 2
    assert service.call("POST", f"/webhooks/{hook}/replay").json()["replayed"] == 0
    assert service.call("POST", f"/webhooks/{other}/replay").json()["replayed"] == 2


# --------------------------------------------------------------------------- people


@pytest.fixture
def people(issuer: Issuer) -> Iterator[Notifications]:
    made = Notifications(issuer=issuer.url)
    yield made
    made.client.close()


def pat(issuer: Issuer, email: str | None = "Pat@Acme.Example") -> str:
    return issuer.token(partnerhub_role="partner", partner_id="P-A", sub="pat", email=email)


def maria(issuer: Issuer) -> str:
    return issuer.token(
        partnerhub_role="channel_manager", sub="maria", email="maria@vendor.example"
    )


def test_a_signed_in_partner_person_is_known_with_the_address_of_their_token(
    people: Notifications, issuer: Issuer
) -> None:
    answer = people.call("PUT", "/me", key=pat(issuer))
    assert answer.status_code == 200
    assert answer.json() == {
        "person": "pat",
        "address": "pat@acme.example",
        "partner_id": "P-A",
        "manager": False,
    }
    stored = people.store["people"]["person:pat"]
    assert (stored["address"], stored["partner_id"], stored["manager"]) == (
        "pat@acme.example",
        "P-A",
        False,
    )
    again = people.call("PUT", "/me", key=pat(issuer, "pat@new.example"))
    assert again.json()["address"] == "pat@new.example"
    assert list(people.store["people"]) == ["person:pat"]


def test_a_partner_person_chooses_among_the_partner_kinds(
    people: Notifications, issuer: Issuer
) -> None:
    token = pat(issuer)
    answer = people.call("GET", "/me/notifications", key=token)
    assert answer.status_code == 200
    shown = answer.json()
    assert shown["address"] == "pat@acme.example"
    assert {k["kind"] for k in shown["kinds"]} == PARTNER_KINDS
    assert all(k["subscribed"] for k in shown["kinds"])
    assert all(k["title"] == NoticeKind(k["kind"]).label for k in shown["kinds"])
    assert "person:pat" in people.store["people"]  # reading them makes them known too

    changed = people.call(
        "PUT", "/me/notifications", key=token, json={"unsubscribed": ["payout_settled"]}
    )
    assert changed.status_code == 200
    subscribed = {k["kind"]: k["subscribed"] for k in changed.json()["kinds"]}
    assert subscribed == {kind: kind != "payout_settled" for kind in PARTNER_KINDS}
    assert people.store["preferences"]["pat@acme.example"]["unsubscribed"] == ["payout_settled"]
    read = people.call("GET", "/me/notifications", key=token).json()
    assert {k["kind"]: k["subscribed"] for k in read["kinds"]} == subscribed

    cleared = people.call("PUT", "/me/notifications", key=token, json={"unsubscribed": []})
    assert all(k["subscribed"] for k in cleared.json()["kinds"])
    bad = people.call("PUT", "/me/notifications", key=token, json={"unsubscribed": ["spam"]})
    assert bad.status_code == 422


def test_a_manager_chooses_among_the_managers_kinds(people: Notifications, issuer: Issuer) -> None:
    answer = people.call("GET", "/me/notifications", key=maria(issuer))
    assert answer.status_code == 200
    assert {k["kind"] for k in answer.json()["kinds"]} == MANAGER_KINDS
    me = people.call("PUT", "/me", key=maria(issuer)).json()
    assert me == {
        "person": "maria",
        "address": "maria@vendor.example",
        "partner_id": None,
        "manager": True,
    }


@pytest.mark.parametrize("key", [ADMIN_KEY, MANAGER_KEY, PARTNER_KEY])
def test_an_api_key_has_no_preferences(people: Notifications, key: str) -> None:
    assert people.call("PUT", "/me", key=key).status_code == 403
    assert people.call("GET", "/me/notifications", key=key).status_code == 403
    assert (
        people.call("PUT", "/me/notifications", key=key, json={"unsubscribed": []}).status_code
        == 403
    )
    assert people.store["people"] == {}
    assert people.store["preferences"] == {}


def test_a_person_without_an_address_is_refused(people: Notifications, issuer: Issuer) -> None:
    answer = people.call("PUT", "/me", key=pat(issuer, email=None))
    assert answer.status_code == 403
    assert "no email address" in answer.json()["detail"]
    assert people.call("PUT", "/me", key=pat(issuer, email="not an address")).status_code == 403
    assert people.store["people"] == {}


def test_me_needs_a_credential(people: Notifications) -> None:
    assert people.call("PUT", "/me", key=None).status_code == 401
    assert people.call("GET", "/me/notifications", key=None).status_code == 401


# --------------------------------------------------------------------------- unsubscribe


def link(address: str, kind: str, token: str | None = None) -> dict[str, str]:
    return {
        "address": address,
        "kind": kind,
        "token": token or unsubscribe_token(SECRET, address, NoticeKind(kind)),
    }


def test_an_unsubscribe_link_adds_its_kind(service: Notifications) -> None:
    asyncio.run(service.store.set_unsubscribed("pat@acme.example", ["mdf_claim_decided"]))
    answer = service.call(
        "POST", "/unsubscribe", key=None, json=link("Pat@Acme.Example", "payout_settled")
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "address": "pat@acme.example",
        "kind": "payout_settled",
        "title": NoticeKind.PAYOUT_SETTLED.label,
    }
    assert service.store["preferences"]["pat@acme.example"]["unsubscribed"] == [
        "mdf_claim_decided",
        "payout_settled",
    ]
    again = service.call(
        "POST", "/unsubscribe", key=None, json=link("pat@acme.example", "payout_settled")
    )
    assert again.status_code == 200
    assert service.store["preferences"]["pat@acme.example"]["unsubscribed"] == [
        "mdf_claim_decided",
        "payout_settled",
    ]


@pytest.mark.parametrize(
    "body",
    [
        link("pat@acme.example", "payout_settled", "0" * 64),
        link(
            "pat@acme.example",
            "payout_settled",
            unsubscribe_token("other", "pat@acme.example", NoticeKind.PAYOUT_SETTLED),
        ),
        {**link("sam@acme.example", "payout_settled"), "address": "pat@acme.example"},
        {**link("pat@acme.example", "mdf_claim_decided"), "kind": "payout_settled"},
    ],
)
def test_an_unsubscribe_link_that_is_not_valid_is_403(
    service: Notifications, body: dict[str, str]
) -> None:
    answer = service.call("POST", "/unsubscribe", key=None, json=body)
    assert answer.status_code == 403
    assert service.store["preferences"] == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**link("pat@acme.example", "payout_settled"), "kind": "spam"}, "body.kind"),
        ({**link("pat@acme.example", "payout_settled"), "token": "abc"}, "body.token"),
        ({"address": "pat@acme.example", "kind": "payout_settled"}, "body.token"),
    ],
)
def test_an_unsubscribe_body_that_is_not_a_link_is_422(
    service: Notifications, body: dict[str, str], field: str
) -> None:
    answer = service.call("POST", "/unsubscribe", key=None, json=body)
    assert answer.status_code == 422
    assert field_errors(answer) == [field]
    assert service.store["preferences"] == {}


# --------------------------------------------------------------------------- emails, notices


def test_staff_see_the_emails_newest_first_without_their_html(service: Notifications) -> None:
    service.consume(
        event("PartnerApplied", "P-A", contact_email="a@acme.example"),
        event("PartnerApplied", "P-B", contact_email="b@globex.example", application_id="A-2"),
    )
    service.clock.advance(1)
    service.consume(payout("P-A", "S-1"))
    service.clock.advance(1)
    service.consume(payout("P-B", "S-2"))

    answer = service.call("GET", "/emails")
    assert answer.status_code == 200
    emails = answer.json()["emails"]
    assert len(emails) == 4
    assert [(e["kind"], e["partner_id"], e["address"]) for e in emails[:2]] == [
        ("payout_settled", "P-B", "b@globex.example"),
        ("payout_settled", "P-A", "a@acme.example"),
    ]
    assert {(e["kind"], e["partner_id"], e["address"]) for e in emails[2:]} == {
        ("application_waiting", "P-A", "maria@vendor.example"),
        ("application_waiting", "P-B", "maria@vendor.example"),
    }
    assert all("html" not in e and "text" not in e for e in emails)
    assert all(e["status"] == "queued" and e["attempts"] == 0 for e in emails)
    created = [e["created_at"] for e in emails]
    assert created == sorted(created, reverse=True)

    only_a = service.call("GET", "/emails", params={"partner_id": "P-A"}).json()["emails"]
    assert {e["partner_id"] for e in only_a} == {"P-A"}
    assert len(only_a) == 2
    payouts = service.call("GET", "/emails", params={"kind": "payout_settled"}).json()["emails"]
    assert [e["partner_id"] for e in payouts] == ["P-B", "P-A"]
    assert len(service.call("GET", "/emails", params={"limit": 1}).json()["emails"]) == 1
    assert service.call("GET", "/emails", params={"kind": "spam"}).status_code == 422
    assert service.call("GET", "/emails", key=None).status_code == 401


def test_a_partner_sees_only_the_emails_sent_to_its_own_people(service: Notifications) -> None:
    service.consume(
        event("PartnerApplied", "P-A", contact_email="a@acme.example"),
        event("PartnerApplied", "P-B", contact_email="b@globex.example", application_id="A-2"),
        payout("P-A", "S-1"),
        payout("P-B", "S-2"),
    )
    answer = service.call("GET", "/emails", key=PARTNER_KEY)
    assert answer.status_code == 200
    emails = answer.json()["emails"]
    assert [(e["kind"], e["address"]) for e in emails] == [("payout_settled", "a@acme.example")]
    assert (
        service.call("GET", "/emails", key=PARTNER_KEY, params={"partner_id": "P-B"}).status_code
        == 403
    )
    named = service.call("GET", "/emails", key=PARTNER_KEY, params={"partner_id": "P-A"})
    assert named.json()["emails"] == emails


def test_the_notices_run_now_and_once(service: Notifications) -> None:
    ends = service.clock() + timedelta(days=3)
    service.consume(
        event("PartnerApplied", "P-A", contact_email="a@acme.example"),
        event("DealRegistrationApproved", "P-A", expires_at=ends.isoformat()),
    )
    before = len(service.store["emails"])
    answer = service.call("POST", "/notices")
    assert answer.status_code == 200
    assert answer.json() == {"queued": 1}
    new = [e for e in service.store["emails"].values() if e["kind"] == "registration_expiring"]
    assert [(e["address"], e["partner_id"]) for e in new] == [("a@acme.example", "P-A")]
    assert len(service.store["emails"]) == before + 1
    assert service.call("POST", "/notices").json() == {"queued": 0}
    assert service.call("POST", "/notices", key=MANAGER_KEY).json() == {"queued": 0}
