"""``/applications``: apply, list and read applications, approve or reject them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.onboarding.api.dependencies import Commands, Partners
from services.onboarding.commands import ApplicationBody, RejectionBody
from services.onboarding.domain import PartnerStatus
from services.onboarding.views import (
    ApplicationHistory,
    ApplicationPage,
    Applied,
    Approved,
    Rejected,
    application_history,
    application_view,
)
from shared import access
from shared.commands import NotFound
from shared.routes import IdempotentCommand, Refusal, respond

router = APIRouter(prefix="/applications", tags=["applications"], dependencies=[access.StaffAccess])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Refusal, "description": "no such application"}
}
REFUSED: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": Refusal, "description": "the application's status does not allow it"},
}


@router.post(
    "",
    status_code=201,
    response_model=Applied,
    summary="Apply: the scorecard is scored and a recommendation given (PartnerApplied)",
)
async def apply(body: ApplicationBody, key: IdempotentCommand, commands: Commands) -> JSONResponse:
    return respond(await commands.apply(body, key))


@router.get(
    "",
    response_model=ApplicationPage,
    summary="Applications in the order they arrived, by status, a page at a time",
)
async def applications(
    partners: Partners,
    status: PartnerStatus | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = Query(default=None, description="next_cursor of the previous page"),
) -> ApplicationPage:
    page = await partners.page(status, limit, cursor)
    return ApplicationPage(
        applications=[application_view(p.record) for p in page.partners],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{application_id}",
    response_model=ApplicationHistory,
    responses=NOT_FOUND,
    summary="One application with its assessment and the events it produced",
)
async def application(application_id: str, partners: Partners) -> ApplicationHistory:
    found = await partners.load_by_application(application_id)
    if found is None:
        raise NotFound(f"application {application_id} does not exist")
    return application_history(found.record, found.events)


@router.post(
    "/{application_id}/approve",
    response_model=Approved,
    responses=REFUSED,
    summary="Approve an application; answers the partner id (PartnerApproved)",
)
async def approve(application_id: str, key: IdempotentCommand, commands: Commands) -> JSONResponse:
    return respond(await commands.approve(application_id, key))


@router.post(
    "/{application_id}/reject",
    response_model=Rejected,
    responses=REFUSED,
    summary="Reject an application with a reason (PartnerRejected)",
)
async def reject(
    application_id: str, body: RejectionBody, key: IdempotentCommand, commands: Commands
) -> JSONResponse:
    return respond(await commands.reject(application_id, body, key))
