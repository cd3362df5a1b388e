"""``/``: the signed-in person's home: a partner user's dashboard, or the channel
manager's programme overview."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.portal.pages.dependencies import (
    Parts,
    SignInRequired,
    render,
    see_other,
    signed_in,
)
from services.portal.sessions import SESSION_COOKIE

router = APIRouter(tags=["home"])


def current_quarter(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


@router.get("/", response_model=None)
async def home(request: Request, parts: Parts, period: str | None = None) -> Response:
    """Not signed in: the welcome page. A partner user: their dashboard. Staff: the
    programme at a glance and its leaderboard."""
    if parts.codec.session(request.cookies.get(SESSION_COOKIE), time.time()) is None:
        return render(request, "welcome.html", {"person": None, "title": "Welcome"})
    try:
        person = await signed_in(request)
    except SignInRequired:
        return render(request, "welcome.html", {"person": None, "title": "Welcome"})
    if person.is_partner and person.partner_id:
        return see_other(f"/partners/{person.partner_id}")
    period = period or current_quarter()
    token = person.access_token
    summary = await parts.backend.read("reporting", "/programme/summary", token, {"period": period})
    board = await parts.backend.read(
        "reporting", "/leaderboard", token, {"period": period, "by": "revenue", "limit": 10}
    )
    context = {
        "person": person,
        "title": "Programme",
        "period": period,
        "summary": summary,
        "leaderboard": board,
    }
    return render(request, "programme.html", context)
