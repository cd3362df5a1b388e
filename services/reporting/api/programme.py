"""``/programme/summary``: the programme at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.reporting.api.dependencies import Queries
from services.reporting.views import ProgrammeSummaryView
from shared import access
from shared.events import PERIOD_PATTERN

router = APIRouter(tags=["programme"])


@router.get(
    "/programme/summary", summary="The programme at a glance", dependencies=[access.StaffAccess]
)
async def programme_summary(
    queries: Queries, period: str | None = Query(default=None, pattern=PERIOD_PATTERN)
) -> ProgrammeSummaryView:
    return ProgrammeSummaryView.of(period, await queries.programme(period))
