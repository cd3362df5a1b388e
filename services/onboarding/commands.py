"""Onboarding's HTTP commands: the bodies they accept, and what each one stores and publishes.

Every command is **one single-document write** to the partner's document
holding the new state, the event to publish (the document's outbox) and, with
an ``Idempotency-Key``, the answer given. Only then is the answer returned and
the relay poked to publish the event (:mod:`services.onboarding.relay`): an
answer never waits for Kafka, and an event stored is published eventually,
whatever happens to the process afterwards.

**Idempotency** (:mod:`shared.commands`). A command sent again with the same
``Idempotency-Key`` finds its answer in the document it changed and gets it
back unchanged (with the ``Idempotent-Replayed: true`` header), without
writing or publishing anything; the same key with a different body answers
422. A partner keeps its answers in a map from the key's digest. An
application has no document yet, so its partner id is derived from the key's
digest: a retry, or a concurrent second delivery, meets the first one's
document. Only successful answers are remembered: a refused command changed
nothing and may be retried.

**Events.** A CloudEvent id is derived from (partner id, document version of
the write that stored it): unique, and the same however often the entry is
published. **Concurrency.** Two writers of one partner (replicas, a double
click) race on the ``version`` field; the loser reloads and decides again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.onboarding.configuration import OnboardingRules
from services.onboarding.domain import InvalidCommand, PartnerProfile, PartnerRecord
from services.onboarding.store import (
    APPLICATION_PREFIX,
    PARTNER_PREFIX,
    PARTNERS,
    OnboardingStore,
    StoredPartner,
    encode_contract,
)
from shared import commands
from shared.commands import Answer as Answer
from shared.commands import InvalidField as InvalidField
from shared.events import Contract, Payload, Scorecard, Tier, new_event
from shared.failpoints import failpoint
from shared.metrics import WRITE_CONFLICTS

SOURCE = "/partnerhub/onboarding"
_IDS = uuid.UUID("220dfe35-b122-4066-b218-b9f94d3938dc")
MAX_ATTEMPTS = 20
#: Partner ids tried for one application before giving up (a clash needs 40 equal bits).
ID_CANDIDATES = 5

Text = Annotated[str, Field(min_length=1, max_length=500)]


def event_id(partner_id: str, version: int) -> str:
    """The CloudEvent id of the event stored by write ``version`` of ``partner_id``."""
    return str(uuid.uuid5(_IDS, f"{partner_id}/{version}"))


# --------------------------------------------------------------------------- bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ApplicationBody(_Body):
    """A company applying to the programme, scored by the channel manager (SPEC §4, §7)."""

    name: Text
    partner_type: Text = Field(description="reseller, system integrator, distributor, …")
    region: Text
    industry: Text
    contact_email: Annotated[str, Field(min_length=3, max_length=320)]
    scorecard: Scorecard


class ContractBody(Contract):
    """A contract as in SPEC §2; ``end_date`` before ``start_date`` is reported on ``end_date``."""

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


# --------------------------------------------------------------------------- answers


class NotFound(Exception):
    """The named application or partner does not exist (HTTP 404)."""


@contextmanager
def fields_under(*location: str) -> Iterator[None]:
    """Report the domain's :class:`InvalidCommand` at its field's place in the request."""
    try:
        yield
    except InvalidCommand as exc:
        raise InvalidField((*location, exc.field), exc.reason) from None


class CommandKey(commands.CommandKey):
    """An Idempotency-Key (:mod:`shared.commands`); an application's partner id derives from it."""

    __slots__ = ()

    def partner_suffix(self, attempt: int) -> str:
        """The id suffix of the partner an application creates: the same for every delivery."""
        return hashlib.sha256(f"{self.digest}/{attempt}".encode()).hexdigest()[:10]


# --------------------------------------------------------------------------- views


def application_view(record: PartnerRecord) -> dict[str, Any]:
    """An application as the channel manager sees it: profile, scorecard and assessment."""
    assessment = record.assessment
    return {
        "application_id": record.application_id,
        "partner_id": record.partner_id,
        "status": record.status.value,
        "name": record.profile.name,
        "partner_type": record.profile.partner_type,
        "region": record.profile.region,
        "industry": record.profile.industry,
        "contact_email": record.profile.contact_email,
        "scorecard": record.scorecard.model_dump(mode="json"),
        "score": float(assessment.score),
        "recommendation": assessment.recommendation.value,
        "weights": {name: str(w) for name, w in assessment.weights.as_dict().items()},
        "applied_at": record.applied_at.isoformat(),
        "decided_at": None if record.decided_at is None else record.decided_at.isoformat(),
        "rejection_reason": record.rejection_reason,
    }


def partner_view(record: PartnerRecord) -> dict[str, Any]:
    """A partner as onboarding knows it: who, where it stands, its contracts."""
    contract = record.current_contract
    termination = record.termination
    return {
        "partner_id": record.partner_id,
        "application_id": record.application_id,
        "status": record.status.value,
        "name": record.profile.name,
        "partner_type": record.profile.partner_type,
        "region": record.profile.region,
        "industry": record.profile.industry,
        "contact_email": record.profile.contact_email,
        "tier": None if record.tier is None else record.tier.value,
        "contract": None if contract is None else encode_contract(contract),
        "contracts": [encode_contract(c) for c in record.contracts],
        "applied_at": record.applied_at.isoformat(),
        "decided_at": None if record.decided_at is None else record.decided_at.isoformat(),
        "rejection_reason": record.rejection_reason,
        "termination": None
        if termination is None
        else {
            "effective_date": termination.effective_date.isoformat(),
            "reason": termination.reason,
            "noticed_on": termination.noticed_on.isoformat(),
        },
    }


# --------------------------------------------------------------------------- commands

#: One lifecycle step on a loaded record at ``now``: the payload to publish and the answer.
Step = Callable[[PartnerRecord, datetime], tuple[Payload, dict[str, Any]]]


class Onboarding:
    """The HTTP commands over the store; ``stored`` is called with the partner after each
    successful write."""

    def __init__(
        self,
        store: OnboardingStore,
        rules: OnboardingRules,
        stored: Callable[[str], None],
        service: str = "onboarding",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.rules = rules
        self.stored = stored
        self.service = service
        self.clock = clock

    # ----------------------------------------------------------------- selection

    async def apply(self, body: ApplicationBody, key: CommandKey | None) -> Answer:
        with fields_under("body"):
            profile = PartnerProfile(
                name=body.name,
                partner_type=body.partner_type,
                region=body.region,
                industry=body.industry,
                contact_email=body.contact_email,
            )
        for attempt in range(ID_CANDIDATES):
            suffix = key.partner_suffix(attempt) if key is not None else uuid.uuid4().hex[:10]
            partner_id = f"{PARTNER_PREFIX}{suffix}"
            # Twice: the id is free, or a concurrent delivery of this command just took it.
            for _race in range(2):
                existing = await self.store.load(partner_id)
                if existing is not None:
                    if (
                        key is not None
                        and (replayed := key.find_by_digest(existing.answers)) is not None
                    ):
                        return replayed
                    break  # another application holds this id: try the next one
                now = self.clock()
                record, applied = PartnerRecord.apply(
                    partner_id=partner_id,
                    application_id=f"{APPLICATION_PREFIX}{suffix}",
                    profile=profile,
                    scorecard=body.scorecard,
                    applied_at=now,
                    weights=self.rules.weights,
                )
                partner = StoredPartner(record)
                answer = self._record(partner, applied, application_view(record), 201, key, now)
                if await self.store.save(partner):
                    self._committed(partner.partner_id)
                    return answer
        raise RuntimeError(f"no free partner id in {ID_CANDIDATES} attempts")

    async def approve(self, application_id: str, key: CommandKey | None) -> Answer:
        def step(record: PartnerRecord, now: datetime) -> tuple[Payload, dict[str, Any]]:
            approved = record.approve(now=now)
            return approved, {
                "application_id": record.application_id,
                "partner_id": record.partner_id,
                "status": record.status.value,
                "approved_at": now.isoformat(),
            }

        return await self._application_step(application_id, key, step)

    async def reject(
        self, application_id: str, body: RejectionBody, key: CommandKey | None
    ) -> Answer:
        def step(record: PartnerRecord, now: datetime) -> tuple[Payload, dict[str, Any]]:
            with fields_under("body"):
                rejected = record.reject(reason=body.reason, now=now)
            return rejected, {
                "application_id": record.application_id,
                "partner_id": record.partner_id,
                "status": record.status.value,
                "rejected_at": now.isoformat(),
                "reason": body.reason,
            }

        return await self._application_step(application_id, key, step)

    # ----------------------------------------------------------------- contracts

    async def sign(self, partner_id: str, body: ContractBody, key: CommandKey | None) -> Answer:
        contract = body.as_contract()

        def step(record: PartnerRecord, now: datetime) -> tuple[Payload, dict[str, Any]]:
            signed = record.sign(contract)
            return signed, {
                "partner_id": record.partner_id,
                "status": record.status.value,
                "tier": contract.tier.value,
                "contract": encode_contract(signed.contract),
            }

        return await self._partner_step(partner_id, key, step, status=201)

    async def renew(
        self, partner_id: str, contract_id: str, body: RenewalBody, key: CommandKey | None
    ) -> Answer:
        contract = body.contract.as_contract()

        def step(record: PartnerRecord, now: datetime) -> tuple[Payload, dict[str, Any]]:
            with fields_under("body", "contract"):
                renewed = record.renew(renewed_contract_id=contract_id, contract=contract)
            return renewed, {
                "partner_id": record.partner_id,
                "status": record.status.value,
                "tier": contract.tier.value,
                "renewed_contract_id": contract_id,
                "contract": encode_contract(renewed.contract),
            }

        return await self._partner_step(partner_id, key, step, status=201)

    async def change_tier(
        self, partner_id: str, body: TierChangeBody, key: CommandKey | None
    ) -> Answer:
        def step(record: PartnerRecord, now: datetime) -> tuple[Payload, dict[str, Any]]:
            previous = record.tier
            with fields_under("body"):
                changed = record.change_tier(
                    tier=body.tier, effective_date=body.effective_date, reason=body.reason
                )
            return changed, {
                "partner_id": record.partner_id,
                "tier": body.tier.value,
                "previous_tier": None if previous is None else previous.value,
                "effective_date": body.effective_date.isoformat(),
                "reason": body.reason,
            }

        return await self._partner_step(partner_id, key, step)

    async def terminate(
        self, partner_id: str, body: TerminationBody, key: CommandKey | None
    ) -> Answer:
        def step(record: PartnerRecord, now: datetime) -> tuple[Payload, dict[str, Any]]:
            today = now.astimezone(UTC).date()
            with fields_under("body"):
                terminated = record.terminate(
                    reason=body.reason,
                    effective_date=body.effective_date,
                    today=today,
                    notice_days=self.rules.notice_days,
                )
            return terminated, {
                "partner_id": record.partner_id,
                "status": record.status.value,
                "effective_date": body.effective_date.isoformat(),
                "reason": body.reason,
                "noticed_on": today.isoformat(),
            }

        return await self._partner_step(partner_id, key, step)

    # ----------------------------------------------------------------- the write

    async def _application_step(
        self, application_id: str, key: CommandKey | None, step: Step
    ) -> Answer:
        return await self._step(
            lambda: self.store.load_by_application(application_id),
            f"application {application_id}",
            key,
            step,
            200,
        )

    async def _partner_step(
        self, partner_id: str, key: CommandKey | None, step: Step, status: int = 200
    ) -> Answer:
        return await self._step(
            lambda: self.store.load(partner_id),
            f"partner {partner_id}",
            key,
            step,
            status,
        )

    async def _step(
        self,
        locate: Callable[[], Awaitable[StoredPartner | None]],
        what: str,
        key: CommandKey | None,
        step: Step,
        status: int,
    ) -> Answer:
        for _attempt in range(MAX_ATTEMPTS):
            partner = await locate()
            if partner is None:
                raise NotFound(f"{what} does not exist")
            if key is not None and (replayed := key.find_by_digest(partner.answers)) is not None:
                return replayed
            now = self.clock()
            payload, body = step(partner.record, now)
            answer = self._record(partner, payload, body, status, key, now)
            if await self.store.save(partner):
                self._committed(partner.partner_id)
                return answer
            WRITE_CONFLICTS.labels(self.service, PARTNERS).inc()
        raise RuntimeError(f"{what} kept changing under us")

    def _record(
        self,
        partner: StoredPartner,
        payload: Payload,
        body: dict[str, Any],
        status: int,
        key: CommandKey | None,
        now: datetime,
    ) -> Answer:
        """Put the event and the answer into the document about to be written."""
        event = new_event(
            payload,
            source=SOURCE,
            time=now,
            event_id=event_id(partner.partner_id, partner.version + 1),
        )
        partner.add_event(event)
        answer = Answer(status, {**body, "event_id": event.id})
        if key is not None:
            partner.answers[key.digest] = key.remember_by_digest(answer)
        return answer

    def _committed(self, partner_id: str) -> None:
        failpoint("onboarding_after_store")
        self.stored(partner_id)
