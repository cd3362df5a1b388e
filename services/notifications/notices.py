"""The periodic job of time-based notices (docs/rules/notifications.md, "Ends ahead"):
registrations whose protection ends within 7 days, certifications that expire within 30.

Every ``NOTICE_INTERVAL_SECONDS`` (and on ``POST /notices``) it reads what ends within
the longest window and queues a notice for each end now within its own window. A
notice's fact names the thing and its end, and an email is queued once per (fact,
address), so running the job again, after a restart or on two replicas, never emails
twice; an extension or a renewal that moves the end is a new fact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.notifications.domain import (
    CERTIFICATION_NOTICE_DAYS,
    REGISTRATION_NOTICE_DAYS,
    Expiring,
    NoticeKind,
    certification_expiring,
    due,
    registration_expiring,
)
from services.notifications.mail import Outgoing
from services.notifications.store import Document, Store, instant
from shared.events import CertificationAwarded

LONGEST_WINDOW_DAYS = max(CERTIFICATION_NOTICE_DAYS, REGISTRATION_NOTICE_DAYS)


def expiring_of(doc: Document) -> Expiring:
    """The end a stored document describes."""
    ends_at = instant(doc["ends_at"])
    if doc["kind"] == NoticeKind.REGISTRATION_EXPIRING.value:
        about = doc["about"]
        return registration_expiring(
            about["registration_id"], doc["partner_id"], about["deal_id"], ends_at
        )
    return certification_expiring(CertificationAwarded.model_validate(doc["about"]))


class Reminders:
    """Queues the notices of ends that came within their window."""

    def __init__(
        self,
        store: Store,
        outgoing: Outgoing,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.outgoing = outgoing
        self.clock = clock

    async def run_once(self) -> int:
        """Queue what is due now; how many emails were new."""
        now = self.clock()
        ending = await self.store.ending_between(now, now + timedelta(days=LONGEST_WINDOW_DAYS))
        notices = [e.notice() for e in map(expiring_of, ending) if due(e, now)]
        return await self.outgoing.queue(notices, now) if notices else 0
