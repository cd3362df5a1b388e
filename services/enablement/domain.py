"""The enablement rules (``docs/rules/enablement.md``), pure.

No Kafka, no MongoDB, no HTTP, no clock: every instant is an argument, so the
same facts give the same answers whatever their order or duplication.

**Courses and passing.** A :class:`Course` has a ``passing_score`` (default
70). A :class:`Completion` (a TrainingCompleted, from the platform's API or an
external LMS) *passes* when its course is known and ``score ≥ passing_score``.
A completion of a course not defined yet is still recorded; it passes or not
once the course is defined, and awards are recomputed then. A definition never
changes: defining the same id again with the same values changes nothing, with
other values is refused (:func:`define`).

**Certification awards.** :func:`certification_awards` is a pure function of
(certification definition, one learner's passing completions). It walks the
completions of the certification's required courses in (``completed_at``,
``course_id``) order, duplicates removed, in *cycles*:

1. the first cycle starts at the beginning of time with no course passed;
2. each passing completion at or after the cycle's start marks its course
   passed in the cycle; completions before the cycle's start are ignored;
3. when every required course is passed in the cycle, the certification is
   awarded at the completion that finished the set: ``awarded_at`` = its
   ``completed_at`` (in UTC), ``expires_at`` = ``awarded_at`` +
   ``validity_days``;
4. the next cycle starts at that expiry with no course passed: a learner
   re-certifies by passing every required course again at or after the
   expiry (completions during a validity window neither renew nor count
   towards the next cycle).

An award is identified by (``partner_id``, ``learner_id``,
``certification_id``, ``awarded_at``) (:attr:`Award.key`), so recomputing
never duplicates one. Because the walk depends only on the *set* of
completions, the awards are the same for any arrival order or duplication.

**Published awards are never withdrawn.** A late completion (one dated before
completions already seen) can move an award earlier in the ideal computation,
but a CertificationAwarded already on Kafka stays. :func:`awards_to_publish`
therefore runs the same walk with the published awards as fixed points: a
published award closes the cycle it falls in and blocks new awards until its
expiry, and a candidate award whose validity window would overlap a later
published award is dropped in favour of the published one. A late completion
can thus only add awards for cycles not yet awarded. Limitation, stated
plainly: the *published* set equals :func:`certification_awards` of all the
completions whenever no late completion would have moved an award already
published (in particular when completions arrive in ``completed_at`` order);
otherwise the published award keeps its original date. Published awards
never overlap one another.

**Partners.** :class:`PartnerStanding` is what enablement knows of a partner
from ``partners.v1``, merged order-independently (contracts and tier changes
are sets; the earliest termination stands). :func:`require_active_partner`
raises :class:`UnknownPartner` (HTTP 404) or :class:`PartnerNotActive` (HTTP
409), each with its reason.

**Sales materials.** :func:`visible_materials` filters by product line and by
the tiers a material allows. A partner sees the materials of its own tier on
the day, none without a contract in force; asking for another tier's is
refused (:func:`materials_tier`).

**MDF (co-marketing funds).** One programme currency: an :class:`MdfBudget`
gives a quarterly amount per tier in its ``currency`` (by default USD:
registered 0, silver 10 000, gold 25 000, platinum 50 000). A request in any
other currency is rejected with reason ``currency_mismatch``. The remaining
budget of a partner for a calendar quarter (UTC) is its tier's budget minus the
amounts of its requests approved in that quarter (a request belongs to the
quarter of its ``requested_at``; its tier is the partner's tier on that day).
A request beyond the remaining budget is rejected with reason ``over_budget``,
both when it is submitted and again when it is approved (another approval may
have used the budget in between). A request goes ``requested`` → ``approved``
| ``rejected``; deciding a decided request raises :class:`MdfAlreadyDecided`.
:func:`quarter_budget` sums a partner's quarter up: its budget, what is
approved and what remains.

**MDF claims.** An approved request is paid only against claims (:class:`MdfClaim`),
each with its proof of performance (:class:`Evidence`: kind, URL, SHA-256).
:func:`check_mdf_claim` refuses a claim with :class:`MdfClaimRefused` (HTTP
422, naming the field and the :class:`ClaimRule`): the request is not
approved, the claim is in another currency, it has no evidence, its activity has
not ended yet, today is after ``activity_end`` + the claim window (default 60
days; that last day included) or after the last day of the request's quarter +
the claim window, it would take the request's claims beyond its approved amount (a claim waiting
holds its amount, an approved one what was approved, a rejected one nothing),
or one of its digests was used by any earlier claim of the partner. A claim
goes ``submitted`` → ``approved`` (all or part: :meth:`MdfClaim.approve`; more
than claimed is refused) | ``rejected``; deciding a decided claim raises
:class:`MdfClaimAlreadyDecided` (HTTP 409). :func:`claims_summary` says what
a request's claims hold of it.

**Unclaimed funds.** Once a request's claims have closed (the last day of its
quarter + the claim window, :func:`request_claims_close`), what its claims do not
hold goes back to the quarter's budget: :func:`unclaimed_funds` says what the
request has released in all (MdfFundsReleased), and :func:`quarter_budget`
counts it as unused.

**Feedback to the product.** A :class:`Feedback` may name the ``product_line`` it is
about. :func:`feedback_words` is the word list of a comment (a documented heuristic,
not a dictionary segmenter: see its docstring); :func:`feedback_summary` groups the
feedback of a period (:func:`period_span`, by ``submitted_at`` in UTC) by product line,
feedback naming none last under ``None``, each with its count, average rating (two
decimals, half up), ratings histogram and most frequent words, a word counted once
per comment (:func:`top_words`).

Refusals are exceptions that say why (``reason``); each is a
:class:`shared.commands.NotFound` (HTTP 404) or :class:`shared.commands.Conflict`
(HTTP 409).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import MAXYEAR, UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar, cast

from shared.commands import Conflict, InvalidField, NotFound
from shared.events import (
    PERIOD_PATTERN,
    CertificationAwarded,
    MdfApproved,
    MdfClaimApproved,
    MdfClaimEvidence,
    MdfClaimRejected,
    MdfClaimSubmitted,
    MdfFundsReleased,
    MdfRejected,
    MdfRequested,
    PartnerFeedbackSubmitted,
    PartnerStatus,
    Tier,
    TrainingCompleted,
)

DEFAULT_PASSING_SCORE = 70

#: A fact's version: the CloudEvent ``time`` and ``id``; breaks ties between facts of one day.
Version = tuple[datetime, str]

#: The identity of a learner: learners are numbered by their partner.
LearnerKey = tuple[str, str]

#: The identity of an award: (partner_id, learner_id, certification_id, awarded_at).
AwardKey = tuple[str, str, str, datetime]


# --------------------------------------------------------------------------- errors


class EnablementError(Exception):
    """A command the rules refuse; ``reason`` says why in words a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownPartner(EnablementError, NotFound):
    """No partners.v1 event has named this partner (HTTP 404)."""


class PartnerNotActive(EnablementError, Conflict):
    """The partner is known but may not act: terminated, rejected or not approved (HTTP 409)."""


class DefinedDifferently(EnablementError, Conflict):
    """A course or certification id is already defined with other values (HTTP 409)."""


class TierMismatch(EnablementError):
    """A partner's materials asked for with a tier other than the partner's own."""


class MdfAlreadyDecided(EnablementError, Conflict):
    """An MDF request that is already approved or rejected cannot be decided again (HTTP 409)."""


# --------------------------------------------------------------------------- helpers


def _require_text(value: str, what: str) -> None:
    if not value.strip():
        raise ValueError(f"{what} must not be empty")


def _require_aware(instant: datetime, what: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must carry a UTC offset")
    return instant.astimezone(UTC)


def _require_score(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError(f"{what} must be an integer from 0 to 100, got {value!r}")


def utc_date(instant: datetime) -> date:
    return instant.astimezone(UTC).date()


def quarter_of(instant: datetime) -> str:
    """The calendar quarter of ``instant`` in UTC, e.g. ``2026-Q4``."""
    day = utc_date(instant)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


# --------------------------------------------------------------------------- courses


@dataclass(frozen=True, slots=True)
class Course:
    course_id: str
    title: str
    product_line: str
    passing_score: int = DEFAULT_PASSING_SCORE

    def __post_init__(self) -> None:
        _require_text(self.course_id, "course_id")
        _require_text(self.title, "title")
        _require_text(self.product_line, "product_line")
        _require_score(self.passing_score, "passing_score")


@dataclass(frozen=True, slots=True)
class CertificationDefinition:
    certification_id: str
    product_line: str
    required_courses: frozenset[str]
    validity_days: int

    def __post_init__(self) -> None:
        _require_text(self.certification_id, "certification_id")
        _require_text(self.product_line, "product_line")
        if not self.required_courses:
            raise ValueError("required_courses must name at least one course")
        for course_id in self.required_courses:
            _require_text(course_id, "required_courses")
        if isinstance(self.validity_days, bool) or self.validity_days < 1:
            raise ValueError(f"validity_days must be at least 1, got {self.validity_days!r}")

    @property
    def validity(self) -> timedelta:
        return timedelta(days=self.validity_days)


Definition = TypeVar("Definition", Course, CertificationDefinition)


def define(
    definitions: dict[str, Definition], definition_id: str, definition: Definition, what: str
) -> bool:
    """Add ``definition`` to ``definitions`` under its id: True when added, False when it
    is defined exactly so already; :class:`DefinedDifferently` when defined otherwise."""
    existing = definitions.get(definition_id)
    if existing is None:
        definitions[definition_id] = definition
        return True
    if existing == definition:
        return False
    raise DefinedDifferently(f"{what} {definition_id} is already defined differently")


@dataclass(frozen=True, slots=True)
class Completion:
    """A learner's completion of a course, whatever its source; ``completed_at`` is kept in UTC."""

    partner_id: str
    learner_id: str
    course_id: str
    completed_at: datetime
    score: int

    def __post_init__(self) -> None:
        _require_text(self.partner_id, "partner_id")
        _require_text(self.learner_id, "learner_id")
        _require_text(self.course_id, "course_id")
        _require_score(self.score, "score")
        object.__setattr__(self, "completed_at", _require_aware(self.completed_at, "completed_at"))

    @property
    def learner(self) -> LearnerKey:
        return (self.partner_id, self.learner_id)

    @classmethod
    def from_event(cls, event: TrainingCompleted) -> Completion:
        return cls(
            partner_id=event.partner_id,
            learner_id=event.learner_id,
            course_id=event.course_id,
            completed_at=event.completed_at,
            score=event.score,
        )

    def to_event(self) -> TrainingCompleted:
        return TrainingCompleted(
            partner_id=self.partner_id,
            learner_id=self.learner_id,
            course_id=self.course_id,
            completed_at=self.completed_at,
            score=self.score,
        )


def passes(completion: Completion, course: Course | None) -> bool:
    """A completion passes when its course is known and ``score ≥ passing_score``."""
    if course is None:
        return False
    if course.course_id != completion.course_id:
        raise ValueError(
            f"completion of course {completion.course_id!r} judged against course "
            f"{course.course_id!r}"
        )
    return completion.score >= course.passing_score


def passing_completions(
    completions: Iterable[Completion], courses: Mapping[str, Course]
) -> frozenset[Completion]:
    """The completions that pass under the courses known now (unknown courses do not pass)."""
    return frozenset(c for c in completions if passes(c, courses.get(c.course_id)))


# --------------------------------------------------------------------------- awards


@dataclass(frozen=True, slots=True)
class Award:
    """A certification held by a learner from ``awarded_at`` until (excluding) ``expires_at``."""

    partner_id: str
    learner_id: str
    certification_id: str
    product_line: str
    awarded_at: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "awarded_at", _require_aware(self.awarded_at, "awarded_at"))
        object.__setattr__(self, "expires_at", _require_aware(self.expires_at, "expires_at"))
        if self.expires_at <= self.awarded_at:
            raise ValueError("expires_at must be after awarded_at")

    @property
    def key(self) -> AwardKey:
        return (self.partner_id, self.learner_id, self.certification_id, self.awarded_at)

    @property
    def learner(self) -> LearnerKey:
        return (self.partner_id, self.learner_id)

    def valid_at(self, instant: datetime) -> bool:
        return self.awarded_at <= instant < self.expires_at

    def to_event(self) -> CertificationAwarded:
        return CertificationAwarded(
            partner_id=self.partner_id,
            learner_id=self.learner_id,
            certification_id=self.certification_id,
            product_line=self.product_line,
            awarded_at=self.awarded_at,
            expires_at=self.expires_at,
        )


def _walk(
    certification: CertificationDefinition,
    passing: Iterable[Completion],
    published: Iterable[Award],
) -> tuple[Award, ...]:
    """The cycle walk of the module docstring; ``published`` awards are fixed points."""
    required = certification.required_courses
    relevant = [c for c in passing if c.course_id in required]
    learners = {c.learner for c in relevant}
    if not learners:
        return ()
    if len(learners) > 1:
        raise ValueError(f"completions of several learners given together: {sorted(learners)}")
    (learner,) = learners
    partner_id, learner_id = learner
    steps = sorted({(c.completed_at, c.course_id) for c in relevant})
    fixed = sorted(
        {
            a
            for a in published
            if a.learner == learner and a.certification_id == certification.certification_id
        },
        key=lambda a: (a.awarded_at, a.expires_at),
    )

    awards: list[Award] = []
    next_fixed = 0
    cycle_start: datetime | None = None
    passed: set[str] = set()
    for completed_at, course_id in steps:
        # A published award dated at or before this completion closes the cycle it falls in.
        while next_fixed < len(fixed) and fixed[next_fixed].awarded_at <= completed_at:
            expiry = fixed[next_fixed].expires_at
            cycle_start = expiry if cycle_start is None else max(cycle_start, expiry)
            passed = set()
            next_fixed += 1
        if cycle_start is not None and completed_at < cycle_start:
            continue
        passed.add(course_id)
        if passed != required:
            continue
        expires_at = completed_at + certification.validity
        passed = set()
        if next_fixed < len(fixed) and fixed[next_fixed].awarded_at < expires_at:
            # A later published award covers this cycle: it stands, this candidate does not.
            cycle_start = fixed[next_fixed].awarded_at
            continue
        awards.append(
            Award(
                partner_id=partner_id,
                learner_id=learner_id,
                certification_id=certification.certification_id,
                product_line=certification.product_line,
                awarded_at=completed_at,
                expires_at=expires_at,
            )
        )
        cycle_start = expires_at
    return tuple(awards)


def certification_awards(
    certification: CertificationDefinition, passing: Iterable[Completion]
) -> tuple[Award, ...]:
    """Every award of ``certification`` earned by one learner's passing completions, in order.

    ``passing`` must be completions of one learner that pass (see
    :func:`passing_completions`); completions of courses the certification
    does not require are ignored. A pure function of the *set* of completions.
    """
    return _walk(certification, passing, ())


def awards_to_publish(
    certification: CertificationDefinition,
    passing: Iterable[Completion],
    published: Iterable[Award],
) -> tuple[Award, ...]:
    """The awards of ``certification`` earned by one learner and not published yet.

    Published awards stand as they are (never withdrawn or moved); a new award
    never overlaps one. Published awards of other learners or certifications
    are ignored, so a learner's whole list may be passed.
    """
    published = tuple(published)
    known = {a.key for a in published}
    return tuple(a for a in _walk(certification, passing, published) if a.key not in known)


def awards_due(
    certifications: Iterable[CertificationDefinition],
    courses: Mapping[str, Course],
    completions: Iterable[Completion],
    published: Iterable[Award],
) -> tuple[Award, ...]:
    """For one learner: every award not yet published, over all certifications.

    Call it when one of the learner's completions arrives, or for every learner
    concerned when a course or certification definition arrives. Ordered by
    (``awarded_at``, ``certification_id``).
    """
    passing = passing_completions(completions, courses)
    published = tuple(published)
    due = [
        award
        for certification in sorted(certifications, key=lambda c: c.certification_id)
        for award in awards_to_publish(certification, passing, published)
    ]
    return tuple(sorted(due, key=lambda a: (a.awarded_at, a.certification_id)))


# --------------------------------------------------------------------------- partners


@dataclass(frozen=True, slots=True)
class ContractTier:
    """The part of a contract enablement needs: its period and tier."""

    contract_id: str
    start_date: date
    end_date: date
    tier: Tier
    version: Version

    def governs(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date


@dataclass(frozen=True, slots=True)
class TierChange:
    effective_date: date
    tier: Tier
    version: Version


@dataclass(frozen=True, slots=True)
class Termination:
    effective_date: date
    reason: str


@dataclass(frozen=True, slots=True)
class PartnerStanding:
    """What enablement knows of one partner from partners.v1, merged order-independently.

    Every ``with_*`` returns a new standing; merging the same facts in any order
    or more than once gives an equal standing. A contract id keeps its version
    with the greatest (``time``, ``id``); the earliest termination stands.
    """

    partner_id: str
    applied: bool = False
    approved: bool = False
    rejected: bool = False
    contracts: frozenset[ContractTier] = field(default_factory=frozenset)
    tier_changes: frozenset[TierChange] = field(default_factory=frozenset)
    termination: Termination | None = None

    def with_application(self) -> PartnerStanding:
        return replace(self, applied=True)

    def with_approval(self) -> PartnerStanding:
        return replace(self, approved=True)

    def with_rejection(self) -> PartnerStanding:
        return replace(self, rejected=True)

    def with_contract(self, contract: ContractTier) -> PartnerStanding:
        same = [c for c in self.contracts if c.contract_id == contract.contract_id]
        if any((c.version, repr(c)) >= (contract.version, repr(contract)) for c in same):
            return self
        others = frozenset(c for c in self.contracts if c.contract_id != contract.contract_id)
        return replace(self, contracts=others | {contract})

    def with_tier_change(self, change: TierChange) -> PartnerStanding:
        return replace(self, tier_changes=self.tier_changes | {change})

    def with_termination(self, termination: Termination) -> PartnerStanding:
        current = self.termination
        if current is not None and (current.effective_date, current.reason) <= (
            termination.effective_date,
            termination.reason,
        ):
            return self
        return replace(self, termination=termination)

    def is_terminated_on(self, day: date) -> bool:
        return self.termination is not None and self.termination.effective_date <= day

    def status_on(self, day: date) -> PartnerStatus:
        if self.is_terminated_on(day):
            return PartnerStatus.TERMINATED
        if self.contracts:
            return PartnerStatus.ACTIVE
        if self.approved:
            return PartnerStatus.APPROVED
        if self.rejected:
            return PartnerStatus.REJECTED
        return PartnerStatus.APPLIED

    def tier_on(self, day: date) -> Tier | None:
        """The tier on ``day``: None without a contract in force; else the latest of the
        governing contract's tier (from its start) and tier changes effective by then."""
        governing = [c for c in self.contracts if c.governs(day)]
        if not governing:
            return None
        candidates = [(c.start_date, c.version, c.tier) for c in governing]
        candidates += [
            (t.effective_date, t.version, t.tier)
            for t in self.tier_changes
            if t.effective_date <= day
        ]
        return max(candidates)[2]


def require_active_partner(
    standing: PartnerStanding | None, partner_id: str, on: date
) -> PartnerStanding:
    """The partner's standing if it may act on ``on``; else :class:`UnknownPartner` or
    :class:`PartnerNotActive` with the reason."""
    if standing is None:
        raise UnknownPartner(f"partner {partner_id} is not known")
    if standing.partner_id != partner_id:
        raise ValueError(f"standing of {standing.partner_id!r} given for {partner_id!r}")
    status = standing.status_on(on)
    if status is PartnerStatus.TERMINATED:
        assert standing.termination is not None
        raise PartnerNotActive(
            f"partner {partner_id} was terminated effective "
            f"{standing.termination.effective_date.isoformat()}: {standing.termination.reason}"
        )
    if status is PartnerStatus.REJECTED:
        raise PartnerNotActive(f"partner {partner_id}'s application was rejected")
    if status is PartnerStatus.APPLIED:
        raise PartnerNotActive(f"partner {partner_id} has applied but is not approved yet")
    return standing


# --------------------------------------------------------------------------- sales materials

ALL_TIERS: frozenset[Tier] = frozenset(Tier)


@dataclass(frozen=True, slots=True)
class SalesMaterial:
    material_id: str
    title: str
    product_line: str
    kind: str
    url: str
    tiers: frozenset[Tier] = ALL_TIERS

    def __post_init__(self) -> None:
        for name in ("material_id", "title", "product_line", "kind", "url"):
            _require_text(getattr(self, name), name)
        if not self.tiers:
            raise ValueError("tiers must allow at least one tier")

    def visible_to(self, tier: Tier | None) -> bool:
        """Visible to a partner of ``tier``; ``None`` (a channel manager) sees everything."""
        return tier is None or tier in self.tiers


def visible_materials(
    materials: Iterable[SalesMaterial], product_line: str | None, tier: Tier | None
) -> list[SalesMaterial]:
    """The materials of ``product_line`` (all when None) that ``tier`` may see (all when None),
    ordered by (product line, title, material id)."""
    return sorted(
        (
            m
            for m in materials
            if (product_line is None or m.product_line == product_line) and m.visible_to(tier)
        ),
        key=lambda m: (m.product_line, m.title, m.material_id),
    )


def materials_tier(standing: PartnerStanding, asked: Tier | None, day: date) -> Tier | None:
    """The tier whose materials a partner sees on ``day``: its own, or None when it has no
    contract in force (then it sees none). Asking for another tier raises
    :class:`TierMismatch`."""
    tier = standing.tier_on(day)
    if asked is not None and asked != tier:
        raise TierMismatch(
            f"partner {standing.partner_id} is {tier or 'without a contract'}, not {asked}"
        )
    return tier


# --------------------------------------------------------------------------- feedback


@dataclass(frozen=True, slots=True)
class Feedback:
    feedback_id: str
    partner_id: str
    rating: int
    topic: str
    text: str
    submitted_at: datetime
    #: The product line the feedback is about; None when it names none.
    product_line: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.feedback_id, "feedback_id")
        _require_text(self.partner_id, "partner_id")
        _require_text(self.topic, "topic")
        if self.product_line is not None:
            _require_text(self.product_line, "product_line")
        if isinstance(self.rating, bool) or not isinstance(self.rating, int):
            raise ValueError(f"rating must be an integer from 1 to 5, got {self.rating!r}")
        if not 1 <= self.rating <= 5:
            raise ValueError(f"rating must be from 1 to 5, got {self.rating}")
        object.__setattr__(self, "submitted_at", _require_aware(self.submitted_at, "submitted_at"))

    def to_event(self) -> PartnerFeedbackSubmitted:
        data: dict[str, object] = {
            "partner_id": self.partner_id,
            "feedback_id": self.feedback_id,
            "rating": self.rating,
            "topic": self.topic,
            "text": self.text,
            "submitted_at": self.submitted_at,
        }
        if self.product_line is not None:
            data["product_line"] = self.product_line
        return PartnerFeedbackSubmitted.model_validate(data)


# --------------------------------------------------------------------------- feedback to the product

#: How many words :func:`feedback_summary` lists per product line unless told.
TOP_WORDS = 20

_PERIOD = re.compile(PERIOD_PATTERN)


def period_span(label: str) -> tuple[datetime, datetime]:
    """The instants of a period label (``2026``, ``2026-Q4`` or ``2026-11``) in UTC: its
    first instant (included) and the first instant after it (excluded)."""
    if not _PERIOD.fullmatch(label):
        raise ValueError(f"a period is 2026, 2026-Q4 or 2026-11, got {label!r}")
    year = int(label[:4])
    if len(label) == 4:
        first_month, months = 1, 12
    elif label[5] == "Q":
        first_month, months = 3 * (int(label[6]) - 1) + 1, 3
    else:
        first_month, months = int(label[5:7]), 1
    after = first_month - 1 + months
    next_year = year + after // 12
    until = (
        datetime(next_year, after % 12 + 1, 1, tzinfo=UTC)
        if next_year <= MAXYEAR
        else datetime.max.replace(tzinfo=UTC)  # the end of 9999: the last instant there is
    )
    return datetime(year, first_month, 1, tzinfo=UTC), until


def in_period(instant: datetime, label: str | None) -> bool:
    """Whether ``instant`` falls in the period (any instant when ``label`` is None)."""
    if label is None:
        return True
    since, until = period_span(label)
    return since <= instant < until


def _stop_words(*lists: str) -> frozenset[str]:
    return frozenset(_normalized(word) for words in lists for word in words.split())


def _normalized(text: str) -> str:
    """NFKC, case folded (NFKC again after folding, as Unicode's NFKC_Casefold does)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


_ENGLISH = """
a about above after again against ain all also am an and any are aren as at be because been
before being below between both but by can could couldn d did didn do does doesn doing don
down during each even few for from further get gets got had hadn has hasn have haven having he
her here hers herself him himself his how i if in into is isn it its itself just let ll m ma
me might mightn more most much must mustn my myself needn no nor not now o of off on once only
or other our ours ourselves out over own please re really s same shan she should shouldn so
some such t than that the their theirs them themselves then there these they this those
through to too under until up us ve very was wasn we were weren what when where which while
who whom why will with won would wouldn y you your yours yourself yourselves
http https www com
"""
_FRENCH = """
a ai au aux avec avons avez c ce ces cet cette d dans de des du elle elles en est et été être
il ils j je l la le les leur leurs lui m ma mais me mes moi mon n ne nos notre nous on ont ou
où par pas pour qu que qui s sa se ses si son sont sur ta te tes toi ton tu un une vos votre
vous y très aussi comme tout tous toute toutes fait était
"""
_GERMAN = """
aber als am an auch auf aus bei bin bis bist da das dass dem den der des die dies diese
dieser dieses doch du durch ein eine einem einen einer eines er es für hat haben hatte ich
ihr ihre im in ist ja kann können man mein meine mich mir mit muss nach nicht noch nur oder
schon sehr sein sich sie sind so um und uns unser unsere von vor war waren was weil wenn
werden wie wir wird zu zum zur über
"""
_SPANISH = """
a al como con cuando de del desde el ella ellos en entre era es esa ese eso esta este esto
está están fue ha han hay he la las le les lo los me mi mis muy más no nos o para pero por
porque que se ser si sin sobre su sus también te todo todos tu un una uno unos unas y ya yo
"""
#: Particles, auxiliaries, demonstratives and set phrases: hiragana runs of three or
#: more characters (shorter ones are dropped anyway), and the kanji of 思う (to think),
#: 事 and 物 (formal nouns) and お願い (please).
_JAPANESE = """
から まで より など なら ので のに けど けれど けれども でも しかし そして だから また まだ もう
です でした でしょう ます ました ません ないです だった である
いる います いた いました ている ています ていた ていました てください ください
する します した しました している しています される された されて
ある あります あった あって なる なります なった なって
として について によって による という といった とても すごく ちょっと
こと もの ため これ それ あれ どれ この その あの どの ここ そこ どこ
ありがとう ありがとうございます ございます よろしく よろしくお
思 事 物 願
"""

#: The words no summary lists: English, French, German, Spanish and Japanese.
STOP_WORDS = _stop_words(_ENGLISH, _FRENCH, _GERMAN, _SPANISH, _JAPANESE)

_HAN, _KATAKANA, _HIRAGANA, _OTHER = "han", "katakana", "hiragana", "other"

#: Marks that lengthen or repeat what precedes them: part of the run they follow
#: (すごーい, 人々), of their own script at the start of one.
_CONTINUATIONS = {
    "ー": _KATAKANA,
    "ヽ": _KATAKANA,
    "ヾ": _KATAKANA,
    "々": _HAN,
    "ゝ": _HIRAGANA,
    "ゞ": _HIRAGANA,
}


def _script(char: str) -> str | None:
    """The script class of a character of a word; None for a separator (white space,
    punctuation of any language, symbols, control characters)."""
    category = unicodedata.category(char)
    if category[0] in "PSZC":
        return None
    code = ord(char)
    if 0x3041 <= code <= 0x309F:
        return _HIRAGANA
    if 0x30A1 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
        return _KATAKANA
    if (
        0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3FFFF
        or code in (0x3006, 0x3007)
    ):
        return _HAN
    return _OTHER


def _runs(text: str) -> Iterator[tuple[str, str, str | None]]:
    """Each run of one script, with its script and the script of the run just before it
    when nothing separates them (None after a separator or at the start)."""
    run: list[str] = []
    script: str | None = None
    before: str | None = None
    for char in text:
        continuing = char in _CONTINUATIONS or unicodedata.category(char) in ("Mn", "Mc")
        if continuing and run:
            run.append(char)
            continue
        found = _CONTINUATIONS.get(char, _OTHER) if continuing else _script(char)
        if found != script and run:
            assert script is not None
            yield "".join(run), script, before
            before = script
            run = []
        if found is None:
            before = None
        else:
            run.append(char)
        script = found
    if run and script is not None:
        yield "".join(run), script, before


def _is_word(token: str, script: str, before: str | None) -> bool:
    if token in STOP_WORDS:
        return False
    if script == _HAN:
        return True  # one kanji is a word (遅い → 遅)
    if script == _HIRAGANA:
        # Two characters or fewer: mostly particles. Right after kanji: the kanji's
        # inflection and the particles after it (遅いです → いです).
        return len(token) > 2 and before != _HAN
    if len(token) == 1:
        return False  # one Latin letter, one kana
    return script == _KATAKANA or any(c.isalpha() for c in token)  # not a number


def feedback_words(text: str) -> list[str]:
    """The words of a comment, in order, each time it occurs. A heuristic, not a
    dictionary segmenter:

    1. the text is normalized (NFKC: full-width Latin and digits, half-width katakana)
       and case folded;
    2. it is split on white space, punctuation of any language (ASCII, typographic
       quotes and dashes, 、。！？「」『』（）・… — Unicode's punctuation, symbol,
       separator and control categories) and between scripts: a run of kanji, a run of
       katakana, a run of hiragana and a run of any other letters and digits are
       separate words (Japanese has no spaces: サポートが遅い → サポート, が, 遅, い);
       ー, 々 and the kana iteration marks belong to the run they follow;
    3. dropped: the stop words (:data:`STOP_WORDS`), a hiragana run of one or two
       characters (mostly particles: が, は, を, に, で, も) and one right after a kanji
       run (its inflection: 遅いです → いです), any other one-character word but a kanji
       (one Latin letter, one kana), and numbers (a word of digits without a letter).

    Apostrophes split too: ``don't`` gives ``don`` and ``t``, ``l'équipe`` gives ``l``
    and ``équipe``; the stop words hold such fragments.
    """
    return [
        token
        for token, script, before in _runs(_normalized(text))
        if _is_word(token, script, before)
    ]


def top_words(texts: Iterable[str], limit: int = TOP_WORDS) -> list[tuple[str, int]]:
    """The ``limit`` most frequent words of the comments, each counted **once per
    comment** (how many comments use it: one comment repeating a word does not outweigh
    others), by count (descending), then word."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(feedback_words(text)))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


@dataclass(frozen=True, slots=True)
class FeedbackFigures:
    """A product line's feedback summed up (``product_line`` None: feedback naming none)."""

    product_line: str | None
    count: int
    #: How many rated 1, 2, 3, 4 and 5.
    ratings: tuple[int, int, int, int, int]
    #: The mean rating to two decimals (half up); None without feedback.
    average_rating: Decimal | None
    top_words: list[tuple[str, int]]


def feedback_figures(
    product_line: str | None, items: Iterable[Feedback], limit: int = TOP_WORDS
) -> FeedbackFigures:
    found = list(items)
    ratings = [0] * 5
    for item in found:
        ratings[item.rating - 1] += 1
    average = (
        (Decimal(sum(item.rating for item in found)) / len(found)).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
        if found
        else None
    )
    return FeedbackFigures(
        product_line=product_line,
        count=len(found),
        ratings=(ratings[0], ratings[1], ratings[2], ratings[3], ratings[4]),
        average_rating=average,
        top_words=top_words((item.text for item in found), limit),
    )


def selected_feedback(
    items: Iterable[Feedback], period: str | None, product_line: str | None
) -> list[Feedback]:
    """The feedback of the period (all time when None) and product line (every line when
    None), by ``submitted_at`` then id."""
    return sorted(
        (
            f
            for f in items
            if in_period(f.submitted_at, period)
            and (product_line is None or f.product_line == product_line)
        ),
        key=lambda f: (f.submitted_at, f.feedback_id),
    )


def feedback_summary(
    items: Iterable[Feedback],
    period: str | None,
    product_line: str | None,
    limit: int = TOP_WORDS,
) -> list[FeedbackFigures]:
    """The figures of each product line of the period's feedback, by product line, the
    feedback naming none last; only ``product_line``'s when given (zero figures when it
    has none)."""
    groups: dict[str | None, list[Feedback]] = {}
    for item in selected_feedback(items, period, product_line):
        groups.setdefault(item.product_line, []).append(item)
    if product_line is not None:
        return [feedback_figures(product_line, groups.get(product_line, []), limit)]
    lines = sorted(line for line in groups if line is not None)
    order: list[str | None] = [*lines, *([None] if None in groups else [])]
    return [feedback_figures(line, groups[line], limit) for line in order]


# --------------------------------------------------------------------------- MDF

DEFAULT_MDF_CURRENCY = "USD"
DEFAULT_MDF_QUARTERLY: Mapping[Tier, Decimal] = {
    Tier.REGISTERED: Decimal("0"),
    Tier.SILVER: Decimal("10000"),
    Tier.GOLD: Decimal("25000"),
    Tier.PLATINUM: Decimal("50000"),
}


@dataclass(frozen=True, slots=True)
class MdfBudget:
    """The quarterly co-marketing budget of each tier, in one programme currency.

    A tier missing from ``quarterly`` has no budget (0).
    """

    currency: str = DEFAULT_MDF_CURRENCY
    quarterly: Mapping[Tier, Decimal] = field(default_factory=lambda: dict(DEFAULT_MDF_QUARTERLY))

    def __post_init__(self) -> None:
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(
                f"currency must be an ISO 4217 code such as USD, got {self.currency!r}"
            )
        for tier, amount in self.quarterly.items():
            if not amount.is_finite() or amount < 0:
                raise ValueError(f"the {tier} budget must be a non-negative amount, got {amount}")

    def for_tier(self, tier: Tier) -> Decimal:
        return self.quarterly.get(tier, Decimal("0"))

    @classmethod
    def parse(cls, currency: str, text: str) -> MdfBudget:
        """A budget from a setting such as ``registered=0,silver=10000,gold=25000``."""
        quarterly: dict[Tier, Decimal] = {}
        for item in text.split(","):
            if not item.strip():
                continue
            name, sep, amount = item.partition("=")
            if not sep:
                raise ValueError(f"MDF budget item {item.strip()!r} is not tier=amount")
            try:
                tier = Tier(name.strip().lower())
            except ValueError as exc:
                raise ValueError(f"MDF budget names an unknown tier {name.strip()!r}") from exc
            try:
                quarterly[tier] = Decimal(amount.strip())
            except InvalidOperation as exc:
                raise ValueError(
                    f"MDF budget of {tier}: {amount.strip()!r} is not a decimal"
                ) from exc
        return cls(currency=currency, quarterly=quarterly)


class MdfStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class MdfRequest:
    """A partner's request for co-marketing funds and its decision."""

    request_id: str
    partner_id: str
    campaign: str
    amount: Decimal
    currency: str
    requested_at: datetime
    status: MdfStatus = MdfStatus.REQUESTED
    decided_at: datetime | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.request_id, "request_id")
        _require_text(self.partner_id, "partner_id")
        _require_text(self.campaign, "campaign")
        if not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"amount must be a positive amount, got {self.amount}")
        object.__setattr__(self, "requested_at", _require_aware(self.requested_at, "requested_at"))
        if self.decided_at is not None:
            object.__setattr__(self, "decided_at", _require_aware(self.decided_at, "decided_at"))
        if (self.status is MdfStatus.REQUESTED) != (self.decided_at is None):
            raise ValueError("a request has a decided_at exactly when it is decided")
        if (self.status is MdfStatus.REJECTED) != (self.reason is not None):
            raise ValueError("a request has a reason exactly when it is rejected")

    @property
    def quarter(self) -> str:
        """The calendar quarter whose budget the request draws on."""
        return quarter_of(self.requested_at)

    def ensure_undecided(self, action: str) -> None:
        if self.status is not MdfStatus.REQUESTED:
            raise MdfAlreadyDecided(
                f"MDF request {self.request_id} cannot be {action}: it is already {self.status}"
            )

    def approve(self, at: datetime) -> MdfRequest:
        """The request approved at ``at`` (no budget check: see :func:`approve_mdf_request`)."""
        self.ensure_undecided("approved")
        return replace(self, status=MdfStatus.APPROVED, decided_at=at)

    def reject(self, at: datetime, reason: str) -> MdfRequest:
        self.ensure_undecided("rejected")
        _require_text(reason, "reason")
        return replace(self, status=MdfStatus.REJECTED, decided_at=at, reason=reason)

    def requested_event(self) -> MdfRequested:
        return MdfRequested(
            partner_id=self.partner_id,
            request_id=self.request_id,
            campaign=self.campaign,
            amount=self.amount,
            currency=self.currency,
            requested_at=self.requested_at,
        )

    def decision_event(self) -> MdfApproved | MdfRejected:
        if self.status is MdfStatus.APPROVED and self.decided_at is not None:
            return MdfApproved(
                partner_id=self.partner_id,
                request_id=self.request_id,
                amount=self.amount,
                currency=self.currency,
                approved_at=self.decided_at,
            )
        if self.status is MdfStatus.REJECTED and self.decided_at is not None:
            return MdfRejected(
                partner_id=self.partner_id,
                request_id=self.request_id,
                rejected_at=self.decided_at,
                reason=self.reason or "",
            )
        raise ValueError(f"MDF request {self.request_id} is not decided yet")


def remaining_mdf_budget(
    partner_id: str,
    quarter: str,
    tier: Tier,
    budget: MdfBudget,
    requests: Iterable[MdfRequest],
) -> Decimal:
    """The tier's quarterly budget minus the partner's approved requests of ``quarter``."""
    used = sum(
        (
            r.amount
            for r in {r.request_id: r for r in requests}.values()
            if r.partner_id == partner_id
            and r.status is MdfStatus.APPROVED
            and r.quarter == quarter
        ),
        Decimal("0"),
    )
    return budget.for_tier(tier) - used


@dataclass(frozen=True, slots=True)
class QuarterBudget:
    """A partner's MDF budget for one quarter as it stands: ``approved`` is what its
    approved requests were granted, ``released`` what of that went unclaimed and came
    back (:func:`unclaimed_funds`), ``remaining`` what is left unused (never below 0)."""

    quarter: str
    currency: str
    tier: Tier | None
    budget: Decimal
    approved: Decimal
    remaining: Decimal
    released: Decimal = Decimal("0.00")


def quarter_budget(
    standing: PartnerStanding,
    quarter: str,
    day: date,
    budget: MdfBudget,
    requests: Iterable[MdfRequest],
    released: Mapping[str, Decimal] | None = None,
) -> QuarterBudget:
    """The partner's budget for ``quarter`` at its tier on ``day`` (none without a contract
    in force), given its requests of that quarter and what each released (request id →
    total released)."""
    by_id = {r.request_id: r for r in requests}
    back = sum(
        (
            (released or {}).get(r.request_id, Decimal(0))
            for r in by_id.values()
            if r.status is MdfStatus.APPROVED and r.quarter == quarter
        ),
        Decimal("0.00"),
    )
    tier = standing.tier_on(day)
    if tier is None:
        total = remaining = Decimal(0)
    else:
        total = budget.for_tier(tier)
        remaining = remaining_mdf_budget(standing.partner_id, quarter, tier, budget, by_id.values())
    return QuarterBudget(
        quarter=quarter,
        currency=budget.currency,
        tier=tier,
        budget=total,
        approved=total - remaining,
        remaining=max(remaining + back, Decimal(0)),
        released=back,
    )


def mdf_refusal(
    request: MdfRequest,
    standing: PartnerStanding,
    budget: MdfBudget,
    requests: Iterable[MdfRequest],
) -> str | None:
    """Why the budget rules refuse ``request`` (``currency_mismatch``, ``no_contract``,
    ``over_budget``), or None when it fits. The request itself never counts as used."""
    if request.currency != budget.currency:
        return (
            f"currency_mismatch: MDF budgets are in {budget.currency}, "
            f"the request is in {request.currency}"
        )
    day = utc_date(request.requested_at)
    tier = standing.tier_on(day)
    if tier is None:
        return f"no_contract: partner {request.partner_id} has no contract in force on {day}"
    others = (r for r in requests if r.request_id != request.request_id)
    remaining = remaining_mdf_budget(request.partner_id, request.quarter, tier, budget, others)
    if request.amount > remaining:
        return (
            f"over_budget: {request.amount} {request.currency} requested but partner "
            f"{request.partner_id} has {max(remaining, Decimal('0'))} {budget.currency} left "
            f"of its {tier} budget of {budget.for_tier(tier)} {budget.currency} "
            f"for {request.quarter}"
        )
    return None


def submit_mdf_request(
    request: MdfRequest,
    standing: PartnerStanding | None,
    budget: MdfBudget,
    requests: Iterable[MdfRequest],
) -> MdfRequest:
    """A new request, already rejected (dated ``requested_at``) when the budget rules refuse it.

    Raises :class:`UnknownPartner` / :class:`PartnerNotActive` for a partner
    that may not ask. ``requests`` are the partner's other requests.
    """
    if request.status is not MdfStatus.REQUESTED:
        raise MdfAlreadyDecided(f"MDF request {request.request_id} is already {request.status}")
    active = require_active_partner(standing, request.partner_id, utc_date(request.requested_at))
    refusal = mdf_refusal(request, active, budget, requests)
    if refusal is not None:
        return request.reject(request.requested_at, refusal)
    return request


def approve_mdf_request(
    request: MdfRequest,
    at: datetime,
    standing: PartnerStanding | None,
    budget: MdfBudget,
    requests: Iterable[MdfRequest],
) -> MdfRequest:
    """The request approved at ``at``, or rejected with the reason when it no longer fits.

    Raises :class:`MdfAlreadyDecided` when it is decided already, and
    :class:`UnknownPartner` / :class:`PartnerNotActive` when the partner may
    not act on the day of ``at``.
    """
    request.ensure_undecided("approved")
    active = require_active_partner(standing, request.partner_id, utc_date(at))
    refusal = mdf_refusal(request, active, budget, requests)
    if refusal is not None:
        return request.reject(at, refusal)
    return request.approve(at)


# --------------------------------------------------------------------------- MDF claims

DEFAULT_CLAIM_WINDOW_DAYS = 60


class ClaimRule(StrEnum):
    """The rule a refused claim (or approval of one) breaks; its refusal's message starts
    with it."""

    NOT_APPROVED = "not_approved"
    CURRENCY_MISMATCH = "currency_mismatch"
    NO_EVIDENCE = "no_evidence"
    CLAIM_WINDOW_CLOSED = "claim_window_closed"
    ACTIVITY_NOT_ENDED = "activity_not_ended"
    OVER_APPROVED_AMOUNT = "over_approved_amount"
    EVIDENCE_REUSED = "evidence_reused"
    MORE_THAN_CLAIMED = "more_than_claimed"


#: Where a refusal points in the request, as FastAPI's ``loc``: ``("body", "amount")``,
#: ``("body", "evidence", 0, "sha256")`` (list positions are integers).
Location = tuple[str | int, ...]


class MdfClaimRefused(InvalidField):
    """A claim, or the approval of one, that breaks ``rule`` (HTTP 422 naming the field
    at ``location``; the message starts with the rule's code)."""

    def __init__(self, rule: ClaimRule, location: Location, message: str) -> None:
        text = f"{rule.value}: {message}"
        Exception.__init__(self, f"{'.'.join(str(p) for p in location)}: {text}")
        # FastAPI's loc holds a list position as an integer; InvalidField types its
        # location as text only, and the 422 handler passes it through as it is.
        self.location = cast(tuple[str, ...], location)
        self.message = text
        self.rule = rule


class MdfClaimAlreadyDecided(EnablementError, Conflict):
    """A claim already approved or rejected cannot be decided again (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of a claim's proof of performance; ``sha256`` is kept in lower case, so
    the same digest in either case is the same evidence."""

    kind: str
    url: str
    sha256: str

    def __post_init__(self) -> None:
        _require_text(self.kind, "kind")
        _require_text(self.url, "url")
        digest = self.sha256.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"sha256 must be 64 hexadecimal digits, got {self.sha256!r}")
        object.__setattr__(self, "sha256", digest)


class MdfClaimStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class MdfClaim:
    """A partner's claim against an approved MDF request, with its proof of performance,
    and its decision: ``approved_amount`` (all or part of ``amount``) when approved,
    ``reason`` when rejected."""

    claim_id: str
    request_id: str
    partner_id: str
    amount: Decimal
    currency: str
    activity_end: date
    evidence: tuple[Evidence, ...]
    submitted_at: datetime
    status: MdfClaimStatus = MdfClaimStatus.SUBMITTED
    decided_at: datetime | None = None
    approved_amount: Decimal | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        for name in ("claim_id", "request_id", "partner_id", "currency"):
            _require_text(getattr(self, name), name)
        if not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"amount must be a positive amount, got {self.amount}")
        object.__setattr__(self, "submitted_at", _require_aware(self.submitted_at, "submitted_at"))
        if self.decided_at is not None:
            object.__setattr__(self, "decided_at", _require_aware(self.decided_at, "decided_at"))
        if (self.status is MdfClaimStatus.SUBMITTED) != (self.decided_at is None):
            raise ValueError("a claim has a decided_at exactly when it is decided")
        if (self.status is MdfClaimStatus.APPROVED) != (self.approved_amount is not None):
            raise ValueError("a claim has an approved_amount exactly when it is approved")
        if self.approved_amount is not None and not 0 < self.approved_amount <= self.amount:
            raise ValueError(f"approved_amount must be above 0 and at most {self.amount}")
        if (self.status is MdfClaimStatus.REJECTED) != (self.reason is not None):
            raise ValueError("a claim has a reason exactly when it is rejected")

    @property
    def held(self) -> Decimal:
        """What the claim holds of its request's approved amount: all it asks for while
        it waits, what was approved once approved, nothing once rejected."""
        if self.status is MdfClaimStatus.SUBMITTED:
            return self.amount
        return self.approved_amount or Decimal(0)

    def ensure_undecided(self, action: str) -> None:
        if self.status is not MdfClaimStatus.SUBMITTED:
            raise MdfClaimAlreadyDecided(
                f"MDF claim {self.claim_id} cannot be {action}: it is already {self.status}"
            )

    def approve(self, at: datetime, approved_amount: Decimal | None = None) -> MdfClaim:
        """The claim approved at ``at``: all of it (``approved_amount`` None) or part.
        More than claimed is :class:`MdfClaimRefused` (``body.approved_amount``)."""
        self.ensure_undecided("approved")
        amount = self.amount if approved_amount is None else approved_amount
        if amount > self.amount:
            raise MdfClaimRefused(
                ClaimRule.MORE_THAN_CLAIMED,
                ("body", "approved_amount"),
                f"{amount} {self.currency} is more than the {self.amount} {self.currency} "
                f"claim {self.claim_id} asks for",
            )
        if not amount.is_finite() or amount <= 0:
            raise ValueError(f"approved_amount must be above 0, got {amount}")
        return replace(self, status=MdfClaimStatus.APPROVED, decided_at=at, approved_amount=amount)

    def reject(self, at: datetime, reason: str) -> MdfClaim:
        self.ensure_undecided("rejected")
        _require_text(reason, "reason")
        return replace(self, status=MdfClaimStatus.REJECTED, decided_at=at, reason=reason)

    def submitted_event(self) -> MdfClaimSubmitted:
        return MdfClaimSubmitted(
            partner_id=self.partner_id,
            request_id=self.request_id,
            claim_id=self.claim_id,
            amount=self.amount,
            currency=self.currency,
            activity_end=self.activity_end,
            evidence=[
                MdfClaimEvidence(kind=e.kind, url=e.url, sha256=e.sha256) for e in self.evidence
            ],
            submitted_at=self.submitted_at,
        )

    def decision_event(self) -> MdfClaimApproved | MdfClaimRejected:
        if self.status is MdfClaimStatus.APPROVED and self.decided_at is not None:
            assert self.approved_amount is not None
            return MdfClaimApproved(
                partner_id=self.partner_id,
                request_id=self.request_id,
                claim_id=self.claim_id,
                approved_amount=self.approved_amount,
                currency=self.currency,
                approved_at=self.decided_at,
            )
        if self.status is MdfClaimStatus.REJECTED and self.decided_at is not None:
            return MdfClaimRejected(
                partner_id=self.partner_id,
                request_id=self.request_id,
                claim_id=self.claim_id,
                reason=self.reason or "",
                rejected_at=self.decided_at,
            )
        raise ValueError(f"MDF claim {self.claim_id} is not decided yet")


def funds_released(request: MdfRequest, total: Decimal, at: datetime) -> MdfFundsReleased:
    """The event of ``request`` having released ``total`` in all (:func:`unclaimed_funds`)."""
    return MdfFundsReleased(
        partner_id=request.partner_id,
        request_id=request.request_id,
        quarter=request.quarter,
        amount=total,
        currency=request.currency,
        released_at=at,
    )


def claim_window_closes(activity_end: date, window_days: int) -> date:
    """The last day a claim for an activity that ended on ``activity_end`` may be made."""
    return activity_end + timedelta(days=window_days)


def quarter_last_day(quarter: str) -> date:
    """The last day of a calendar quarter such as ``2026-Q3`` (30 September 2026)."""
    year, number = int(quarter[:4]), int(quarter[6])
    if number == 4:
        return date(year, 12, 31)
    return date(year, 3 * number + 1, 1) - timedelta(days=1)


def request_claims_close(request: MdfRequest, window_days: int) -> date:
    """The last day any claim may be made against ``request``: the last day of the quarter
    whose budget it draws on, plus the claim window. After it, what no claim holds is
    released (:func:`unclaimed_funds`)."""
    return quarter_last_day(request.quarter) + timedelta(days=window_days)


@dataclass(frozen=True, slots=True)
class ClaimsSummary:
    """What a request's claims hold of it: ``claimed`` (claims waiting, at their amount,
    and approved ones, at what was approved), ``approved`` (what the approved claims
    pay) and ``claimable`` (what a new claim may still ask for)."""

    claimed: Decimal
    approved: Decimal
    claimable: Decimal


def claims_summary(request: MdfRequest, claims: Iterable[MdfClaim]) -> ClaimsSummary:
    """The summary of ``request``'s claims (claims of other requests are ignored)."""
    own = [c for c in claims if c.request_id == request.request_id]
    claimed = sum((c.held for c in own), Decimal(0))
    approved = sum(
        (c.approved_amount or Decimal(0) for c in own if c.status is MdfClaimStatus.APPROVED),
        Decimal(0),
    )
    total = request.amount if request.status is MdfStatus.APPROVED else Decimal(0)
    return ClaimsSummary(
        claimed=claimed, approved=approved, claimable=max(total - claimed, Decimal(0))
    )


def unclaimed_funds(
    request: MdfRequest,
    claims: Iterable[MdfClaim],
    released: Decimal,
    today: date,
    window_days: int = DEFAULT_CLAIM_WINDOW_DAYS,
) -> Decimal | None:
    """What ``request`` has released in all once this release is made, or None when it
    releases nothing now: only an approved request whose claims closed before ``today``
    (:func:`request_claims_close`) releases, and it releases its amount less what its
    claims hold (:attr:`MdfClaim.held`), when that is more than ``released`` already.
    A claim waiting at the close holds its whole amount until it is decided; rejected
    or approved in part, it lets the next release give back the rest. No claim can be
    made after the close, so what the claims hold only falls, and the total released
    only grows."""
    if request.status is not MdfStatus.APPROVED:
        return None
    if today <= request_claims_close(request, window_days):
        return None
    total = request.amount - claims_summary(request, claims).claimed
    return total if total > released else None


def _reused_evidence(claim: MdfClaim, earlier: Iterable[MdfClaim]) -> None:
    used = {
        e.sha256: c.claim_id for c in earlier if c.claim_id != claim.claim_id for e in c.evidence
    }
    listed: set[str] = set()
    for index, evidence in enumerate(claim.evidence):
        where: Location = ("body", "evidence", index, "sha256")
        if evidence.sha256 in used:
            raise MdfClaimRefused(
                ClaimRule.EVIDENCE_REUSED,
                where,
                f"evidence {evidence.sha256} was already used by claim {used[evidence.sha256]}",
            )
        if evidence.sha256 in listed:
            raise MdfClaimRefused(
                ClaimRule.EVIDENCE_REUSED, where, f"evidence {evidence.sha256} is listed twice"
            )
        listed.add(evidence.sha256)


def check_mdf_claim(
    claim: MdfClaim,
    request: MdfRequest,
    claims: Iterable[MdfClaim],
    today: date,
    window_days: int = DEFAULT_CLAIM_WINDOW_DAYS,
) -> None:
    """Refuse ``claim`` against ``request`` (:class:`MdfClaimRefused`, naming the field and
    the rule) unless every rule allows it, checked in this order: the request is approved;
    the claim is in its currency; it has evidence; its activity has ended (``activity_end``
    is not after ``today``); ``today`` is at most ``activity_end`` + ``window_days``, and
    at most the last day of the request's quarter + ``window_days``; with the request's other claims (rejected ones
    hold nothing) it stays within the approved amount; no evidence digest was used by
    any earlier claim of the partner (``claims``: all of them, of every request) nor is
    listed twice."""
    if claim.request_id != request.request_id or claim.partner_id != request.partner_id:
        raise ValueError(f"claim {claim.claim_id} judged against another request")
    claims = list(claims)
    if request.status is not MdfStatus.APPROVED:
        raise MdfClaimRefused(
            ClaimRule.NOT_APPROVED,
            ("path", "request_id"),
            f"MDF request {request.request_id} is {request.status}: only an approved "
            "request is claimed against",
        )
    if claim.currency != request.currency:
        raise MdfClaimRefused(
            ClaimRule.CURRENCY_MISMATCH,
            ("body", "currency"),
            f"MDF request {request.request_id} is in {request.currency}, "
            f"the claim in {claim.currency}",
        )
    if not claim.evidence:
        raise MdfClaimRefused(
            ClaimRule.NO_EVIDENCE,
            ("body", "evidence"),
            "a claim needs at least one piece of proof of performance",
        )
    if claim.activity_end > today:
        raise MdfClaimRefused(
            ClaimRule.ACTIVITY_NOT_ENDED,
            ("body", "activity_end"),
            f"the activity ends on {claim.activity_end.isoformat()}: it is claimed once it "
            f"has ended, today is {today.isoformat()}",
        )
    closes = claim_window_closes(claim.activity_end, window_days)
    if today > closes:
        raise MdfClaimRefused(
            ClaimRule.CLAIM_WINDOW_CLOSED,
            ("body", "activity_end"),
            f"an activity that ended on {claim.activity_end.isoformat()} could be claimed "
            f"until {closes.isoformat()} ({window_days} days)",
        )
    last = request_claims_close(request, window_days)
    if today > last:
        raise MdfClaimRefused(
            ClaimRule.CLAIM_WINDOW_CLOSED,
            ("path", "request_id"),
            f"MDF request {request.request_id} of {request.quarter} could be claimed against "
            f"until {last.isoformat()} ({window_days} days after its quarter); what was not "
            "claimed went back to the budget",
        )
    others = [c for c in claims if c.claim_id != claim.claim_id]
    left = claims_summary(request, others).claimable
    if claim.amount > left:
        raise MdfClaimRefused(
            ClaimRule.OVER_APPROVED_AMOUNT,
            ("body", "amount"),
            f"{claim.amount} {claim.currency} claimed but only {left} {request.currency} "
            f"of the {request.amount} {request.currency} approved is left to claim",
        )
    _reused_evidence(claim, others)
