"""What notifications' API does: subscriptions, deliveries, people's preferences, the
emails sent (docs/rules/notifications.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.notifications.domain import (
    Audience,
    NoticeKind,
    UnsafeUrl,
    keyed_webhook_id,
    looks_like_address,
    new_secret,
    new_webhook_id,
    normalised_address,
    valid_unsubscribe,
)
from services.notifications.notices import Reminders
from services.notifications.queries import existing_webhook
from services.notifications.store import Document, Store, iso
from services.notifications.views import (
    KindView,
    NoticesView,
    PersonView,
    PreferencesBody,
    PreferencesView,
    ReplayView,
    UnsubscribeBody,
    UnsubscribedView,
    WebhookBody,
    WebhookCreatedView,
    WebhookView,
)
from services.notifications.webhooks import Resolver, check_url, resolve
from shared.access import Principal
from shared.commands import CommandKey, Conflict, Forbidden, InvalidField, NotFound
from shared.events import PAYLOADS


class NotificationsCommands:
    def __init__(
        self,
        store: Store,
        reminders: Reminders,
        *,
        secret: str,
        allow_private: bool,
        wake_deliveries: Callable[[], None] = lambda: None,
        resolver: Resolver = resolve,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.reminders = reminders
        self.secret = secret
        self.allow_private = allow_private
        self.wake_deliveries = wake_deliveries
        self.resolver = resolver
        self.clock = clock

    # ---------------------------------------------------------------- webhooks

    async def add_webhook(
        self, body: WebhookBody, principal: Principal, key: CommandKey | None = None
    ) -> WebhookCreatedView:
        """A new subscription. Sent again with the same Idempotency-Key and body, the same
        subscription (and its secret) is answered; with another body, 409."""
        for index, event_type in enumerate(body.event_types):
            if event_type not in PAYLOADS:
                raise InvalidField(
                    ("body", "event_types", str(index)),
                    f"{event_type!r} is not an event type of the contract "
                    f"(e.g. {', '.join(sorted(PAYLOADS)[:3])}, …)",
                )
        try:
            await check_url(body.url, allow_private=self.allow_private, resolver=self.resolver)
        except UnsafeUrl as exc:
            raise InvalidField(("body", "url"), f"the webhook URL {exc}") from None
        doc: Document = {
            "_id": new_webhook_id() if key is None else keyed_webhook_id(key.derived_id),
            "url": body.url,
            "event_types": sorted(set(body.event_types)),
            "partner_id": body.partner_id,
            "secret": new_secret(),
            "status": "active",
            "created_at": iso(self.clock()),
            "created_by": principal.actor.model_dump(mode="json"),
            "fingerprint": None if key is None else key.fingerprint,
        }
        if not await self.store.add_webhook(doc):
            doc = await existing_webhook(self.store, doc["_id"])
            if key is None or doc.get("fingerprint") != key.fingerprint:
                raise Conflict("this Idempotency-Key was sent before with another body")
        return WebhookCreatedView(**WebhookView.of(doc).model_dump(), secret=doc["secret"])

    async def set_status(self, webhook_id: str, status: str) -> WebhookView:
        await existing_webhook(self.store, webhook_id)
        doc = await self.store.set_webhook_status(webhook_id, status)
        if doc is None:
            raise NotFound(f"no webhook {webhook_id}")
        if status == "active":
            self.wake_deliveries()
        return WebhookView.of(doc)

    async def delete(self, webhook_id: str) -> None:
        if not await self.store.delete_webhook(webhook_id):
            raise NotFound(f"no webhook {webhook_id}")

    async def replay(self, webhook_id: str) -> ReplayView:
        await existing_webhook(self.store, webhook_id)
        parked = await self.store.parked_of(webhook_id)
        if parked:
            await self.store.requeue(parked, self.clock())
            self.wake_deliveries()
        return ReplayView(webhook_id=webhook_id, replayed=len(parked))

    # ---------------------------------------------------------------- people

    async def register(self, principal: Principal) -> PersonView:
        """The signed-in caller, known from now on as someone to email."""
        if principal.person is None:  # access.signed_in_person refuses keys before this
            raise Forbidden("only a signed-in person has an address to email; keys do not")
        if principal.email is None or not looks_like_address(principal.email):
            raise Forbidden("the sign-in token carries no email address for this person")
        address = normalised_address(principal.email)
        await self.store.put_people(
            [
                {
                    "_id": f"person:{principal.person}",
                    "address": address,
                    "partner_id": principal.partner_id,
                    "manager": principal.is_staff,
                    "source": "sign-in",
                    "updated_at": iso(self.clock()),
                }
            ]
        )
        return PersonView(
            person=principal.person,
            address=address,
            partner_id=principal.partner_id,
            manager=principal.is_staff,
        )

    async def preferences(self, principal: Principal) -> PreferencesView:
        person = await self.register(principal)
        return await self._preferences(person)

    async def set_preferences(self, principal: Principal, body: PreferencesBody) -> PreferencesView:
        person = await self.register(principal)
        await self.store.set_unsubscribed(person.address, (k.value for k in body.unsubscribed))
        return await self._preferences(person)

    async def _preferences(self, person: PersonView) -> PreferencesView:
        unsubscribed = await self.store.unsubscribed_of(person.address)
        audience = Audience.MANAGERS if person.manager else Audience.PARTNER
        return PreferencesView(
            address=person.address,
            kinds=[
                KindView(kind=kind, title=kind.label, subscribed=kind.value not in unsubscribed)
                for kind in NoticeKind
                if kind.audience is audience
            ],
        )

    async def unsubscribe(self, body: UnsubscribeBody) -> UnsubscribedView:
        address = normalised_address(body.address)
        if not valid_unsubscribe(self.secret, address, body.kind, body.token):
            raise Forbidden("this unsubscribe link is not valid for that address and kind")
        kinds = await self.store.unsubscribed_of(address)
        await self.store.set_unsubscribed(address, {*kinds, body.kind.value})
        return UnsubscribedView(address=address, kind=body.kind, title=body.kind.label)

    # ---------------------------------------------------------------- email

    async def run_notices(self) -> NoticesView:
        return NoticesView(queued=await self.reminders.run_once())
