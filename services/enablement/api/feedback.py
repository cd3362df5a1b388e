"""``/feedback``: partners' feedback, and what the product teams read of it."""

from __future__ import annotations

import re

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from services.enablement.api.dependencies import Commands, Queries
from services.enablement.commands import FeedbackBody
from services.enablement.domain import TOP_WORDS
from services.enablement.views import (
    FeedbackAnswer,
    FeedbackListView,
    FeedbackSummaryView,
    feedback_csv,
)
from shared import access
from shared.events import PERIOD_PATTERN
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(tags=["feedback"])

PERIOD = Query(
    default=None,
    pattern=PERIOD_PATTERN,
    description="2026, 2026-Q4 or 2026-11, by submitted_at in UTC; left out: all time",
)
PRODUCT_LINE = Query(
    default=None, min_length=1, max_length=200, description="one product line; left out: all"
)


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackAnswer,
    responses=refusals(not_found="the partner is not known", conflict="the partner may not act"),
    summary="Record a partner's feedback (PartnerFeedbackSubmitted): a partner for itself, "
    "staff for the partner named",
)
async def submit_feedback(
    body: FeedbackBody, key: IdempotentCommand, caller: access.SelfService, commands: Commands
) -> JSONResponse:
    partner_id = access.acting_partner(caller, body.partner_id)
    return respond(
        await commands.submit_feedback(body, key, partner_id=partner_id, actor=caller.actor)
    )


@router.get(
    "/feedback",
    response_model=FeedbackListView,
    summary="A partner's feedback, newest first",
    dependencies=[access.PartnerReadAccess],
)
async def feedback(
    partner_id: str, queries: Queries, limit: int = Query(default=100, ge=1, le=1000)
) -> FeedbackListView:
    return await queries.feedback(partner_id, limit)


@router.get(
    "/feedback/summary",
    response_model=FeedbackSummaryView,
    summary="For the product teams: each product line's feedback of a period, its count, "
    "average rating, ratings and most frequent words",
    dependencies=[access.StaffAccess],
)
async def feedback_summary(
    queries: Queries,
    period: str | None = PERIOD,
    product_line: str | None = PRODUCT_LINE,
    words: int = Query(default=TOP_WORDS, ge=1, le=100, description="how many top words"),
) -> FeedbackSummaryView:
    return await queries.feedback_summary(period, product_line, words)


@router.get(
    "/feedback/export.csv",
    summary="For the product teams: a period's feedback, one CSV row per item",
    dependencies=[access.StaffAccess],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def feedback_export(
    queries: Queries, period: str | None = PERIOD, product_line: str | None = PRODUCT_LINE
) -> Response:
    named = "-".join(["feedback", *(p for p in (product_line, period) if p)])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", named)  # a header's quoted ASCII
    return Response(
        feedback_csv(await queries.feedback_for_product(period, product_line)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
