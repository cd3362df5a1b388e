"""Notifications' reads: the subscriptions, their deliveries with every attempt, and the
emails queued and sent (docs/rules/notifications.md)."""

from __future__ import annotations

from services.notifications.store import Document, Store
from services.notifications.views import (
    DeliveriesView,
    DeliveryView,
    EmailsView,
    EmailView,
    WebhooksView,
    WebhookView,
)
from shared.commands import NotFound


async def existing_webhook(store: Store, webhook_id: str) -> Document:
    """The subscription's document; :class:`NotFound` (404) when there is none."""
    doc = await store.webhook(webhook_id)
    if doc is None:
        raise NotFound(f"no webhook {webhook_id}")
    return doc


class NotificationsQueries:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def webhooks(self) -> WebhooksView:
        return WebhooksView(webhooks=[WebhookView.of(d) for d in await self.store.webhooks()])

    async def webhook(self, webhook_id: str) -> WebhookView:
        return WebhookView.of(await existing_webhook(self.store, webhook_id))

    async def deliveries(
        self, webhook_id: str, status: str | None, limit: int, cursor: str | None
    ) -> DeliveriesView:
        """A page of deliveries, newest first; ``cursor`` is the last one's place of the
        page before."""
        await existing_webhook(self.store, webhook_id)
        docs = await self.store.deliveries_of(webhook_id, status, limit + 1, cursor)
        page = docs[:limit]
        return DeliveriesView(
            webhook_id=webhook_id,
            deliveries=[DeliveryView.of(d) for d in page],
            next_cursor=page[-1]["seq"] if len(docs) > limit else None,
        )

    async def emails(
        self, partner_id: str | None, kind: str | None, audience: str | None, limit: int
    ) -> EmailsView:
        docs = await self.store.emails(partner_id, kind, audience, limit)
        return EmailsView(emails=[EmailView.of(d) for d in docs])
