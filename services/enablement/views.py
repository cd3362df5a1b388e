"""The bodies enablement's HTTP API answers with, one pydantic model each.

The commands build their answers from these models and the routes declare
them as response models, so the OpenAPI document describes exactly what is
sent. A resource is a ``…View``, a command's answer that is not the resource
it made an ``…Answer``. Instants are ISO 8601 text with their UTC offset
(``instant.isoformat()``); money is a decimal string (``str(amount)``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Self

from pydantic import BaseModel, Field

from services.enablement.domain import (
    Award,
    CertificationDefinition,
    Course,
    Evidence,
    Feedback,
    FeedbackFigures,
    MdfClaim,
    MdfClaimStatus,
    MdfRequest,
    MdfStatus,
    PartnerStanding,
    QuarterBudget,
    SalesMaterial,
    claims_summary,
    request_claims_close,
)
from services.enablement.store import Learner
from shared.events import PartnerStatus, Tier
from shared.routes import InstantText, MoneyText
from shared.spreadsheet import csv_cell

# ----------------------------------------------------------------- the catalogue


class CourseView(BaseModel):
    course_id: str
    title: str
    product_line: str
    passing_score: int

    @classmethod
    def of(cls, course: Course) -> Self:
        return cls(
            course_id=course.course_id,
            title=course.title,
            product_line=course.product_line,
            passing_score=course.passing_score,
        )


class CoursesView(BaseModel):
    courses: list[CourseView]


class CertificationView(BaseModel):
    certification_id: str
    product_line: str
    required_courses: list[str] = Field(description="course ids, sorted")
    validity_days: int

    @classmethod
    def of(cls, certification: CertificationDefinition) -> Self:
        return cls(
            certification_id=certification.certification_id,
            product_line=certification.product_line,
            required_courses=sorted(certification.required_courses),
            validity_days=certification.validity_days,
        )


class CertificationsView(BaseModel):
    certifications: list[CertificationView]


# ----------------------------------------------------------------- learning


class AwardView(BaseModel):
    certification_id: str
    product_line: str
    awarded_at: InstantText
    expires_at: InstantText

    @classmethod
    def of(cls, award: Award) -> Self:
        return cls(
            certification_id=award.certification_id,
            product_line=award.product_line,
            awarded_at=award.awarded_at.isoformat(),
            expires_at=award.expires_at.isoformat(),
        )


class CompletionAnswer(BaseModel):
    """A completion recorded: its TrainingCompleted's id and the awards it brought."""

    partner_id: str
    learner_id: str
    course_id: str
    completed_at: InstantText
    score: int
    passed: bool
    event_id: str
    certifications_awarded: list[AwardView]


class CompletionView(BaseModel):
    course_id: str
    completed_at: InstantText
    score: int


class LearnerAwardView(BaseModel):
    learner_id: str
    certification_id: str
    product_line: str
    awarded_at: InstantText
    expires_at: InstantText

    @classmethod
    def of(cls, award: Award) -> Self:
        return cls(learner_id=award.learner_id, **AwardView.of(award).model_dump())


class LearnerView(BaseModel):
    partner_id: str
    learner_id: str
    completions: list[CompletionView] = Field(description="by completed_at, then course_id")
    certifications: list[LearnerAwardView]

    @classmethod
    def of(cls, learner: Learner) -> Self:
        return cls(
            partner_id=learner.partner_id,
            learner_id=learner.learner_id,
            completions=[
                CompletionView(
                    course_id=c.course_id, completed_at=c.completed_at.isoformat(), score=c.score
                )
                for c in sorted(learner.completions, key=lambda c: (c.completed_at, c.course_id))
            ],
            certifications=[LearnerAwardView.of(a) for a in learner.awards],
        )


class LearnersView(BaseModel):
    partner_id: str
    learners: list[LearnerView]


class HeldCertificationView(LearnerAwardView):
    valid: bool = Field(description="whether it is valid now")


class PartnerCertificationsView(BaseModel):
    partner_id: str
    certifications: list[HeldCertificationView] = Field(description="by awarded_at")


class StandingView(BaseModel):
    """What enablement knows of a partner from partners.v1, today."""

    partner_id: str
    status: PartnerStatus
    tier: Tier | None
    terminated_from: str | None = Field(description="the termination's effective date")

    @classmethod
    def of(cls, standing: PartnerStanding, day: date) -> Self:
        termination = standing.termination
        return cls(
            partner_id=standing.partner_id,
            status=standing.status_on(day),
            tier=standing.tier_on(day),
            terminated_from=None if termination is None else termination.effective_date.isoformat(),
        )


# ----------------------------------------------------------------- materials


class MaterialView(BaseModel):
    material_id: str
    title: str
    product_line: str
    kind: str
    url: str
    tiers: list[Tier] = Field(description="the tiers allowed to see it")

    @classmethod
    def of(cls, material: SalesMaterial) -> Self:
        return cls(
            material_id=material.material_id,
            title=material.title,
            product_line=material.product_line,
            kind=material.kind,
            url=material.url,
            tiers=sorted(material.tiers),
        )


class MaterialsView(BaseModel):
    partner_id: str | None
    tier: Tier | None
    product_line: str | None
    materials: list[MaterialView] = Field(description="by product line, title and id")


# ----------------------------------------------------------------- feedback


class FeedbackAnswer(BaseModel):
    """Feedback recorded, with its PartnerFeedbackSubmitted's id."""

    feedback_id: str
    partner_id: str
    rating: int
    topic: str
    text: str
    submitted_at: InstantText
    product_line: str | None = None
    event_id: str


class FeedbackView(BaseModel):
    feedback_id: str
    rating: int
    topic: str
    text: str
    submitted_at: InstantText
    product_line: str | None = Field(default=None, description="null: it names none")

    @classmethod
    def of(cls, feedback: Feedback) -> Self:
        return cls(
            feedback_id=feedback.feedback_id,
            rating=feedback.rating,
            topic=feedback.topic,
            text=feedback.text,
            submitted_at=feedback.submitted_at.isoformat(),
            product_line=feedback.product_line,
        )


class FeedbackListView(BaseModel):
    partner_id: str
    feedback: list[FeedbackView] = Field(description="newest first")


class WordCountView(BaseModel):
    word: str
    count: int = Field(description="how many comments use the word (once per comment)")


class ProductLineFeedbackView(BaseModel):
    """One product line's feedback of the period (docs/rules/enablement.md, "Feedback to
    the product")."""

    product_line: str | None = Field(description="null: the feedback that names no product line")
    count: int
    average_rating: str | None = Field(
        description="the mean rating, two decimals (half up); null without feedback"
    )
    ratings: dict[str, int] = Field(description="how many rated 1, 2, 3, 4 and 5")
    top_words: list[WordCountView] = Field(
        description="the most frequent words of the comments, by count then word"
    )

    @classmethod
    def of(cls, figures: FeedbackFigures) -> Self:
        average = figures.average_rating
        return cls(
            product_line=figures.product_line,
            count=figures.count,
            average_rating=None if average is None else str(average),
            ratings={str(n): count for n, count in enumerate(figures.ratings, start=1)},
            top_words=[WordCountView(word=w, count=c) for w, c in figures.top_words],
        )


class FeedbackSummaryView(BaseModel):
    period: str | None = Field(description="2026, 2026-Q4 or 2026-11; null: all time")
    since: InstantText | None = Field(description="the period's first instant (UTC)")
    until: InstantText | None = Field(description="the first instant after the period (UTC)")
    product_line: str | None = Field(description="the product line asked; null: every line")
    count: int = Field(description="the feedback summed up, every line shown")
    product_lines: list[ProductLineFeedbackView] = Field(
        description="by product line, the feedback naming none (null) last"
    )

    @classmethod
    def of(
        cls,
        period: str | None,
        span: tuple[datetime, datetime] | None,
        product_line: str | None,
        figures: list[FeedbackFigures],
    ) -> Self:
        return cls(
            period=period,
            since=None if span is None else span[0].isoformat(),
            until=None if span is None else span[1].isoformat(),
            product_line=product_line,
            count=sum(f.count for f in figures),
            product_lines=[ProductLineFeedbackView.of(f) for f in figures],
        )


#: The product teams' export's columns, one row per feedback item.
FEEDBACK_CSV_COLUMNS = (
    "feedback_id",
    "partner_id",
    "product_line",
    "topic",
    "rating",
    "submitted_at",
    "text",
)


def feedback_csv(items: Iterable[Feedback]) -> str:
    """The product teams' export: a header, then one row per feedback item in the order
    given (a product line left empty when it names none); CRLF line ends, every cell
    formula-safe (:func:`csv_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FEEDBACK_CSV_COLUMNS)
    for item in items:
        row = (
            item.feedback_id,
            item.partner_id,
            item.product_line or "",
            item.topic,
            str(item.rating),
            item.submitted_at.isoformat(),
            item.text,
        )
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


# ----------------------------------------------------------------- MDF


class MdfRequestView(BaseModel):
    request_id: str
    partner_id: str
    campaign: str
    amount: MoneyText
    currency: str
    requested_at: InstantText
    status: MdfStatus
    decided_at: InstantText | None
    reason: str | None = Field(description="why it was rejected")
    claims_close: str | None = Field(
        description="approved: the last day a claim may be made against it (the last day "
        "of its quarter plus the claim window); else none",
        json_schema_extra={"format": "date"},
    )

    @classmethod
    def of(cls, request: MdfRequest, window_days: int) -> Self:
        approved = request.status is MdfStatus.APPROVED
        return cls(
            request_id=request.request_id,
            partner_id=request.partner_id,
            campaign=request.campaign,
            amount=str(request.amount),
            currency=request.currency,
            requested_at=request.requested_at.isoformat(),
            status=request.status,
            decided_at=None if request.decided_at is None else request.decided_at.isoformat(),
            reason=request.reason,
            claims_close=request_claims_close(request, window_days).isoformat()
            if approved
            else None,
        )


class EvidenceView(BaseModel):
    """A piece of a claim's proof of performance."""

    kind: str
    url: str
    sha256: str = Field(description="SHA-256 of the document, 64 lower-case hex digits")

    @classmethod
    def of(cls, evidence: Evidence) -> Self:
        return cls(kind=evidence.kind, url=evidence.url, sha256=evidence.sha256)


class MdfClaimView(BaseModel):
    """A claim against an approved MDF request, and its decision."""

    claim_id: str
    request_id: str
    partner_id: str
    amount: MoneyText
    currency: str
    activity_end: str = Field(
        description="the day the claimed activity ended", json_schema_extra={"format": "date"}
    )
    evidence: list[EvidenceView]
    status: MdfClaimStatus
    submitted_at: InstantText
    decided_at: InstantText | None
    approved_amount: MoneyText | None = Field(description="what is paid for it, once approved")
    reason: str | None = Field(description="why it was rejected")

    @classmethod
    def of(cls, claim: MdfClaim) -> Self:
        return cls(
            claim_id=claim.claim_id,
            request_id=claim.request_id,
            partner_id=claim.partner_id,
            amount=str(claim.amount),
            currency=claim.currency,
            activity_end=claim.activity_end.isoformat(),
            evidence=[EvidenceView.of(e) for e in claim.evidence],
            status=claim.status,
            submitted_at=claim.submitted_at.isoformat(),
            decided_at=None if claim.decided_at is None else claim.decided_at.isoformat(),
            approved_amount=None if claim.approved_amount is None else str(claim.approved_amount),
            reason=claim.reason,
        )


class MdfRequestDetailView(MdfRequestView):
    """One MDF request with its claims and what they hold of it."""

    claims: list[MdfClaimView] = Field(description="by submitted_at, then claim_id")
    claimed: MoneyText = Field(
        description="what the claims hold: those waiting at their amount, "
        "approved ones at what was approved"
    )
    claims_approved: MoneyText = Field(description="what the approved claims pay")
    claimable: MoneyText = Field(
        description="what a new claim may still ask for (0.00 once claims have closed)"
    )
    released: MoneyText = Field(
        description="what went unclaimed and was released to the budget once claims closed"
    )

    @classmethod
    def with_claims(
        cls,
        request: MdfRequest,
        claims: Iterable[MdfClaim],
        *,
        released: Decimal,
        window_days: int,
        today: date,
    ) -> Self:
        own = sorted(
            (c for c in claims if c.request_id == request.request_id),
            key=lambda c: (c.submitted_at, c.claim_id),
        )
        summary = claims_summary(request, own)
        open_ = today <= request_claims_close(request, window_days)
        return cls(
            **MdfRequestView.of(request, window_days).model_dump(),
            claims=[MdfClaimView.of(c) for c in own],
            claimed=str(summary.claimed),
            claims_approved=str(summary.approved),
            claimable=str(summary.claimable if open_ else Decimal("0.00")),
            released=str(released),
        )


class MdfReleaseView(BaseModel):
    """What one request has released in all (MdfFundsReleased), by this run."""

    partner_id: str
    request_id: str
    quarter: str
    amount: MoneyText = Field(description="all the request has released so far")
    currency: str
    released_at: InstantText


class MdfReleasesView(BaseModel):
    """One run of the release of unclaimed funds."""

    released: list[MdfReleaseView] = Field(
        description="the requests that released (more) now, by partner and request"
    )


class MdfClaimsView(BaseModel):
    """Claims across requests: one partner's, or every partner's, of one status or any."""

    partner_id: str | None = Field(description="the partner asked for; none: every partner")
    status: MdfClaimStatus | None = Field(description="the status asked for; none: any")
    claims: list[MdfClaimView] = Field(description="oldest first: by submitted_at, then claim_id")


class QuarterBudgetView(BaseModel):
    """A partner's MDF budget for one quarter, at its tier today."""

    quarter: str
    currency: str
    tier: Tier | None
    budget: MoneyText
    approved: MoneyText
    released: MoneyText = Field(
        description="what approved requests left unclaimed and gave back once claims closed"
    )
    remaining: MoneyText = Field(description="budget − approved + released (never below 0)")

    @classmethod
    def of(cls, budget: QuarterBudget) -> Self:
        return cls(
            quarter=budget.quarter,
            currency=budget.currency,
            tier=budget.tier,
            budget=str(budget.budget),
            approved=str(budget.approved),
            released=str(budget.released),
            remaining=str(budget.remaining),
        )


class MdfRequestsView(BaseModel):
    partner_id: str | None
    status: MdfStatus | None
    requests: list[MdfRequestView] = Field(description="by requested_at, then request_id")
    budget: QuarterBudgetView | None = Field(
        default=None, description="with partner_id, when the partner is known; else left out"
    )
