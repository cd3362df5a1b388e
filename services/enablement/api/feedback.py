"""``/feedback``: partners' feedback."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.enablement.api.dependencies import Commands, Queries
from services.enablement.commands import FeedbackBody
from services.enablement.views import FeedbackAnswer, FeedbackListView
from shared import access
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(tags=["feedback"])


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
