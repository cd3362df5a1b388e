"""Notifications' consumer (services/notifications/handlers.py), the email it queues
(services/notifications/mail.py) and the periodic notices of ends ahead
(services/notifications/notices.py), on the in-memory store with records as Kafka gives
them and a clock the test moves."""

from __future__ import annotations

import html
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import REGISTRY

from services.notifications.commands import NotificationsCommands
from services.notifications.domain import (
    NoticeKind,
    delivery_id,
    line_of,
    sequence,
    valid_unsubscribe,
)
from services.notifications.handlers import NotificationsConsumer
from services.notifications.mail import Outgoing, message_of, smtp_options
from services.notifications.notices import Reminders
from services.notifications.store import PENDING, QUEUED, iso
from services.notifications.views import WebhookBody
from shared.access import Principal
from shared.consuming import Consumed
from tests.support.notifications import (
    Clock,
    CrashBetweenWrites,
    FakeResolver,
    InMemoryNotificationsStore,
    Records,
    event,
)

SECRET = "consumer-test-secret"
PORTAL = "https://portal.example.com"
MANAGER = "maria@vendor.example"
ADMIN = Principal("admin", key_id="admin-key-id")


class Harness:
    def __init__(self) -> None:
        self.store = InMemoryNotificationsStore()
        self.clock = Clock()
        self.records = Records(self.clock)
        self.woken = 0
        self.outgoing = self.new_outgoing()
        self.consumer = NotificationsConsumer(
            self.store,
            self.outgoing,
            max_event_age=timedelta(hours=72),
            wake_deliveries=self.wake,
            clock=self.clock,
        )
        self.reminders = Reminders(self.store, self.outgoing, clock=self.clock)
        self.commands = NotificationsCommands(
            self.store,
            self.reminders,
            secret=SECRET,
            allow_private=False,
            resolver=FakeResolver(),
            clock=self.clock,
        )

    def new_outgoing(self) -> Outgoing:
        return Outgoing(
            self.store,
            portal_url=PORTAL + "/",
            secret=SECRET,
            manager_addresses=[" Maria@Vendor.example"],
        )

    def wake(self) -> None:
        self.woken += 1

    async def subscribe(
        self,
        event_types: list[str],
        partner_id: str | None = None,
        url: str = "https://h.example/in",
    ) -> str:
        body = WebhookBody(url=url, event_types=event_types, partner_id=partner_id)
        return (await self.commands.add_webhook(body, ADMIN)).webhook_id

    async def consume(
        self, *events: dict[str, Any], age: timedelta | None = None
    ) -> list[Consumed]:
        at = None if age is None else self.clock() - age
        batch = self.records.batch(*events, at=at)
        await self.consumer.handle(batch)
        return batch

    def emails(self, kind: str | None = None) -> set[tuple[str, str, str]]:
        """(kind, partner, address) of every email queued."""
        return {
            (e["kind"], e["partner_id"], e["address"])
            for e in self.store["emails"].values()
            if kind in (None, e["kind"])
        }

    def email_of(self, kind: str) -> dict[str, Any]:
        (found,) = [e for e in self.store["emails"].values() if e["kind"] == kind]
        return found


def applied(partner_id: str, contact: str) -> dict[str, Any]:
    return event(
        "PartnerApplied", partner_id, contact_email=contact, application_id=f"A-{partner_id}"
    )


def payout(partner_id: str, settlement: str | None = None) -> dict[str, Any]:
    return event("PayoutSettled", partner_id, settlement_id=settlement or f"S-{partner_id}")


# --------------------------------------------------------------------------- deliveries


async def test_each_event_is_queued_for_the_subscriptions_that_want_it_once() -> None:
    service = Harness()
    of_a = await service.subscribe(["PayoutSettled", "MdfApproved"], partner_id="P-A")
    closings = await service.subscribe(["DealClosed"])
    pay_a, pay_b = payout("P-A"), payout("P-B")
    closed_a, closed_b = event("DealClosed", "P-A"), event("DealClosed", "P-B")
    others = [event("MdfApproved", "P-B"), event("CommissionCalculated", "P-A")]
    batch = await service.consume(pay_a, pay_b, closed_a, closed_b, *others)

    expected = {
        delivery_id(of_a, pay_a["id"]): (of_a, batch[0]),
        delivery_id(closings, closed_a["id"]): (closings, batch[2]),
        delivery_id(closings, closed_b["id"]): (closings, batch[3]),
    }
    assert set(service.store["deliveries"]) == set(expected)
    assert set(service.store["queue"]) == set(expected)
    for key, (hook, consumed) in expected.items():
        record, whole = consumed.record, consumed.event
        delivery = service.store["deliveries"][key]
        place = sequence(record.timestamp, record.topic, record.partition, record.offset)
        assert delivery["event_id"] == whole.id
        assert delivery["event_type"] == whole.type
        assert delivery["partner_id"] == whole.subject
        assert delivery["line"] == line_of(hook, whole.subject)
        assert delivery["seq"] == place
        assert delivery["body"] == record.value.decode()
        assert delivery["status"] == PENDING
        assert delivery["attempts"] == []
        assert delivery["next_attempt_at"] == iso(service.clock())
        assert service.store["queue"][key] == {
            "_id": key,
            "webhook_id": hook,
            "line": delivery["line"],
            "seq": place,
            "next_attempt_at": iso(service.clock()),
        }
    assert service.woken == 1

    deliveries = {k: dict(v) for k, v in service.store["deliveries"].items()}
    queue = {k: dict(v) for k, v in service.store["queue"].items()}
    service.clock.advance(60)
    await service.consumer.handle(batch)  # the same batch delivered again
    assert service.store["deliveries"] == deliveries
    assert service.store["queue"] == queue
    assert service.woken == 1  # nothing new: the worker is not woken


async def test_a_paused_subscription_still_queues() -> None:
    service = Harness()
    hook = await service.subscribe(["PayoutSettled"])
    await service.commands.set_status(hook, "paused")
    whole = payout("P-A")
    await service.consume(whole)
    assert set(service.store["queue"]) == {delivery_id(hook, whole["id"])}


async def test_no_subscription_queues_nothing() -> None:
    service = Harness()
    await service.consume(payout("P-A"))
    assert service.store["deliveries"] == {}
    assert service.store["queue"] == {}
    assert service.woken == 0


async def test_a_delivery_lost_between_the_two_writes_is_written_when_the_batch_comes_again() -> (
    None
):
    service = Harness()
    hook = await service.subscribe(["PayoutSettled"])
    whole = payout("P-A")
    batch = service.records.batch(whole)
    service.store.crash_after_queue = True
    with pytest.raises(CrashBetweenWrites):
        await service.consumer.handle(batch)
    key = delivery_id(hook, whole["id"])
    assert set(service.store["queue"]) == {key}
    assert service.store["deliveries"] == {}
    await service.consumer.handle(batch)
    assert set(service.store["deliveries"]) == {key}
    assert set(service.store["queue"]) == {key}


# --------------------------------------------------------------------------- who is emailed


async def test_contacts_and_managers_get_what_concerns_them_only() -> None:
    service = Harness()
    await service.consume(
        applied("P-A", "Channel@Acme.Example"), applied("P-B", "b@globex.example")
    )
    await service.store.put_people(
        [
            {
                "_id": "person:pat",
                "address": "pat@acme.example",
                "partner_id": "P-A",
                "manager": False,
            }
        ]
    )
    await service.consume(payout("P-A"), payout("P-B"), event("MdfApproved", "P-A"))

    assert service.emails() == {
        ("application_waiting", "P-A", MANAGER),
        ("application_waiting", "P-B", MANAGER),
        ("payout_settled", "P-A", "channel@acme.example"),
        ("payout_settled", "P-A", "pat@acme.example"),
        ("payout_settled", "P-B", "b@globex.example"),
        ("mdf_request_decided", "P-A", "channel@acme.example"),
        ("mdf_request_decided", "P-A", "pat@acme.example"),
    }
    assert service.store["people"]["contact:P-A"]["address"] == "channel@acme.example"
    assert service.store["people"]["contact:P-A"]["partner_id"] == "P-A"
    assert all(e["status"] == QUEUED for e in service.store["emails"].values())
    assert set(service.store["mail_queue"]) == set(service.store["emails"])


async def test_a_contact_applying_in_the_same_batch_as_a_payout_gets_it() -> None:
    service = Harness()
    await service.consume(applied("P-A", "a@acme.example"), payout("P-A"))
    assert service.emails("payout_settled") == {("payout_settled", "P-A", "a@acme.example")}


async def test_a_fact_seen_again_is_not_emailed_again() -> None:
    service = Harness()
    batch = await service.consume(applied("P-A", "a@acme.example"), payout("P-A"))
    emails = {k: dict(v) for k, v in service.store["emails"].items()}
    assert len(emails) == 2
    service.clock.advance(3600)
    await service.consumer.handle(batch)
    await service.consume(payout("P-A"))  # the same settlement in another event
    assert service.store["emails"] == emails
    assert set(service.store["mail_queue"]) == set(emails)


async def test_a_fact_seen_again_is_not_counted_as_queued_again() -> None:
    service = Harness()

    def queued() -> float:
        value = REGISTRY.get_sample_value(
            "partnerhub_emails_total", {"kind": "payout_settled", "outcome": "queued"}
        )
        return value or 0.0

    before = queued()
    batch = await service.consume(applied("P-A", "a@acme.example"), payout("P-A"))
    assert queued() == before + 1
    await service.consumer.handle(batch)
    assert queued() == before + 1


async def test_an_email_lost_between_the_two_writes_is_written_when_the_batch_comes_again() -> None:
    service = Harness()
    batch = service.records.batch(applied("P-A", "a@acme.example"))
    service.store.crash_after_queue = True
    with pytest.raises(CrashBetweenWrites):
        await service.consumer.handle(batch)
    assert len(service.store["mail_queue"]) == 1
    assert service.store["emails"] == {}
    await service.consumer.handle(batch)
    assert set(service.store["emails"]) == set(service.store["mail_queue"])
    assert len(service.store["emails"]) == 1


async def test_a_kind_unsubscribed_from_is_not_queued() -> None:
    service = Harness()
    await service.consume(applied("P-A", "a@acme.example"))
    await service.store.set_unsubscribed("a@acme.example", ["payout_settled"])
    await service.store.set_unsubscribed(MANAGER, ["inquiry_waiting"])
    await service.consume(
        payout("P-A"), event("MdfApproved", "P-A"), event("CommissionInquiryOpened", "P-A")
    )
    assert service.emails("payout_settled") == set()
    assert service.emails("inquiry_waiting") == set()
    assert service.emails("mdf_request_decided") == {
        ("mdf_request_decided", "P-A", "a@acme.example")
    }


async def test_old_events_email_no_one_but_are_still_delivered_and_remembered() -> None:
    service = Harness()
    hook = await service.subscribe(["PayoutSettled", "PartnerApplied"])
    old = [applied("P-A", "a@acme.example"), payout("P-A", "S-old")]
    await service.consume(*old, age=timedelta(hours=73))
    assert service.store["emails"] == {}
    assert set(service.store["deliveries"]) == {delivery_id(hook, e["id"]) for e in old}
    assert "contact:P-A" in service.store["people"]  # the contact is known all the same

    await service.consume(payout("P-A", "S-recent"), age=timedelta(hours=71))
    assert service.emails() == {("payout_settled", "P-A", "a@acme.example")}


# --------------------------------------------------------------------------- ends ahead


async def test_a_registration_ending_is_notified_once_within_7_days_and_again_when_extended() -> (
    None
):
    service = Harness()
    start = service.clock()
    ends = start + timedelta(days=10)
    await service.consume(
        applied("P-A", "a@acme.example"),
        event(
            "DealRegistrationApproved", "P-A", registration_id="R-1", expires_at=ends.isoformat()
        ),
    )
    assert await service.reminders.run_once() == 0  # 10 days ahead

    service.clock.now = ends - timedelta(days=3)
    assert await service.reminders.run_once() == 1
    email = service.email_of("registration_expiring")
    assert email["address"] == "a@acme.example"
    assert email["partner_id"] == "P-A"
    assert ends.date().isoformat() in email["subject"]
    assert await service.reminders.run_once() == 0
    restarted = service.new_outgoing()  # a new process over the same database
    assert await Reminders(service.store, restarted, clock=service.clock).run_once() == 0

    later = ends + timedelta(days=20)
    extended = event(
        "DealRegistrationExtended",
        "P-A",
        registration_id="R-1",
        days=20,
        expires_at=later.isoformat(),
    )
    await service.consume(extended)
    assert service.store["expiring"]["registration:R-1"]["ends_at"] == iso(later)
    assert await service.reminders.run_once() == 0  # 23 days ahead now

    service.clock.now = later - timedelta(days=3)
    assert await service.reminders.run_once() == 1
    ending = sorted(
        e["subject"]
        for e in service.store["emails"].values()
        if e["kind"] == "registration_expiring"
    )
    assert ending == [
        f"Registration R-1 protects deal D-4 until {ends.date().isoformat()}",
        f"Registration R-1 protects deal D-4 until {later.date().isoformat()}",
    ]
    assert await service.reminders.run_once() == 0


async def test_an_extension_never_moves_an_end_earlier() -> None:
    service = Harness()
    ends = service.clock() + timedelta(days=30)
    await service.consume(
        event("DealRegistrationApproved", "P-A", registration_id="R-1", expires_at=ends.isoformat())
    )
    earlier = (ends - timedelta(days=25)).isoformat()
    await service.consume(
        event("DealRegistrationExtended", "P-A", registration_id="R-1", expires_at=earlier)
    )
    assert service.store["expiring"]["registration:R-1"]["ends_at"] == iso(ends)
    await service.consume(  # an extension of a registration not known: nothing to extend
        event("DealRegistrationExtended", "P-A", registration_id="R-2", expires_at=earlier)
    )
    assert set(service.store["expiring"]) == {"registration:R-1"}


async def test_a_registration_rejected_by_hand_is_not_notified() -> None:
    service = Harness()
    ends = service.clock() + timedelta(days=5)
    await service.consume(
        applied("P-A", "a@acme.example"),
        event(
            "DealRegistrationApproved", "P-A", registration_id="R-9", expires_at=ends.isoformat()
        ),
        event("DealRegistrationRejected", "P-A", registration_id="R-9", reason="duplicate"),
    )
    assert "registration:R-9" not in service.store["expiring"]
    assert await service.reminders.run_once() == 0
    assert service.emails("registration_expiring") == set()
    decided = [e for e in service.store["emails"].values() if e["kind"] == "registration_decided"]
    assert len(decided) == 2  # the two decisions themselves, each emailed


async def test_a_registration_without_an_end_is_not_notified() -> None:
    service = Harness()
    await service.consume(event("DealRegistrationApproved", "P-A", registration_id="R-1"))
    assert service.store["expiring"] == {}


async def test_a_certification_ending_is_notified_once_within_30_days() -> None:
    service = Harness()
    start = service.clock()
    ends = start + timedelta(days=40)
    award = event(
        "CertificationAwarded",
        "P-A",
        learner_id="L-7",
        awarded_at=(start - timedelta(days=325)).isoformat(),
        expires_at=ends.isoformat(),
    )
    await service.consume(applied("P-A", "a@acme.example"), applied("P-B", "b@globex.example"))
    await service.consume(award)
    assert await service.reminders.run_once() == 0

    service.clock.now = ends - timedelta(days=25)
    assert await service.reminders.run_once() == 1
    assert service.emails("certification_expiring") == {
        ("certification_expiring", "P-A", "a@acme.example")
    }
    email = service.email_of("certification_expiring")
    assert "L-7's certification CERT-CLOUD (cloud)" in email["text"]
    assert f"{PORTAL}/partners/P-A" in email["text"]
    assert await service.reminders.run_once() == 0

    renewed = event(
        "CertificationAwarded",
        "P-A",
        learner_id="L-7",
        awarded_at=service.clock().isoformat(),
        expires_at=(ends + timedelta(days=365)).isoformat(),
    )
    await service.consume(renewed)
    assert await service.reminders.run_once() == 0
    service.clock.now = ends + timedelta(days=365 - 10)
    assert await service.reminders.run_once() == 1
    assert len(service.emails("certification_expiring")) == 1  # one address, two facts
    assert (
        len([e for e in service.store["emails"].values() if e["kind"] == "certification_expiring"])
        == 2
    )


# --------------------------------------------------------------------------- the email itself


def unsubscribe_link_in(text: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith("Stop these emails: ")]
    return line.removeprefix("Stop these emails: ")


async def test_an_email_links_the_portal_and_a_working_unsubscribe_and_escapes_what_partners_wrote() -> (
    None
):
    service = Harness()
    message = "<script>alert('x')</script> & the bonus is missing"
    await service.consume(
        event("CommissionInquiryOpened", "P-A", inquiry_id="I-7", message=message)
    )
    email = service.email_of("inquiry_waiting")
    assert email["address"] == MANAGER
    assert email["audience"] == "managers"

    text, page = email["text"], email["html"]
    assert message in text
    assert f"See it in the partner portal: {PORTAL}/inquiries" in text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; the bonus is missing" in page
    assert f'href="{PORTAL}/inquiries"' in page
    assert f'href="{html.escape(email["unsubscribe_url"])}"' in page
    assert f'href="{PORTAL}/notifications"' in page

    url = unsubscribe_link_in(text)
    assert url == email["unsubscribe_url"]
    assert url.startswith(f"{PORTAL}/unsubscribe?")
    query = {k: v for k, (v,) in parse_qs(urlsplit(url).query).items()}
    assert query["address"] == MANAGER
    assert query["kind"] == "inquiry_waiting"
    assert valid_unsubscribe(SECRET, query["address"], NoticeKind(query["kind"]), query["token"])
    assert not valid_unsubscribe(
        SECRET, query["address"], NoticeKind.PAYOUT_SETTLED, query["token"]
    )


async def test_each_recipient_gets_a_link_of_their_own() -> None:
    service = Harness()
    await service.store.put_people(
        [
            {"_id": "contact:P-A", "address": "a@acme.example", "partner_id": "P-A"},
            {"_id": "person:pat", "address": "pat@acme.example", "partner_id": "P-A"},
        ]
    )
    await service.consume(payout("P-A"))
    links = {e["address"]: unsubscribe_link_in(e["text"]) for e in service.store["emails"].values()}
    assert set(links) == {"a@acme.example", "pat@acme.example"}
    for address, url in links.items():
        query = {k: v for k, (v,) in parse_qs(urlsplit(url).query).items()}
        assert query["address"] == address
        assert valid_unsubscribe(SECRET, address, NoticeKind.PAYOUT_SETTLED, query["token"])
    assert links["a@acme.example"] != links["pat@acme.example"]


async def test_the_mime_message_of_an_email() -> None:
    service = Harness()
    await service.consume(applied("P-A", "a@acme.example"), payout("P-A"))
    email = service.email_of("payout_settled")
    message = message_of(email, "partnerhub <notifications@partnerhub.example>")

    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    plain, rich = (p.get_content() for p in parts)
    assert plain == email["text"]
    assert rich == email["html"]
    assert message["To"] == "a@acme.example"
    assert message["From"] == "partnerhub <notifications@partnerhub.example>"
    assert message["Subject"] == email["subject"]
    assert message["Message-ID"] == f"<{email['_id']}@partnerhub.example>"
    assert message["List-Unsubscribe"] == f"<{email['unsubscribe_url']}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Partnerhub-Kind"] == "payout_settled"
    assert message["X-Partnerhub-Partner"] == "P-A"
    assert message["Date"]
    again = message_of(email, "partnerhub <notifications@partnerhub.example>")
    assert again["Message-ID"] == message["Message-ID"]
    assert message_of(email, "<>")["Message-ID"] == f"<{email['_id']}@partnerhub.invalid>"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://u:p%40x@mail.example.com:2525",
            {
                "hostname": "mail.example.com",
                "port": 2525,
                "username": "u",
                "password": "p@x",
                "use_tls": False,
                "start_tls": None,
                "timeout": 7.0,
            },
        ),
        (
            "smtps://mail.example.com",
            {
                "hostname": "mail.example.com",
                "port": 465,
                "username": None,
                "password": None,
                "use_tls": True,
                "start_tls": False,
                "timeout": 7.0,
            },
        ),
        (
            "smtp://127.0.0.1",
            {
                "hostname": "127.0.0.1",
                "port": 25,
                "username": None,
                "password": None,
                "use_tls": False,
                "start_tls": None,
                "timeout": 7.0,
            },
        ),
    ],
)
def test_smtp_options_of_a_url(url: str, expected: dict[str, object]) -> None:
    assert smtp_options(url, 7.0) == expected
