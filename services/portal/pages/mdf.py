"""``/mdf``: co-marketing funds. A partner user sees their requests and budget and asks
for more; the channel manager decides the requests waiting."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import Form, Parts, Person, Staff, render, see_other

router = APIRouter(tags=["mdf"])

#: A decision, as the page reports it done.
DECIDED = {"approve": "approved", "reject": "rejected"}


@router.get("/mdf")
async def mdf(
    request: Request, person: Person, parts: Parts, done: str | None = None
) -> HTMLResponse:
    query = {"partner_id": person.partner_id} if person.is_partner else {"status": "requested"}
    found = await parts.backend.read("enablement", "/mdf-requests", person.access_token, query)
    context = {
        "person": person,
        "title": "Marketing development funds",
        "mdf": found,
        "done": done,
        "problem": None,
        "values": {},
    }
    return render(request, "mdf.html", context)


@router.post("/mdf-requests", response_model=None)
async def request_mdf(request: Request, person: Person, parts: Parts, form: Form) -> Response:
    body = {name: form.get(name, "").strip() for name in ("campaign", "amount", "currency")}
    if person.is_staff:
        body["partner_id"] = form.get("partner_id", "").strip()
    try:
        sent = await parts.backend.send(
            "enablement",
            "/mdf-requests",
            person.access_token,
            body,
            idempotency_key=form.get("submission") or None,
        )
    except Refused as exc:
        if not exc.correctable:
            raise
        query = {"partner_id": person.partner_id} if person.is_partner else {"status": "requested"}
        found = await parts.backend.read("enablement", "/mdf-requests", person.access_token, query)
        context = {
            "person": person,
            "title": "Marketing development funds",
            "mdf": found,
            "done": None,
            "problem": exc.message,
            "values": body,
        }
        return render(request, "mdf.html", context, status=exc.status)
    # Over the budget left, enablement rejects a request at once.
    return see_other(
        "/mdf?done=over-budget" if sent.body.get("status") == "rejected" else "/mdf?done=sent"
    )


@router.post("/mdf-requests/{request_id}/{decision}", response_model=None)
async def decide(
    request_id: str, decision: str, person: Staff, parts: Parts, form: Form
) -> Response:
    if decision not in DECIDED:
        return see_other("/mdf")
    body = {"reason": form["reason"].strip()} if form.get("reason", "").strip() else None
    await parts.backend.send(
        "enablement",
        f"/mdf-requests/{request_id}/{decision}",
        person.access_token,
        body,
        idempotency_key=form.get("submission") or None,
    )
    return see_other(f"/mdf?done={DECIDED[decision]}")
