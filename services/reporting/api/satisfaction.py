"""``/partners/{partner_id}/satisfaction``: a partner's customer satisfaction, over the 12
months up to now and per quarter (docs/rules/satisfaction.md)."""

from __future__ import annotations

from fastapi import APIRouter

from services.reporting.api.dependencies import Queries
from services.reporting.views import PartnerSatisfactionView
from shared import access
from shared.routes import refusals

router = APIRouter(tags=["partners"])


@router.get(
    "/partners/{partner_id}/satisfaction",
    summary="A partner's customer satisfaction: answers, average and NPS, over the last "
    "12 months and per quarter",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def satisfaction(partner_id: str, queries: Queries) -> PartnerSatisfactionView:
    return PartnerSatisfactionView.model_validate(await queries.satisfaction(partner_id))
