"""What enablement's HTTP reads answer: the catalogue, learners, partners, materials,
feedback, MDF requests and their claims, as the bodies of :mod:`services.enablement.views`.

Who may read what (a partner key reads its own partner's data) is the
routes' business; the rules a read applies are in
:mod:`services.enablement.domain`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from services.enablement.domain import (
    DEFAULT_CLAIM_WINDOW_DAYS,
    TOP_WORDS,
    Feedback,
    MdfBudget,
    MdfClaimStatus,
    MdfStatus,
    feedback_summary,
    materials_tier,
    period_span,
    quarter_budget,
    quarter_of,
    require_active_partner,
    selected_feedback,
    utc_date,
    visible_materials,
)
from services.enablement.store import MdfLedger, Store
from services.enablement.views import (
    CertificationsView,
    CertificationView,
    CoursesView,
    CourseView,
    FeedbackListView,
    FeedbackSummaryView,
    FeedbackView,
    HeldCertificationView,
    LearnerAwardView,
    LearnersView,
    LearnerView,
    MaterialsView,
    MaterialView,
    MdfClaimsView,
    MdfClaimView,
    MdfRequestDetailView,
    MdfRequestsView,
    MdfRequestView,
    PartnerCertificationsView,
    QuarterBudgetView,
    StandingView,
)
from shared.commands import InvalidField, NotFound
from shared.events import Tier


class EnablementQueries:
    """The reads of enablement's HTTP API over a :class:`Store`."""

    def __init__(
        self,
        store: Store,
        budget: MdfBudget,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        claim_window_days: int = DEFAULT_CLAIM_WINDOW_DAYS,
    ) -> None:
        self.store = store
        self.budget = budget
        self.clock = clock
        self.claim_window_days = claim_window_days

    # ----------------------------------------------------------------- the catalogue

    async def courses(self, product_line: str | None) -> CoursesView:
        catalogue = await self.store.load_catalogue()
        return CoursesView(
            courses=[
                CourseView.of(c)
                for c in sorted(catalogue.courses.values(), key=lambda c: c.course_id)
                if product_line is None or c.product_line == product_line
            ]
        )

    async def certifications(self, product_line: str | None) -> CertificationsView:
        catalogue = await self.store.load_catalogue()
        definitions = sorted(catalogue.certifications.values(), key=lambda c: c.certification_id)
        return CertificationsView(
            certifications=[
                CertificationView.of(c)
                for c in definitions
                if product_line is None or c.product_line == product_line
            ]
        )

    # ----------------------------------------------------------------- learning and partners

    async def learners(self, partner_id: str) -> LearnersView:
        return LearnersView(
            partner_id=partner_id,
            learners=[LearnerView.of(x) for x in await self.store.learners_of(partner_id)],
        )

    async def learner(self, partner_id: str, learner_id: str) -> LearnerView:
        found = await self.store.find_learner(partner_id, learner_id)
        if found is None:
            raise NotFound(f"no learner {learner_id} of partner {partner_id}")
        return LearnerView.of(found)

    async def partner_certifications(self, partner_id: str) -> PartnerCertificationsView:
        now = self.clock()
        awards = [a for x in await self.store.learners_of(partner_id) for a in x.awards]
        return PartnerCertificationsView(
            partner_id=partner_id,
            certifications=[
                HeldCertificationView(**LearnerAwardView.of(a).model_dump(), valid=a.valid_at(now))
                for a in sorted(awards, key=lambda a: (a.awarded_at, a.learner_id))
            ],
        )

    async def standing(self, partner_id: str) -> StandingView:
        found = await self.store.standing(partner_id)
        if found is None:
            raise NotFound(f"partner {partner_id} is not known")
        return StandingView.of(found, utc_date(self.clock()))

    # ----------------------------------------------------------------- materials and feedback

    async def materials(
        self, product_line: str | None, tier: Tier | None, partner_id: str | None, limit: int
    ) -> MaterialsView:
        """Materials by product line and tier; with ``partner_id``, those the partner's tier
        may see (:func:`~services.enablement.domain.materials_tier`, which raises
        :class:`~services.enablement.domain.TierMismatch` for another tier)."""
        if partner_id is not None:
            today = utc_date(self.clock())
            standing = require_active_partner(
                await self.store.standing(partner_id), partner_id, today
            )
            tier = materials_tier(standing, tier, today)
            if tier is None:
                return MaterialsView(
                    partner_id=partner_id, tier=None, product_line=product_line, materials=[]
                )
        found = visible_materials(
            await self.store.materials_matching(product_line, tier, limit), product_line, tier
        )
        return MaterialsView(
            partner_id=partner_id,
            tier=tier,
            product_line=product_line,
            materials=[MaterialView.of(m) for m in found],
        )

    async def feedback(self, partner_id: str, limit: int) -> FeedbackListView:
        return FeedbackListView(
            partner_id=partner_id,
            feedback=[FeedbackView.of(f) for f in await self.store.feedback_of(partner_id, limit)],
        )

    async def feedback_for_product(
        self, period: str | None, product_line: str | None
    ) -> list[Feedback]:
        """Every feedback item of the period (all time when None) and product line (every
        line when None), by ``submitted_at`` then id."""
        since, until = period_span(period) if period is not None else (None, None)
        found = await self.store.feedback_between(since, until, product_line)
        return selected_feedback(found, period, product_line)

    async def feedback_summary(
        self, period: str | None, product_line: str | None, words: int = TOP_WORDS
    ) -> FeedbackSummaryView:
        """The product teams' summary (docs/rules/enablement.md, "Feedback to the
        product")."""
        found = await self.feedback_for_product(period, product_line)
        return FeedbackSummaryView.of(
            period,
            None if period is None else period_span(period),
            product_line,
            feedback_summary(found, period, product_line, words),
        )

    # ----------------------------------------------------------------- MDF

    async def mdf_requests(
        self,
        partner_id: str | None,
        status: MdfStatus | None,
        limit: int,
        quarter: str | None = None,
    ) -> MdfRequestsView:
        """A partner's requests with its budget of ``quarter`` (default this quarter), or
        every request by status."""
        ledgers: list[MdfLedger]
        if partner_id is not None:
            ledgers = await self.store.ledgers_of(partner_id)
        elif status is not None:
            ledgers = await self.store.ledgers_with_status(status, limit)
        else:
            raise InvalidField(("query", "partner_id"), "give partner_id or status")
        requests = sorted(
            (
                r
                for ledger in ledgers
                for r in ledger.requests.values()
                if status is None or r.status is status
            ),
            key=lambda r: (r.requested_at, r.request_id),
        )[:limit]
        view = MdfRequestsView(
            partner_id=partner_id,
            status=status,
            requests=[MdfRequestView.of(r, self.claim_window_days) for r in requests],
        )
        if partner_id is not None:
            budget = await self._budget_of(partner_id, quarter)
            if budget is not None:
                view.budget = budget
        return view

    async def _budget_of(self, partner_id: str, quarter: str | None) -> QuarterBudgetView | None:
        """The partner's budget of ``quarter`` (None: this one) at its tier today, with what
        its requests released (from its claim book)."""
        standing = await self.store.standing(partner_id)
        if standing is None:
            return None
        now = self.clock()
        ledger = await self.store.load_ledger(partner_id, quarter or quarter_of(now))
        book = await self.store.load_claim_book(partner_id)
        return QuarterBudgetView.of(
            quarter_budget(
                standing,
                ledger.quarter,
                utc_date(now),
                self.budget,
                ledger.requests.values(),
                book.released,
            )
        )

    async def mdf_request(self, request_id: str) -> MdfRequestDetailView:
        """The request with its claims and what it released (from its partner's claim book)."""
        ledger = await self.store.ledger_of_request(request_id)
        if ledger is None:
            raise NotFound(f"MDF request {request_id} does not exist")
        request = ledger.requests[request_id]
        book = await self.store.load_claim_book(request.partner_id)
        return MdfRequestDetailView.with_claims(
            request,
            book.claims.values(),
            released=book.released.get(request_id, Decimal("0.00")),
            window_days=self.claim_window_days,
            today=utc_date(self.clock()),
        )

    async def mdf_claims(
        self, partner_id: str | None, status: MdfClaimStatus | None, limit: int
    ) -> MdfClaimsView:
        """Claims across requests, oldest first: one partner's (its claim book, one
        document), or, without a partner, every partner's (every claim book holding one of
        ``status``: a read that grows with every claim ever made, see
        docs/rules/enablement.md, "Claims")."""
        if partner_id is not None:
            book = await self.store.load_claim_book(partner_id)
            found = [c for c in book.claims.values() if status is None or c.status is status]
        else:
            found = await self.store.claims_with_status(status)
        claims = sorted(found, key=lambda c: (c.submitted_at, c.claim_id))[:limit]
        return MdfClaimsView(
            partner_id=partner_id, status=status, claims=[MdfClaimView.of(c) for c in claims]
        )
