"""``/registrations``: the registrations, newest first, a page at a time (a partner
user's own; the channel manager's of every partner or one, by status);
``/registrations/new``: a partner registers a deal; ``/registrations/{id}``: the
registration and its decision (docs/rules/deal-registration.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    Parts,
    Person,
    ensure_may_see,
    fields_of,
    render,
    see_other,
    send_correctable,
)

router = APIRouter(tags=["registrations"])

FIELDS = ("deal_id", "customer", "product_line", "expected_amount")
#: What incentives says a registration is; the filter keeps these only.
STATUSES = ("pending", "approved", "rejected")


@router.get("/registrations")
async def registrations(
    request: Request,
    person: Person,
    parts: Parts,
    partner_id: str | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    cursor: str | None = None,
) -> HTMLResponse:
    """A partner user's own registrations (naming another partner is 403); the channel
    manager's of every partner, or of the partner named."""
    partner_id = (partner_id or "").strip() or None
    if person.is_partner:
        if partner_id is not None:
            ensure_may_see(person, partner_id)
        partner_id = person.partner_id
    statuses = [s for s in STATUSES if s in (status or [])]
    page = await parts.backend.read(
        "incentives",
        "/registrations",
        person.access_token,
        {
            "partner_id": partner_id,
            "status": statuses,
            "cursor": cursor,
            "limit": parts.settings.portal_page_size,
        },
    )
    context = {
        "person": person,
        "title": "Registrations",
        "registrations": page.get("registrations", []),
        "next_cursor": page.get("next_cursor"),
        "partner_id": partner_id,
        "statuses": statuses,
        "all_statuses": STATUSES,
    }
    return render(request, "registrations.html", context)


@router.get("/registrations/new")
async def new_registration(request: Request, person: Person) -> HTMLResponse:
    context = {"person": person, "title": "Register a deal", "values": {}, "problem": None}
    return render(request, "registration_new.html", context)


@router.post("/registrations", response_model=None)
async def register(request: Request, person: Person, parts: Parts, form: Form) -> Response:
    """Sent to incentives as the person; a refusal shows the form again with the reason."""
    body = fields_of(form, FIELDS, person)
    sent = await send_correctable(parts, person, form, "incentives", "/registrations", body)
    if isinstance(sent, Refused):
        context = {
            "person": person,
            "title": "Register a deal",
            "values": body,
            "problem": sent.message,
        }
        return render(request, "registration_new.html", context, status=sent.status)
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
