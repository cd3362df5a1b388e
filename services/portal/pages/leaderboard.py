"""``/leaderboard``: partners ranked for a period by revenue, commission or attainment."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.pages.dependencies import Parts, Staff, render
from services.portal.pages.home import current_quarter

router = APIRouter(tags=["leaderboard"])

RANKINGS = ("revenue", "commission", "attainment")


@router.get("/leaderboard")
async def leaderboard(
    request: Request,
    person: Staff,
    parts: Parts,
    period: str | None = None,
    by: str = "revenue",
) -> HTMLResponse:
    period = period or current_quarter()
    board = await parts.backend.read(
        "reporting",
        "/leaderboard",
        person.access_token,
        {"period": period, "by": by if by in RANKINGS else "revenue", "limit": 50},
    )
    context = {"person": person, "title": "Leaderboard", "board": board, "rankings": RANKINGS}
    return render(request, "leaderboard.html", context)
