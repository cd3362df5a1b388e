"""Enablement's commands: the bodies they accept and what each one changes and publishes.

Every command is **one single-document write** holding the change, the events
to publish (the document's outbox) and, with an ``Idempotency-Key``, the
answer given (:class:`shared.commands.CommandKey`). Then the document is
handed over to the outbox relay (``publisher.publish_soon``,
:mod:`shared.outbox`) and the answer is returned: an answer never waits for
Kafka. A command sent again with the same key gets its first answer back
without writing or publishing anything. Where a command creates an item (a
material, a feedback, an MDF request) the item's id is derived from the key,
so two concurrent deliveries of one command meet on the same id.

Writers that race on one document (two replicas, HTTP and the consumer) use
its ``version``: the loser reads again and decides again
(:func:`shared.commands.retry_on_conflict`).

Every event a command publishes names its ``actor`` (who sent the command).
Feedback and MDF requests are self-service: a partner sends them for itself, staff
for the partner they name; the route resolves which partner
(:func:`shared.access.acting_partner`) and the command is given it. An MDF claim
is self-service too, for the partner of its request: the route lets a partner
caller claim against its own requests only.

MDF claims are written to the partner's claim book (one document holding every
claim of the partner), never to the request's ledger: the evidence rule spans all
the partner's claims, so the book is what the check and the write share
(:mod:`services.enablement.store`).

The rules themselves are in :mod:`services.enablement.domain`
(``docs/rules/enablement.md``); the answers' bodies in
:mod:`services.enablement.views`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AliasChoices, AwareDatetime, BaseModel, Field, StrictInt

from services.enablement.awards import AwardSettling, settle_learner
from services.enablement.domain import (
    ALL_TIERS,
    DEFAULT_CLAIM_WINDOW_DAYS,
    DEFAULT_PASSING_SCORE,
    CertificationDefinition,
    Completion,
    Course,
    Evidence,
    Feedback,
    MdfBudget,
    MdfClaim,
    MdfRequest,
    MdfStatus,
    PartnerStanding,
    SalesMaterial,
    approve_mdf_request,
    check_mdf_claim,
    define,
    funds_released,
    passes,
    quarter_of,
    require_active_partner,
    submit_mdf_request,
    unclaimed_funds,
    utc_date,
)
from services.enablement.publishing import (
    completion_event,
    feedback_event,
    funds_released_event,
    mdf_claim_decision_event,
    mdf_claim_submitted_event,
    mdf_decision_event,
    mdf_requested_event,
)
from services.enablement.store import (
    FEEDBACK,
    LEARNERS,
    MDF_CLAIMS,
    MDF_LEDGERS,
    Answers,
    Catalogue,
    Learner,
    MdfClaimBook,
    MdfLedger,
    Store,
)
from services.enablement.views import (
    AwardView,
    CertificationView,
    CompletionAnswer,
    CourseView,
    FeedbackAnswer,
    MaterialView,
    MdfClaimView,
    MdfReleasesView,
    MdfReleaseView,
    MdfRequestView,
)
from shared.commands import (
    LOST,
    Answer,
    CommandBody,
    CommandKey,
    Identifier,
    InvalidField,
    Lost,
    NotFound,
    Text,
    retry_on_conflict,
)
from shared.events import Actor, Currency, HttpUrlText, Money, Sha256, Tier
from shared.failpoints import failpoint
from shared.outbox import OutboxEntry, Publisher
from shared.periodic import every

log = logging.getLogger(__name__)

#: How far a completion may lie in the future (clocks of an LMS and ours differ a little).
CLOCK_TOLERANCE = timedelta(minutes=5)

Score = Annotated[StrictInt, Field(ge=0, le=100)]


# --------------------------------------------------------------------------- bodies


class CourseBody(CommandBody):
    course_id: Identifier
    title: Text
    product_line: Identifier
    passing_score: Score = DEFAULT_PASSING_SCORE


class CertificationBody(CommandBody):
    certification_id: Identifier
    product_line: Identifier
    required_courses: list[Identifier] = Field(min_length=1, max_length=100)
    validity_days: StrictInt = Field(ge=1, le=36_500)


class CompletionBody(CommandBody):
    partner_id: Identifier
    learner_id: Identifier
    course_id: Identifier
    completed_at: AwareDatetime
    score: Score


class MaterialBody(CommandBody):
    title: Text
    product_line: Identifier
    kind: Identifier
    url: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^\S+$")]
    tiers: list[Tier] = Field(
        default_factory=lambda: sorted(ALL_TIERS),
        min_length=1,
        max_length=len(Tier),
        validation_alias=AliasChoices("tiers", "allowed_tiers"),
        description="the tiers allowed to see it (default: every tier)",
    )


#: A self-service body's partner: staff name it; a partner may leave it out (its own).
ActingPartner = Annotated[
    Identifier | None,
    Field(description="the partner acted for: required from staff; a partner's own if given"),
]


class FeedbackBody(CommandBody):
    partner_id: ActingPartner = None
    rating: StrictInt = Field(ge=1, le=5)
    topic: Identifier
    text: Annotated[str, Field(max_length=5000)] = ""
    product_line: Identifier | None = Field(
        default=None, description="the product line it is about (for the product teams)"
    )


class MdfRequestBody(CommandBody):
    partner_id: ActingPartner = None
    campaign: Text
    amount: Annotated[Money, Field(gt=0)]
    currency: Currency


class MdfRejectionBody(CommandBody):
    reason: Text = "rejected by the channel manager"


class EvidenceBody(CommandBody):
    kind: Text = Field(description="what it is: invoice, photo, attendee list, …")
    url: HttpUrlText
    sha256: Annotated[Sha256, AfterValidator(str.lower)]


class MdfClaimBody(CommandBody):
    amount: Annotated[Money, Field(gt=0)]
    currency: Currency | None = Field(
        default=None, description="the request's currency if left out; another one is refused"
    )
    activity_end: date = Field(description="the day the claimed activity ended")
    evidence: list[EvidenceBody] = Field(
        default_factory=list, max_length=100, description="the proof of performance: at least one"
    )


class MdfClaimApprovalBody(CommandBody):
    approved_amount: Annotated[Money, Field(gt=0)] | None = Field(
        default=None, description="what is approved of the claim; left out: all of it"
    )


class MdfClaimRejectionBody(CommandBody):
    reason: Text = "rejected by the channel manager"


# --------------------------------------------------------------------------- commands

#: Where an item's remembered answers are, by its id (None: no such item).
AnswersOf = Callable[[str], Awaitable[Answers | None]]


def remembered(key: CommandKey | None, answer: Answer) -> Answers:
    """The answers a new document starts with: ``answer``, when its command had a key."""
    answers: Answers = {}
    if key is not None:
        key.remember(answers, answer)
    return answers


class EnablementCommands:
    """What enablement's HTTP commands do, over a :class:`Store` and a :class:`Publisher`."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        award_settling: AwardSettling,
        budget: MdfBudget,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        claim_window_days: int = DEFAULT_CLAIM_WINDOW_DAYS,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.award_settling = award_settling
        self.budget = budget
        self.clock = clock
        self.claim_window_days = claim_window_days

    async def _active_partner(self, partner_id: str, now: datetime) -> PartnerStanding:
        return require_active_partner(
            await self.store.standing(partner_id), partner_id, utc_date(now)
        )

    # ----------------------------------------------------------------- the catalogue

    async def define_course(self, body: CourseBody, key: CommandKey | None) -> Answer:
        """201 when defined now, 200 when defined exactly so already."""
        course = Course(body.course_id, body.title, body.product_line, body.passing_score)
        return await self._define(
            key,
            lambda catalogue: define(catalogue.courses, course.course_id, course, "course"),
            CourseView.of(course),
        )

    async def define_certification(self, body: CertificationBody, key: CommandKey | None) -> Answer:
        """201 when defined now, 200 when defined exactly so already; its courses must be."""
        certification = CertificationDefinition(
            body.certification_id,
            body.product_line,
            frozenset(body.required_courses),
            body.validity_days,
        )

        def add(catalogue: Catalogue) -> bool:
            unknown = sorted(certification.required_courses - set(catalogue.courses))
            if unknown:
                raise InvalidField(
                    ("body", "required_courses"),
                    f"unknown course(s) {', '.join(unknown)}: define them with POST /courses first",
                )
            return define(
                catalogue.certifications,
                certification.certification_id,
                certification,
                "certification",
            )

        return await self._define(key, add, CertificationView.of(certification))

    async def _define(
        self, key: CommandKey | None, add: Callable[[Catalogue], bool], view: BaseModel
    ) -> Answer:
        async def attempt() -> Answer | Lost:
            catalogue = await self.store.load_catalogue()
            if key is not None and (replayed := key.find(catalogue.answers)) is not None:
                return replayed
            added = add(catalogue)
            answer = Answer(201 if added else 200, view.model_dump(mode="json"))
            if not added and key is None:
                return answer  # defined exactly so already: nothing to write
            if added:
                catalogue.definitions_version += 1
            if key is not None:
                key.remember(catalogue.answers, answer)
            if not await self.store.save_catalogue(catalogue):
                return LOST
            if added:
                self.award_settling.definitions_added()
            return answer

        return await retry_on_conflict(attempt, what="the catalogue")

    # ----------------------------------------------------------------- completions

    async def report_completion(
        self, body: CompletionBody, key: CommandKey | None, actor: Actor
    ) -> Answer:
        """Record a completion (TrainingCompleted) and publish the awards it brings."""
        completion = Completion(
            body.partner_id, body.learner_id, body.course_id, body.completed_at, body.score
        )

        async def attempt() -> Answer | Lost:
            if key is not None:
                answered = await self.store.learner_with_answer(key.digest)
                if answered is not None and (replayed := key.find(answered.answers)) is not None:
                    return replayed
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
            learner = await self.store.load_learner(body.partner_id, body.learner_id)
            return await self._record(learner, completion, course, catalogue, now, key, actor)

        return await retry_on_conflict(attempt, what="the learner")

    async def _record(
        self,
        learner: Learner,
        completion: Completion,
        course: Course,
        catalogue: Catalogue,
        now: datetime,
        key: CommandKey | None,
        actor: Actor,
    ) -> Answer | Lost:
        event = completion_event(completion, now, actor)
        new = completion not in learner.completions
        if new:
            learner.completions.add(completion)
            learner.outbox.append(OutboxEntry.of(event))
        awarded = settle_learner(learner, catalogue, now, actor)
        answer = Answer(
            201,
            CompletionAnswer(
                partner_id=completion.partner_id,
                learner_id=completion.learner_id,
                course_id=completion.course_id,
                completed_at=completion.completed_at.isoformat(),
                score=completion.score,
                passed=passes(completion, course),
                event_id=event.id,
                certifications_awarded=[AwardView.of(a) for a in awarded],
            ).model_dump(mode="json"),
        )
        if key is not None:
            key.remember(learner.answers, answer)
        elif not new and not awarded:
            return answer  # recorded already (from the LMS or an earlier call)
        if await self.store.save_learners([learner]):
            return LOST
        await self.award_settling.learners_written(catalogue.definitions_version)
        self.publisher.publish_soon(LEARNERS, [learner.key])
        return answer

    # ----------------------------------------------------------------- materials and feedback

    async def add_material(self, body: MaterialBody, key: CommandKey | None) -> Answer:
        material_id = key.derived_id if key is not None else str(uuid.uuid4())
        if key is not None and (replayed := await self._replayed(self.store.material_answers, key)):
            return replayed
        material = SalesMaterial(
            material_id, body.title, body.product_line, body.kind, body.url, frozenset(body.tiers)
        )
        answer = Answer(201, MaterialView.of(material).model_dump(mode="json"))
        if await self.store.add_material(material, self.clock(), remembered(key, answer)):
            return answer
        return await self._replay_after_race(self.store.material_answers, key)

    async def submit_feedback(
        self, body: FeedbackBody, key: CommandKey | None, *, partner_id: str, actor: Actor
    ) -> Answer:
        """Record ``partner_id``'s feedback and publish PartnerFeedbackSubmitted."""
        feedback_id = key.derived_id if key is not None else str(uuid.uuid4())
        if key is not None and (replayed := await self._replayed(self.store.feedback_answers, key)):
            return replayed
        now = self.clock()
        await self._active_partner(partner_id, now)
        feedback = Feedback(
            feedback_id, partner_id, body.rating, body.topic, body.text, now, body.product_line
        )
        event = feedback_event(feedback, actor)
        answer = Answer(
            201,
            FeedbackAnswer(
                feedback_id=feedback_id,
                partner_id=feedback.partner_id,
                rating=feedback.rating,
                topic=feedback.topic,
                text=feedback.text,
                submitted_at=feedback.submitted_at.isoformat(),
                product_line=feedback.product_line,
                event_id=event.id,
            ).model_dump(mode="json"),
        )
        outbox = [OutboxEntry.of(event)]
        if await self.store.add_feedback(feedback, remembered(key, answer), outbox):
            self.publisher.publish_soon(FEEDBACK, [feedback_id])
            return answer
        return await self._replay_after_race(self.store.feedback_answers, key)

    @staticmethod
    async def _replayed(answers_of: AnswersOf, key: CommandKey) -> Answer | None:
        """The answer remembered in the item this key creates, if it exists."""
        answers = await answers_of(key.derived_id)
        return None if answers is None else key.find(answers)

    async def _replay_after_race(self, answers_of: AnswersOf, key: CommandKey | None) -> Answer:
        """The item's id exists already: another delivery of this command created it."""
        assert key is not None, "a random id never collides"
        replayed = await self._replayed(answers_of, key)
        assert replayed is not None, "an item made with a key remembers its answer"
        return replayed

    # ----------------------------------------------------------------- MDF

    async def request_mdf(
        self, body: MdfRequestBody, key: CommandKey | None, *, partner_id: str, actor: Actor
    ) -> Answer:
        """A new request of ``partner_id`` (MdfRequested), rejected at once (MdfRejected)
        when over budget."""
        request_id = key.derived_id if key is not None else str(uuid.uuid4())

        async def attempt() -> Answer | Lost:
            if key is not None:
                found = await self.store.ledger_with_answer(key.digest)
                if found is not None and (replayed := key.find(found.answers)) is not None:
                    return replayed
            now = self.clock()
            standing = await self._active_partner(partner_id, now)
            ledger = await self.store.load_ledger(partner_id, quarter_of(now))
            request = submit_mdf_request(
                MdfRequest(request_id, partner_id, body.campaign, body.amount, body.currency, now),
                standing,
                self.budget,
                ledger.requests.values(),
            )
            ledger.requests[request_id] = request
            entries = [OutboxEntry.of(mdf_requested_event(request, actor))]
            if request.status is not MdfStatus.REQUESTED:
                entries.append(OutboxEntry.of(mdf_decision_event(request, actor)))
            answer = Answer(
                201, MdfRequestView.of(request, self.claim_window_days).model_dump(mode="json")
            )
            return await self._save_ledger(ledger, entries, key, answer)

        return await retry_on_conflict(attempt, what="the MDF ledger")

    async def approve_mdf(self, request_id: str, key: CommandKey | None, actor: Actor) -> Answer:
        """Approve (MdfApproved), or reject (MdfRejected) when the budget no longer allows it."""

        async def decide(request: MdfRequest, ledger: MdfLedger, now: datetime) -> MdfRequest:
            standing = await self.store.standing(request.partner_id)
            return approve_mdf_request(
                request, now, standing, self.budget, ledger.requests.values()
            )

        return await self._decide_mdf(request_id, key, actor, decide)

    async def reject_mdf(
        self,
        request_id: str,
        body: MdfRejectionBody | None,
        key: CommandKey | None,
        actor: Actor,
    ) -> Answer:
        """Reject (MdfRejected), with the reason given or the channel manager's default."""
        reason = (body or MdfRejectionBody()).reason

        async def decide(request: MdfRequest, ledger: MdfLedger, now: datetime) -> MdfRequest:
            return request.reject(now, reason)

        return await self._decide_mdf(request_id, key, actor, decide)

    async def _decide_mdf(
        self,
        request_id: str,
        key: CommandKey | None,
        actor: Actor,
        decide: Callable[[MdfRequest, MdfLedger, datetime], Awaitable[MdfRequest]],
    ) -> Answer:
        async def attempt() -> Answer | Lost:
            ledger = await self.store.ledger_of_request(request_id)
            if ledger is None:
                raise NotFound(f"MDF request {request_id} does not exist")
            if key is not None and (replayed := key.find(ledger.answers)) is not None:
                return replayed
            decided = await decide(ledger.requests[request_id], ledger, self.clock())
            ledger.requests[request_id] = decided
            answer = Answer(
                200, MdfRequestView.of(decided, self.claim_window_days).model_dump(mode="json")
            )
            return await self._save_ledger(
                ledger, [OutboxEntry.of(mdf_decision_event(decided, actor))], key, answer
            )

        return await retry_on_conflict(attempt, what="the MDF ledger")

    async def _save_ledger(
        self,
        ledger: MdfLedger,
        entries: list[OutboxEntry],
        key: CommandKey | None,
        answer: Answer,
    ) -> Answer | Lost:
        ledger.outbox.extend(entries)
        if key is not None:
            key.remember(ledger.answers, answer)
        if not await self.store.save_ledger(ledger):
            return LOST
        self.publisher.publish_soon(MDF_LEDGERS, [ledger.key])
        return answer

    # ----------------------------------------------------------------- MDF claims

    async def submit_mdf_claim(
        self, request_id: str, body: MdfClaimBody, key: CommandKey | None, actor: Actor
    ) -> Answer:
        """A claim against an approved request (MdfClaimSubmitted), written to the
        partner's claim book with every other claim of the partner, so its rules are
        checked against them in the write that adds it."""
        claim_id = key.derived_id if key is not None else str(uuid.uuid4())

        async def attempt() -> Answer | Lost:
            request, book = await self._claims_of(request_id)
            if key is not None and (replayed := key.find(book.answers)) is not None:
                return replayed
            now = self.clock()
            claim = MdfClaim(
                claim_id=claim_id,
                request_id=request_id,
                partner_id=request.partner_id,
                amount=body.amount,
                currency=body.currency or request.currency,
                activity_end=body.activity_end,
                evidence=tuple(Evidence(e.kind, e.url, e.sha256) for e in body.evidence),
                submitted_at=now,
            )
            check_mdf_claim(
                claim, request, book.claims.values(), utc_date(now), self.claim_window_days
            )
            book.claims[claim_id] = claim
            answer = Answer(201, MdfClaimView.of(claim).model_dump(mode="json"))
            entry = OutboxEntry.of(mdf_claim_submitted_event(claim, actor))
            return await self._save_claims(book, entry, key, answer)

        return await retry_on_conflict(attempt, what="the MDF claims")

    async def approve_mdf_claim(
        self,
        request_id: str,
        claim_id: str,
        body: MdfClaimApprovalBody | None,
        key: CommandKey | None,
        actor: Actor,
    ) -> Answer:
        """Approve a claim, all of it or ``approved_amount`` of it (MdfClaimApproved)."""
        amount = None if body is None else body.approved_amount
        return await self._decide_claim(
            request_id, claim_id, key, actor, lambda claim, now: claim.approve(now, amount)
        )

    async def reject_mdf_claim(
        self,
        request_id: str,
        claim_id: str,
        body: MdfClaimRejectionBody | None,
        key: CommandKey | None,
        actor: Actor,
    ) -> Answer:
        """Reject a claim (MdfClaimRejected), with the reason given or the default."""
        reason = (body or MdfClaimRejectionBody()).reason
        return await self._decide_claim(
            request_id, claim_id, key, actor, lambda claim, now: claim.reject(now, reason)
        )

    async def _decide_claim(
        self,
        request_id: str,
        claim_id: str,
        key: CommandKey | None,
        actor: Actor,
        decide: Callable[[MdfClaim, datetime], MdfClaim],
    ) -> Answer:
        async def attempt() -> Answer | Lost:
            _, book = await self._claims_of(request_id)
            if key is not None and (replayed := key.find(book.answers)) is not None:
                return replayed
            claim = book.claims.get(claim_id)
            if claim is None or claim.request_id != request_id:
                raise NotFound(f"MDF request {request_id} has no claim {claim_id}")
            decided = decide(claim, self.clock())
            book.claims[claim_id] = decided
            answer = Answer(200, MdfClaimView.of(decided).model_dump(mode="json"))
            entry = OutboxEntry.of(mdf_claim_decision_event(decided, actor))
            return await self._save_claims(book, entry, key, answer)

        return await retry_on_conflict(attempt, what="the MDF claims")

    # ----------------------------------------------------------------- unclaimed funds

    async def release_unclaimed_funds(self) -> MdfReleasesView:
        """Release what approved requests left unclaimed once their claims closed, for
        every partner (MdfFundsReleased: docs/rules/enablement.md, "Unclaimed funds").

        A run decides from the claim books alone, so it is idempotent: run again (by
        the schedule, after a restart, on another replica), it releases only what the
        claims now hold less of, and the same release is the same event."""
        now = self.clock()
        today = utc_date(now)
        newest = quarter_of(now - timedelta(days=self.claim_window_days + 1))
        approved: dict[str, list[MdfRequest]] = {}
        for ledger in await self.store.approved_ledgers_through(newest):
            approved.setdefault(ledger.partner_id, []).extend(
                r for r in ledger.requests.values() if r.status is MdfStatus.APPROVED
            )
        released: list[MdfReleaseView] = []
        for partner_id, requests in approved.items():
            released.extend(await self._release(partner_id, requests, now, today))
        return MdfReleasesView(released=released)

    async def keep_releasing(self, interval: float) -> None:
        """Release unclaimed funds now and every ``interval`` seconds until cancelled."""
        await every(
            interval,
            self.release_unclaimed_funds,
            what="releasing unclaimed MDF funds",
            log=log,
            immediately=True,
        )

    async def _release(
        self, partner_id: str, requests: list[MdfRequest], now: datetime, today: date
    ) -> list[MdfReleaseView]:
        """Release what ``requests`` (of one partner) left unclaimed, in one write of the
        partner's claim book, so a claim made at the same moment is decided before or
        after it, never beside it."""

        async def attempt() -> list[MdfReleaseView] | Lost:
            book = await self.store.load_claim_book(partner_id)
            views: list[MdfReleaseView] = []
            for request in sorted(requests, key=lambda r: r.request_id):
                already = book.released.get(request.request_id, Decimal(0))
                total = unclaimed_funds(
                    request, book.claims.values(), already, today, self.claim_window_days
                )
                if total is None:
                    continue
                book.released[request.request_id] = total
                release = funds_released(request, total, now)
                book.outbox.append(OutboxEntry.of(funds_released_event(release)))
                views.append(
                    MdfReleaseView(
                        partner_id=partner_id,
                        request_id=request.request_id,
                        quarter=release.quarter,
                        amount=str(total),
                        currency=release.currency,
                        released_at=now.isoformat(),
                    )
                )
            if not views:
                return views
            if not await self.store.save_claim_book(book):
                return LOST
            failpoint("enablement_claims_after_store")
            self.publisher.publish_soon(MDF_CLAIMS, [book.key])
            return views

        return await retry_on_conflict(attempt, what=f"the MDF claims of {partner_id}")

    async def _claims_of(self, request_id: str) -> tuple[MdfRequest, MdfClaimBook]:
        """The request and its partner's claim book; :class:`NotFound` for no request."""
        ledger = await self.store.ledger_of_request(request_id)
        if ledger is None:
            raise NotFound(f"MDF request {request_id} does not exist")
        request = ledger.requests[request_id]
        return request, await self.store.load_claim_book(request.partner_id)

    async def _save_claims(
        self, book: MdfClaimBook, entry: OutboxEntry, key: CommandKey | None, answer: Answer
    ) -> Answer | Lost:
        book.outbox.append(entry)
        if key is not None:
            key.remember(book.answers, answer)
        if not await self.store.save_claim_book(book):
            return LOST
        failpoint("enablement_claims_after_store")
        self.publisher.publish_soon(MDF_CLAIMS, [book.key])
        return answer
