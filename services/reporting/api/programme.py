"""``/programme/summary``: the programme at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.reporting.api.dependencies import Reads
from services.reporting.views import ProgrammeSummary
from shared import access
from shared.events import PERIOD_PATTERN

router = APIRouter(tags=["programme"])


@router.get(
    "/programme/summary", summary="The programme at a glance", dependencies=[access.StaffAccess]
)
async def programme_summary(
    reads: Reads, period: str | None = Query(default=None, pattern=PERIOD_PATTERN)
) -> ProgrammeSummary:
    return ProgrammeSummary.of(period, await reads.programme(period))
