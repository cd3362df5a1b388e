"""``/settlements``: the channel manager's settlements, partner by partner, and the form
that settles a period (docs/rules/settlement.md).

The settlements are incentives' ``GET /partners/{partner_id}/settlements``, for one
partner named or for a page of reporting's partners; the form is sent to incentives'
``POST /settlements`` as the person. Its ``submission`` is the Idempotency-Key and the
``settlement_id`` too: incentives answers a run repeated under the same settlement id
with what it recorded, without paying anyone twice, so a form sent twice settles once.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    Parts,
    Staff,
    render,
    send_correctable,
)

router = APIRouter(tags=["settlements"])

#: A settlement id incentives accepts.
SETTLEMENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


@router.get("/settlements")
async def settlements(
    request: Request,
    person: Staff,
    parts: Parts,
    partner_id: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    """The settlements so far, with what is pending against settled periods, and the
    form to settle a period."""
    listing = await _listing(parts, person.access_token, partner_id, cursor)
    context = {**listing, "person": person, "title": "Settlements", "values": {}}
    return render(request, "settlements.html", context)


@router.post("/settlements", response_model=None)
async def settle(request: Request, person: Staff, parts: Parts, form: Form) -> HTMLResponse:
    """Sent to incentives as the person; the outcome, or the refusal in the service's words
    with what was typed, is shown on the page."""
    values = {name: form.get(name, "").strip() for name in ("period", "partner_ids")}
    values.update({flag: "on" for flag in ("dry_run", "rerun") if form.get(flag)})
    body: dict[str, Any] = {
        "period": values["period"],
        "partner_ids": re.findall(r"[^\s,]+", values["partner_ids"]) or None,
        "dry_run": "dry_run" in values,
        "rerun": "rerun" in values,
    }
    submission = form.get("submission") or None
    if submission is not None and SETTLEMENT_ID.match(submission):
        body["settlement_id"] = submission
    sent = await send_correctable(parts, person, form, "incentives", "/settlements", body)
    refused = sent if isinstance(sent, Refused) else None
    outcome = None if isinstance(sent, Refused) else {**sent.body, "recorded": sent.status == 201}
    problem, status = (refused.message, refused.status) if refused else (None, 200)
    try:
        listing = await _listing(parts, person.access_token, None, None)
    except Refused as exc:  # the run's outcome is shown all the same
        listing = {"rows": [], "partner_id": None, "next_cursor": None, "unlisted": exc.message}
    context = {
        **listing,
        "person": person,
        "title": "Settlements",
        "values": values if problem else {},
        "outcome": outcome,
        "problem": problem,
    }
    return render(request, "settlements.html", context, status=status)


async def _listing(
    parts: Parts, token: str, partner_id: str | None, cursor: str | None
) -> dict[str, Any]:
    """The partners shown (the one named, or a page of reporting's) with their
    settlements (None: incentives knows no commission of the partner)."""
    partner_id = (partner_id or "").strip() or None
    if partner_id is not None:
        partners, next_cursor = [{"partner_id": partner_id}], None
    else:
        page = await parts.backend.read(
            "reporting",
            "/partners",
            token,
            {"cursor": cursor, "limit": parts.settings.portal_page_size},
        )
        partners, next_cursor = page.get("items", []), page.get("next_cursor")
    found = await asyncio.gather(
        *(_settlements_of(parts, token, str(p["partner_id"])) for p in partners)
    )
    return {
        "rows": list(zip(partners, found, strict=True)),
        "partner_id": partner_id,
        "next_cursor": next_cursor,
    }


async def _settlements_of(parts: Parts, token: str, partner_id: str) -> dict[str, Any] | None:
    try:
        return await parts.backend.read("incentives", f"/partners/{partner_id}/settlements", token)
    except Refused as exc:
        if exc.status != 404:
            raise
        return None
