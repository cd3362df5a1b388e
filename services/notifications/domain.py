"""Notifications' rules, pure (docs/rules/notifications.md): which events are delivered
to which webhook, when a failed delivery is tried again, which addresses a webhook may
call, which facts people are emailed about and who is, and the unsubscribe links.

Nothing here does I/O: the consumer, the delivery worker, the mailer and the periodic
job (``handlers``, ``webhooks``, ``mail``, ``notices``) apply these rules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from shared.events import (
    CertificationAwarded,
    CloudEvent,
    CommissionInquiryOpened,
    DealRegistrationApproved,
    DealRegistrationExtensionRequested,
    DealRegistrationRejected,
    MdfApproved,
    MdfClaimApproved,
    MdfClaimRejected,
    MdfClaimSubmitted,
    MdfRejected,
    MdfRequested,
    PartnerApplied,
    Payload,
    PayoutSettled,
)

# --------------------------------------------------------------------------- webhooks

#: A webhook secret: ``whsec_`` and 32 random bytes in base64 (Standard Webhooks).
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A new subscription's signing secret, in the Standard Webhooks format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_webhook_id() -> str:
    return "WH-" + secrets.token_hex(8)


def keyed_webhook_id(derived: str) -> str:
    """The id of a subscription made with an Idempotency-Key: the same for every retry."""
    return "WH-" + derived.replace("-", "")[:16]


def delivery_id(webhook_id: str, event_id: str) -> str:
    """One delivery per (subscription, event): the same event consumed twice is the same
    delivery, so it is queued once."""
    return f"{webhook_id}:{event_id}"


def line_of(webhook_id: str, partner_id: str) -> str:
    """The line a delivery waits in: one per (subscription, partner). A line's deliveries
    go out one at a time in order; lines are independent."""
    return f"{webhook_id}/{partner_id}"


def sequence(timestamp_ms: int, topic: str, partition: int, offset: int) -> str:
    """A delivery's place in its line: the Kafka record's timestamp, then where it was
    (text that sorts in that order; the same record always gets the same place)."""
    return f"{timestamp_ms:015d}/{topic}/{partition:05d}/{offset:015d}"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription as the rules see it (paused or not: a paused one's events
    are queued all the same, and wait)."""

    webhook_id: str
    event_types: frozenset[str]
    partner_id: str | None

    def wants(self, event_type: str, partner_id: str) -> bool:
        """Whether this subscription is sent an event: its type is one asked for, and the
        subscription names no partner or this one. A paused subscription still queues
        (it is sent what waited when resumed)."""
        return event_type in self.event_types and (
            self.partner_id is None or self.partner_id == partner_id
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed delivery is tried again: after ``first`` seconds, doubling each time
    up to ``longest``; once ``give_up_after`` has passed since the first attempt, the
    delivery is parked instead (defaults: 5 s, 1 h, 24 h)."""

    first: float = 5.0
    longest: float = 3600.0
    give_up_after: float = 86400.0

    def next_attempt(
        self, first_attempt: datetime, attempts: int, now: datetime
    ) -> datetime | None:
        """After the ``attempts``-th failed attempt (1 for the first), when to try again;
        None when the delivery is to be parked."""
        if attempts < 1:
            raise ValueError("attempts counts the failed attempts made, at least 1")
        wait = min(self.first * 2 ** min(attempts - 1, 60), self.longest)
        at = now + timedelta(seconds=wait)
        if at - first_attempt > timedelta(seconds=self.give_up_after):
            return None
        return at


def delivered(status_code: int) -> bool:
    """A receiver acknowledges with any 2xx; anything else (and no answer) is a failure."""
    return 200 <= status_code < 300


class UnsafeUrl(ValueError):
    """A webhook URL that may not be called; the message says why."""


def check_url_form(url: str) -> str:
    """The URL's host, when it is an absolute ``http``/``https`` URL without credentials;
    :class:`UnsafeUrl` otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "http://[::1": an unclosed IPv6 literal
        raise UnsafeUrl(f"is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("must be an http:// or https:// URL")
    if not parts.hostname:
        raise UnsafeUrl("must name a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not carry a user name or password (the signature authenticates)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as exc:
        raise UnsafeUrl(f"has a bad port: {exc}") from None
    return parts.hostname


#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052 and 8215).
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), else itself:
    ``::ffff:10.0.0.1`` reaches 10.0.0.1 and is judged as it."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def check_addresses(host: str, addresses: Iterable[str]) -> None:
    """:class:`UnsafeUrl` when any address the host resolves to is not a public unicast
    address (loopback, private, link-local, shared, reserved, multicast, unspecified),
    so a subscription cannot make the service call into its own network."""
    found = False
    for text in addresses:
        found = True
        address = _embedded(ipaddress.ip_address(text.split("%", 1)[0]))
        if not address.is_global or address.is_multicast:
            raise UnsafeUrl(
                f"{host} resolves to {address}, which is not a public address "
                "(WEBHOOK_ALLOW_PRIVATE=true allows it)"
            )
    if not found:
        raise UnsafeUrl(f"{host} resolves to no address")


# --------------------------------------------------------------------------- email


class Audience(StrEnum):
    """Who a notice is for: the partner's people, or the channel managers."""

    PARTNER = "partner"
    MANAGERS = "managers"


class NoticeKind(StrEnum):
    """What a person may be emailed about; each can be unsubscribed from on its own."""

    REGISTRATION_DECIDED = "registration_decided"
    REGISTRATION_EXPIRING = "registration_expiring"
    MDF_REQUEST_DECIDED = "mdf_request_decided"
    MDF_CLAIM_DECIDED = "mdf_claim_decided"
    PAYOUT_SETTLED = "payout_settled"
    CERTIFICATION_EXPIRING = "certification_expiring"
    APPLICATION_WAITING = "application_waiting"
    EXTENSION_WAITING = "extension_waiting"
    MDF_REQUEST_WAITING = "mdf_request_waiting"
    MDF_CLAIM_WAITING = "mdf_claim_waiting"
    INQUIRY_WAITING = "inquiry_waiting"

    @property
    def audience(self) -> Audience:
        return Audience.MANAGERS if self in _MANAGER_KINDS else Audience.PARTNER

    @property
    def label(self) -> str:
        """How the kind is named to people (preferences, unsubscribe page)."""
        return _LABELS[self]


_MANAGER_KINDS = frozenset(
    {
        NoticeKind.APPLICATION_WAITING,
        NoticeKind.EXTENSION_WAITING,
        NoticeKind.MDF_REQUEST_WAITING,
        NoticeKind.MDF_CLAIM_WAITING,
        NoticeKind.INQUIRY_WAITING,
    }
)

_LABELS = {
    NoticeKind.REGISTRATION_DECIDED: "A deal registration is decided",
    NoticeKind.REGISTRATION_EXPIRING: "A deal registration's protection ends within 7 days",
    NoticeKind.MDF_REQUEST_DECIDED: "An MDF request is decided",
    NoticeKind.MDF_CLAIM_DECIDED: "An MDF claim is decided",
    NoticeKind.PAYOUT_SETTLED: "A payout is settled",
    NoticeKind.CERTIFICATION_EXPIRING: "A certification expires within 30 days",
    NoticeKind.APPLICATION_WAITING: "A partner application waits for a decision",
    NoticeKind.EXTENSION_WAITING: "A registration extension request waits",
    NoticeKind.MDF_REQUEST_WAITING: "An MDF request waits for a decision",
    NoticeKind.MDF_CLAIM_WAITING: "An MDF claim waits for a decision",
    NoticeKind.INQUIRY_WAITING: "A commission inquiry waits for an answer",
}

#: How long before a registration's protection ends its partner is told.
REGISTRATION_NOTICE_DAYS = 7
#: How long before a certification expires its partner is told.
CERTIFICATION_NOTICE_DAYS = 30


@dataclass(frozen=True, slots=True)
class Notice:
    """One fact to email about: its kind, the partner it concerns, a key naming the fact
    (the same fact always has the same key, so it is emailed once), the subject, the
    lines of the body and the portal page it links to (a path)."""

    kind: NoticeKind
    partner_id: str
    fact: str
    subject: str
    lines: tuple[str, ...]
    page: str

    @property
    def audience(self) -> Audience:
        return self.kind.audience


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _day(instant: datetime) -> str:
    return instant.date().isoformat()


def _deal_registration_approved(
    event: CloudEvent[Payload], data: DealRegistrationApproved, partner: str
) -> Notice:
    until = f" Its protection runs until {_day(data.expires_at)}." if data.expires_at else ""
    return Notice(
        NoticeKind.REGISTRATION_DECIDED,
        partner,
        f"registration:{data.registration_id}:decided:{event.id}",
        f"Deal registration {data.registration_id} approved",
        (f"Your registration of deal {data.deal_id} was approved.{until}",),
        f"/registrations/{data.registration_id}",
    )


def _deal_registration_rejected(
    event: CloudEvent[Payload], data: DealRegistrationRejected, partner: str
) -> Notice:
    return Notice(
        NoticeKind.REGISTRATION_DECIDED,
        partner,
        f"registration:{data.registration_id}:decided:{event.id}",
        f"Deal registration {data.registration_id} rejected",
        (
            f"Your registration of deal {data.deal_id} was rejected.",
            f"Reason: {data.reason}.",
        ),
        f"/registrations/{data.registration_id}",
    )


def _mdf_approved(event: CloudEvent[Payload], data: MdfApproved, partner: str) -> Notice:
    return Notice(
        NoticeKind.MDF_REQUEST_DECIDED,
        partner,
        f"mdf:{data.request_id}:decided",
        f"MDF request {data.request_id} approved",
        (
            f"Your MDF request {data.request_id} was approved for "
            f"{_money(data.amount, data.currency)}.",
            "Claim it with proof of performance once the activity has ended.",
        ),
        "/mdf",
    )


def _mdf_rejected(event: CloudEvent[Payload], data: MdfRejected, partner: str) -> Notice:
    return Notice(
        NoticeKind.MDF_REQUEST_DECIDED,
        partner,
        f"mdf:{data.request_id}:decided",
        f"MDF request {data.request_id} rejected",
        (f"Your MDF request {data.request_id} was rejected.", f"Reason: {data.reason}."),
        "/mdf",
    )


def _mdf_claim_approved(event: CloudEvent[Payload], data: MdfClaimApproved, partner: str) -> Notice:
    return Notice(
        NoticeKind.MDF_CLAIM_DECIDED,
        partner,
        f"mdf-claim:{data.claim_id}:decided",
        f"MDF claim {data.claim_id} approved",
        (
            f"Your claim {data.claim_id} against MDF request {data.request_id} was "
            f"approved for {_money(data.approved_amount, data.currency)}.",
            "It is paid with your next settlement.",
        ),
        "/mdf",
    )


def _mdf_claim_rejected(event: CloudEvent[Payload], data: MdfClaimRejected, partner: str) -> Notice:
    return Notice(
        NoticeKind.MDF_CLAIM_DECIDED,
        partner,
        f"mdf-claim:{data.claim_id}:decided",
        f"MDF claim {data.claim_id} rejected",
        (
            f"Your claim {data.claim_id} against MDF request {data.request_id} was rejected.",
            f"Reason: {data.reason}.",
        ),
        "/mdf",
    )


def _payout_settled(event: CloudEvent[Payload], data: PayoutSettled, partner: str) -> Notice:
    lines = [
        f"Settlement {data.settlement_id} for {data.period} pays "
        f"{_money(data.amount_paid, data.currency)}."
    ]
    if data.mdf_reimbursed:
        lines.append(
            f"It includes {_money(data.mdf_reimbursed, data.currency)} of MDF claims reimbursed."
        )
    lines.extend(
        f"MDF claims in {other.currency} are paid apart: {_money(other.amount, other.currency)}."
        for other in data.mdf_other_currencies
    )
    return Notice(
        NoticeKind.PAYOUT_SETTLED,
        partner,
        f"payout:{data.settlement_id}:{partner}",
        f"Payout settled for {data.period}: {_money(data.amount_paid, data.currency)}",
        tuple(lines),
        f"/partners/{partner}/statements/{data.period}",
    )


def _partner_applied(event: CloudEvent[Payload], data: PartnerApplied, partner: str) -> Notice:
    return Notice(
        NoticeKind.APPLICATION_WAITING,
        partner,
        f"application:{data.application_id}",
        f"New partner application: {data.name}",
        (
            f"{data.name} ({data.partner_type}, {data.industry}, {data.region}) applied; "
            f"score {data.score:.1f}, recommendation {data.recommendation.value}.",
        ),
        "/applications",
    )


def _deal_registration_extension_requested(
    event: CloudEvent[Payload], data: DealRegistrationExtensionRequested, partner: str
) -> Notice:
    return Notice(
        NoticeKind.EXTENSION_WAITING,
        partner,
        f"extension:{data.extension_id}",
        f"Extension requested for registration {data.registration_id}",
        (
            f"Partner {partner} asks {data.days} more days of protection for deal "
            f"{data.deal_id} ({data.customer}, {data.product_line}).",
            f"Reason: {data.reason}.",
        ),
        f"/registrations/{data.registration_id}",
    )


def _mdf_requested(event: CloudEvent[Payload], data: MdfRequested, partner: str) -> Notice:
    return Notice(
        NoticeKind.MDF_REQUEST_WAITING,
        partner,
        f"mdf:{data.request_id}:requested",
        f"MDF request {data.request_id} waits: {_money(data.amount, data.currency)}",
        (f"Partner {partner} requests {_money(data.amount, data.currency)} for {data.campaign}.",),
        "/mdf",
    )


def _mdf_claim_submitted(
    event: CloudEvent[Payload], data: MdfClaimSubmitted, partner: str
) -> Notice:
    return Notice(
        NoticeKind.MDF_CLAIM_WAITING,
        partner,
        f"mdf-claim:{data.claim_id}:submitted",
        f"MDF claim {data.claim_id} waits: {_money(data.amount, data.currency)}",
        (
            f"Partner {partner} claims {_money(data.amount, data.currency)} against "
            f"MDF request {data.request_id}, with {len(data.evidence)} piece(s) of "
            "evidence.",
        ),
        "/mdf/claims",
    )


def _commission_inquiry_opened(
    event: CloudEvent[Payload], data: CommissionInquiryOpened, partner: str
) -> Notice:
    return Notice(
        NoticeKind.INQUIRY_WAITING,
        partner,
        f"inquiry:{data.inquiry_id}",
        f"Commission inquiry {data.inquiry_id} on deal {data.deal_id}",
        (
            f"Partner {partner} asks about deal {data.deal_id} ({data.period}):",
            data.message,
        ),
        "/inquiries",
    )


_NOTICES: dict[type[Payload], Callable[[CloudEvent[Payload], Any, str], Notice]] = {
    DealRegistrationApproved: _deal_registration_approved,
    DealRegistrationRejected: _deal_registration_rejected,
    MdfApproved: _mdf_approved,
    MdfRejected: _mdf_rejected,
    MdfClaimApproved: _mdf_claim_approved,
    MdfClaimRejected: _mdf_claim_rejected,
    PayoutSettled: _payout_settled,
    PartnerApplied: _partner_applied,
    DealRegistrationExtensionRequested: _deal_registration_extension_requested,
    MdfRequested: _mdf_requested,
    MdfClaimSubmitted: _mdf_claim_submitted,
    CommissionInquiryOpened: _commission_inquiry_opened,
}


def notice_of(event: CloudEvent[Payload]) -> Notice | None:
    """The notice an event gives, if any: decisions and payouts for the partner's people;
    what waits for a decision for the channel managers."""
    make = _NOTICES.get(type(event.data))
    return None if make is None else make(event, event.data, event.data.partner_id)


@dataclass(frozen=True, slots=True)
class Expiring:
    """Something that ends at ``ends_at`` and whose partner is told some days before."""

    kind: NoticeKind
    partner_id: str
    key: str
    ends_at: datetime
    subject: str
    lines: tuple[str, ...]
    page: str

    def notice(self) -> Notice:
        # The end is part of the fact: an extension or a renewal that moves it is a new one.
        return Notice(
            self.kind,
            self.partner_id,
            f"{self.key}:ends:{self.ends_at.isoformat()}",
            self.subject,
            self.lines,
            self.page,
        )


def registration_expiring(
    registration_id: str, partner_id: str, deal_id: str, expires_at: datetime
) -> Expiring:
    return Expiring(
        NoticeKind.REGISTRATION_EXPIRING,
        partner_id,
        f"registration:{registration_id}",
        expires_at,
        f"Registration {registration_id} protects deal {deal_id} until {_day(expires_at)}",
        (
            f"The protection of your registration of deal {deal_id} ends on {_day(expires_at)}.",
            "Close the deal before then, or ask for an extension.",
        ),
        f"/registrations/{registration_id}",
    )


def certification_expiring(award: CertificationAwarded) -> Expiring:
    return Expiring(
        NoticeKind.CERTIFICATION_EXPIRING,
        award.partner_id,
        f"certification:{award.partner_id}:{award.learner_id}:{award.certification_id}",
        award.expires_at,
        f"Certification {award.certification_id} expires on {_day(award.expires_at)}",
        (
            f"{award.learner_id}'s certification {award.certification_id} "
            f"({award.product_line}) expires on {_day(award.expires_at)}.",
            "Renew it to keep the certification bonus on your deals.",
        ),
        f"/partners/{award.partner_id}",
    )


def notice_window(kind: NoticeKind) -> timedelta:
    days = {
        NoticeKind.REGISTRATION_EXPIRING: REGISTRATION_NOTICE_DAYS,
        NoticeKind.CERTIFICATION_EXPIRING: CERTIFICATION_NOTICE_DAYS,
    }[kind]
    return timedelta(days=days)


def due(expiring: Expiring, now: datetime) -> bool:
    """Whether the partner is told now: the end is still ahead, within its window."""
    return now <= expiring.ends_at <= now + notice_window(expiring.kind)


def normalised_address(address: str) -> str:
    return address.strip().lower()


def looks_like_address(address: str) -> bool:
    local, at, domain = address.strip().rpartition("@")
    return bool(at and local and "." in domain and " " not in address.strip())


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who may be emailed: a person known from their sign-in (their subject),
    a partner's contact from its application, or a configured manager address."""

    address: str
    partner_id: str | None
    manager: bool


def recipients(
    notice: Notice, people: Sequence[Person], unsubscribed: dict[str, frozenset[str]]
) -> list[str]:
    """The addresses a notice goes to, each once, in order: the partner's people for a
    partner notice (never another partner's), the managers for a managers' notice; less
    those who unsubscribed from its kind."""
    chosen: list[str] = []
    for person in people:
        if notice.audience is Audience.MANAGERS:
            if not person.manager:
                continue
        elif person.partner_id != notice.partner_id:
            continue
        address = normalised_address(person.address)
        if address in chosen or notice.kind.value in unsubscribed.get(address, frozenset()):
            continue
        chosen.append(address)
    return chosen


def email_id(notice: Notice, address: str) -> str:
    """One email per (fact, address): queued once, however often the fact is seen."""
    digest = hashlib.sha256(f"{notice.kind.value}\0{notice.fact}\0{address}".encode()).hexdigest()
    return digest[:32]


# --------------------------------------------------------------------------- unsubscribe


def unsubscribe_token(secret: str, address: str, kind: NoticeKind) -> str:
    """The token of an unsubscribe link: an HMAC of the address and the kind, so a link
    only ever unsubscribes the person it was sent to, from that kind."""
    # surrogatepass: a lone surrogate (JSON allows "\ud800") is hashed, not raised on
    message = f"{normalised_address(address)}\0{kind.value}".encode(errors="surrogatepass")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def valid_unsubscribe(secret: str, address: str, kind: NoticeKind, token: str) -> bool:
    # bytes: compare_digest refuses text that is not ASCII, and a token is anyone's input
    expected = unsubscribe_token(secret, address, kind).encode()
    return hmac.compare_digest(expected, token.encode(errors="surrogatepass"))


@dataclass(slots=True)
class Email:
    """An email ready to send: one fact, one address."""

    email_id: str
    kind: NoticeKind
    partner_id: str
    address: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    headers: dict[str, Any] = field(default_factory=dict)
