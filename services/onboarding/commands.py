"""Onboarding's command side: the bodies its HTTP commands accept, and what each one stores.

Every command is **one single-document write** of the partner's document: the
new state, the event to publish (the document's outbox) and, with an
``Idempotency-Key``, the answer given (docs/architecture.md, "Commands" and
"Outbox"). Then the partner's document is handed over to the outbox relay
(``publisher.publish_soon``, :mod:`shared.outbox`) and the answer returned:
an answer never waits for Kafka, and an event stored is published
eventually, whatever happens to the process afterwards.

**Idempotency** (:mod:`shared.commands`). A command sent again with the same
key finds its answer in the partner's document and gets it back unchanged,
without writing or publishing anything. An application has no document yet,
so its partner id derives from the key (:func:`derived_ids`): a retry, or a
concurrent second delivery, meets the first one's document.

**Events.** A CloudEvent's id derives from (partner id, version of the write
that stored it): unique, and the same however often the entry is published.
Each names its ``actor``, the person or API key whose command caused it.
**Concurrency.** Two writers of one partner (replicas, a double click) race
on the document's ``version``; the loser reloads and decides again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.onboarding import SERVICE, SOURCE, views
from services.onboarding.domain import InvalidCommand, PartnerProfile, PartnerRecord
from services.onboarding.settings import OnboardingRules
from services.onboarding.store import (
    PARTNERS,
    PartnerStore,
    StoredPartner,
)
from shared.commands import (
    LOST,
    Answer,
    CommandKey,
    InvalidField,
    Lost,
    NotFound,
    retry_on_conflict,
)
from shared.events import (
    LIST_MAX,
    Actor,
    Capability,
    Contract,
    Payload,
    Scorecard,
    Tier,
    deterministic_id,
    new_event,
)
from shared.failpoints import failpoint
from shared.metrics import WRITE_CONFLICTS
from shared.outbox import Publisher

#: Partner ids tried for one application before giving up (a clash needs 40 equal bits).
ID_CANDIDATES = 5

Text = Annotated[str, Field(min_length=1, max_length=500)]


# --------------------------------------------------------------------------- bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ApplicationBody(_Body):
    """A company applying to the programme, scored by the channel manager."""

    name: Text
    partner_type: Text = Field(description="reseller, system integrator, distributor, …")
    region: Text
    industry: Text
    contact_email: Annotated[str, Field(min_length=3, max_length=320)]
    scorecard: Scorecard
    capabilities: list[Capability] = Field(
        default_factory=list,
        max_length=LIST_MAX,
        description="what the applicant can do beside selling; each kept once; the "
        "industry's required capabilities it lacks become warnings (docs/rules/scorecard.md)",
    )


class ContractBody(Contract):
    """A contract (docs/rules/commissions.md); ``end_date`` before ``start_date`` is
    reported on ``end_date``."""

    @field_validator("end_date")
    @classmethod
    def _not_before_start(cls, end_date: date, info: ValidationInfo) -> date:
        start_date = info.data.get("start_date")
        if isinstance(start_date, date) and end_date < start_date:
            raise ValueError(f"must not be before start_date ({start_date.isoformat()})")
        return end_date

    def as_contract(self) -> Contract:
        return Contract.model_validate(self.model_dump(mode="json", by_alias=True))


class RenewalBody(_Body):
    contract: ContractBody = Field(description="the contract that follows the renewed one")


class RejectionBody(_Body):
    reason: Text


class TierChangeBody(_Body):
    tier: Tier
    effective_date: date
    reason: Annotated[str, Field(max_length=500)] | None = None


class TerminationBody(_Body):
    reason: Text
    effective_date: date = Field(description="no earlier than today plus the notice period")


# --------------------------------------------------------------------------- refusals


@contextmanager
def fields_at(*location: str) -> Iterator[None]:
    """The domain's :class:`InvalidCommand` names a field of the step's data; this places
    it in the request (``body``, ``body.contract``), so the 422 names ``body.<field>``.
    The domain's other refusals (:class:`~services.onboarding.domain.IllegalTransition`,
    a 409) pass as they are."""
    try:
        yield
    except InvalidCommand as exc:
        raise InvalidField((*location, *exc.location), exc.message) from None


# --------------------------------------------------------------------------- ids


#: An application's id is ``A-…`` and its partner's ``P-…``.
APPLICATION_PREFIX, PARTNER_PREFIX = "A-", "P-"


def derived_ids(key: CommandKey | None, candidate: int = 0) -> tuple[str, str]:
    """(partner id, application id) of an application, ``P-…`` and ``A-…``: derived from
    the Idempotency-Key (the same for every delivery; ``candidate`` counts ids found
    taken by other applications), or random without a key."""
    if key is None:
        return (
            f"{PARTNER_PREFIX}{uuid.uuid4().hex[:10]}",
            f"{APPLICATION_PREFIX}{uuid.uuid4().hex[:10]}",
        )

    def derived(what: str) -> str:
        return hashlib.sha256(f"{key.digest}/{candidate}{what}".encode()).hexdigest()[:10]

    return f"{PARTNER_PREFIX}{derived('')}", f"{APPLICATION_PREFIX}{derived('/application')}"


def next_event_id(partner: StoredPartner) -> str:
    """The CloudEvent id of the event the partner's next write stores: known before the
    step decides, so the answer can name it."""
    return deterministic_id(SERVICE, partner.partner_id, str(partner.version + 1))


# --------------------------------------------------------------------------- commands

#: One lifecycle step on a loaded record at ``now``, whose event gets ``event_id``:
#: the payload to publish and the answer.
Step = Callable[[PartnerRecord, datetime, str], tuple[Payload, BaseModel]]


class OnboardingCommands:
    """The HTTP commands over a :class:`PartnerStore`; after each successful write the
    partner's document, whose outbox holds the event, is handed over to ``publisher``."""

    def __init__(
        self,
        store: PartnerStore,
        rules: OnboardingRules,
        publisher: Publisher,
        *,
        service: str = SERVICE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.rules = rules
        self.publisher = publisher
        self.service = service
        self.clock = clock

    # ----------------------------------------------------------------- selection

    async def apply(self, body: ApplicationBody, key: CommandKey | None, actor: Actor) -> Answer:
        with fields_at("body"):
            profile = PartnerProfile(
                name=body.name,
                partner_type=body.partner_type,
                region=body.region,
                industry=body.industry,
                contact_email=body.contact_email,
                capabilities=tuple(body.capabilities),
            )
        for candidate in range(ID_CANDIDATES):
            partner_id, application_id = derived_ids(key, candidate)
            attempt = partial(self._apply_as, partner_id, application_id, profile, body, key, actor)
            answer = await retry_on_conflict(attempt, what=f"partner {partner_id}")
            if answer is not None:
                return answer
        raise RuntimeError(f"no free partner id in {ID_CANDIDATES} attempts")

    async def _apply_as(
        self,
        partner_id: str,
        application_id: str,
        profile: PartnerProfile,
        body: ApplicationBody,
        key: CommandKey | None,
        actor: Actor,
    ) -> Answer | Lost | None:
        """Create the partner under ``partner_id``: its answer; ``None`` when another
        application holds that id; the first answer when this command already did."""
        existing = await self.store.load(partner_id)
        if existing is not None:
            return None if key is None else key.find(existing.answers)
        now = self.clock()
        record, payload = PartnerRecord.apply(
            partner_id=partner_id,
            application_id=application_id,
            profile=profile,
            scorecard=body.scorecard,
            applied_at=now,
            weights=self.rules.weights,
            industry_fit=self.rules.industry_fit,
        )
        partner = StoredPartner(record)
        event_id = next_event_id(partner)
        answer = views.applied(record, event_id)
        return await self._write(partner, payload.caused_by(actor), answer, 201, key, now)

    async def approve(self, application_id: str, key: CommandKey | None, actor: Actor) -> Answer:
        def step(record: PartnerRecord, now: datetime, event_id: str) -> tuple[Payload, BaseModel]:
            approved = record.approve(now=now)
            return approved, views.ApprovalAnswer(
                application_id=record.application_id,
                partner_id=record.partner_id,
                status=record.status,
                approved_at=now.isoformat(),
                event_id=event_id,
            )

        return await self._application_step(application_id, key, actor, step)

    async def reject(
        self, application_id: str, body: RejectionBody, key: CommandKey | None, actor: Actor
    ) -> Answer:
        def step(record: PartnerRecord, now: datetime, event_id: str) -> tuple[Payload, BaseModel]:
            rejected = record.reject(reason=body.reason, now=now)
            return rejected, views.RejectionAnswer(
                application_id=record.application_id,
                partner_id=record.partner_id,
                status=record.status,
                rejected_at=now.isoformat(),
                reason=body.reason,
                event_id=event_id,
            )

        return await self._application_step(application_id, key, actor, step)

    # ----------------------------------------------------------------- contracts

    async def sign(
        self, partner_id: str, body: ContractBody, key: CommandKey | None, actor: Actor
    ) -> Answer:
        contract = body.as_contract()

        def step(record: PartnerRecord, now: datetime, event_id: str) -> tuple[Payload, BaseModel]:
            signed = record.sign(contract)
            return signed, views.SigningAnswer(
                partner_id=record.partner_id,
                status=record.status,
                tier=contract.tier,
                contract=signed.contract,
                event_id=event_id,
            )

        return await self._partner_step(partner_id, key, actor, step, status=201)

    async def renew(
        self,
        partner_id: str,
        contract_id: str,
        body: RenewalBody,
        key: CommandKey | None,
        actor: Actor,
    ) -> Answer:
        contract = body.contract.as_contract()

        def step(record: PartnerRecord, now: datetime, event_id: str) -> tuple[Payload, BaseModel]:
            renewed = record.renew(renewed_contract_id=contract_id, contract=contract)
            return renewed, views.RenewalAnswer(
                partner_id=record.partner_id,
                status=record.status,
                tier=contract.tier,
                renewed_contract_id=contract_id,
                contract=renewed.contract,
                event_id=event_id,
            )

        return await self._partner_step(
            partner_id, key, actor, step, status=201, fields=("body", "contract")
        )

    async def change_tier(
        self, partner_id: str, body: TierChangeBody, key: CommandKey | None, actor: Actor
    ) -> Answer:
        def step(record: PartnerRecord, now: datetime, event_id: str) -> tuple[Payload, BaseModel]:
            previous = record.tier
            changed = record.change_tier(
                tier=body.tier, effective_date=body.effective_date, reason=body.reason
            )
            return changed, views.TierChangeAnswer(
                partner_id=record.partner_id,
                tier=body.tier,
                previous_tier=previous,
                effective_date=body.effective_date,
                reason=body.reason,
                event_id=event_id,
            )

        return await self._partner_step(partner_id, key, actor, step)

    async def terminate(
        self, partner_id: str, body: TerminationBody, key: CommandKey | None, actor: Actor
    ) -> Answer:
        def step(record: PartnerRecord, now: datetime, event_id: str) -> tuple[Payload, BaseModel]:
            today = now.astimezone(UTC).date()
            terminated = record.terminate(
                reason=body.reason,
                effective_date=body.effective_date,
                today=today,
                notice_days=self.rules.notice_days,
            )
            return terminated, views.TerminationAnswer(
                partner_id=record.partner_id,
                status=record.status,
                effective_date=body.effective_date,
                reason=body.reason,
                noticed_on=today,
                event_id=event_id,
            )

        return await self._partner_step(partner_id, key, actor, step)

    # ----------------------------------------------------------------- the write

    async def _application_step(
        self, application_id: str, key: CommandKey | None, actor: Actor, step: Step
    ) -> Answer:
        locate = partial(self.store.load_by_application, application_id)
        return await self._step(locate, f"application {application_id}", key, actor, step)

    async def _partner_step(
        self,
        partner_id: str,
        key: CommandKey | None,
        actor: Actor,
        step: Step,
        *,
        status: int = 200,
        fields: tuple[str, ...] = ("body",),
    ) -> Answer:
        locate = partial(self.store.load, partner_id)
        return await self._step(locate, f"partner {partner_id}", key, actor, step, status, fields)

    async def _step(
        self,
        locate: Callable[[], Awaitable[StoredPartner | None]],
        what: str,
        key: CommandKey | None,
        actor: Actor,
        step: Step,
        status: int = 200,
        fields: tuple[str, ...] = ("body",),
    ) -> Answer:
        """Load, refuse or replay, take ``step``, write its event naming ``actor``; again
        while another writer won. The domain's refusals name their field under ``fields``."""

        async def attempt() -> Answer | Lost:
            partner = await locate()
            if partner is None:
                raise NotFound(f"{what} does not exist")
            if key is not None and (replayed := key.find(partner.answers)) is not None:
                return replayed
            now = self.clock()
            with fields_at(*fields):
                payload, answer = step(partner.record, now, next_event_id(partner))
            return await self._write(partner, payload.caused_by(actor), answer, status, key, now)

        return await retry_on_conflict(attempt, what=what)

    async def _write(
        self,
        partner: StoredPartner,
        payload: Payload,
        answer: BaseModel,
        status: int,
        key: CommandKey | None,
        now: datetime,
    ) -> Answer | Lost:
        """Store the changed partner with its event and (with a key) its answer, if nobody
        wrote the partner since it was read; then have the event published."""
        partner.add_event(
            new_event(payload, source=SOURCE, time=now, event_id=next_event_id(partner))
        )
        given = Answer(status, views.body(answer))
        if key is not None:
            key.remember(partner.answers, given)
        if not await self.store.save(partner):
            WRITE_CONFLICTS.labels(self.service, PARTNERS).inc()
            return LOST
        failpoint("onboarding_after_store")
        self.publisher.publish_soon(PARTNERS, [partner.partner_id])
        return given
