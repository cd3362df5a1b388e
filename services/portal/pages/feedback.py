"""``/feedback/new``: a partner user tells the programme how it is going."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import Form, Parts, Person, render

router = APIRouter(tags=["feedback"])

TOPICS = ("enablement", "commissions", "mdf", "support", "product")


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
    values = {name: form.get(name, "").strip() for name in ("topic", "rating", "text")}
    body: dict[str, object] = {
        **values,
        "rating": int(values["rating"]) if values["rating"].isdigit() else values["rating"],
    }
    if person.is_staff:
        body["partner_id"] = form.get("partner_id", "").strip()
    problem, status = None, 201
    try:
        await parts.backend.send(
            "enablement",
            "/feedback",
            person.access_token,
            body,
            idempotency_key=form.get("submission") or None,
        )
    except Refused as exc:
        if not exc.correctable:
            raise
        problem, status = exc.message, exc.status
    context = {
        "person": person,
        "title": "Feedback",
        "topics": TOPICS,
        "values": values,
        "problem": problem,
        "sent": problem is None,
    }
    return render(request, "feedback.html", context, status=200 if problem is None else status)
