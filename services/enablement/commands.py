"""Enablement's HTTP commands: the bodies they accept and what each one changes and publishes.

Every command is **one single-document write** holding the change, the events
to publish (the document's outbox) and, with an ``Idempotency-Key``, the
answer given (the document's ``answers``). Then the outbox is published
(awaited; if Kafka does not answer, the background relay publishes it later)
and the answer is returned.

**Idempotency** (:mod:`shared.commands`). A command sent again with the same
``Idempotency-Key`` finds its remembered answer in the document it changed and
returns it unchanged (with the ``Idempotent-Replayed: true`` header) without
writing or publishing anything; the same key with a different body is refused
with 422. A document keeps its answers as a list, each naming its key's
digest. Where a command creates a new item (a material, a feedback, an MDF
request) the item's id is derived from the key's digest, so two concurrent
deliveries of one command meet on the same id. Only successful answers are
remembered; a refused command changed nothing and may be retried.

Writers that race on one document (two replicas, HTTP and the consumer) use
the ``version`` field: the loser reloads and decides again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from services.enablement.domain import (
    ALL_TIERS,
    DEFAULT_PASSING_SCORE,
    CertificationDefinition,
    Completion,
    Course,
    EnablementError,
    Feedback,
    MdfBudget,
    MdfRequest,
    MdfStatus,
    PartnerStanding,
    SalesMaterial,
    approve_mdf_request,
    quarter_of,
    remaining_mdf_budget,
    require_active_partner,
    submit_mdf_request,
    utc_date,
)
from services.enablement.handlers import (
    SOURCE,
    Enablement,
    completion_event,
    event_id,
    settle_learner,
)
from services.enablement.store import (
    FEEDBACK,
    LEARNERS,
    MDF_LEDGERS,
    EnablementStore,
    Learner,
    MdfLedger,
    answer_locator,
    encode_award,
    encode_certification,
    encode_course,
    encode_material,
    encode_mdf_request,
    request_locator,
)
from shared.commands import Answer as Answer
from shared.commands import CommandKey as CommandKey
from shared.commands import InvalidField as InvalidField
from shared.events import Currency, Money, Tier, new_event
from shared.outbox import OutboxEntry, encode_outbox

MAX_ATTEMPTS = 20
#: How far a completion may lie in the future (clocks of an LMS and ours differ a little).
CLOCK_TOLERANCE = timedelta(minutes=5)

Score = Annotated[StrictInt, Field(ge=0, le=100)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
Identifier = Annotated[str, Field(min_length=1, max_length=200)]


# --------------------------------------------------------------------------- bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class CourseBody(_Body):
    course_id: Identifier
    title: Text
    product_line: Identifier
    passing_score: Score = DEFAULT_PASSING_SCORE


class CertificationBody(_Body):
    certification_id: Identifier
    product_line: Identifier
    required_courses: list[Identifier] = Field(min_length=1, max_length=100)
    validity_days: StrictInt = Field(ge=1, le=36_500)


class CompletionBody(_Body):
    partner_id: Identifier
    learner_id: Identifier
    course_id: Identifier
    completed_at: AwareDatetime
    score: Score


class MaterialBody(_Body):
    title: Text
    product_line: Identifier
    kind: Identifier
    url: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^\S+$")]
    tiers: list[Tier] = Field(
        default_factory=lambda: sorted(ALL_TIERS),
        min_length=1,
        validation_alias=AliasChoices("tiers", "allowed_tiers"),
        description="the tiers allowed to see it (default: every tier)",
    )


class FeedbackBody(_Body):
    partner_id: Identifier
    rating: StrictInt = Field(ge=1, le=5)
    topic: Identifier
    text: Annotated[str, Field(max_length=5000)] = ""


class MdfRequestBody(_Body):
    partner_id: Identifier
    campaign: Text
    amount: Annotated[Money, Field(gt=0)]
    currency: Currency


class MdfRejectionBody(_Body):
    reason: Text = "rejected by the channel manager"


# --------------------------------------------------------------------------- answers


class Conflict(EnablementError):
    """The command contradicts what is stored (HTTP 409)."""


class NotFound(Exception):
    """The named thing does not exist (HTTP 404)."""


def _course_view(course: Course) -> dict[str, Any]:
    return encode_course(course)


def _certification_view(certification: CertificationDefinition) -> dict[str, Any]:
    return encode_certification(certification)


def mdf_view(request: MdfRequest) -> dict[str, Any]:
    return encode_mdf_request(request)


def material_view(material: SalesMaterial) -> dict[str, Any]:
    view = encode_material(material)
    return {"material_id": view.pop("_id"), **view}


def learner_view(learner: Learner) -> dict[str, Any]:
    return {
        "partner_id": learner.partner_id,
        "learner_id": learner.learner_id,
        "completions": [
            {"course_id": c.course_id, "completed_at": c.completed_at.isoformat(), "score": c.score}
            for c in sorted(learner.completions, key=lambda c: (c.completed_at, c.course_id))
        ],
        "certifications": [
            {"learner_id": learner.learner_id, **encode_award(a)} for a in learner.awards
        ],
    }


# --------------------------------------------------------------------------- commands


class Commands:
    """The HTTP commands over the store, with the consumer's outbox and recomputation."""

    def __init__(
        self,
        store: EnablementStore,
        enablement: Enablement,
        budget: MdfBudget,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.enablement = enablement
        self.budget = budget
        self.clock = clock

    async def _active_partner(self, partner_id: str, now: datetime) -> PartnerStanding:
        return require_active_partner(await self.store.standing(partner_id), partner_id, now.date())

    # ----------------------------------------------------------------- the catalogue

    async def define_course(self, body: CourseBody, key: CommandKey | None) -> Answer:
        course = Course(body.course_id, body.title, body.product_line, body.passing_score)
        return await self._define(
            key,
            lambda catalogue: self._add(
                catalogue.courses, course.course_id, course, _course_view(course), "course"
            ),
        )

    async def define_certification(self, body: CertificationBody, key: CommandKey | None) -> Answer:
        certification = CertificationDefinition(
            body.certification_id,
            body.product_line,
            frozenset(body.required_courses),
            body.validity_days,
        )

        def add(catalogue: Any) -> Answer:
            unknown = sorted(certification.required_courses - set(catalogue.courses))
            if unknown:
                raise InvalidField(
                    ("body", "required_courses"),
                    f"unknown course(s) {', '.join(unknown)}: define them with POST /courses first",
                )
            return self._add(
                catalogue.certifications,
                certification.certification_id,
                certification,
                _certification_view(certification),
                "certification",
            )

        return await self._define(key, add)

    @staticmethod
    def _add(
        definitions: dict[str, Any], ident: str, definition: Any, view: dict[str, Any], what: str
    ) -> Answer:
        existing = definitions.get(ident)
        if existing is None:
            definitions[ident] = definition
            return Answer(201, view)
        if existing == definition:
            return Answer(200, view)
        raise Conflict(f"{what} {ident} is already defined differently")

    async def _define(self, key: CommandKey | None, change: Callable[[Any], Answer]) -> Answer:
        for _attempt in range(MAX_ATTEMPTS):
            catalogue = await self.store.load_catalogue()
            if key is not None and (replayed := key.find(catalogue.answers)) is not None:
                return replayed
            answer = change(catalogue)
            if answer.status == 200 and key is None:
                return answer  # already defined exactly so: nothing to write
            if answer.status == 201:
                catalogue.definitions_version += 1
            if key is not None:
                catalogue.answers.append(key.remember(answer))
            if await self.store.save_catalogue(catalogue):
                if answer.status == 201:
                    self.enablement.catalogue_changed.set()
                return answer
        raise RuntimeError("the catalogue kept changing under us")

    # ----------------------------------------------------------------- completions

    async def report_completion(self, body: CompletionBody, key: CommandKey | None) -> Answer:
        completion = Completion(
            body.partner_id, body.learner_id, body.course_id, body.completed_at, body.score
        )
        for _attempt in range(MAX_ATTEMPTS):
            if key is not None:
                answered = await self.store.learner_with_answer(key.digest)
                if answered is not None and (replayed := key.find(answered.answers)) is not None:
                    return replayed
            learner = await self.store.load_learner(body.partner_id, body.learner_id)
            now = self.clock()
            if completion.completed_at > now + CLOCK_TOLERANCE:
                raise InvalidField(("body", "completed_at"), "must not be in the future")
            catalogue = await self.store.load_catalogue()
            course = catalogue.courses.get(completion.course_id)
            if course is None:
                raise InvalidField(
                    ("body", "course_id"),
                    f"unknown course {completion.course_id}: define it with POST /courses first",
                )
            await self._active_partner(body.partner_id, now)
            already = len(learner.outbox)
            event = completion_event(completion, now)
            new = completion not in learner.completions
            if new:
                learner.completions.add(completion)
                learner.outbox.append(OutboxEntry.of(event))
            awarded = settle_learner(learner, catalogue, now)
            answer = Answer(
                201,
                {
                    **body.model_dump(mode="json"),
                    "completed_at": completion.completed_at.isoformat(),
                    "passed": completion.score >= course.passing_score,
                    "event_id": event.id,
                    "certifications_awarded": [encode_award(a) for a in awarded],
                },
            )
            if key is not None:
                learner.answers.append(key.remember(answer))
                await self.store.locate({answer_locator(LEARNERS, key.digest): learner.key})
            elif not new and not awarded:
                return answer  # recorded already (from the LMS or an earlier call)
            lost = await self.store.save_learners([learner])
            if not lost:
                await self.enablement.learners_written(catalogue.definitions_version)
                await self.enablement.publish_soon(
                    LEARNERS, {learner.key: learner.outbox[already:]}
                )
                return answer
        raise RuntimeError("the learner kept changing under us")

    # ----------------------------------------------------------------- materials

    async def add_material(self, body: MaterialBody, key: CommandKey | None) -> Answer:
        material_id = key.derived_id if key is not None else str(uuid.uuid4())
        if key is not None and (replayed := await self._replay_single(self.store.materials, key)):
            return replayed
        material = SalesMaterial(
            material_id, body.title, body.product_line, body.kind, body.url, frozenset(body.tiers)
        )
        answer = Answer(201, material_view(material))
        doc = {
            **encode_material(material),
            "created_at": self.clock().isoformat(),
            "answers": [] if key is None else [key.remember(answer)],
        }
        if await self.store.insert_new(self.store.materials, doc):
            return answer
        assert key is not None  # a random id never collides
        replayed = await self._replay_single(self.store.materials, key)
        assert replayed is not None
        return replayed

    async def _replay_single(self, collection: Any, key: CommandKey) -> Answer | None:
        doc = await self.store.find(collection, key.derived_id)
        return None if doc is None else key.find(doc.get("answers", []))

    # ----------------------------------------------------------------- feedback

    async def submit_feedback(self, body: FeedbackBody, key: CommandKey | None) -> Answer:
        feedback_id = key.derived_id if key is not None else str(uuid.uuid4())
        if key is not None and (replayed := await self._replay_single(self.store.feedback, key)):
            return replayed
        now = self.clock()
        await self._active_partner(body.partner_id, now)
        feedback = Feedback(feedback_id, body.partner_id, body.rating, body.topic, body.text, now)
        event = new_event(
            feedback.to_event(),
            source=SOURCE,
            time=now,
            event_id=event_id("PartnerFeedbackSubmitted", feedback_id),
        )
        answer = Answer(
            201,
            {
                "feedback_id": feedback_id,
                "partner_id": feedback.partner_id,
                "rating": feedback.rating,
                "topic": feedback.topic,
                "text": feedback.text,
                "submitted_at": now.isoformat(),
                "event_id": event.id,
            },
        )
        entries = [OutboxEntry.of(event)]
        doc = {
            "_id": feedback_id,
            "partner_id": feedback.partner_id,
            "rating": feedback.rating,
            "topic": feedback.topic,
            "text": feedback.text,
            "submitted_at": now.isoformat(),
            "answers": [] if key is None else [key.remember(answer)],
            **encode_outbox(entries),
        }
        if await self.store.insert_new(self.store.feedback, doc):
            await self.enablement.publish_soon(FEEDBACK, {feedback_id: entries})
            return answer
        assert key is not None
        replayed = await self._replay_single(self.store.feedback, key)
        assert replayed is not None
        return replayed

    # ----------------------------------------------------------------- MDF

    async def request_mdf(self, body: MdfRequestBody, key: CommandKey | None) -> Answer:
        request_id = key.derived_id if key is not None else str(uuid.uuid4())
        for _attempt in range(MAX_ATTEMPTS):
            if key is not None:
                found = await self.store.ledger_with_answer(key.digest)
                if found is not None and (replayed := key.find(found.answers)) is not None:
                    return replayed
            now = self.clock()
            standing = await self._active_partner(body.partner_id, now)
            ledger = await self.store.load_ledger(body.partner_id, quarter_of(now))
            already = len(ledger.outbox)
            request = submit_mdf_request(
                MdfRequest(
                    request_id, body.partner_id, body.campaign, body.amount, body.currency, now
                ),
                standing,
                self.budget,
                ledger.requests.values(),
            )
            ledger.requests[request_id] = request
            ledger.outbox.append(
                OutboxEntry.of(
                    new_event(
                        request.requested_event(),
                        source=SOURCE,
                        time=now,
                        event_id=event_id("MdfRequested", request_id),
                    )
                )
            )
            if request.status is not MdfStatus.REQUESTED:
                ledger.outbox.append(self._decision_entry(request, now))
            answer = Answer(201, mdf_view(request))
            locators = {request_locator(request_id): ledger.key}
            if key is not None:
                ledger.answers.append(key.remember(answer))
                locators[answer_locator(MDF_LEDGERS, key.digest)] = ledger.key
            await self.store.locate(locators)
            if await self.store.save_ledger(ledger):
                await self.enablement.publish_soon(
                    MDF_LEDGERS, {ledger.key: ledger.outbox[already:]}
                )
                return answer
        raise RuntimeError("the MDF ledger kept changing under us")

    @staticmethod
    def _decision_entry(request: MdfRequest, now: datetime) -> OutboxEntry:
        return OutboxEntry.of(
            new_event(
                request.decision_event(),
                source=SOURCE,
                time=now,
                event_id=event_id("MdfDecision", request.request_id),
            )
        )

    async def decide_mdf(
        self, request_id: str, approve: bool, reason: str | None, key: CommandKey | None
    ) -> Answer:
        for _attempt in range(MAX_ATTEMPTS):
            ledger = await self.store.ledger_of_request(request_id)
            if ledger is None:
                raise NotFound(f"MDF request {request_id} does not exist")
            if key is not None and (replayed := key.find(ledger.answers)) is not None:
                return replayed
            now = self.clock()
            request = ledger.requests[request_id]
            already = len(ledger.outbox)
            if approve:
                decided = approve_mdf_request(
                    request,
                    now,
                    await self.store.standing(request.partner_id),
                    self.budget,
                    ledger.requests.values(),
                )
            else:
                decided = request.reject(now, reason or "rejected by the channel manager")
            ledger.requests[request_id] = decided
            ledger.outbox.append(self._decision_entry(decided, now))
            answer = Answer(200, mdf_view(decided))
            if key is not None:
                ledger.answers.append(key.remember(answer))
                await self.store.locate({answer_locator(MDF_LEDGERS, key.digest): ledger.key})
            if await self.store.save_ledger(ledger):
                await self.enablement.publish_soon(
                    MDF_LEDGERS, {ledger.key: ledger.outbox[already:]}
                )
                return answer
        raise RuntimeError("the MDF ledger kept changing under us")

    def mdf_budget_of(
        self, standing: PartnerStanding, ledger: MdfLedger, now: datetime
    ) -> dict[str, Any]:
        """The partner's budget for ``ledger``'s quarter as it stands on ``now``'s day."""
        tier = standing.tier_on(utc_date(now))
        total = Decimal(0) if tier is None else self.budget.for_tier(tier)
        remaining = (
            Decimal(0)
            if tier is None
            else remaining_mdf_budget(
                ledger.partner_id, ledger.quarter, tier, self.budget, ledger.requests.values()
            )
        )
        return {
            "quarter": ledger.quarter,
            "currency": self.budget.currency,
            "tier": None if tier is None else tier.value,
            "budget": str(total),
            "approved": str(total - remaining),
            "remaining": str(max(remaining, Decimal(0))),
        }
