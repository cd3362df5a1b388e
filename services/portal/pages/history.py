"""``/partners/{partner_id}/history``: a partner's history, reporting's
``GET /partners/{partner_id}/history`` (docs/rules/events.md, "A partner's history"):
every event received about the partner over a window of days, in the order received
(oldest first, newest last), with what happened, its type and who caused it; the link
"Earlier" follows reporting's ``earlier``, the same span of days before.

``since`` and ``until`` are passed to reporting as given once they are instants with
their offset; one that is not, or a window reporting refuses (422: more than 366 days,
``since`` not before ``until``), is shown on the page as something to correct, with the
default window (the last 30 days) a link away.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Parts,
    Person,
    Portal,
    aware_instant,
    ensure_may_see,
    render,
)
from services.portal.sessions import Session

router = APIRouter(tags=["history"])

#: An instant as the page asks for one, in its messages.
EXAMPLE_INSTANT = "2026-12-01T00:00:00Z"


def history_path(partner_id: str) -> str:
    """A partner's history's path, at reporting and in the portal alike."""
    return f"/partners/{quote(partner_id, safe='')}/history"


@router.get("/partners/{partner_id}/history")
async def history(
    request: Request,
    partner_id: str,
    person: Person,
    parts: Parts,
    since: str | None = None,
    until: str | None = None,
) -> HTMLResponse:
    """The window asked for (reporting's default, the last 30 days, when none is), its
    entries oldest first, and the link to the window before; a partner user's own partner
    only (another is 403 before reporting is asked; reporting checks it again)."""
    ensure_may_see(person, partner_id)
    window = {"since": (since or "").strip() or None, "until": (until or "").strip() or None}
    problems = [
        f"{name}: {value!r} is not an instant with its offset, such as {EXAMPLE_INSTANT}"
        for name, value in window.items()
        if value is not None and aware_instant(value) is None
    ]
    if problems:
        return _history_page(
            request, person, partner_id, window=window, problem="; ".join(problems) + "."
        )
    try:
        found, partner = await _read(parts, person.access_token, partner_id, window)
    except Refused as exc:
        if exc.status not in (400, 422):
            raise
        return _history_page(request, person, partner_id, window=window, problem=exc.message)
    return _history_page(request, person, partner_id, window=window, found=found, partner=partner)


async def _read(
    parts: Portal, token: str, partner_id: str, window: dict[str, str | None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reporting's history over the window, and the partner (for its name)."""
    backend = parts.backend
    found, partner = await asyncio.gather(
        backend.read("reporting", history_path(partner_id), token, window),
        backend.read("reporting", f"/partners/{quote(partner_id, safe='')}", token),
    )
    return found, partner


def earlier_link(partner_id: str, earlier: object) -> str | None:
    """The portal's page of reporting's ``earlier`` (``/partners/{id}/history?since=…&until=…``):
    its ``since`` and ``until`` on this partner's page, none when it names neither."""
    query = parse_qs(urlsplit(str(earlier or "")).query)
    window = {name: query[name][0] for name in ("since", "until") if query.get(name)}
    if not window:
        return None
    return f"{history_path(partner_id)}?{urlencode(window)}"


def _history_page(
    request: Request,
    person: Session,
    partner_id: str,
    *,
    window: dict[str, str | None],
    found: dict[str, Any] | None = None,
    partner: dict[str, Any] | None = None,
    problem: str | None = None,
) -> HTMLResponse:
    """The page; with a problem (a window that cannot be read), the message and the way
    back to the default window, as a 422."""
    name = (partner or {}).get("name") or partner_id
    context = {
        "person": person,
        "title": f"History of {name}",
        "partner_id": partner_id,
        "path": history_path(partner_id),
        "history": found,
        "earlier": earlier_link(partner_id, found.get("earlier")) if found else None,
        "chosen": any(window.values()),
        "window": window,
        "problem": problem,
    }
    return render(request, "history.html", context, status=422 if problem else 200)
