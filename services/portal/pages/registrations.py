"""``/registrations``: the registrations, newest first, a page at a time (a partner
user's own; the channel manager's of every partner or one, by status, or those with an
extension request waiting); ``/registrations/new``: a partner registers a deal;
``/registrations/{id}``: the registration, its decision, its protection and its
extensions, with the forms that ask for an extension (a partner user, or staff), answer
one, and decide the registration by hand (the channel manager)
(docs/rules/deal-registration.md)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    Parts,
    Person,
    Portal,
    Staff,
    ensure_may_see,
    fields_of,
    render,
    see_other,
    send_correctable,
)
from services.portal.sessions import Session

router = APIRouter(tags=["registrations"])

FIELDS = ("deal_id", "customer", "product_line", "expected_amount")
#: What incentives says a registration is; the filter keeps these only.
STATUSES = ("pending", "approved", "rejected", "expired")
#: The list's filter of the registrations with an extension request waiting for an answer.
EXTENSION_WAITING = "requested"
#: A whole number of days, sent as a number; any other text (a longer number too) is sent
#: as typed, for incentives to name the field.
WHOLE = re.compile(r"-?[0-9]{1,9}")


def registration_path(registration_id: str) -> str:
    """A registration's path, at incentives and in the portal alike."""
    return f"/registrations/{quote(registration_id, safe='')}"


@router.get("/registrations")
async def registrations(
    request: Request,
    person: Person,
    parts: Parts,
    partner_id: str | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    extension: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    """A partner user's own registrations (naming another partner is 403); the channel
    manager's of every partner, or of the partner named; with ``extension=requested``,
    only those with an extension request waiting for an answer."""
    partner_id = (partner_id or "").strip() or None
    if person.is_partner:
        if partner_id is not None:
            ensure_may_see(person, partner_id)
        partner_id = person.partner_id
    statuses = [s for s in STATUSES if s in (status or [])]
    waiting = extension == EXTENSION_WAITING
    page = await parts.backend.read(
        "incentives",
        "/registrations",
        person.access_token,
        {
            "partner_id": partner_id,
            "status": statuses,
            "extension": EXTENSION_WAITING if waiting else None,
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
        "extension_waiting": waiting,
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
    done: str | None = None,
) -> HTMLResponse:
    """The registration, with what became of the last form sent from it (``done``)."""
    return await _registration_page(
        request, registration_id, person, parts, registered=registered, done=done
    )


@router.post("/registrations/{registration_id}/extension", response_model=None)
async def ask_for_extension(
    request: Request, registration_id: str, person: Person, parts: Parts, form: Form
) -> Response:
    """A partner user asks for their own registration's protection to last longer (staff
    for any); incentives decides whether it may be asked."""
    typed = _typed(form, "days", "reason")
    days: int | str = int(typed["days"]) if WHOLE.fullmatch(typed["days"]) else typed["days"]
    return await _send(
        request,
        registration_id,
        person,
        parts,
        form,
        action="extension",
        done="extension-requested",
        body={"days": days, "reason": typed["reason"]},
        typed=typed,
    )


@router.post("/registrations/{registration_id}/extension/approve", response_model=None)
async def grant_extension(
    request: Request, registration_id: str, person: Staff, parts: Parts, form: Form
) -> Response:
    """The channel manager grants the extension request waiting, with an optional note."""
    typed = _typed(form, "note")
    return await _send(
        request,
        registration_id,
        person,
        parts,
        form,
        action="extension/approve",
        done="extension-granted",
        body={"note": typed["note"] or None},
        typed=typed,
    )


@router.post("/registrations/{registration_id}/extension/reject", response_model=None)
async def refuse_extension(
    request: Request, registration_id: str, person: Staff, parts: Parts, form: Form
) -> Response:
    """The channel manager refuses the extension request waiting, saying why."""
    typed = _typed(form, "reason")
    return await _send(
        request,
        registration_id,
        person,
        parts,
        form,
        action="extension/reject",
        done="extension-refused",
        body=dict(typed),
        typed=typed,
    )


@router.post("/registrations/{registration_id}/decision", response_model=None)
async def decide_by_hand(
    request: Request, registration_id: str, person: Staff, parts: Parts, form: Form
) -> Response:
    """The channel manager approves or rejects a decided registration, saying why; the
    decision stands over the automatic rule."""
    typed = _typed(form, "decision", "reason")
    return await _send(
        request,
        registration_id,
        person,
        parts,
        form,
        action="decision",
        done="decided",
        body=dict(typed),
        typed=typed,
    )


def _typed(form: dict[str, str], *names: str) -> dict[str, str]:
    """The named fields of a form, trimmed: what is sent, and kept on a refusal."""
    return {name: form.get(name, "").strip() for name in names}


async def _send(
    request: Request,
    registration_id: str,
    person: Session,
    parts: Portal,
    form: dict[str, str],
    *,
    action: str,
    done: str,
    body: dict[str, object],
    typed: dict[str, str],
) -> Response:
    """A registration page's form, sent to incentives' ``/registrations/{id}/<action>``
    as the person: back to the page with ``done`` said, or the page again with the
    refusal on the form and what was typed kept."""
    path = registration_path(registration_id)
    sent = await send_correctable(parts, person, form, "incentives", f"{path}/{action}", body)
    if isinstance(sent, Refused):
        return await _registration_page(
            request, registration_id, person, parts, refused=sent, form_name=action, values=typed
        )
    return see_other(f"{path}?done={done}")


async def _registration_page(
    request: Request,
    registration_id: str,
    person: Session,
    parts: Portal,
    *,
    registered: bool = False,
    done: str | None = None,
    refused: Refused | None = None,
    form_name: str | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The registration as incentives has it now; with a form's refusal, that form shown
    again with the service's words and what was typed."""
    found = await parts.backend.read(
        "incentives", registration_path(registration_id), person.access_token
    )
    ensure_may_see(person, str(found.get("partner_id")))
    context = {
        "person": person,
        "title": f"Registration of {found.get('deal_id')}",
        "registration": found,
        "registered": registered,
        "done": done,
        "failed": form_name if refused else None,
        "problem": refused.message if refused else None,
        "values": values or {},
    }
    return render(request, "registration.html", context, status=refused.status if refused else 200)
