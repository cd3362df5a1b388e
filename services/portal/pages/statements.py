"""``/partners/{partner_id}/statements/{period}``: a commission statement, each line with
its breakdown and revision and an "Ask about this" link, the period's adjustments and
its inquiries; for the channel manager, the form that adjusts the period
(``POST …/adjustments``, incentives' ``POST /adjustments``; docs/rules/inquiries.md).

The inquiries are incentives' ``GET /inquiries?partner_id=…``, the period's only: read
from incentives (not from reporting's statement), so one just asked is listed at once.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    PageRefused,
    Parts,
    Person,
    Portal,
    Staff,
    ensure_may_see,
    render,
    see_other,
    send_correctable,
)
from services.portal.sessions import Session

router = APIRouter(tags=["statements"])

PERIOD = re.compile(r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")
#: The adjustment form's fields, trimmed: what is sent, and kept on a refusal.
ADJUSTMENT_FIELDS = ("deal_id", "amount", "currency", "reason")


def statement_path(partner_id: str, period: str) -> str:
    """A statement's path, at reporting and in the portal alike."""
    return f"/partners/{quote(partner_id, safe='')}/statements/{quote(period, safe='')}"


def ensure_statement(person: Session, partner_id: str, period: str) -> None:
    """A statement the person may see (a partner user: their own) of a period that is
    one; checked before any service is asked."""
    ensure_may_see(person, partner_id)
    if not PERIOD.match(period):
        raise PageRefused(404, f"{period!r} is not a period: use 2026, 2026-Q4 or 2026-11.")


@router.get("/partners/{partner_id}/statements/{period}")
async def statement(
    request: Request,
    partner_id: str,
    period: str,
    person: Person,
    parts: Parts,
    done: str | None = None,
) -> HTMLResponse:
    """The statement, with what became of the last form sent from it (``done``)."""
    ensure_statement(person, partner_id, period)
    return await _statement_page(request, partner_id, period, person, parts, done=done)


@router.post("/partners/{partner_id}/statements/{period}/adjustments", response_model=None)
async def adjust(
    request: Request, partner_id: str, period: str, person: Staff, parts: Parts, form: Form
) -> Response:
    """The channel manager adjusts the period by hand (signed money, a reason, the deal it
    is about if one): sent to incentives' ``POST /adjustments`` as the person; back to the
    statement, or the statement again with the refusal on the form and what was typed."""
    ensure_statement(person, partner_id, period)
    typed = {name: form.get(name, "").strip() for name in ADJUSTMENT_FIELDS}
    body = {
        "partner_id": partner_id,
        "deal_id": typed["deal_id"] or None,
        "period": period,
        "currency": typed["currency"] or None,
        "amount": typed["amount"],
        "reason": typed["reason"],
    }
    sent = await send_correctable(parts, person, form, "incentives", "/adjustments", body)
    if isinstance(sent, Refused):
        return await _statement_page(
            request, partner_id, period, person, parts, refused=sent, values=typed
        )
    return see_other(f"{statement_path(partner_id, period)}?done=adjusted")


async def _statement_page(
    request: Request,
    partner_id: str,
    period: str,
    person: Session,
    parts: Portal,
    *,
    done: str | None = None,
    refused: Refused | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The statement as reporting has it now and the period's inquiries as incentives
    has them; with the adjustment form's refusal, the form again with what was typed."""
    token, backend = person.access_token, parts.backend
    found, partner, (inquiries, unlisted) = await asyncio.gather(
        backend.read("reporting", statement_path(partner_id, period), token),
        backend.read("reporting", f"/partners/{quote(partner_id, safe='')}", token),
        _inquiries_of(parts, token, partner_id),
    )
    context = {
        "person": person,
        "title": f"Statement {period}",
        "statement": found,
        "partner": partner,
        "path": statement_path(partner_id, period),
        "inquiries": [i for i in inquiries if i.get("period") == period],
        "unlisted": unlisted,
        "done": done,
        "problem": refused.message if refused else None,
        "values": values or {},
    }
    return render(request, "statement.html", context, status=refused.status if refused else 200)


async def _inquiries_of(
    parts: Portal, token: str, partner_id: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The partner's inquiries, oldest first; when incentives cannot say (but for a 401,
    which means signing in again), none and why, and the statement is shown all the same."""
    try:
        found = await parts.backend.read(
            "incentives", "/inquiries", token, {"partner_id": partner_id}
        )
    except Refused as exc:
        if exc.status == 401:
            raise
        return [], exc.message
    inquiries: list[dict[str, Any]] = found.get("inquiries", [])
    return inquiries, None
