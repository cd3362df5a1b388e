"""``/partners/{partner_id}/standing``: what enablement knows of a partner."""

from __future__ import annotations

from fastapi import APIRouter

from services.enablement.api.dependencies import Queries
from services.enablement.views import StandingView
from shared import access
from shared.routes import refusals

router = APIRouter(prefix="/partners/{partner_id}", tags=["partners"])


@router.get(
    "/standing",
    response_model=StandingView,
    responses=refusals(not_found="the partner is not known"),
    summary="What enablement knows of a partner from partners.v1: status and tier",
    dependencies=[access.PartnerReadAccess],
)
async def standing(partner_id: str, queries: Queries) -> StandingView:
    return await queries.standing(partner_id)
