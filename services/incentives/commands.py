"""Incentives' command side: registering a deal (``POST /registrations``) and settling a
period (``POST /settlements``, done by :class:`~services.incentives.settlements.Settlements`).

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
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from services.incentives import SERVICE, SOURCE
from services.incentives.domain import Registration
from services.incentives.settlements import SettlementRun, Settlements
from services.incentives.store import REGISTRATION_REQUESTS, RegistrationRequest, Store
from services.incentives.views import RegistrationAnswer
from shared import events
from shared.commands import Answer, CommandKey
from shared.events import Actor, NonNegativeMoney, deterministic_id, new_event
from shared.outbox import OutboxEntry, Publisher

Identifier = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class RegistrationBody(BaseModel):
    """A deal registration: the (customer, product line) a partner claims for a deal."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

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


class IncentivesCommands:
    """What incentives' HTTP commands do: registrations over the store and the publisher,
    settlements through :class:`Settlements`."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        settlements: Settlements,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.settlements = settlements
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
