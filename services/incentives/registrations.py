"""A registration book's lifecycle, shared by the consumer and the commands
(``docs/rules/deal-registration.md``).

A registration book holds what is known of one (customer, product line)'s
registrations (:class:`~services.incentives.domain.RegistrationFacts`) and each
one's standing decision. Whoever adds a fact to it, the consumer (a DealRegistered
from a CRM, an event that came back from ``deals.v1``) or a command (an extension
asked for or answered, a decision by hand), then calls :func:`redecide`: every
registration is decided again, and a registration whose automatic decision is new
or different gets a DealRegistrationApproved / DealRegistrationRejected in the
book's outbox (a *correction* when it replaces an earlier one: same
``registration_id``, a later CloudEvent ``time``). A decision by hand is its own
event, published by the command that made it; :func:`redecide` records it and
publishes nothing for it.

Automatic decisions name the service as their ``actor`` (kind ``system``); a
decision whose actor is a person or an API key was made by hand and stands over
the rule, for the books and for the commissions alike
(:func:`services.incentives.domain.by_hand`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.incentives import SERVICE, SOURCE
from services.incentives.domain import (
    Decision,
    ExtensionRequest,
    ManualDecision,
    Registration,
    Version,
    by_hand,
    extension_answer,
)
from services.incentives.store import DecisionRecord, RegistrationBook, registration_key
from shared import events
from shared.events import Actor, ActorKind, deterministic_id, new_event
from shared.outbox import OutboxEntry

Event = events.CloudEvent[events.Payload]

#: The actor of the decisions the service makes by its rule.
SYSTEM = Actor(kind=ActorKind.SYSTEM, id=SERVICE)


def decision_event(decision: Decision, number: int, protection_days: int, now: datetime) -> Event:
    """The ``number``-th automatic decision on a registration: approved or rejected, dated
    at the registration's own ``registered_at``."""
    r = decision.registration
    data: events.Payload
    if decision.approved:
        data = events.DealRegistrationApproved(
            partner_id=r.partner_id,
            actor=SYSTEM,
            registration_id=r.registration_id,
            deal_id=r.deal_id,
            approved_at=r.registered_at,
            customer=r.customer,
            product_line=r.product_line,
            expires_at=r.registered_at + timedelta(days=protection_days),
        )
    else:
        data = events.DealRegistrationRejected(
            partner_id=r.partner_id,
            actor=SYSTEM,
            registration_id=r.registration_id,
            deal_id=r.deal_id,
            rejected_at=r.registered_at,
            reason=decision.reason or "channel_conflict",
            customer=r.customer,
            product_line=r.product_line,
            conflicting_registration_id=decision.conflicting_registration_id,
        )
    event_id = deterministic_id(SERVICE, "RegistrationDecision", r.registration_id, str(number))
    return new_event(data, source=SOURCE, time=now, event_id=event_id)


def manual_decision_event(
    registration: Registration,
    approved: bool,
    reason: str,
    *,
    actor: Actor,
    protection_days: int,
    now: datetime,
    event_id: str,
) -> Event:
    """A channel manager's decision on ``registration``, dated like every decision at its
    ``registered_at`` (so an approval by hand gives the uplift a decision by the rule
    would have given)."""
    r = registration
    data: events.Payload
    if approved:
        data = events.DealRegistrationApproved(
            partner_id=r.partner_id,
            actor=actor,
            registration_id=r.registration_id,
            deal_id=r.deal_id,
            approved_at=r.registered_at,
            customer=r.customer,
            product_line=r.product_line,
            expires_at=r.registered_at + timedelta(days=protection_days),
            reason=reason,
        )
    else:
        data = events.DealRegistrationRejected(
            partner_id=r.partner_id,
            actor=actor,
            registration_id=r.registration_id,
            deal_id=r.deal_id,
            rejected_at=r.registered_at,
            reason=reason,
            customer=r.customer,
            product_line=r.product_line,
        )
    return new_event(data, source=SOURCE, time=now, event_id=event_id)


def redecide(book: RegistrationBook, protection_days: int, now: datetime) -> bool:
    """Decide the book's registrations again; record every decision and queue an event
    for each automatic one that is new or different. True when a record changed."""
    changed = False
    for decision in book.facts.decide(protection_days):
        registration_id = decision.registration.registration_id
        previous = book.decisions.get(registration_id)
        number = 0 if previous is None else previous.number
        if decision.manual:
            made = book.facts.manual[registration_id]
            record = DecisionRecord(
                registration_id,
                decision.approved,
                decision.reason,
                number,
                made.version[1],
                made.version[0],
                expires_at=decision.expires_at,
                decided_by=made.actor,
            )
        elif previous is not None and not previous.by_hand and previous.same_outcome(decision):
            record = DecisionRecord(
                registration_id,
                previous.approved,
                previous.reason,
                number,
                previous.event_id,
                previous.decided_at,
                expires_at=decision.expires_at,
                conflicting_registration_id=previous.conflicting_registration_id,
                decided_by=previous.decided_by,
            )
        else:
            event = decision_event(decision, number + 1, protection_days, now)
            book.outbox.append(OutboxEntry.of(event))
            record = DecisionRecord(
                registration_id,
                decision.approved,
                decision.reason,
                number + 1,
                event.id,
                now,
                expires_at=decision.expires_at,
                conflicting_registration_id=decision.conflicting_registration_id,
                decided_by=SYSTEM,
            )
        if record != previous:
            book.decisions[registration_id] = record
            changed = True
    return changed


def registration_of(data: events.DealRegistered) -> Registration:
    return Registration(
        registration_id=data.registration_id,
        deal_id=data.deal_id,
        partner_id=data.partner_id,
        customer=data.customer,
        product_line=data.product_line,
        registered_at=data.registered_at,
    )


def book_key(event: Event) -> str | None:
    """The registration book an event of the lifecycle belongs to; None for one that
    names no (customer, product line) or is not part of a book's lifecycle (an
    automatic decision, the book's own output)."""
    data = event.data
    if isinstance(data, events.DealRegistered):
        return registration_key(data.customer, data.product_line)
    if isinstance(
        data,
        events.DealRegistrationExtensionRequested
        | events.DealRegistrationExtended
        | events.DealRegistrationExtensionRejected,
    ):
        return registration_key(data.customer, data.product_line)
    if (
        isinstance(data, events.DealRegistrationApproved | events.DealRegistrationRejected)
        and by_hand(data)
        and data.customer is not None
        and data.product_line is not None
    ):
        return registration_key(data.customer, data.product_line)
    return None


def unplaced_decision(event: Event) -> str | None:
    """The registration id of a decision made by hand that names no (customer, product
    line), whose book is found by the registration instead; else None."""
    data = event.data
    if (
        isinstance(data, events.DealRegistrationApproved | events.DealRegistrationRejected)
        and by_hand(data)
        and (data.customer is None or data.product_line is None)
    ):
        return data.registration_id
    return None


def merge(book: RegistrationBook, event: events.CloudEvent[Any]) -> bool:
    """Add what ``event`` says to the book's facts; False when it knew it already."""
    data = event.data
    version: Version = (event.time, event.id)
    facts = book.facts
    if isinstance(data, events.DealRegistered):
        return facts.add_registration(registration_of(data), version)
    if isinstance(data, events.DealRegistrationExtensionRequested):
        return facts.add_request(
            ExtensionRequest(
                data.extension_id,
                data.registration_id,
                data.days,
                data.reason,
                data.requested_at,
                version,
            )
        )
    if isinstance(data, events.DealRegistrationExtended | events.DealRegistrationExtensionRejected):
        return facts.add_answer(extension_answer(data, version))
    if isinstance(data, events.DealRegistrationApproved):
        return facts.add_manual(
            ManualDecision(data.registration_id, True, data.reason or "", version, data.actor)
        )
    if isinstance(data, events.DealRegistrationRejected):
        return facts.add_manual(
            ManualDecision(data.registration_id, False, data.reason, version, data.actor)
        )
    return False
