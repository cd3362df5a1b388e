"""The mailer (services/notifications/mail.py, docs/rules/notifications.md, "Sending")
with a stand-in for the SMTP client: what is sent, marked, tried again and given up.
The real SMTP server is in tests/integration/test_notifications.py."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any, ClassVar

import aiosmtplib
import pytest

from services.notifications.mail import Mailer
from tests.unit.test_notifications_consumer import Harness, applied, payout


class FakeSmtp:
    """Stands for ``aiosmtplib.SMTP``: records messages; fails as the test says."""

    instances: ClassVar[list[FakeSmtp]] = []
    refuse_connect: ClassVar[bool] = False
    #: addresses the server answers 550 for
    rejected: ClassVar[set[str]] = set()
    #: after this many messages, the connection drops
    drop_after: ClassVar[int | None] = None

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[EmailMessage] = []
        self.quit_called = False
        FakeSmtp.instances.append(self)

    async def connect(self) -> None:
        if FakeSmtp.refuse_connect:
            raise OSError("connection refused")

    async def send_message(self, message: EmailMessage) -> None:
        if FakeSmtp.drop_after is not None and len(self.sent) >= FakeSmtp.drop_after:
            raise aiosmtplib.SMTPServerDisconnected("the server hung up")
        if message["To"] in FakeSmtp.rejected:
            raise aiosmtplib.SMTPResponseException(550, "mailbox unavailable")
        self.sent.append(message)

    async def quit(self) -> None:
        self.quit_called = True

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def smtp(monkeypatch: pytest.MonkeyPatch) -> type[FakeSmtp]:
    FakeSmtp.instances = []
    FakeSmtp.refuse_connect = False
    FakeSmtp.rejected = set()
    FakeSmtp.drop_after = None
    monkeypatch.setattr(aiosmtplib, "SMTP", FakeSmtp)
    return FakeSmtp


async def queued(service: Harness) -> Mailer:
    await service.consume(
        applied("P-A", "a@acme.example"),
        applied("P-B", "b@beta.example"),
        payout("P-A"),
        payout("P-B"),
    )
    return Mailer(
        service.store,
        smtp_url="smtp://user:p%40ss@relay.example:2525",
        sender="partnerhub <n@vendor.example>",
        timeout=5,
        poll_seconds=1,
        clock=service.clock,
    )


def sent_to(smtp: type[FakeSmtp]) -> list[str]:
    return [str(m["To"]) for s in smtp.instances for m in s.sent]


async def test_queued_emails_are_sent_over_one_connection_and_marked(
    smtp: type[FakeSmtp],
) -> None:
    service = Harness()
    mailer = await queued(service)
    assert await mailer.send_due() is False
    (connection,) = smtp.instances
    assert connection.options["hostname"] == "relay.example"
    assert connection.options["password"] == "p@ss"
    assert connection.quit_called
    # two applications to the manager, a payout to each partner's contact
    assert sorted(sent_to(smtp)) == [
        "a@acme.example",
        "b@beta.example",
        "maria@vendor.example",
        "maria@vendor.example",
    ]
    assert all(e["status"] == "sent" for e in service.store["emails"].values())
    assert service.store["mail_queue"] == {}
    assert await mailer.send_due() is False
    assert len(smtp.instances) == 1, "nothing left: no second connection"


async def test_an_unreachable_server_is_tried_again_later_and_given_up_after_a_day(
    smtp: type[FakeSmtp],
) -> None:
    service = Harness()
    mailer = await queued(service)
    smtp.refuse_connect = True
    await mailer.send_due()
    emails = list(service.store["emails"].values())
    assert all(e["status"] == "queued" and e["attempts"] == 1 for e in emails)
    assert all("cannot reach the mail server" in e["error"] for e in emails)
    await mailer.send_due()  # not due yet: no attempt
    assert all(e["attempts"] == 1 for e in service.store["emails"].values())
    service.clock.advance(30)
    await mailer.send_due()
    assert all(e["attempts"] == 2 for e in service.store["emails"].values())
    for _ in range(40):
        service.clock.advance(3600)
        await mailer.send_due()
    assert all(e["status"] == "failed" for e in service.store["emails"].values())
    assert service.store["mail_queue"] == {}
    assert sent_to(smtp) == []


async def test_a_refused_address_waits_while_the_others_are_sent(smtp: type[FakeSmtp]) -> None:
    service = Harness()
    mailer = await queued(service)
    smtp.rejected = {"a@acme.example"}
    await mailer.send_due()
    refused = [e for e in service.store["emails"].values() if e["address"] == "a@acme.example"]
    assert [(e["status"], e["error"]) for e in refused] == [("queued", "550 mailbox unavailable")]
    assert len(sent_to(smtp)) == 3
    smtp.rejected = set()
    service.clock.advance(30)
    await mailer.send_due()
    assert "a@acme.example" in sent_to(smtp)
    assert all(e["status"] == "sent" for e in service.store["emails"].values())


async def test_a_connection_dropped_mid_pass_leaves_the_rest_for_later(
    smtp: type[FakeSmtp],
) -> None:
    service = Harness()
    mailer = await queued(service)
    smtp.drop_after = 1
    assert await mailer.send_due() is False
    statuses = sorted(e["status"] for e in service.store["emails"].values())
    assert statuses == ["queued", "queued", "queued", "sent"]
    smtp.drop_after = None
    service.clock.advance(30)
    await mailer.send_due()
    assert len(sent_to(smtp)) == 4
    assert len(set(sent_to(smtp))) == 3  # each email once: the manager's two are two facts
