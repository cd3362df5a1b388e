"""``/mdf``: co-marketing funds. A partner user sees their requests and budget and asks
for more; the channel manager decides the requests waiting."""

from __future__ import annotations

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
    see_other,
    send_correctable,
    send_form,
)
from services.portal.sessions import Session

router = APIRouter(tags=["mdf"])

#: A decision, as the page reports it done.
DECIDED = {"approve": "approved", "reject": "rejected"}


@router.get("/mdf")
async def mdf(
    request: Request, person: Person, parts: Parts, done: str | None = None
) -> HTMLResponse:
    return await _page(request, person, parts, done=done)


@router.post("/mdf-requests", response_model=None)
async def request_mdf(request: Request, person: Person, parts: Parts, form: Form) -> Response:
    body = fields_of(form, ("campaign", "amount", "currency"), person)
    sent = await send_correctable(parts, person, form, "enablement", "/mdf-requests", body)
    if isinstance(sent, Refused):
        return await _page(request, person, parts, refused=sent, values=body)
    # Over the budget left, enablement rejects a request at once.
    return see_other(
        "/mdf?done=over-budget" if sent.body.get("status") == "rejected" else "/mdf?done=sent"
    )


async def _page(
    request: Request,
    person: Session,
    parts: Portal,
    *,
    done: str | None = None,
    refused: Refused | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """A partner user's requests and budget, or the requests waiting for the manager;
    with what became of the last form, or its refusal and what was typed."""
    query = {"partner_id": person.partner_id} if person.is_partner else {"status": "requested"}
    found = await parts.backend.read("enablement", "/mdf-requests", person.access_token, query)
    context = {
        "person": person,
        "title": "Marketing development funds",
        "mdf": found,
        "done": done,
        "problem": refused.message if refused else None,
        "values": values or {},
    }
    return render(request, "mdf.html", context, status=refused.status if refused else 200)


@router.post("/mdf-requests/{request_id}/{decision}", response_model=None)
async def decide(
    request_id: str, decision: str, person: Staff, parts: Parts, form: Form
) -> Response:
    if decision not in DECIDED:
        return see_other("/mdf")
    body = {"reason": form["reason"].strip()} if form.get("reason", "").strip() else None
    await send_form(
        parts, person, form, "enablement", f"/mdf-requests/{request_id}/{decision}", body
    )
    return see_other(f"/mdf?done={DECIDED[decision]}")
