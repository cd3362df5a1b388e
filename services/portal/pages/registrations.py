"""``/registrations/new``: a partner registers a deal; ``/registrations/{id}``: the
registration and its decision (docs/rules/deal-registration.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    Parts,
    Person,
    ensure_may_see,
    render,
    see_other,
)

router = APIRouter(tags=["registrations"])

FIELDS = ("deal_id", "customer", "product_line", "expected_amount")


@router.get("/registrations/new")
async def new_registration(request: Request, person: Person) -> HTMLResponse:
    context = {"person": person, "title": "Register a deal", "values": {}, "problem": None}
    return render(request, "registration_new.html", context)


@router.post("/registrations", response_model=None)
async def register(request: Request, person: Person, parts: Parts, form: Form) -> Response:
    """Sent to incentives as the person; a refusal shows the form again with the reason."""
    body = {name: form.get(name, "").strip() for name in FIELDS}
    if person.is_staff:
        body["partner_id"] = form.get("partner_id", "").strip()
    try:
        sent = await parts.backend.send(
            "incentives",
            "/registrations",
            person.access_token,
            body,
            idempotency_key=form.get("submission") or None,
        )
    except Refused as exc:
        if not exc.correctable:
            raise
        context = {
            "person": person,
            "title": "Register a deal",
            "values": body,
            "problem": exc.message,
        }
        return render(request, "registration_new.html", context, status=exc.status)
    return see_other(f"/registrations/{sent.body['registration_id']}?registered=1")


@router.get("/registrations/{registration_id}")
async def registration(
    request: Request,
    registration_id: str,
    person: Person,
    parts: Parts,
    registered: bool = False,
) -> HTMLResponse:
    found = await parts.backend.read(
        "incentives", f"/registrations/{registration_id}", person.access_token
    )
    ensure_may_see(person, str(found.get("partner_id")))
    context = {
        "person": person,
        "title": f"Registration of {found.get('deal_id')}",
        "registration": found,
        "registered": registered,
    }
    return render(request, "registration.html", context)
