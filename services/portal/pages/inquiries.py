"""Commission inquiries (docs/rules/inquiries.md): ``/inquiries``, the list (a partner
user's own; the channel manager's work queue, every partner's open ones, by default);
``/partners/{partner_id}/statements/{period}/inquiries/new?deal_id=…``, a partner user
(or staff) asks about a statement line's commission; ``/inquiries/{id}``, the inquiry
and its answer, with the channel manager's form that resolves it (explained, or
adjusted with an adjustment).

Every form is sent to incentives as the person, with its ``submission`` as the
Idempotency-Key; a refusal shows the form again with incentives' words and what was
typed."""

from __future__ import annotations

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
from services.portal.pages.statements import ensure_statement, statement_path
from services.portal.sessions import Session

router = APIRouter(tags=["inquiries"])

#: What incentives says an inquiry is; the list's filter takes these, or every inquiry.
STATUSES = ("open", "resolved")
EVERY = "all"
#: How an inquiry is resolved; only ``adjusted`` sends an adjustment.
ADJUSTED = "adjusted"
RESOLVE_FIELDS = ("resolution", "note", "amount", "reason")


def inquiry_path(inquiry_id: str) -> str:
    """An inquiry's path, at incentives and in the portal alike."""
    return f"/inquiries/{quote(inquiry_id, safe='')}"


@router.get("/inquiries")
async def inquiries(
    request: Request,
    person: Person,
    parts: Parts,
    status: str | None = None,
    partner_id: str | None = None,
) -> HTMLResponse:
    """A partner user's own inquiries (naming another partner is 403), every one unless a
    status is chosen; the channel manager's of every partner, or of the partner named, the
    open ones unless another status is chosen. Oldest first, with their age."""
    partner_id = (partner_id or "").strip() or None
    if person.is_partner:
        if partner_id is not None:
            ensure_may_see(person, partner_id)
        partner_id = person.partner_id
    default = EVERY if person.is_partner else "open"
    chosen = status if status in (*STATUSES, EVERY) else default
    found = await parts.backend.read(
        "incentives",
        "/inquiries",
        person.access_token,
        {"partner_id": partner_id, "status": None if chosen == EVERY else chosen},
    )
    context = {
        "person": person,
        "title": "Inquiries",
        "inquiries": found.get("inquiries", []),
        "status": chosen,
        "statuses": (*STATUSES, EVERY),
        "partner_id": partner_id,
    }
    return render(request, "inquiries.html", context)


@router.get("/partners/{partner_id}/statements/{period}/inquiries/new")
async def new_inquiry(
    request: Request, partner_id: str, period: str, deal_id: str, person: Person, parts: Parts
) -> HTMLResponse:
    """The form that asks about a statement line's commission."""
    ensure_statement(person, partner_id, period)
    return await _ask_page(request, partner_id, period, _deal(deal_id), person, parts)


@router.post("/partners/{partner_id}/statements/{period}/inquiries", response_model=None)
async def ask(
    request: Request, partner_id: str, period: str, person: Person, parts: Parts, form: Form
) -> Response:
    """Sent to incentives' ``POST /commissions/{deal_id}/inquiries`` as the person (a
    partner user for their own deals; incentives decides whose the deal is): to the
    inquiry's page, or the form again with the refusal and the message typed."""
    ensure_statement(person, partner_id, period)
    typed = {name: form.get(name, "").strip() for name in ("deal_id", "message")}
    _deal(typed["deal_id"])
    sent = await send_correctable(
        parts,
        person,
        form,
        "incentives",
        f"/commissions/{quote(typed['deal_id'], safe='')}/inquiries",
        {"message": typed["message"]},
    )
    if isinstance(sent, Refused):
        return await _ask_page(
            request, partner_id, period, typed["deal_id"], person, parts, refused=sent, values=typed
        )
    return see_other(f"{inquiry_path(str(sent.body['inquiry_id']))}?done=asked")


@router.get("/inquiries/{inquiry_id}")
async def inquiry(
    request: Request, inquiry_id: str, person: Person, parts: Parts, done: str | None = None
) -> HTMLResponse:
    """The inquiry and its answer, with what became of the last form sent (``done``)."""
    return await _inquiry_page(request, inquiry_id, person, parts, done=done)


@router.post("/inquiries/{inquiry_id}/resolve", response_model=None)
async def resolve(
    request: Request, inquiry_id: str, person: Staff, parts: Parts, form: Form
) -> Response:
    """The channel manager answers the inquiry: explained (a note), or adjusted (a note and
    an adjustment of the deal's period, sent only then); back to the inquiry."""
    typed = {name: form.get(name, "").strip() for name in RESOLVE_FIELDS}
    adjusted = typed["resolution"] == ADJUSTED
    body: dict[str, Any] = {
        "resolution": typed["resolution"],
        "note": typed["note"],
        "adjustment": {"amount": typed["amount"], "reason": typed["reason"]} if adjusted else None,
    }
    path = inquiry_path(inquiry_id)
    sent = await send_correctable(parts, person, form, "incentives", f"{path}/resolve", body)
    if isinstance(sent, Refused):
        return await _inquiry_page(request, inquiry_id, person, parts, refused=sent, values=typed)
    return see_other(f"{path}?done=resolved")


def _deal(deal_id: str) -> str:
    """The deal asked about, trimmed; none named is a request the form cannot serve."""
    if not deal_id.strip():
        raise PageRefused(422, "Name the deal you ask about: open the form from its line.")
    return deal_id.strip()


async def _ask_page(
    request: Request,
    partner_id: str,
    period: str,
    deal_id: str,
    person: Session,
    parts: Portal,
    *,
    refused: Refused | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The form, with the statement's line asked about when reporting has it (the form
    does without it)."""
    line = None
    try:
        found = await parts.backend.read(
            "reporting", statement_path(partner_id, period), person.access_token
        )
    except Refused as exc:
        if exc.status == 401:
            raise
        found = {}
    for candidate in found.get("lines", []):
        if candidate.get("deal_id") == deal_id:
            line = candidate
    context = {
        "person": person,
        "title": f"Ask about {deal_id}",
        "partner_id": partner_id,
        "period": period,
        "deal_id": deal_id,
        "line": line,
        # A line in a currency of its own (a deal waiting for an exchange rate) says so.
        "currency": (line or {}).get("currency") or found.get("currency"),
        "statement_path": statement_path(partner_id, period),
        "problem": refused.message if refused else None,
        "values": values or {},
    }
    return render(request, "inquiry_new.html", context, status=refused.status if refused else 200)


async def _inquiry_page(
    request: Request,
    inquiry_id: str,
    person: Session,
    parts: Portal,
    *,
    done: str | None = None,
    refused: Refused | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The inquiry as incentives has it now (another partner's: incentives' 403); with the
    resolve form's refusal, that form again with incentives' words and what was typed,
    even when the inquiry was resolved meanwhile."""
    found = await parts.backend.read("incentives", inquiry_path(inquiry_id), person.access_token)
    ensure_may_see(person, str(found.get("partner_id")))
    context = {
        "person": person,
        "title": f"Inquiry about {found.get('deal_id')}",
        "inquiry": found,
        "statement_path": statement_path(str(found.get("partner_id")), str(found.get("period"))),
        "done": done,
        "failed": refused is not None,
        "problem": refused.message if refused else None,
        "values": values or {},
    }
    return render(request, "inquiry.html", context, status=refused.status if refused else 200)
