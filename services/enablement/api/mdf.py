"""``/mdf-requests``: co-marketing fund (MDF) requests and their decisions, and the claims
an approved request is paid against. A partner requests, and claims against its own
requests, for itself (self-service); only staff decide."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.enablement.api.dependencies import Commands, Queries
from services.enablement.commands import (
    MdfClaimApprovalBody,
    MdfClaimBody,
    MdfClaimRejectionBody,
    MdfRejectionBody,
    MdfRequestBody,
)
from services.enablement.domain import MdfStatus
from services.enablement.views import (
    MdfClaimView,
    MdfRequestDetailView,
    MdfRequestsView,
    MdfRequestView,
)
from shared import access
from shared.events import QUARTER_PATTERN
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(prefix="/mdf-requests", tags=["mdf"])

DECISION_REFUSED = refusals(not_found="no such request", conflict="the request is decided already")
CLAIM_DECISION_REFUSED = refusals(
    not_found="no such request, or no such claim of it", conflict="the claim is decided already"
)


@router.post(
    "",
    status_code=201,
    response_model=MdfRequestView,
    responses=refusals(not_found="the partner is not known", conflict="the partner may not act"),
    summary="Request co-marketing funds (MdfRequested; MdfRejected when over budget): "
    "a partner for itself, staff for the partner named",
)
async def request_mdf(
    body: MdfRequestBody, key: IdempotentCommand, caller: access.SelfService, commands: Commands
) -> JSONResponse:
    partner_id = access.acting_partner(caller, body.partner_id)
    return respond(await commands.request_mdf(body, key, partner_id=partner_id, actor=caller.actor))


@router.post(
    "/{request_id}/approve",
    response_model=MdfRequestView,
    responses=DECISION_REFUSED,
    summary="Approve an MDF request (MdfApproved; MdfRejected when the budget no longer allows it)",
    dependencies=[access.StaffAccess],
)
async def approve_mdf(
    request_id: str, key: IdempotentCommand, actor: access.CallerActor, commands: Commands
) -> JSONResponse:
    return respond(await commands.approve_mdf(request_id, key, actor))


@router.post(
    "/{request_id}/reject",
    response_model=MdfRequestView,
    responses=DECISION_REFUSED,
    summary="Reject an MDF request (publishes MdfRejected)",
    dependencies=[access.StaffAccess],
)
async def reject_mdf(
    request_id: str,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
    body: MdfRejectionBody | None = None,
) -> JSONResponse:
    return respond(await commands.reject_mdf(request_id, body, key, actor))


@router.get(
    "",
    response_model=MdfRequestsView,
    response_model_exclude_unset=True,
    summary="MDF requests of a partner (with its budget of a quarter), or all by status",
)
async def mdf_requests(
    principal: access.Authenticated,
    queries: Queries,
    partner_id: str | None = None,
    status: MdfStatus | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    quarter: str | None = Query(
        default=None,
        pattern=QUARTER_PATTERN,
        description="the quarter whose budget is shown with partner_id, e.g. 2026-Q3; "
        "left out: this quarter",
    ),
) -> MdfRequestsView:
    """A partner key sees its own partner's requests only."""
    partner_id = access.scoped_partner(principal, partner_id)
    return await queries.mdf_requests(partner_id, status, limit, quarter)


@router.get(
    "/{request_id}",
    response_model=MdfRequestDetailView,
    responses=refusals(not_found="no such request"),
    summary="One MDF request, its decision and its claims",
)
async def mdf_request(
    request_id: str, principal: access.Authenticated, queries: Queries
) -> MdfRequestDetailView:
    found = await queries.mdf_request(request_id)
    access.ensure_may_read(principal, found.partner_id)
    return found


# --------------------------------------------------------------------------- claims


@router.post(
    "/{request_id}/claims",
    status_code=201,
    response_model=MdfClaimView,
    responses=refusals(not_found="no such request"),
    summary="Claim against an approved MDF request with proof of performance "
    "(MdfClaimSubmitted): a partner for its own requests, staff for any",
)
async def submit_claim(
    request_id: str,
    body: MdfClaimBody,
    key: IdempotentCommand,
    caller: access.SelfService,
    queries: Queries,
    commands: Commands,
) -> JSONResponse:
    """A partner caller claims against its own partner's requests only (another's: 403)."""
    if caller.is_partner:
        access.ensure_may_read(caller, (await queries.mdf_request(request_id)).partner_id)
    return respond(await commands.submit_mdf_claim(request_id, body, key, caller.actor))


@router.post(
    "/{request_id}/claims/{claim_id}/approve",
    response_model=MdfClaimView,
    responses=CLAIM_DECISION_REFUSED,
    summary="Approve a claim, all of it or approved_amount of it (MdfClaimApproved)",
    dependencies=[access.StaffAccess],
)
async def approve_claim(
    request_id: str,
    claim_id: str,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
    body: MdfClaimApprovalBody | None = None,
) -> JSONResponse:
    return respond(await commands.approve_mdf_claim(request_id, claim_id, body, key, actor))


@router.post(
    "/{request_id}/claims/{claim_id}/reject",
    response_model=MdfClaimView,
    responses=CLAIM_DECISION_REFUSED,
    summary="Reject a claim (MdfClaimRejected)",
    dependencies=[access.StaffAccess],
)
async def reject_claim(
    request_id: str,
    claim_id: str,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
    body: MdfClaimRejectionBody | None = None,
) -> JSONResponse:
    return respond(await commands.reject_mdf_claim(request_id, claim_id, body, key, actor))
