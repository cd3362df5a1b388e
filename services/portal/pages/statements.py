"""``/partners/{partner_id}/statements/{period}``: a commission statement, each line with
its breakdown and revision and an "Ask about this" link, the period's adjustments and
its inquiries; for the channel manager, the form that adjusts the period
(``POST …/adjustments``, incentives' ``POST /adjustments``; docs/rules/inquiries.md).

The inquiries are incentives' ``GET /inquiries?partner_id=…``, the period's only: read
from incentives (not from reporting's statement), so one just asked is listed at once.

Explaining the numbers (reporting's statement ``?as_of=`` and ``…/changes?since=``):

- ``?as_of=2026-12-01`` (a day: its start, 00:00 UTC; or an instant with its offset) is a
  past view, the statement as the platform knew it then, labelled so, without the forms
  and the inquiries (which are the statement's now);
- ``?since=2026-11-24`` (a day, or an instant) fills the panel "What changed since…": the
  payout then and now, the change, and each event that changed it with its delta and
  why. Its form works without JavaScript (the whole page again); with htmx, a request
  aimed at the panel (``HX-Target: changes-panel``) is answered with the panel alone.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
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
    aware_instant,
    ensure_may_see,
    render,
    see_other,
    send_correctable,
)
from services.portal.sessions import Session
from services.portal.views import moment, money

router = APIRouter(tags=["statements"])

PERIOD = re.compile(r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")
#: The adjustment form's fields, trimmed: what is sent, and kept on a refusal.
ADJUSTMENT_FIELDS = ("deal_id", "amount", "currency", "reason")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The panel "What changed since…", the element htmx replaces.
CHANGES_PANEL = "changes-panel"
#: The day the panel's form offers unless another is chosen: this many days ago.
CHANGES_DEFAULT_DAYS = 7


@dataclass(frozen=True, slots=True)
class Point:
    """An instant a person named, by a day (its start, 00:00 UTC) or as an instant."""

    sent: str
    """What reporting is sent: ``2026-12-01T00:00:00Z``, or the instant as typed."""
    day: str
    """The day, for a date field: ``2026-12-01``."""
    words: str
    """How the page says it, after "at": ``the start of 2026-12-01 (00:00 UTC)``,
    ``2026-12-01 14:05 UTC``."""


def point_of(text: str) -> Point | None:
    """``2026-12-01`` (the day's start in UTC) or an instant with its offset; none for
    anything else."""
    text = text.strip()
    if DAY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return Point(
            f"{day.isoformat()}T00:00:00Z", day.isoformat(), f"the start of {day} (00:00 UTC)"
        )
    instant = aware_instant(text)
    if instant is None:
        return None
    return Point(text, instant.astimezone(UTC).date().isoformat(), moment(text))


def not_a_point(name: str, text: str) -> str:
    """What is wrong with a day that is none, naming its field."""
    return f"{name}: {text!r} is not a day such as 2026-12-01 (or an instant with its offset)."


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
    as_of: str | None = None,
    since: str | None = None,
) -> HTMLResponse:
    """The statement, with what became of the last form sent from it (``done``); as it
    was at ``as_of`` (a past view); with what changed it since ``since``; for htmx
    aiming at the panel, the panel alone."""
    ensure_statement(person, partner_id, period)
    if since is not None and request.headers.get("HX-Target") == CHANGES_PANEL:
        panel = await _changes(parts, person.access_token, partner_id, period, since)
        # 200 even for a day that is no day: htmx swaps no error answer into the page.
        return render(request, "_statement_changes.html", _panel_context(partner_id, period, panel))
    return await _statement_page(
        request, partner_id, period, person, parts, done=done, as_of=as_of, since=since
    )


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
    as_of: str | None = None,
    since: str | None = None,
) -> HTMLResponse:
    """The statement as reporting has it now and the period's inquiries as incentives
    has them; with the adjustment form's refusal, the form again with what was typed.
    With ``as_of``, the statement as reporting knew it then (no inquiries, no forms); one
    that is no instant is the statement now, with the problem on its form (422). With
    ``since`` (not in a past view, which has no panel), the panel of what changed since
    then."""
    token, backend = person.access_token, parts.backend
    as_of = (as_of or "").strip() or None
    past = point_of(as_of) if as_of else None
    as_of_problem = not_a_point("as_of", as_of) if as_of and past is None else None
    found, partner, (inquiries, unlisted), changes = await asyncio.gather(
        backend.read(
            "reporting",
            statement_path(partner_id, period),
            token,
            {"as_of": past.sent if past else None},
        ),
        backend.read("reporting", f"/partners/{quote(partner_id, safe='')}", token),
        _no_inquiries() if past else _inquiries_of(parts, token, partner_id),
        _changes(parts, token, partner_id, period, since)
        if since is not None and past is None
        else _no_changes(),
    )
    bad_day = changes.get("bad", False) or as_of_problem is not None
    status = refused.status if refused else 422 if bad_day else 200
    context = {
        "person": person,
        "title": f"Statement {period}" + (f", as it was on {past.day}" if past else ""),
        "statement": found,
        "partner": partner,
        "path": statement_path(partner_id, period),
        "inquiries": [i for i in inquiries if i.get("period") == period],
        "unlisted": unlisted,
        "done": done,
        "problem": refused.message if refused else None,
        "values": values or {},
        "past": past,
        "as_of_typed": as_of,
        "as_of_problem": as_of_problem,
        **_panel_context(partner_id, period, changes),
    }
    return render(request, "statement.html", context, status=status)


async def _no_inquiries() -> tuple[list[dict[str, Any]], str | None]:
    return [], None


async def _no_changes() -> dict[str, Any]:
    return {}


async def _changes(
    parts: Portal, token: str, partner_id: str, period: str, since: str
) -> dict[str, Any]:
    """The panel "What changed since…": reporting's ``…/changes?since=`` for the day (or
    instant) chosen, with the sum of the deltas (which reporting makes add up to the
    change); a day that is none, or reporting unable to answer (but a 401, which means
    signing in again), as the panel's problem."""
    typed = since.strip()
    chosen = point_of(typed)
    if chosen is None:
        return {"typed": typed, "problem": not_a_point("since", typed), "bad": True}
    try:
        found = await parts.backend.read(
            "reporting",
            f"{statement_path(partner_id, period)}/changes",
            token,
            {"since": chosen.sent},
        )
    except Refused as exc:
        if exc.status == 401:
            raise
        return {"typed": typed, "chosen": chosen, "problem": exc.message}
    try:
        deltas = sum((Decimal(str(c["delta"])) for c in found.get("changes", [])), Decimal(0))
        adds_up = deltas == Decimal(str(found.get("change")))
    except (InvalidOperation, KeyError):
        deltas, adds_up = Decimal(0), False
    currency = found.get("currency")
    return {
        "typed": typed,
        "chosen": chosen,
        "found": found,
        "adds_up": adds_up,
        "deltas_total": money(deltas, currency),
    }


def _panel_context(partner_id: str, period: str, changes: dict[str, Any]) -> dict[str, Any]:
    """What the panel shows: the statement's path (its form's), what was found or why
    not, and the day its form offers (the one chosen, else a week ago)."""
    chosen: Point | None = changes.get("chosen")
    default = datetime.now(UTC).date() - timedelta(days=CHANGES_DEFAULT_DAYS)
    return {
        "path": statement_path(partner_id, period),
        "changes": changes,
        "changes_day": chosen.day if chosen else changes.get("typed") or default.isoformat(),
    }


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
