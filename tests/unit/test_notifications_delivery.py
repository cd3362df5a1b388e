"""The webhook delivery worker (services/notifications/webhooks.py) on the in-memory store,
with a clock the test moves and an HTTP receiver behind ``httpx.MockTransport`` that
verifies every request as a Standard Webhooks receiver does.

Deliveries are queued the way the service queues them (the consumer handling records),
subscriptions are made and changed through the command side; each test calls one pass
(``deliver_due``) at a time, so what a pass sends is exactly what the test sees.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.notifications.commands import NotificationsCommands
from services.notifications.domain import RetryPolicy, delivery_id, new_secret
from services.notifications.handlers import NotificationsConsumer
from services.notifications.mail import Outgoing
from services.notifications.notices import Reminders
from services.notifications.store import DELIVERED, PARKED, PENDING, iso
from services.notifications.views import WebhookBody
from services.notifications.webhooks import Deliverer
from shared.access import Principal
from tests.support.notifications import (
    IDNA_FAILURE,
    Clock,
    CrashBetweenWrites,
    FakeResolver,
    InMemoryNotificationsStore,
    Records,
    event,
)

ADMIN = Principal("admin", key_id="admin-key-id")
A_URL = "https://hooks.a.example/partnerhub"
B_URL = "https://hooks.b.example/in"

Answer = int | Callable[[httpx.Request], httpx.Response]


@dataclass
class Received:
    url: str
    headers: dict[str, str]
    body: bytes
    event_id: str
    status: int | None


@dataclass
class Receiver:
    """Every subscription's endpoint: verifies each request with the secret of the URL it
    was sent to (401 when it does not verify), then answers what ``script`` says for its
    event (in order, then 204)."""

    secrets: dict[str, str] = field(default_factory=dict)
    script: dict[str, list[Answer]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        body = request.content
        headers = dict(request.headers)
        try:
            verified = Webhook(self.secrets[url]).verify(body, headers)
        except WebhookVerificationError:
            self.bad_signatures += 1
            self.received.append(Received(url, headers, body, headers.get("webhook-id", ""), 401))
            return httpx.Response(401)
        event_id = verified["id"]
        assert headers["webhook-id"] == event_id
        answers = self.script.get(event_id, [])
        answer: Answer = answers.pop(0) if answers else 204
        try:
            response = answer(request) if callable(answer) else httpx.Response(answer)
        except httpx.HTTPError:
            self.received.append(Received(url, headers, body, event_id, None))
            raise
        self.received.append(Received(url, headers, body, event_id, response.status_code))
        return response

    def acknowledged(self, url: str | None = None) -> list[str]:
        return [
            r.event_id
            for r in self.received
            if r.status is not None and 200 <= r.status < 300 and url in (None, r.url)
        ]

    def sent(self, url: str | None = None) -> list[str]:
        return [r.event_id for r in self.received if url in (None, r.url)]


class Harness:
    """The store, the consumer and the command side of one service, and its delivery worker."""

    def __init__(self, *, policy: RetryPolicy | None = None, allow_private: bool = False) -> None:
        self.store = InMemoryNotificationsStore()
        self.clock = Clock()
        self.resolver = FakeResolver()
        self.records = Records(self.clock)
        self.receiver = Receiver()
        outgoing = Outgoing(
            self.store, portal_url="http://portal.test", secret="s", manager_addresses=[]
        )
        self.woken = 0
        self.consumer = NotificationsConsumer(
            self.store,
            outgoing,
            max_event_age=timedelta(hours=72),
            wake_deliveries=self.wake,
            clock=self.clock,
        )
        self.commands = NotificationsCommands(
            self.store,
            Reminders(self.store, outgoing, clock=self.clock),
            secret="s",
            allow_private=False,
            resolver=self.resolver,
            clock=self.clock,
        )
        self.deliverer = Deliverer(
            self.store,
            policy=policy or RetryPolicy(),
            timeout=10.0,
            allow_private=allow_private,
            poll_seconds=1.0,
            resolver=self.resolver,
            transport=httpx.MockTransport(self.receiver),
            clock=self.clock,
        )

    def wake(self) -> None:
        self.woken += 1

    async def subscribe(
        self, url: str, event_types: list[str], partner_id: str | None = None
    ) -> str:
        made = await self.commands.add_webhook(
            WebhookBody(url=url, event_types=event_types, partner_id=partner_id), ADMIN
        )
        self.receiver.secrets[url] = made.secret
        return made.webhook_id

    async def consume(self, *events: dict[str, Any]) -> list[bytes]:
        """Handle one batch of ``events``; the record values the consumer got."""
        batch = self.records.batch(*events)
        await self.consumer.handle(batch)
        return [c.record.value for c in batch]

    async def deliver(self) -> bool:
        """One pass of the delivery worker."""
        async with self.deliverer.client() as client:
            return await self.deliverer.deliver_due(client)

    def delivery(self, webhook_id: str, whole: dict[str, Any]) -> dict[str, Any]:
        return self.store["deliveries"][delivery_id(webhook_id, whole["id"])]


def payout(partner_id: str) -> dict[str, Any]:
    return event("PayoutSettled", partner_id, settlement_id=f"S-{partner_id}")


# --------------------------------------------------------------------------- signing


async def test_every_request_is_signed_and_carries_the_event_as_consumed() -> None:
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    first, second = payout("P-A"), payout("P-B")
    values = await service.consume(first, second)
    assert service.woken == 1

    await service.deliver()

    assert [r.body for r in service.receiver.received] == values  # byte for byte
    for request, whole in zip(service.receiver.received, (first, second), strict=True):
        assert request.url == A_URL
        assert request.headers["webhook-id"] == whole["id"]
        assert request.headers["webhook-timestamp"] == str(int(service.clock().timestamp()))
        assert request.headers["webhook-signature"].startswith("v1,")
        assert request.headers["content-type"].startswith("application/cloudevents+json")
        assert json.loads(request.body) == whole
    assert service.receiver.bad_signatures == 0
    assert service.receiver.acknowledged() == [first["id"], second["id"]]
    assert service.delivery(hook, first)["status"] == DELIVERED
    assert service.store["queue"] == {}


async def test_a_signature_made_with_another_secret_does_not_verify() -> None:
    """The receiver's check is real: with another secret the request is refused (401), a
    failed attempt."""
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    service.receiver.secrets[A_URL] = new_secret()
    whole = payout("P-A")
    await service.consume(whole)
    await service.deliver()
    assert service.receiver.bad_signatures == 1
    (attempt,) = service.delivery(hook, whole)["attempts"]
    assert attempt["error"] == "answered 401"


async def test_a_failing_receiver_gets_the_event_again_with_the_same_id_until_it_answers_2xx() -> (
    None
):
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    whole = payout("P-A")
    service.receiver.script[whole["id"]] = [503, 500, 429]
    await service.consume(whole)
    start = service.clock()

    scheduled = []
    for wait in (0, 5, 10, 20):
        service.clock.advance(wait - 0.5 if wait else 0)
        if wait:  # not due yet: nothing is sent half a second early
            sent = len(service.receiver.received)
            await service.deliver()
            assert len(service.receiver.received) == sent
            service.clock.advance(0.5)
        await service.deliver()
        delivery = service.delivery(hook, whole)
        scheduled.append(delivery["next_attempt_at"])

    delivery = service.delivery(hook, whole)
    assert delivery["status"] == DELIVERED
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 500, 429, 204]
    assert [a["error"] for a in delivery["attempts"]] == [
        "answered 503",
        "answered 500",
        "answered 429",
        None,
    ]
    assert [a["at"] for a in delivery["attempts"]] == [
        iso(start + timedelta(seconds=s)) for s in (0, 5, 15, 35)
    ]
    assert scheduled[:3] == [iso(start + timedelta(seconds=s)) for s in (5, 15, 35)]
    assert delivery["first_attempt_at"] == iso(start)
    assert delivery["delivered_at"] == iso(start + timedelta(seconds=35))
    assert service.receiver.acknowledged() == [whole["id"]]  # once
    assert {r.headers["webhook-id"] for r in service.receiver.received} == {whole["id"]}
    assert len({r.headers["webhook-signature"] for r in service.receiver.received}) == 4
    assert service.store["queue"] == {}

    service.clock.advance(120)
    await service.deliver()
    assert len(service.receiver.received) == 4


async def test_the_receivers_answer_is_kept_with_the_attempt() -> None:
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    whole = payout("P-A")
    service.receiver.script[whole["id"]] = [
        lambda _: httpx.Response(400, text="unknown partner " + "x" * 1000)
    ]
    await service.consume(whole)
    await service.deliver()
    (attempt,) = service.delivery(hook, whole)["attempts"]
    assert attempt["status_code"] == 400
    assert attempt["response"].startswith("unknown partner xxx")
    assert len(attempt["response"]) == 500
    assert attempt["error"] == "answered 400"


# --------------------------------------------------------------------------- order


async def test_a_partners_later_event_waits_for_its_first_while_other_partners_go_on() -> None:
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled", "MdfApproved"])
    a1, b1 = payout("P-A"), payout("P-B")
    a2, b2 = event("MdfApproved", "P-A"), event("MdfApproved", "P-B")
    service.receiver.script[a1["id"]] = [503, 503]
    await service.consume(a1, b1)
    service.clock.advance(0.001)  # written a millisecond later (on another topic)
    await service.consume(a2, b2)
    of_a = {a1["id"], a2["id"]}

    def sent_of_a() -> list[str]:
        return [i for i in service.receiver.sent() if i in of_a]

    await service.deliver()  # lines are served side by side: compare within each
    assert sent_of_a() == [a1["id"]]
    assert service.receiver.acknowledged() == [b1["id"], b2["id"]]
    assert service.delivery(hook, a2)["attempts"] == []

    service.clock.advance(1)  # a1 not due: its line waits, a2 included
    await service.deliver()
    assert sent_of_a() == [a1["id"]]
    service.clock.advance(4)
    await service.deliver()  # a1 fails again; a2 still waits
    assert sent_of_a() == [a1["id"], a1["id"]]
    assert service.delivery(hook, a2)["status"] == PENDING
    assert service.delivery(hook, a2)["attempts"] == []

    service.clock.advance(10)
    await service.deliver()
    assert sent_of_a() == [a1["id"], a1["id"], a1["id"], a2["id"]]
    assert service.receiver.acknowledged() == [b1["id"], b2["id"], a1["id"], a2["id"]]
    assert service.delivery(hook, a2)["status"] == DELIVERED
    assert service.store["queue"] == {}


async def test_lines_are_per_subscription_too() -> None:
    """One subscription's failing receiver does not hold another's deliveries of the
    same partner."""
    service = Harness()
    failing = await service.subscribe(A_URL, ["PayoutSettled"])
    other = await service.subscribe(B_URL, ["PayoutSettled"])
    whole = payout("P-A")

    def a_fails(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if str(request.url) == A_URL else 204)

    service.receiver.script[whole["id"]] = [a_fails, a_fails]
    await service.consume(whole)
    await service.deliver()
    assert service.delivery(failing, whole)["status"] == PENDING
    assert service.delivery(other, whole)["status"] == DELIVERED
    assert service.receiver.acknowledged(B_URL) == [whole["id"]]


async def test_a_delivery_whose_document_is_not_written_yet_holds_its_line() -> None:
    """The consumer killed between writing the queue entry and the delivery: the entry
    waits for its document (the batch comes again) and no later event of its line
    overtakes it; other lines go on."""
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled", "MdfApproved"])
    a1, a2, b1 = payout("P-A"), event("MdfApproved", "P-A"), payout("P-B")
    first_batch = service.records.batch(a1)
    service.store.crash_after_queue = True
    with pytest.raises(CrashBetweenWrites):
        await service.consumer.handle(first_batch)
    assert delivery_id(hook, a1["id"]) in service.store["queue"]
    assert delivery_id(hook, a1["id"]) not in service.store["deliveries"]

    service.clock.advance(1)
    await service.consume(a2, b1)
    await service.deliver()
    assert service.receiver.sent() == [b1["id"]]

    await service.consumer.handle(first_batch)  # the batch delivered again
    await service.deliver()
    assert service.receiver.acknowledged() == [b1["id"], a1["id"], a2["id"]]
    assert service.store["queue"] == {}


async def test_a_delivery_already_made_is_not_sent_again_when_its_queue_entry_comes_back() -> None:
    """A batch consumed again after its delivery was made: the queue entry is written
    again, the delivery is not sent again."""
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    whole = payout("P-A")
    batch = service.records.batch(whole)
    await service.consumer.handle(batch)
    await service.deliver()
    await service.store.queue_deliveries([{**service.delivery(hook, whole), "status": PENDING}])
    assert delivery_id(hook, whole["id"]) in service.store["queue"]
    await service.deliver()
    assert service.receiver.sent() == [whole["id"]]
    assert service.store["queue"] == {}


# --------------------------------------------------------------------------- parking, replay


async def test_a_receiver_down_past_the_budget_has_the_delivery_parked_then_replayed() -> None:
    service = Harness(policy=RetryPolicy(first=1, longest=2, give_up_after=5))
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    whole, later = payout("P-A"), event("PayoutSettled", "P-A", settlement_id="S-later")
    service.receiver.script[whole["id"]] = [503] * 4
    await service.consume(whole)
    start = service.clock()

    for wait in (0, 1, 2, 2):  # attempts at 0, 1, 3, 5 s; the next would be past 5 s
        service.clock.advance(wait)
        await service.deliver()
    delivery = service.delivery(hook, whole)
    assert delivery["status"] == PARKED
    assert delivery["parked_at"] == iso(start + timedelta(seconds=5))
    assert delivery["failures"] == 4
    assert len(delivery["attempts"]) == 4
    assert service.store["queue"] == {}
    service.clock.advance(60)
    await service.deliver()
    assert len(service.receiver.received) == 4  # parked: not tried again

    replayed = await service.commands.replay(hook)
    assert replayed.replayed == 1
    assert service.delivery(hook, whole)["status"] == PENDING
    assert service.delivery(hook, whole)["replays"] == 1
    await service.deliver()
    delivery = service.delivery(hook, whole)
    assert delivery["status"] == DELIVERED
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 503, 503, 503, 204]
    assert service.receiver.acknowledged() == [whole["id"]]
    assert {r.headers["webhook-id"] for r in service.receiver.received} == {whole["id"]}
    assert (await service.commands.replay(hook)).replayed == 0

    await service.consume(later)  # the line goes on as usual
    await service.deliver()
    assert service.receiver.acknowledged() == [whole["id"], later["id"]]


async def test_a_replayed_delivery_gets_a_new_budget() -> None:
    service = Harness(policy=RetryPolicy(first=1, longest=1, give_up_after=2))
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    whole = payout("P-A")
    service.receiver.script[whole["id"]] = [503] * 6
    await service.consume(whole)
    for wait in (0, 1, 1):
        service.clock.advance(wait)
        await service.deliver()
    assert service.delivery(hook, whole)["status"] == PARKED
    service.clock.advance(100)
    await service.commands.replay(hook)
    for wait in (0, 1):
        service.clock.advance(wait)
        await service.deliver()
    delivery = service.delivery(hook, whole)
    assert delivery["status"] == PENDING  # 1 s into its new budget of 2
    assert delivery["first_attempt_at"] == iso(service.clock() - timedelta(seconds=1))
    service.clock.advance(1)
    await service.deliver()
    assert service.delivery(hook, whole)["status"] == PARKED
    assert len(service.delivery(hook, whole)["attempts"]) == 6


# --------------------------------------------------------------------------- pause, delete


async def test_a_paused_subscriptions_deliveries_wait_and_go_out_on_resume() -> None:
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    await service.commands.set_status(hook, "paused")
    first, second = payout("P-A"), payout("P-B")
    await service.consume(first, second)
    await service.deliver()
    service.clock.advance(60)
    await service.deliver()
    assert service.receiver.received == []
    assert len(service.store["queue"]) == 2

    await service.commands.set_status(hook, "active")
    await service.deliver()
    assert service.receiver.acknowledged() == [first["id"], second["id"]]
    assert service.store["queue"] == {}


async def test_a_deleted_subscriptions_queue_is_dropped() -> None:
    service = Harness()
    gone = await service.subscribe(A_URL, ["PayoutSettled"])
    kept = await service.subscribe(B_URL, ["PayoutSettled"])
    whole = payout("P-A")
    await service.consume(whole)
    await service.commands.delete(gone)
    assert [e["webhook_id"] for e in service.store["queue"].values()] == [kept]
    assert all(d["webhook_id"] == kept for d in service.store["deliveries"].values())
    await service.deliver()
    assert service.receiver.sent(A_URL) == []
    assert service.receiver.acknowledged(B_URL) == [whole["id"]]


async def test_queue_entries_of_a_subscription_gone_meanwhile_are_dropped() -> None:
    """A subscription deleted between the consumer's write and the worker's pass."""
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    await service.consume(payout("P-A"))
    del service.store["webhooks"][hook]
    await service.deliver()
    assert service.receiver.received == []
    assert service.store["queue"] == {}


# --------------------------------------------------------------------------- what fails an attempt


async def test_an_address_re_pointed_at_the_private_network_is_not_called() -> None:
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])  # public when subscribed
    service.resolver.addresses["hooks.a.example"] = ["10.0.0.5"]
    whole = payout("P-A")
    await service.consume(whole)
    await service.deliver()
    assert service.receiver.received == []
    delivery = service.delivery(hook, whole)
    (attempt,) = delivery["attempts"]
    assert attempt["error"].startswith("refused to call: hooks.a.example resolves to 10.0.0.5")
    assert attempt["status_code"] is None
    assert delivery["status"] == PENDING
    assert ("hooks.a.example", 443) in service.resolver.asked


async def test_private_addresses_are_called_when_allowed() -> None:
    service = Harness(allow_private=True)
    await service.subscribe(A_URL, ["PayoutSettled"])
    service.resolver.addresses["hooks.a.example"] = ["10.0.0.5"]
    whole = payout("P-A")
    await service.consume(whole)
    service.resolver.asked.clear()
    await service.deliver()
    assert service.receiver.acknowledged() == [whole["id"]]
    assert service.resolver.asked == []


async def test_a_name_that_cannot_be_encoded_fails_its_attempt_not_the_pass() -> None:
    """getaddrinfo raises UnicodeError (not OSError) for a name IDNA cannot encode."""
    service = Harness()
    broken = await service.subscribe(A_URL, ["PayoutSettled"])
    await service.subscribe(B_URL, ["PayoutSettled"])
    service.resolver.failures["hooks.a.example"] = IDNA_FAILURE
    whole = payout("P-A")
    await service.consume(whole)
    await service.deliver()
    (attempt,) = service.delivery(broken, whole)["attempts"]
    assert attempt["error"].startswith("refused to call: hooks.a.example cannot be resolved")
    assert service.receiver.acknowledged(B_URL) == [whole["id"]]


async def test_no_answer_in_time_is_a_failed_attempt() -> None:
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    whole = payout("P-A")

    def too_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    service.receiver.script[whole["id"]] = [too_slow]
    await service.consume(whole)
    await service.deliver()
    delivery = service.delivery(hook, whole)
    (attempt,) = delivery["attempts"]
    assert attempt["error"] == "no answer within 10 s"
    assert attempt["status_code"] is None
    assert delivery["status"] == PENDING
    assert delivery["next_attempt_at"] == iso(service.clock() + timedelta(seconds=5))
    service.clock.advance(5)
    await service.deliver()
    assert service.delivery(hook, whole)["status"] == DELIVERED


async def test_a_refused_connection_is_a_failed_attempt() -> None:
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    whole = payout("P-A")

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    service.receiver.script[whole["id"]] = [refused]
    await service.consume(whole)
    await service.deliver()
    (attempt,) = service.delivery(hook, whole)["attempts"]
    assert attempt["error"] == "ConnectError: connection refused"
    assert service.delivery(hook, whole)["status"] == PENDING


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_a_failure_and_not_followed(status: int) -> None:
    service = Harness()
    hook = await service.subscribe(A_URL, ["PayoutSettled"])
    service.receiver.secrets["http://10.0.0.5/steal"] = service.receiver.secrets[A_URL]
    whole = payout("P-A")
    service.receiver.script[whole["id"]] = [
        lambda _: httpx.Response(status, headers={"location": "http://10.0.0.5/steal"})
    ]
    await service.consume(whole)
    await service.deliver()
    assert [urlsplit(r.url).hostname for r in service.receiver.received] == ["hooks.a.example"]
    delivery = service.delivery(hook, whole)
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] == status
    assert attempt["error"] == f"answered {status}"
    assert delivery["status"] == PENDING
