"""``/applications``: apply, list and read applications, approve or reject them."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.onboarding.api.dependencies import Commands, Queries
from services.onboarding.commands import ApplicationBody, RejectionBody
from services.onboarding.views import (
    ApplicationAnswer,
    ApplicationHistoryView,
    ApplicationsView,
    ApprovalAnswer,
    RejectionAnswer,
)
from shared import access
from shared.events import PartnerStatus
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(prefix="/applications", tags=["applications"], dependencies=[access.StaffAccess])

NOT_FOUND = refusals(not_found="no such application")
REFUSED = refusals(
    not_found="no such application", conflict="the application's status does not allow it"
)


@router.post(
    "",
    status_code=201,
    response_model=ApplicationAnswer,
    summary="Apply: the scorecard is scored and a recommendation given (PartnerApplied)",
)
async def apply(
    body: ApplicationBody, key: IdempotentCommand, actor: access.CallerActor, commands: Commands
) -> JSONResponse:
    return respond(await commands.apply(body, key, actor))


@router.get(
    "",
    response_model=ApplicationsView,
    summary="Applications in the order they arrived, by status, a page at a time",
)
async def applications(
    queries: Queries,
    status: PartnerStatus | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = Query(default=None, description="next_cursor of the previous page"),
) -> ApplicationsView:
    return await queries.applications(status, limit, cursor)


@router.get(
    "/{application_id}",
    response_model=ApplicationHistoryView,
    responses=NOT_FOUND,
    summary="One application with its assessment and the events it produced",
)
async def application(application_id: str, queries: Queries) -> ApplicationHistoryView:
    return await queries.application(application_id)


@router.post(
    "/{application_id}/approve",
    response_model=ApprovalAnswer,
    responses=REFUSED,
    summary="Approve an application; answers the partner id (PartnerApproved)",
)
async def approve(
    application_id: str, key: IdempotentCommand, actor: access.CallerActor, commands: Commands
) -> JSONResponse:
    return respond(await commands.approve(application_id, key, actor))


@router.post(
    "/{application_id}/reject",
    response_model=RejectionAnswer,
    responses=REFUSED,
    summary="Reject an application with a reason (PartnerRejected)",
)
async def reject(
    application_id: str,
    body: RejectionBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.reject(application_id, body, key, actor))
