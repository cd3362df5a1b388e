"""``/feedback/new``: a partner user tells the programme how it is going."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    Parts,
    Person,
    fields_of,
    render,
    send_correctable,
)

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
    values = fields_of(form, ("topic", "rating", "text"), person)
    rating = values["rating"]
    body = {**values, "rating": int(rating) if rating.isdigit() else rating}
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
