"""``/partners/{partner_id}``: contracts, renewals, tier changes, termination; the partner."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.onboarding.api.dependencies import Commands, Queries
from services.onboarding.commands import (
    ContractBody,
    RenewalBody,
    TerminationBody,
    TierChangeBody,
)
from services.onboarding.views import (
    PartnerView,
    RenewalAnswer,
    SigningAnswer,
    TerminationAnswer,
    TierChangeAnswer,
)
from shared import access
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(prefix="/partners/{partner_id}", tags=["partners"])

NOT_FOUND = refusals(not_found="no such partner")
REFUSED = refusals(not_found="no such partner", conflict="the partner's status does not allow it")


@router.post(
    "/contracts",
    status_code=201,
    response_model=SigningAnswer,
    responses=REFUSED,
    dependencies=[access.StaffAccess],
    summary="Sign an approved partner's first contract (PartnerSigned)",
)
async def sign(
    partner_id: str,
    body: ContractBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.sign(partner_id, body, key, actor))


@router.post(
    "/contracts/{contract_id}/renew",
    status_code=201,
    response_model=RenewalAnswer,
    responses=REFUSED,
    dependencies=[access.StaffAccess],
    summary="Renew the current contract with a new one (ContractRenewed)",
)
async def renew(
    partner_id: str,
    contract_id: str,
    body: RenewalBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.renew(partner_id, contract_id, body, key, actor))


@router.post(
    "/tier",
    response_model=TierChangeAnswer,
    responses=REFUSED,
    dependencies=[access.StaffAccess],
    summary="Change an active partner's tier from a date (PartnerTierChanged)",
)
async def change_tier(
    partner_id: str,
    body: TierChangeBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.change_tier(partner_id, body, key, actor))


@router.post(
    "/terminate",
    response_model=TerminationAnswer,
    responses=REFUSED,
    dependencies=[access.StaffAccess],
    summary="Give notice of termination, respecting the notice period (PartnerTerminated)",
)
async def terminate(
    partner_id: str,
    body: TerminationBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.terminate(partner_id, body, key, actor))


@router.get(
    "",
    response_model=PartnerView,
    responses=NOT_FOUND,
    dependencies=[access.PartnerReadAccess],
    summary="A partner as onboarding knows it: status, tier, contracts, termination",
)
async def partner(partner_id: str, queries: Queries) -> PartnerView:
    return await queries.partner(partner_id)
