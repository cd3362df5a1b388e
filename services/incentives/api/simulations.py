"""``/simulations``: what a draft commission plan would have paid, beside what was paid."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.incentives import domain
from services.incentives.api import Reads
from services.incentives.api.commissions import CommissionLine, LineTotals
from services.incentives.domain import DealResult, plan_terms
from shared import access
from shared.events import CommissionPlan, PeriodLabel


class SimulationRequest(BaseModel):
    plan: CommissionPlan = Field(description="the draft commission plan, as in a contract")
    partner_ids: list[str] = Field(min_length=1, max_length=1000)
    period: PeriodLabel


class Lines(LineTotals):
    lines: list[CommissionLine]


class PartnerSimulation(BaseModel):
    partner_id: str
    actual: Lines = Field(description="the period's lines as they are")
    simulated: Lines = Field(description="the same deals' lines under the draft plan")


class NoPartnerData(BaseModel):
    partner_id: str
    error: str = Field(description="why the partner could not be simulated")


class Simulation(BaseModel):
    period: str
    partners: list[PartnerSimulation | NoPartnerData]


def _lines(results: list[DealResult]) -> Lines:
    return Lines(
        lines=[CommissionLine.of(r) for r in results], **LineTotals.of(results).model_dump()
    )


router = APIRouter(tags=["commissions"])


@router.post(
    "/simulations",
    summary="What a draft plan would have paid, beside what was paid (publishes nothing)",
    dependencies=[access.StaffAccess],
)
async def simulate(request: SimulationRequest, reads: Reads) -> Simulation:
    draft = plan_terms(request.plan)
    partners: list[PartnerSimulation | NoPartnerData] = []
    for partner_id in request.partner_ids:
        ledger = await reads.load_ledger(partner_id)
        if ledger is None:
            partners.append(
                NoPartnerData(partner_id=partner_id, error="no commission data for this partner")
            )
            continue
        actual, simulated = domain.simulate(ledger.book, draft, request.period)
        partners.append(
            PartnerSimulation(
                partner_id=partner_id, actual=_lines(actual), simulated=_lines(simulated)
            )
        )
    return Simulation(period=request.period, partners=partners)
