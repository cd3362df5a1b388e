"""``/simulations``: what a draft commission plan would have paid, beside what was paid."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.incentives.api.dependencies import Queries
from services.incentives.views import SimulationView
from shared import access
from shared.events import CommissionPlan, NonEmpty, PeriodLabel


class SimulationRequest(BaseModel):
    plan: CommissionPlan = Field(description="the draft commission plan, as in a contract")
    partner_ids: list[NonEmpty] = Field(min_length=1, max_length=1000)
    period: PeriodLabel


router = APIRouter(tags=["commissions"])


@router.post(
    "/simulations",
    summary="What a draft plan would have paid, beside what was paid (publishes nothing)",
    dependencies=[access.StaffAccess],
)
async def simulate(request: SimulationRequest, queries: Queries) -> SimulationView:
    return await queries.simulation(request.plan, request.partner_ids, request.period)
