"""Notifications on real Kafka, FerretDB and the local SMTP server (docs/rules/notifications.md).

Webhooks: a real HTTP receiver in this process verifies every signature with the
``standardwebhooks`` package.

- A receiver that fails three times and then answers 204 gets the event acknowledged
  once, after four attempts, and a partner's later events only after it, in order.
- A receiver down past the retry budget (compressed by settings) has the delivery parked;
  a replay delivers it.
- ``kill -9`` of the service while a receiver holds a delivery open loses nothing: after a
  restart every event is acknowledged, in order.

Email, read back through the inbox's API: the partner's contact and the managers get what
concerns them, no partner gets another partner's email, and after a restart (the same
events consumed again, the periodic notices run again) there is still one email per fact.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2 as httpx
import pytest
from aiokafka import AIOKafkaProducer
from standardwebhooks import Webhook

from shared import topics
from shared.infra import start_group_at_end
from shared.settings import Settings
from tests.support.events import DATA, envelope, send
from tests.support.eventually import eventually
from tests.support.processes import ServiceProcess, free_port
from tests.support.services import drop_database, service_env

pytestmark = pytest.mark.integration

# Retries compressed: 0.2 s doubling to 1 s, parked after 4 s.
FAST_RETRIES = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_RETRY_FIRST_SECONDS": "0.2",
    "WEBHOOK_RETRY_LONGEST_SECONDS": "1",
    "WEBHOOK_RETRY_FOR_SECONDS": "4",
    "WEBHOOK_TIMEOUT_SECONDS": "5",
    "DELIVERY_POLL_SECONDS": "0.2",
}


@dataclass
class Receiver:
    """An HTTP endpoint that verifies Standard Webhooks signatures and answers as told."""

    secret: str = ""
    #: event id → how many more requests for it to fail (503) before acknowledging.
    fail_first: dict[str, int] = field(default_factory=dict)
    down: bool = False
    #: seconds to hold each request before answering
    hold: float = 0.0
    #: event ids as requests arrive (before holding), and as answered
    started: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            event = Webhook(self.secret).verify(body, headers)
        except Exception:
            with self.lock:
                self.bad_signatures += 1
            return 400
        with self.lock:
            self.started.append(event["id"])
        if self.hold:
            threading.Event().wait(self.hold)
        with self.lock:
            self.attempts.append(event["id"])
            if self.down:
                return 503
            remaining = self.fail_first.get(event["id"], 0)
            if remaining:
                self.fail_first[event["id"]] = remaining - 1
                return 503
            self.acknowledged.append(event)
            return 204

    def acknowledged_ids(self) -> list[str]:
        with self.lock:
            return [e["id"] for e in self.acknowledged]


@contextmanager
def serving(receiver: Receiver) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status = receiver.handle(body, dict(self.headers.items()))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def notifications(settings: Settings, unique: str, **extra: str) -> ServiceProcess:
    env = service_env(
        settings,
        f"test_notifications_{unique}",
        f"notifications-{unique}",
        SMTP_URL=os.environ.get("PARTNERHUB_SMTP_URL", "smtp://127.0.0.1:11025"),
        **FAST_RETRIES,
        **extra,
    )
    return ServiceProcess("notifications", env)


@pytest.fixture
async def group_at_end(settings: Settings, unique: str) -> AsyncIterator[None]:
    await start_group_at_end(settings, f"notifications-{unique}", topics.CONSUMED["notifications"])
    yield
    await drop_database(settings, f"test_notifications_{unique}")


def event(event_type: str, partner_id: str, **data: Any) -> dict[str, Any]:
    payload = {**DATA[event_type], "partner_id": partner_id, **data}
    return envelope(event_type, payload, id=str(uuid.uuid4()))


def topic_of(event_type: str) -> str:
    from shared.events import PAYLOADS

    return PAYLOADS[event_type].kafka_topic


async def publish(producer: AIOKafkaProducer, *events: dict[str, Any]) -> None:
    for e in events:
        await send(producer, topic_of(e["type"]), e)


def subscribe(
    service: ServiceProcess, url: str, event_types: list[str], partner: str
) -> tuple[str, str]:
    answer = service.post(
        "/webhooks", {"url": url, "event_types": event_types, "partner_id": partner}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["secret"].startswith("whsec_")
    return str(body["secret"]), str(body["webhook_id"])


def deliveries(service: ServiceProcess, webhook_id: str) -> list[dict[str, Any]]:
    answer = service.get(f"/webhooks/{webhook_id}/deliveries", limit="100")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["deliveries"])


async def test_a_failing_receiver_gets_each_event_once_acknowledged_in_order(
    settings: Settings, producer: AIOKafkaProducer, unique: str, group_at_end: None
) -> None:
    partner, other = f"P-{unique}", f"P-{unique}-b"
    receiver = Receiver()
    first = event("PayoutSettled", partner, settlement_id=f"S1-{unique}")
    later = [event("MdfApproved", partner, request_id=f"M{i}-{unique}") for i in range(3)]
    elsewhere = event("PayoutSettled", other, settlement_id=f"S2-{unique}")
    receiver.fail_first[first["id"]] = 3
    service = notifications(settings, unique).start()
    try:
        with serving(receiver) as url:
            secret, webhook_id = subscribe(service, url, ["PayoutSettled", "MdfApproved"], partner)
            receiver.secret = secret
            other_secret, _ = subscribe(service, url, ["PayoutSettled"], other)
            await publish(producer, first, *later, elsewhere)

            wanted = [first["id"], *(e["id"] for e in later)]

            def all_acknowledged() -> list[str]:
                got = [i for i in receiver.acknowledged_ids() if i in wanted]
                assert got == wanted, f"acknowledged so far: {got}"
                return got

            await eventually(all_acknowledged, "the partner's events, in order", seconds=60)
            assert receiver.attempts.count(first["id"]) == 4
            # The other partner's line did not wait for this one's failures; its own
            # secret signs it, so this receiver (holding the first secret) refused it.
            assert receiver.bad_signatures >= 1
            assert other_secret != secret
            listed = {d["event_id"]: d for d in deliveries(service, webhook_id)}
            assert listed[first["id"]]["status"] == "delivered"
            codes = [a["status_code"] for a in listed[first["id"]]["attempts"]]
            assert codes == [503, 503, 503, 204]
            assert all(listed[e["id"]]["status"] == "delivered" for e in later)
            # the same payload as published, byte for byte in meaning
            assert receiver.acknowledged[0] == first
    finally:
        service.stop()


async def test_a_receiver_down_past_the_budget_is_parked_and_replayed(
    settings: Settings, producer: AIOKafkaProducer, unique: str, group_at_end: None
) -> None:
    partner = f"P-{unique}"
    receiver = Receiver(down=True)
    payout = event("PayoutSettled", partner, settlement_id=f"S-{unique}")
    service = notifications(settings, unique).start()
    try:
        with serving(receiver) as url:
            receiver.secret, webhook_id = subscribe(service, url, ["PayoutSettled"], partner)
            await publish(producer, payout)

            def parked() -> dict[str, Any]:
                found = deliveries(service, webhook_id)
                assert len(found) == 1, f"deliveries so far: {found}"
                assert found[0]["status"] == "parked", found[0]["status"]
                return found[0]

            delivery = await eventually(parked, "the delivery parked", seconds=60)
            assert len(delivery["attempts"]) >= 3
            assert all(a["status_code"] == 503 for a in delivery["attempts"])
            assert receiver.acknowledged_ids() == []

            receiver.down = False
            replay = service.post(f"/webhooks/{webhook_id}/replay", {})
            assert replay.status_code == 200
            assert replay.json()["replayed"] == 1

            def delivered() -> None:
                assert receiver.acknowledged_ids() == [payout["id"]]

            await eventually(delivered, "the replayed delivery", seconds=30)
            (after,) = deliveries(service, webhook_id)
            assert after["status"] == "delivered"
    finally:
        service.stop()


async def test_kill_9_mid_delivery_loses_nothing(
    settings: Settings, producer: AIOKafkaProducer, unique: str, group_at_end: None
) -> None:
    partner = f"P-{unique}"
    receiver = Receiver(hold=3.0)
    events = [event("MdfApproved", partner, request_id=f"M{i}-{unique}") for i in range(5)]
    service = notifications(settings, unique)
    service.start()
    try:
        with serving(receiver) as url:
            receiver.secret, _ = subscribe(service, url, ["MdfApproved"], partner)
            await publish(producer, *events)

            def in_flight() -> None:
                with receiver.lock:
                    assert receiver.started, "no request yet"
                    assert not receiver.acknowledged, receiver.acknowledged

            # kill -9 while the receiver holds the first request open
            await eventually(in_flight, "a delivery in flight", seconds=30, interval=0.05)
            service.kill()
            receiver.hold = 0.0
            service.start()

            wanted = [e["id"] for e in events]

            def all_delivered() -> None:
                got = receiver.acknowledged_ids()
                assert set(got) == set(wanted), f"missing {set(wanted) - set(got)}"
                firsts = list(dict.fromkeys(got))
                assert firsts == wanted, f"out of order: {firsts}"

            await eventually(all_delivered, "every event after the restart", seconds=60)
    finally:
        service.stop()


# --------------------------------------------------------------------------- email


def inbox() -> str:
    return os.environ.get("PARTNERHUB_MAIL_INBOX_URL", "http://127.0.0.1:18025/").rstrip("/")


def mail_to(address: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{inbox()}/api/v1/search", params={"query": f"to:{address}", "limit": 200}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["messages"])


def message_text(message_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{inbox()}/api/v1/message/{message_id}", timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_email_reaches_the_people_concerned_once_per_fact(
    settings: Settings, producer: AIOKafkaProducer, unique: str, group_at_end: None
) -> None:
    a, b = f"P-{unique}-a", f"P-{unique}-b"
    contact_a, contact_b = f"a-{unique}@example.com", f"b-{unique}@example.com"
    manager = f"mgr-{unique}@example.com"
    now = datetime.now(UTC)
    applied_a = event("PartnerApplied", a, application_id=f"A-{unique}-a", contact_email=contact_a)
    applied_b = event("PartnerApplied", b, application_id=f"A-{unique}-b", contact_email=contact_b)
    payout_a = event("PayoutSettled", a, settlement_id=f"S-{unique}")
    mdf_b = event("MdfApproved", b, request_id=f"M-{unique}")
    registration_a = event(
        "DealRegistrationApproved",
        a,
        registration_id=f"R-{unique}",
        deal_id=f"D-{unique}",
        expires_at=(now + timedelta(days=3)).isoformat(),
    )
    all_events = [applied_a, applied_b, payout_a, mdf_b, registration_a]
    extra = {"NOTIFY_MANAGER_EMAILS": manager, "NOTICE_INTERVAL_SECONDS": "1"}
    service = notifications(settings, unique, **extra).start()
    try:
        await publish(producer, *all_events)

        def a_mail() -> list[dict[str, Any]]:
            got = mail_to(contact_a)
            subjects = sorted(m["Subject"] for m in got)
            assert len(got) == 3, subjects
            return got

        received_a = await eventually(a_mail, "partner A's three emails", seconds=60)
        subjects_a = sorted(m["Subject"] for m in received_a)
        assert subjects_a[0] == f"Deal registration R-{unique} approved", subjects_a
        assert subjects_a[1] == "Payout settled for 2026-Q4: 38,100.00 USD", subjects_a
        expires = (now + timedelta(days=3)).date().isoformat()
        assert subjects_a[2] == f"Registration R-{unique} protects deal D-{unique} until {expires}"
        full = message_text(received_a[0]["ID"])
        assert "/unsubscribe?" in full["Text"]
        assert "http://127.0.0.1:8000/" in full["Text"]
        assert "<a href=" in full["HTML"]

        def b_mail() -> list[dict[str, Any]]:
            got = mail_to(contact_b)
            assert [m["Subject"] for m in got] == [f"MDF request M-{unique} approved"]
            return got

        await eventually(b_mail, "partner B's MDF email only", seconds=30)

        def manager_mail() -> None:
            got = sorted(m["Subject"] for m in mail_to(manager))
            assert len(got) == 2
            assert all(s.startswith("New partner application") for s in got)

        await eventually(manager_mail, "the managers' application emails", seconds=30)
        for address in (contact_a, contact_b, manager):
            for message in mail_to(address):
                assert [r["Address"] for r in message["To"]] == [address]

        # A restart: the same events consumed again, the periodic notices run again.
        service.stop()
        service.start()
        await publish(producer, *all_events)  # the same events (ids) consumed again
        notices = service.post("/notices", {})
        assert notices.status_code == 200
        assert notices.json()["queued"] == 0

        def settled() -> list[dict[str, Any]]:
            listed = emails_of(service, a)
            assert listed
            assert all(e["status"] == "sent" for e in listed), listed
            return listed

        listed = await eventually(settled, "partner A's emails sent", seconds=30)
        # to the contact: the decision, the payout and the expiry; to the manager: A's application
        assert len(listed) == 4
        assert len(mail_to(contact_a)) == 3
        assert len(mail_to(contact_b)) == 1
        assert len(mail_to(manager)) == 2
    finally:
        service.stop()


def emails_of(service: ServiceProcess, partner_id: str) -> list[dict[str, Any]]:
    answer = service.get("/emails", partner_id=partner_id, limit="50")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["emails"])
