"""Notifications' request bodies and answers (docs/rules/notifications.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from services.notifications.domain import NoticeKind
from services.notifications.store import Document
from shared.routes import InstantText

#: Longest webhook URL accepted.
URL_MAX = 2048


class WebhookBody(BaseModel):
    """A new subscription: where to deliver, which event types, optionally one partner's."""

    url: str = Field(min_length=1, max_length=URL_MAX, description="an http(s) URL")
    event_types: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=64, description="event types of the contract, e.g. PayoutSettled"
    )
    partner_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="only this partner's events"
    )


class WebhookView(BaseModel):
    webhook_id: str
    url: str
    event_types: list[str]
    partner_id: str | None
    status: str = Field(description="active or paused")
    created_at: InstantText

    @classmethod
    def of(cls, doc: Document) -> WebhookView:
        return cls(
            webhook_id=doc["_id"],
            url=doc["url"],
            event_types=doc["event_types"],
            partner_id=doc.get("partner_id"),
            status=doc["status"],
            created_at=doc["created_at"],
        )


class WebhookCreatedView(WebhookView):
    secret: str = Field(
        description="the signing secret (whsec_…, Standard Webhooks); shown only in this answer"
    )


class WebhooksView(BaseModel):
    webhooks: list[WebhookView]


class AttemptView(BaseModel):
    at: InstantText
    status_code: int | None = Field(description="the receiver's HTTP status; null: no answer")
    duration_ms: float
    response: str = Field(description="the start of the receiver's answer")
    error: str | None = Field(description="why the attempt failed; null: acknowledged")


class DeliveryView(BaseModel):
    delivery_id: str
    event_id: str
    event_type: str
    partner_id: str
    status: str = Field(description="pending, delivered or parked")
    created_at: InstantText
    next_attempt_at: InstantText | None
    delivered_at: InstantText | None
    parked_at: InstantText | None
    attempts: list[AttemptView]

    @classmethod
    def of(cls, doc: Document) -> DeliveryView:
        return cls(
            delivery_id=doc["_id"],
            event_id=doc["event_id"],
            event_type=doc["event_type"],
            partner_id=doc["partner_id"],
            status=doc["status"],
            created_at=doc["created_at"],
            next_attempt_at=doc.get("next_attempt_at") if doc["status"] == "pending" else None,
            delivered_at=doc.get("delivered_at"),
            parked_at=doc.get("parked_at"),
            attempts=[AttemptView(**a) for a in doc.get("attempts", [])],
        )


class DeliveriesView(BaseModel):
    webhook_id: str
    deliveries: list[DeliveryView] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class ReplayView(BaseModel):
    webhook_id: str
    replayed: int = Field(description="parked deliveries queued again")


class PersonView(BaseModel):
    person: str
    address: str
    partner_id: str | None
    manager: bool


class KindView(BaseModel):
    kind: NoticeKind
    title: str
    subscribed: bool


class PreferencesView(BaseModel):
    address: str
    kinds: list[KindView] = Field(description="the kinds of email this person may receive")


class PreferencesBody(BaseModel):
    unsubscribed: list[NoticeKind] = Field(
        max_length=len(NoticeKind), description="the kinds of email not to receive"
    )


class UnsubscribeBody(BaseModel):
    """What an unsubscribe link carries."""

    address: str = Field(min_length=3, max_length=320)
    kind: NoticeKind
    token: str = Field(pattern=r"^[0-9a-f]{64}$", description="the link's HMAC, hexadecimal")


class UnsubscribedView(BaseModel):
    address: str
    kind: NoticeKind
    title: str


class EmailView(BaseModel):
    email_id: str
    kind: str
    partner_id: str
    address: str
    subject: str
    status: str = Field(description="queued, sent or failed")
    created_at: InstantText
    sent_at: InstantText | None
    attempts: int
    error: str | None

    @classmethod
    def of(cls, doc: Document) -> EmailView:
        return cls(
            email_id=doc["_id"],
            kind=doc["kind"],
            partner_id=doc["partner_id"],
            address=doc["address"],
            subject=doc["subject"],
            status=doc["status"],
            created_at=doc["created_at"],
            sent_at=doc.get("sent_at"),
            attempts=doc.get("attempts", 0),
            error=doc.get("error"),
        )


class EmailsView(BaseModel):
    emails: list[EmailView] = Field(description="newest first")


class NoticesView(BaseModel):
    queued: int = Field(description="emails queued by this run (0 when all were already)")
