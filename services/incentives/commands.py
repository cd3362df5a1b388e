"""Incentives' command side: registering a deal (``POST /registrations``), its lifecycle
(extensions asked for and answered, decisions by hand), inquiries and adjustments (done
by :class:`~services.incentives.inquiries.Inquiries`) and settling a period
(``POST /settlements``, done by :class:`~services.incentives.settlements.Settlements`).

**Registering a deal** is self-service: a partner registers for itself, staff for
the partner they name (the route resolves which: :func:`shared.access.acting_partner`).
The command does not decide the registration. It stores it, dated now (the
service's clock), with its DealRegistered in the outbox and, with an
``Idempotency-Key``, the answer given, in **one insert** of a document of its own
(``registration_requests``); hands that document over to the outbox relay
(``publisher.publish_soon``, :mod:`shared.outbox`) and answers 202, pending.
Incentives decides it where it decides every registration, a CRM's included: when
the DealRegistered comes back from ``deals.v1`` (:mod:`services.incentives.handlers`,
``docs/rules/deal-registration.md``). Like a CRM's, a registration is decided on
its (customer, product line) alone: the partner's standing is not checked here
(a deal of a partner without a contract earns no commission, registered or not).

The registration's id derives from the key (:attr:`shared.commands.CommandKey.derived_id`),
so another delivery of the command meets the same document and gets the answer
remembered there; without a key it is random. Every event a command publishes
names its ``actor``, who sent the command.

**A registration's lifecycle** (``docs/rules/deal-registration.md``): asking for
an extension, answering it and deciding by hand each change the registration's
book, once it holds the registration (before that, 409: not decided yet). The
command reads the book, checks the rule (:func:`extension_refusal`), adds its
fact and its event, decides the book again
(:func:`services.incentives.registrations.redecide`, which may correct other
registrations' decisions), and writes the book if nobody wrote it since, else
reads it again and redoes (:func:`shared.commands.retry_on_conflict`); then
publishes the book's outbox, awaited. The event's id derives from the
Idempotency-Key when one is sent, so another delivery finds its fact in the book
and answers again without publishing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from services.incentives import SERVICE, SOURCE
from services.incentives.domain import MAX_EXTENSIONS, PROTECTION_DAYS, Registration
from services.incentives.inquiries import AdjustmentBody, Inquiries, InquiryBody, ResolutionBody
from services.incentives.registrations import manual_decision_event, merge, redecide
from services.incentives.settlements import SettlementRun, Settlements
from services.incentives.store import (
    REGISTRATION_REQUESTS,
    REGISTRATIONS,
    RegistrationBook,
    RegistrationRequest,
    Store,
)
from services.incentives.views import ExtensionAnswerView, RegistrationAnswer, RegistrationView
from shared import events
from shared.commands import (
    LOST,
    Answer,
    CommandBody,
    CommandKey,
    Conflict,
    Identifier,
    InvalidField,
    Lost,
    NotFound,
    Text,
    retry_on_conflict,
)
from shared.events import Actor, ExtensionDays, NonNegativeMoney, deterministic_id, new_event
from shared.outbox import OutboxEntry, Publisher


class RegistrationBody(CommandBody):
    """A deal registration: the (customer, product line) a partner claims for a deal."""

    partner_id: Identifier | None = Field(
        default=None,
        description="the partner registering: required from staff; a partner's own if given",
    )
    deal_id: Identifier
    customer: Text
    product_line: Identifier
    expected_amount: NonNegativeMoney = Field(
        description='the deal\'s expected amount, a decimal string such as "80000.00"'
    )


def registered_event(
    request: RegistrationRequest, actor: Actor
) -> events.CloudEvent[events.DealRegistered]:
    """The DealRegistered of a registration sent through the API, naming who sent it."""
    r = request.registration
    data = events.DealRegistered(
        partner_id=r.partner_id,
        actor=actor,
        registration_id=r.registration_id,
        deal_id=r.deal_id,
        customer=r.customer,
        product_line=r.product_line,
        expected_amount=request.expected_amount,
        registered_at=r.registered_at,
    )
    event_id = deterministic_id(SERVICE, "DealRegistered", r.registration_id)
    return new_event(data, source=SOURCE, time=r.registered_at, event_id=event_id)


class ExtensionBody(CommandBody):
    """A request to extend a registration's protection."""

    days: ExtensionDays = Field(description="how many days longer it should protect (1-90)")
    reason: Text


class ExtensionGrantBody(CommandBody):
    """A channel manager granting the extension request that waits."""

    note: Text | None = None


class ExtensionRefusalBody(CommandBody):
    """A channel manager refusing the extension request that waits."""

    reason: Text


class DecisionBody(CommandBody):
    """A channel manager deciding a registration by hand, over the automatic rule."""

    decision: Literal["approve", "reject"]
    reason: Text


def extension_refusal(book: RegistrationBook, registration_id: str, now: datetime) -> str | None:
    """Why a registration's protection cannot be extended now, or None when it can: it is
    approved, has not expired, was extended fewer than twice and has no request waiting."""
    decision = book.decisions.get(registration_id)
    if decision is None or not decision.approved:
        return (
            f"registration {registration_id} is not approved: only an approved "
            "registration's protection can be extended"
        )
    if decision.expires_at is not None and now > decision.expires_at:
        return (
            f"registration {registration_id}'s protection ended at "
            f"{decision.expires_at.isoformat()}: an extension is asked for before it ends"
        )
    if len(book.facts.granted(registration_id)) >= MAX_EXTENSIONS:
        return (
            f"registration {registration_id} was already extended {MAX_EXTENSIONS} times, "
            "the most allowed"
        )
    waiting = book.facts.waiting(registration_id)
    if waiting is not None:
        return (
            f"extension {waiting.extension_id} of registration {registration_id} is still "
            "waiting for an answer"
        )
    return None


class IncentivesCommands:
    """What incentives' HTTP commands do: registrations and their lifecycle over the store
    and the publisher, inquiries and adjustments through :class:`Inquiries`, settlements
    through :class:`Settlements`."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        settlements: Settlements,
        inquiries: Inquiries,
        *,
        protection_days: int = PROTECTION_DAYS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.protection_days = protection_days
        self.store = store
        self.publisher = publisher
        self.settlements = settlements
        self.inquiries = inquiries
        self.clock = clock

    async def register(
        self, body: RegistrationBody, key: CommandKey | None, *, partner_id: str, actor: Actor
    ) -> Answer:
        """Register a deal for ``partner_id`` (DealRegistered); 202, decided later."""
        registration_id = key.derived_id if key is not None else str(uuid.uuid4())
        if key is not None and (replayed := await self._replayed(key)) is not None:
            return replayed
        request = RegistrationRequest(
            Registration(
                registration_id=registration_id,
                deal_id=body.deal_id,
                partner_id=partner_id,
                customer=body.customer,
                product_line=body.product_line,
                registered_at=self.clock(),
            ),
            body.expected_amount,
        )
        answer = Answer(202, RegistrationAnswer.of(registration_id).model_dump(mode="json"))
        answers: dict[str, Any] = {}
        if key is not None:
            key.remember(answers, answer)
        outbox = [OutboxEntry.of(registered_event(request, actor))]
        if await self.store.add_registration_request(request, answers, outbox):
            self.publisher.publish_soon(REGISTRATION_REQUESTS, [registration_id])
            return answer
        # The id exists: another delivery of this command (same key) stored it first.
        assert key is not None, "a random id never collides"
        replayed = await self._replayed(key)
        assert replayed is not None, "a registration made with a key remembers its answer"
        return replayed

    async def _replayed(self, key: CommandKey) -> Answer | None:
        """The answer remembered with the registration this key creates, if it exists."""
        answers = await self.store.registration_request_answers(key.derived_id)
        return None if answers is None else key.find(answers)

    # ----------------------------------------------------------------- lifecycle

    async def _book(self, registration_id: str) -> RegistrationBook:
        book = await self.store.registration_book_of(registration_id)
        if book is not None:
            return book
        if await self.store.registration(registration_id) is not None:
            raise Conflict(
                f"registration {registration_id} is not decided yet: try again in a moment"
            )
        raise NotFound(f"no registration {registration_id}")

    async def _write(self, book: RegistrationBook) -> bool:
        """Store the book if nobody wrote it since it was read, then publish its outbox;
        False when another writer got there first."""
        if await self.store.save_registration_books([book]):
            return False
        if book.outbox:
            await self.publisher.publish(REGISTRATIONS, {book.key: book.outbox})
            book.outbox.clear()
        return True

    def view(self, book: RegistrationBook, registration_id: str) -> Answer:
        state = book.state(registration_id)
        return Answer(200, RegistrationView.of(state, self.clock()).model_dump(mode="json"))

    async def request_extension(
        self, registration_id: str, body: ExtensionBody, key: CommandKey | None, *, actor: Actor
    ) -> Answer:
        """Ask for a registration's protection to last longer
        (DealRegistrationExtensionRequested); 202, a channel manager answers it."""
        extension_id = key.derived_id if key is not None else str(uuid.uuid4())
        answer = Answer(
            202,
            ExtensionAnswerView(
                registration_id=registration_id,
                extension_id=extension_id,
                status="requested",
                url=f"/registrations/{registration_id}",
            ).model_dump(mode="json"),
        )

        async def attempt() -> Answer | Lost:
            book = await self._book(registration_id)
            known = book.facts.requests.get(extension_id)
            if known is not None:
                if (known.days, known.reason) != (body.days, body.reason):
                    raise InvalidField(
                        ("header", "Idempotency-Key"),
                        "this key was already used for a different request",
                    )
                return Answer(answer.status, answer.body, replayed=True)
            now = self.clock()
            refusal = extension_refusal(book, registration_id, now)
            if refusal is not None:
                raise Conflict(refusal)
            r = book.registrations[registration_id]
            data = events.DealRegistrationExtensionRequested(
                partner_id=r.partner_id,
                actor=actor,
                registration_id=registration_id,
                extension_id=extension_id,
                deal_id=r.deal_id,
                customer=r.customer,
                product_line=r.product_line,
                days=body.days,
                reason=body.reason,
                requested_at=now,
            )
            event = new_event(
                data,
                source=SOURCE,
                time=now,
                event_id=deterministic_id(SERVICE, data.event_type, extension_id),
            )
            merge(book, event)
            book.outbox.append(OutboxEntry.of(event))
            return answer if await self._write(book) else LOST

        return await retry_on_conflict(attempt, what=f"registration {registration_id}")

    async def answer_extension(
        self,
        registration_id: str,
        grant: ExtensionGrantBody | ExtensionRefusalBody,
        key: CommandKey | None,
        *,
        actor: Actor,
    ) -> Answer:
        """Grant (DealRegistrationExtended) or refuse (DealRegistrationExtensionRejected)
        the extension request that waits; answers the registration as it now stands."""
        event_id = key.derived_id if key is not None else str(uuid.uuid4())

        async def attempt() -> Answer | Lost:
            book = await self._book(registration_id)
            answers = book.facts.answers.get(registration_id, {}).values()
            if any(a.version[1] == event_id for a in answers):
                return self.view(book, registration_id)
            waiting = book.facts.waiting(registration_id)
            if waiting is None:
                raise Conflict(
                    f"no extension request of registration {registration_id} waits for an answer"
                )
            r = book.registrations[registration_id]
            decision = book.decisions.get(registration_id)
            now = self.clock()
            data: events.Payload
            if isinstance(grant, ExtensionGrantBody):
                if decision is None or not decision.approved or decision.expires_at is None:
                    raise Conflict(
                        f"registration {registration_id} is not approved: its protection "
                        "cannot be extended"
                    )
                if len(book.facts.granted(registration_id)) >= MAX_EXTENSIONS:
                    raise Conflict(
                        f"registration {registration_id} was already extended "
                        f"{MAX_EXTENSIONS} times, the most allowed"
                    )
                data = events.DealRegistrationExtended(
                    partner_id=r.partner_id,
                    actor=actor,
                    registration_id=registration_id,
                    extension_id=waiting.extension_id,
                    deal_id=r.deal_id,
                    customer=r.customer,
                    product_line=r.product_line,
                    days=waiting.days,
                    expires_at=decision.expires_at + timedelta(days=waiting.days),
                    extended_at=now,
                    note=grant.note,
                )
            else:
                data = events.DealRegistrationExtensionRejected(
                    partner_id=r.partner_id,
                    actor=actor,
                    registration_id=registration_id,
                    extension_id=waiting.extension_id,
                    deal_id=r.deal_id,
                    customer=r.customer,
                    product_line=r.product_line,
                    reason=grant.reason,
                    rejected_at=now,
                )
            event = new_event(data, source=SOURCE, time=now, event_id=event_id)
            merge(book, event)
            book.outbox.append(OutboxEntry.of(event))
            redecide(book, self.protection_days, now)
            return self.view(book, registration_id) if await self._write(book) else LOST

        return await retry_on_conflict(attempt, what=f"registration {registration_id}")

    async def decide_by_hand(
        self, registration_id: str, body: DecisionBody, key: CommandKey | None, *, actor: Actor
    ) -> Answer:
        """Decide a registration by hand (DealRegistrationApproved / Rejected naming the
        channel manager): it stands over the automatic rule, and the registrations it
        conflicts with are decided again."""
        event_id = key.derived_id if key is not None else str(uuid.uuid4())

        async def attempt() -> Answer | Lost:
            book = await self._book(registration_id)
            made = book.facts.manual.get(registration_id)
            if made is not None and made.version[1] == event_id:
                return self.view(book, registration_id)
            now = self.clock()
            event = manual_decision_event(
                book.registrations[registration_id],
                body.decision == "approve",
                body.reason,
                actor=actor,
                protection_days=self.protection_days,
                now=now,
                event_id=event_id,
            )
            merge(book, event)
            book.outbox.append(OutboxEntry.of(event))
            redecide(book, self.protection_days, now)
            return self.view(book, registration_id) if await self._write(book) else LOST

        return await retry_on_conflict(attempt, what=f"registration {registration_id}")

    # ----------------------------------------------------------------- inquiries

    async def open_inquiry(
        self,
        deal_id: str,
        partner_id: str,
        body: InquiryBody,
        key: CommandKey | None,
        *,
        actor: Actor,
    ) -> Answer:
        """Open an inquiry on a deal's commission (:meth:`Inquiries.open`)."""
        return await self.inquiries.open(deal_id, partner_id, body, key, actor=actor)

    async def resolve_inquiry(
        self, inquiry_id: str, body: ResolutionBody, key: CommandKey | None, *, actor: Actor
    ) -> Answer:
        """Resolve an inquiry (:meth:`Inquiries.resolve`)."""
        return await self.inquiries.resolve(inquiry_id, body, key, actor=actor)

    async def adjust(self, body: AdjustmentBody, key: CommandKey | None, *, actor: Actor) -> Answer:
        """Adjust a partner's period (:meth:`Inquiries.adjust`)."""
        return await self.inquiries.adjust(body, key, actor=actor)

    async def settle(
        self,
        period: str,
        partner_ids: list[str] | None,
        *,
        settlement_id: str | None,
        rerun: bool,
        dry_run: bool,
        actor: Actor,
    ) -> SettlementRun:
        """Settle ``period`` (:meth:`Settlements.settle`); the payouts name ``actor``."""
        return await self.settlements.settle(
            period,
            partner_ids,
            settlement_id=settlement_id,
            rerun=rerun,
            dry_run=dry_run,
            actor=actor,
        )
