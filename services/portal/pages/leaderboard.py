"""``/leaderboard``: partners ranked for a period by revenue, commission, attainment or
their customers' net promoter score (docs/rules/satisfaction.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.pages.dependencies import Parts, Staff, render
from services.portal.pages.home import current_quarter

router = APIRouter(tags=["leaderboard"])

#: Reporting's rankings (its ``by``) and how the page names each.
RANKINGS = {
    "revenue": "revenue",
    "commission": "commission",
    "attainment": "attainment",
    "nps": "NPS",
}


@router.get("/leaderboard")
async def leaderboard(
    request: Request,
    person: Staff,
    parts: Parts,
    period: str | None = None,
    by: str = "revenue",
) -> HTMLResponse:
    """The first 50 of the period by the ranking chosen (revenue unless another known one
    is); by NPS, each with its survey answers and no currency."""
    period = period or current_quarter()
    board = await parts.backend.read(
        "reporting",
        "/leaderboard",
        person.access_token,
        {"period": period, "by": by if by in RANKINGS else "revenue", "limit": 50},
    )
    context = {"person": person, "title": "Leaderboard", "board": board, "rankings": RANKINGS}
    return render(request, "leaderboard.html", context)
