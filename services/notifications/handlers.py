"""Notifications' consumer: every partner event in, deliveries and emails queued
(docs/rules/notifications.md).

For each batch, in this order, all before the batch's offsets are committed (so a
crash at any point only makes the batch come again, and everything queued is keyed
so it is queued once):

1. what later notices need: each partner's contact address (PartnerApplied), the
   registrations and certifications whose end is notified ahead;
2. one delivery per event and subscription that wants it;
3. one email per notice and recipient, for events younger than
   ``EMAIL_MAX_EVENT_AGE_HOURS`` when consumed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifications.domain import (
    Expiring,
    Subscription,
    certification_expiring,
    delivery_id,
    line_of,
    normalised_address,
    notice_of,
    registration_expiring,
    sequence,
)
from services.notifications.mail import Outgoing
from services.notifications.store import PENDING, Document, Store, iso
from shared.consuming import Consumed
from shared.events import (
    CertificationAwarded,
    DealRegistrationApproved,
    DealRegistrationExtended,
    DealRegistrationRejected,
    PartnerApplied,
)


def subscriptions(docs: list[Document]) -> list[Subscription]:
    return [
        Subscription(doc["_id"], frozenset(doc["event_types"]), doc.get("partner_id"))
        for doc in docs
    ]


def record_time(record: Any) -> datetime:
    """When the record was written to Kafka (its timestamp, milliseconds)."""
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


class NotificationsConsumer:
    """Queues what a batch of events means for webhooks and people."""

    def __init__(
        self,
        store: Store,
        outgoing: Outgoing,
        *,
        max_event_age: timedelta,
        wake_deliveries: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.outgoing = outgoing
        self.max_event_age = max_event_age
        self.wake_deliveries = wake_deliveries
        self.clock = clock

    async def handle(self, batch: list[Consumed]) -> None:
        if not batch:
            return
        await self._remember(batch)
        await self._queue_deliveries(batch)
        now = self.clock()
        notices = [
            notice
            for consumed in batch
            if now - record_time(consumed.record) <= self.max_event_age
            and (notice := notice_of(consumed.event)) is not None
        ]
        if notices:
            await self.outgoing.queue(notices, now)

    async def _remember(self, batch: list[Consumed]) -> None:
        """Contacts and ends to notify, written in event order: an approval, a rejection by
        hand and an extension of one registration may share a batch."""
        now = iso(self.clock())
        for consumed in batch:
            data = consumed.event.data
            match data:
                case PartnerApplied():
                    await self.store.put_people(
                        [
                            {
                                "_id": f"contact:{data.partner_id}",
                                "address": normalised_address(data.contact_email),
                                "partner_id": data.partner_id,
                                "manager": False,
                                "source": "application",
                                "updated_at": now,
                            }
                        ]
                    )
                case DealRegistrationApproved() if data.expires_at is not None:
                    ending = registration_expiring(
                        data.registration_id, data.partner_id, data.deal_id, data.expires_at
                    )
                    about = {"registration_id": data.registration_id, "deal_id": data.deal_id}
                    await self.store.put_expiring([expiring_doc(ending, about)])
                case DealRegistrationRejected():
                    await self.store.drop_expiring([f"registration:{data.registration_id}"])
                case DealRegistrationExtended():
                    await self.store.extend_expiring(
                        f"registration:{data.registration_id}", data.expires_at
                    )
                case CertificationAwarded():
                    ending = certification_expiring(data)
                    await self.store.put_expiring(
                        [expiring_doc(ending, data.model_dump(mode="json", by_alias=True))]
                    )

    async def _queue_deliveries(self, batch: list[Consumed]) -> None:
        subs = subscriptions(await self.store.webhooks())
        if not subs:
            return
        now = iso(self.clock())
        deliveries: list[Document] = []
        for consumed in batch:
            event, record = consumed.event, consumed.record
            for sub in subs:
                if not sub.wants(event.type, event.data.partner_id):
                    continue
                deliveries.append(
                    {
                        "_id": delivery_id(sub.webhook_id, event.id),
                        "webhook_id": sub.webhook_id,
                        "event_id": event.id,
                        "event_type": event.type,
                        "partner_id": event.data.partner_id,
                        "line": line_of(sub.webhook_id, event.data.partner_id),
                        "seq": sequence(
                            record.timestamp, record.topic, record.partition, record.offset
                        ),
                        "body": (record.value or b"").decode(),
                        "status": PENDING,
                        "attempts": [],
                        "created_at": now,
                        "next_attempt_at": now,
                        "first_attempt_at": None,
                    }
                )
        if deliveries and await self.store.queue_deliveries(deliveries):
            self.wake_deliveries()


def expiring_doc(ending: Expiring, about: dict[str, Any]) -> Document:
    """What the periodic job needs to notify an end: when, and what to rebuild it from."""
    return {
        "_id": ending.key,
        "kind": ending.kind.value,
        "partner_id": ending.partner_id,
        "ends_at": iso(ending.ends_at),
        "about": about,
    }
