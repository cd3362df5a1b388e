"""Email (docs/rules/notifications.md, "Email"): notices turned into queued emails, and
the mailer that sends them through SMTP.

:class:`Outgoing` decides the recipients of each notice (the partner's people or the
managers, less those who unsubscribed from its kind), renders the plain-text and HTML
bodies from the templates in ``templates/`` and queues one email per (fact,
address): a fact seen again is never queued again.

:class:`Mailer` sends what is queued, oldest first, over one SMTP connection per pass;
a failure (server down, refused) is tried again after 30 s, doubling up to an hour,
and given up after a day (status ``failed``, visible in ``GET /emails``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifications.domain import (
    Notice,
    NoticeKind,
    Person,
    email_id,
    recipients,
    unsubscribe_token,
)
from services.notifications.settings import NotificationsSettings
from services.notifications.store import (
    FAILED,
    QUEUED,
    SENT,
    Document,
    Store,
    instant,
    iso,
    mail_entry,
)
from shared.metrics import EMAILS
from shared.periodic import work_when_woken

log = logging.getLogger("partnerhub.notifications")

TEMPLATES = Path(__file__).parent / "templates"

RETRY_FIRST = timedelta(seconds=30)
RETRY_LONGEST = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=1)
#: Most emails sent per pass (one SMTP connection).
PASS_SIZE = 100


class Outgoing:
    """Turns notices into queued emails."""

    def __init__(
        self,
        store: Store,
        *,
        portal_url: str,
        secret: str,
        manager_addresses: Sequence[str],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.portal_url = portal_url.rstrip("/")
        self.secret = secret
        self.managers = [Person(a, None, manager=True) for a in manager_addresses]
        self.wake = wake
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
        )
        self.text_template = environment.get_template("email.txt")
        self.html_template = environment.get_template("email.html")

    def unsubscribe_url(self, address: str, kind: str) -> str:
        query = urlencode(
            {
                "address": address,
                "kind": kind,
                "token": unsubscribe_token(self.secret, address, NoticeKind(kind)),
            }
        )
        return f"{self.portal_url}/unsubscribe?{query}"

    def render(self, notice: Notice, address: str, now: datetime) -> Document:
        """The queued email of ``notice`` for ``address``."""
        unsubscribe = self.unsubscribe_url(address, notice.kind.value)
        context = {
            "subject": notice.subject,
            "lines": notice.lines,
            "link": f"{self.portal_url}{notice.page}",
            "kind_title": notice.kind.label,
            "unsubscribe": unsubscribe,
            "preferences": f"{self.portal_url}/notifications",
        }
        at = iso(now)
        return {
            "_id": email_id(notice, address),
            "kind": notice.kind.value,
            "fact": notice.fact,
            "partner_id": notice.partner_id,
            "audience": notice.audience.value,
            "address": address,
            "subject": notice.subject,
            "text": self.text_template.render(context),
            "html": self.html_template.render(context),
            "unsubscribe_url": unsubscribe,
            "status": QUEUED,
            "attempts": 0,
            "created_at": at,
            "next_attempt_at": at,
        }

    async def queue(self, notices: Sequence[Notice], now: datetime) -> int:
        """Queue the emails of ``notices``; how many were new."""
        people = [*self.managers, *await self.store.people()]
        unsubscribed = await self.store.preferences()
        wanted = {
            email_id(notice, address): (notice, address)
            for notice in notices
            for address in recipients(notice, people, unsubscribed)
        }
        # Those queued before (a batch consumed again, the periodic job run again) are
        # neither rendered nor counted again.
        known = await self.store.emails_by_id(wanted)
        emails = [self.render(n, a, now) for i, (n, a) in wanted.items() if i not in known]
        if not emails:
            return 0
        new = await self.store.queue_emails(emails)
        for email in emails:
            EMAILS.labels(email["kind"], "queued").inc()
        self.wake()
        return new


def smtp_options(url: str, timeout: float) -> dict[str, object]:
    """``aiosmtplib.send`` options of an ``SMTP_URL``."""
    parts = urlsplit(url)
    implicit_tls = parts.scheme == "smtps"
    return {
        "hostname": parts.hostname,
        "port": parts.port or (465 if implicit_tls else 25),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "use_tls": implicit_tls,
        "start_tls": None if not implicit_tls else False,  # None: STARTTLS when offered
        "timeout": timeout,
    }


def message_of(email: Document, sender: str) -> EmailMessage:
    """The MIME message of a queued email: plain text and HTML alternatives, a Message-ID
    made of its id (the same email is the same message), one-click unsubscribe."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email["address"]
    message["Subject"] = email["subject"]
    message["Date"] = formatdate(instant(email["created_at"]).timestamp(), usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "partnerhub.invalid"
    message["Message-ID"] = f"<{email['_id']}@{domain}>"
    message["List-Unsubscribe"] = f"<{email['unsubscribe_url']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Partnerhub-Kind"] = email["kind"]
    message["X-Partnerhub-Partner"] = email["partner_id"]
    message.set_content(email["text"])
    message.add_alternative(email["html"], subtype="html")
    return message


class Mailer:
    """Sends the queued emails; :meth:`run` until cancelled."""

    def __init__(
        self,
        store: Store,
        *,
        smtp_url: str,
        sender: str,
        timeout: float,
        poll_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.options = smtp_options(smtp_url, timeout)
        self.sender = sender
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.woken = asyncio.Event()

    @classmethod
    def from_settings(
        cls, store: Store, settings: NotificationsSettings, clock: Callable[[], datetime]
    ) -> Mailer:
        return cls(
            store,
            smtp_url=settings.smtp_url.get_secret_value(),
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout_seconds,
            poll_seconds=settings.delivery_poll_seconds,
            clock=clock,
        )

    def wake(self) -> None:
        self.woken.set()

    async def run(self) -> None:
        await work_when_woken(
            self.send_due,
            self.woken,
            idle_seconds=self.poll_seconds,
            what="sending email failed",
            log=log,
        )

    async def send_due(self) -> bool:
        """Send up to :data:`PASS_SIZE` due emails; whether there may be more."""
        now = self.clock()
        due = sorted(
            (e for e in await self.store.mail_queue() if e["next_attempt_at"] <= iso(now)),
            key=lambda e: (e["next_attempt_at"], e["_id"]),
        )[:PASS_SIZE]
        if not due:
            return False
        emails = await self.store.emails_by_id(e["_id"] for e in due)
        sendable = [
            emails[e["_id"]] for e in due if emails.get(e["_id"], {}).get("status") == QUEUED
        ]
        stale = [e["_id"] for e in due if emails.get(e["_id"], {}).get("status") in (SENT, FAILED)]
        for email_id_ in stale:
            await self.store.record_email(email_id_, {}, queued=None)
        if not sendable:
            return len(due) == PASS_SIZE
        try:
            smtp = aiosmtplib.SMTP(**self.options)  # type: ignore[arg-type]
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            for email in sendable:
                await self._failed(email, f"cannot reach the mail server: {exc}", now)
            return False
        try:
            for index, email in enumerate(sendable):
                try:
                    await smtp.send_message(message_of(email, self.sender))
                except aiosmtplib.SMTPResponseException as exc:
                    await self._failed(email, f"{exc.code} {exc.message}", now)
                    continue
                except (aiosmtplib.SMTPException, OSError) as exc:
                    # The connection is gone: this email and the rest of the pass wait.
                    for left in sendable[index:]:
                        await self._failed(left, f"the mail server went away: {exc}", now)
                    return False
                await self.store.record_email(
                    email["_id"], {"status": SENT, "sent_at": iso(self.clock())}, queued=None
                )
                EMAILS.labels(email["kind"], "sent").inc()
        finally:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
        return len(due) == PASS_SIZE

    async def _failed(self, email: Document, error: str, now: datetime) -> None:
        attempts = email.get("attempts", 0) + 1
        wait = min(RETRY_FIRST * 2 ** min(attempts - 1, 20), RETRY_LONGEST)
        at = now + wait
        update: Document = {"attempts": attempts, "error": error}
        if at - instant(email["created_at"]) > GIVE_UP_AFTER:
            update["status"] = FAILED
            await self.store.record_email(email["_id"], update, queued=None)
            EMAILS.labels(email["kind"], "failed").inc()
            log.error("gave up emailing %s about %s: %s", email["address"], email["kind"], error)
            return
        update["next_attempt_at"] = iso(at)
        await self.store.record_email(email["_id"], update, queued=mail_entry({**email, **update}))
        EMAILS.labels(email["kind"], "retried").inc()
        log.warning("emailing %s failed (%s); trying again at %s", email["address"], error, iso(at))


__all__ = ["Mailer", "Outgoing", "message_of", "smtp_options"]
