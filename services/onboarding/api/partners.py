"""``/partners/{partner_id}``: contracts, renewals, tier changes, termination; the partner."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.onboarding.api.dependencies import Commands, Partners
from services.onboarding.commands import (
    ContractBody,
    RenewalBody,
    TerminationBody,
    TierChangeBody,
)
from services.onboarding.views import (
    PartnerView,
    Renewed,
    Signed,
    Terminated,
    TierChanged,
    partner_view,
)
from shared import access
from shared.commands import NotFound
from shared.routes import IdempotentCommand, Refusal, respond

router = APIRouter(prefix="/partners/{partner_id}", tags=["partners"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Refusal, "description": "no such partner"}
}
REFUSED: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": Refusal, "description": "the partner's status does not allow it"},
}


@router.post(
    "/contracts",
    status_code=201,
    response_model=Signed,
    responses=REFUSED,
    dependencies=[access.StaffAccess],
    summary="Sign an approved partner's first contract (PartnerSigned)",
)
async def sign(
    partner_id: str, body: ContractBody, key: IdempotentCommand, commands: Commands
) -> JSONResponse:
    return respond(await commands.sign(partner_id, body, key))


@router.post(
    "/contracts/{contract_id}/renew",
    status_code=201,
    response_model=Renewed,
    responses=REFUSED,
    dependencies=[access.StaffAccess],
    summary="Renew the current contract with a new one (ContractRenewed)",
)
async def renew(
    partner_id: str,
    contract_id: str,
    body: RenewalBody,
    key: IdempotentCommand,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.renew(partner_id, contract_id, body, key))


@router.post(
    "/tier",
    response_model=TierChanged,
    responses=REFUSED,
    dependencies=[access.StaffAccess],
    summary="Change an active partner's tier from a date (PartnerTierChanged)",
)
async def change_tier(
    partner_id: str, body: TierChangeBody, key: IdempotentCommand, commands: Commands
) -> JSONResponse:
    return respond(await commands.change_tier(partner_id, body, key))


@router.post(
    "/terminate",
    response_model=Terminated,
    responses=REFUSED,
    dependencies=[access.StaffAccess],
    summary="Give notice of termination, respecting the notice period (PartnerTerminated)",
)
async def terminate(
    partner_id: str, body: TerminationBody, key: IdempotentCommand, commands: Commands
) -> JSONResponse:
    return respond(await commands.terminate(partner_id, body, key))


@router.get(
    "",
    response_model=PartnerView,
    responses=NOT_FOUND,
    dependencies=[access.PartnerReadAccess],
    summary="A partner as onboarding knows it: status, tier, contracts, termination",
)
async def partner(partner_id: str, partners: Partners) -> PartnerView:
    found = await partners.load(partner_id)
    if found is None:
        raise NotFound(f"partner {partner_id} does not exist")
    return partner_view(found.record)
