"""``/leaderboard``: partners ranked for a period."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.reporting.api.dependencies import Queries
from services.reporting.queries import Ranking
from services.reporting.views import LeaderboardView
from shared import access
from shared.events import PERIOD_PATTERN

router = APIRouter(tags=["leaderboard"])


@router.get(
    "/leaderboard", summary="Partners ranked for a period", dependencies=[access.StaffAccess]
)
async def leaderboard(
    queries: Queries,
    period: str = Query(pattern=PERIOD_PATTERN, description="2026, 2026-Q4 or 2026-11"),
    by: Ranking = "revenue",
    limit: int = Query(default=10, ge=1, le=1000),
) -> LeaderboardView:
    return LeaderboardView.of(period, by, await queries.leaderboard(period, by, limit))
