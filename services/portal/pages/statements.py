"""``/partners/{partner_id}/statements/{period}``: a commission statement, each line with
its breakdown and revision."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.pages.dependencies import PageRefused, Parts, Person, ensure_may_see, render

router = APIRouter(tags=["statements"])

PERIOD = re.compile(r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")


@router.get("/partners/{partner_id}/statements/{period}")
async def statement(
    request: Request, partner_id: str, period: str, person: Person, parts: Parts
) -> HTMLResponse:
    ensure_may_see(person, partner_id)
    if not PERIOD.match(period):
        raise PageRefused(404, f"{period!r} is not a period: use 2026, 2026-Q4 or 2026-11.")
    token = person.access_token
    found = await parts.backend.read(
        "reporting", f"/partners/{partner_id}/statements/{period}", token
    )
    partner = await parts.backend.read("reporting", f"/partners/{partner_id}", token)
    context = {
        "person": person,
        "title": f"Statement {period}",
        "statement": found,
        "partner": partner,
    }
    return render(request, "statement.html", context)
