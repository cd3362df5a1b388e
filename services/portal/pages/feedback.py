"""``/feedback/new``: a partner user tells the programme how it is going, and may name
the product line it is about. ``/feedback/summary``: for the product teams (staff), each
product line's feedback of a period, with its CSV export (``/feedback/export.csv``)
(docs/rules/enablement.md, "Feedback to the product").

The summary is enablement's ``GET /feedback/summary``; the export is enablement's
``GET /feedback/export.csv``, passed on as it comes, both asked with the person's own
token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    Parts,
    Person,
    Portal,
    Staff,
    fields_of,
    render,
    send_correctable,
)
from services.portal.pages.home import current_quarter

router = APIRouter(tags=["feedback"])

TOPICS = ("enablement", "commissions", "mdf", "support", "product")

#: The export's headers passed on to the browser.
EXPORT_HEADERS = ("content-type", "content-disposition")


@router.get("/feedback/new")
async def new_feedback(request: Request, person: Person) -> HTMLResponse:
    context = {
        "person": person,
        "title": "Feedback",
        "topics": TOPICS,
        "values": {},
        "problem": None,
        "sent": False,
    }
    return render(request, "feedback.html", context)


@router.post("/feedback", response_model=None)
async def submit(request: Request, person: Person, parts: Parts, form: Form) -> Response:
    values = fields_of(form, ("topic", "rating", "text", "product_line"), person)
    rating = values["rating"]
    body: dict[str, Any] = {**values, "rating": int(rating) if rating.isdigit() else rating}
    if not values["product_line"]:
        del body["product_line"]  # it names none
    sent = await send_correctable(parts, person, form, "enablement", "/feedback", body)
    problem = sent.message if isinstance(sent, Refused) else None
    context = {
        "person": person,
        "title": "Feedback",
        "topics": TOPICS,
        "values": values,
        "problem": problem,
        "sent": problem is None,
    }
    return render(
        request, "feedback.html", context, status=sent.status if isinstance(sent, Refused) else 200
    )


def _asked(period: str | None, product_line: str | None) -> dict[str, str]:
    """What the summary and the export are asked for: the period (this quarter when the
    page names none, all time when it names an empty one) and the product line."""
    return {
        "period": current_quarter() if period is None else period.strip(),
        "product_line": (product_line or "").strip(),
    }


@router.get("/feedback/summary")
async def summary(
    request: Request,
    person: Staff,
    parts: Parts,
    period: str | None = None,
    product_line: str | None = None,
) -> HTMLResponse:
    """Each product line's feedback of the period: count, average rating, ratings and
    the most frequent words, with a link to the CSV of the same feedback. A period or
    product line enablement refuses is said on the page."""
    asked = _asked(period, product_line)
    found: dict[str, Any] | None = None
    problem: str | None = None
    status = 200
    try:
        found = await parts.backend.read(
            "enablement", "/feedback/summary", person.access_token, asked
        )
    except Refused as exc:
        if not exc.correctable:
            raise
        problem, status = exc.message, exc.status
    context = {
        "person": person,
        "title": "For the product teams",
        "asked": asked,
        "found": found,
        "problem": problem,
        "export": f"/feedback/export.csv?{urlencode(asked)}",
    }
    return render(request, "feedback_summary.html", context, status=status)


@router.get("/feedback/export.csv", response_model=None)
async def export(
    person: Staff, parts: Parts, period: str | None = None, product_line: str | None = None
) -> Response:
    """Enablement's CSV, as it comes; a refusal is the portal's error page."""
    answer = await _download(
        parts, person.access_token, "/feedback/export.csv", _asked(period, product_line)
    )
    headers = {name: answer.headers[name] for name in EXPORT_HEADERS if name in answer.headers}
    return Response(answer.content, headers=headers)


async def _download(parts: Portal, token: str, path: str, params: dict[str, str]) -> httpx.Response:
    """``GET`` enablement's ``path`` as the person, whatever its media type;
    :class:`Refused` on any status but 200 (503 when it cannot be reached)."""
    query = {name: value for name, value in params.items() if value}
    try:
        answer = await parts.backend.http.get(
            f"{parts.backend.bases['enablement']}{path}",
            params=query,
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        raise Refused(503, f"the enablement service cannot be reached ({exc})") from None
    if answer.status_code != 200:
        raise Refused(answer.status_code, _detail(answer))
    return answer


def _detail(answer: httpx.Response) -> str:
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return detail if isinstance(detail, str) else f"the service answered {answer.status_code}"
