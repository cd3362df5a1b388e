"""``/settlements`` and ``/partners/{partner_id}/settlements``: settling a period, and a
partner's settlements with what is pending (``docs/rules/settlement.md``)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.incentives.api.dependencies import Commands, Queries
from services.incentives.settlements import SettlementRefused
from services.incentives.views import (
    PartnerSettlementsView,
    SettlementRefusal,
    SettlementRunAnswer,
)
from shared import access
from shared.events import NonEmpty, PeriodLabel
from shared.routes import Refusal, refusals


class SettlementRequest(BaseModel):
    period: PeriodLabel = Field(description="the period to settle, e.g. 2026-Q4 or 2026-11")
    partner_ids: list[NonEmpty] | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="the partners to settle; null: every partner not yet settled for the period",
    )
    settlement_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{1,100}$",
        description="give one to make the request safe to retry: partners already settled "
        "under it answer what was recorded and are not paid twice",
    )
    rerun: bool = Field(
        default=False, description="settle an already settled period again, paying the difference"
    )
    dry_run: bool = Field(default=False, description="compute what would be paid; record nothing")


router = APIRouter(tags=["settlements"])


@router.post(
    "/settlements",
    summary="Settle a period: pay each partner what is payable now, carry later changes",
    dependencies=[access.StaffAccess],
    status_code=201,
    response_model=SettlementRunAnswer,
    responses={
        200: {"model": SettlementRunAnswer, "description": "a dry run, or nothing new to record"},
        404: {"model": Refusal, "description": "an unknown partner id"},
        409: {
            "model": SettlementRefusal,
            "description": "the period is already settled for a partner (nothing settled)",
        },
    },
)
async def settle_period(
    request: SettlementRequest,
    response: Response,
    actor: access.CallerActor,
    commands: Commands,
) -> SettlementRunAnswer | JSONResponse:
    try:
        run = await commands.settle(
            request.period,
            request.partner_ids,
            settlement_id=request.settlement_id,
            rerun=request.rerun,
            dry_run=request.dry_run,
            actor=actor,
        )
    except SettlementRefused as refused:
        body = SettlementRefusal.of(refused).model_dump(mode="json")
        return JSONResponse(status_code=409, content=body)
    response.status_code = 201 if run.recorded else 200
    return SettlementRunAnswer.of(run)


@router.get(
    "/partners/{partner_id}/settlements",
    summary="A partner's settlements and what is pending against settled periods",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no commission data for the partner"),
)
async def partner_settlements(partner_id: str, queries: Queries) -> PartnerSettlementsView:
    return await queries.partner_settlements(partner_id)
