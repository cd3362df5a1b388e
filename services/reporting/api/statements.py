"""``/partners/{partner_id}/statements/{period}``: a partner's commission statement."""

from __future__ import annotations

from fastapi import APIRouter, Path

from services.reporting.api.dependencies import Queries
from services.reporting.views import StatementView
from shared import access
from shared.events import PERIOD_PATTERN
from shared.routes import refusals

router = APIRouter(tags=["statements"])


@router.get(
    "/partners/{partner_id}/statements/{period}",
    summary="A partner's commission statement for one period",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def statement(
    partner_id: str,
    queries: Queries,
    period: str = Path(pattern=PERIOD_PATTERN, description="2026-Q4, …"),
) -> StatementView:
    return StatementView.of(await queries.statement(partner_id, period))
