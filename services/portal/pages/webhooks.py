"""``/webhooks``: the channel manager's subscriptions of other systems to events, from
notifications' ``/webhooks`` (docs/portal.md, "Webhooks"): the list with each one's
actions (pause, resume, replay what was parked, delete), the form adding one (its
signing secret shown once, on the answer), and one subscription's deliveries with their
attempts.

Every read and command is notifications', asked with the person's own token; a partner
user gets the portal's 403 without notifications being asked (it refuses them too).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    Method,
    Parts,
    Portal,
    Staff,
    render,
    see_other,
    send_correctable,
)
from services.portal.sessions import Session
from shared.events import PAYLOADS

router = APIRouter(tags=["webhooks"])

#: The event types a subscription may name: the contract's.
EVENT_TYPES = tuple(sorted(PAYLOADS))
#: A delivery's statuses, as notifications filters them.
DELIVERY_STATUSES = ("pending", "delivered", "parked")
#: Each action: the path under the webhook at notifications, its method, what is done.
ACTIONS: dict[str, tuple[str, Method, str]] = {
    "pause": ("/pause", "POST", "paused"),
    "resume": ("/resume", "POST", "resumed"),
    "replay": ("/replay", "POST", "replayed"),
    "delete": ("", "DELETE", "deleted"),
}
#: A webhook id the page repeats in what it says was done.
WEBHOOK_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: The form's fields in words, by the name notifications gives them.
FIELD_WORDS = {"url": "URL", "event_types": "Event types", "partner_id": "Partner id"}


def webhook_path(webhook_id: str) -> str:
    """A subscription's path at notifications."""
    return f"/webhooks/{quote(webhook_id, safe='')}"


# --------------------------------------------------------------------------- the list


@router.get("/webhooks")
async def webhooks(
    request: Request,
    person: Staff,
    parts: Parts,
    done: str | None = None,
    webhook_id: str | None = None,
    replayed: int | None = None,
) -> HTMLResponse:
    """Every subscription with its actions, and the form adding one."""
    return await _list_page(request, person, parts, outcome=_outcome(done, webhook_id, replayed))


@router.post("/webhooks", response_model=None)
async def add_webhook(request: Request, person: Staff, parts: Parts, form: Form) -> HTMLResponse:
    """Sent to notifications as the person: the answer page shows the secret, once; a
    refusal is shown on the form, each field it names in words, with what was typed."""
    chosen = [
        value
        for value in (await request.form()).getlist("event_types")
        if isinstance(value, str) and value
    ]
    values = {
        "url": form.get("url", "").strip(),
        "partner_id": form.get("partner_id", "").strip(),
        "event_types": chosen,
    }
    body: dict[str, Any] = {"url": values["url"], "event_types": chosen}
    if values["partner_id"]:
        body["partner_id"] = values["partner_id"]
    sent = await send_correctable(parts, person, form, "notifications", "/webhooks", body)
    if isinstance(sent, Refused):
        return await _list_page(
            request,
            person,
            parts,
            refused=sent,
            values=values,
            status=sent.status,
        )
    context = {"person": person, "title": "Webhook added", "webhook": sent.body}
    return render(request, "webhook_created.html", context, status=201)


@router.post("/webhooks/{webhook_id}/pause", response_model=None)
async def pause(
    webhook_id: str, request: Request, person: Staff, parts: Parts, form: Form
) -> Response:
    """Deliveries stop; events keep being queued and go out on resume."""
    return await _act(request, webhook_id, "pause", person, parts, form)


@router.post("/webhooks/{webhook_id}/resume", response_model=None)
async def resume(
    webhook_id: str, request: Request, person: Staff, parts: Parts, form: Form
) -> Response:
    return await _act(request, webhook_id, "resume", person, parts, form)


@router.post("/webhooks/{webhook_id}/replay", response_model=None)
async def replay(
    webhook_id: str, request: Request, person: Staff, parts: Parts, form: Form
) -> Response:
    """The parked deliveries queued again, with a new retry budget."""
    return await _act(request, webhook_id, "replay", person, parts, form)


@router.post("/webhooks/{webhook_id}/delete", response_model=None)
async def delete(
    webhook_id: str, request: Request, person: Staff, parts: Parts, form: Form
) -> Response:
    """Notifications' ``DELETE /webhooks/{id}``: the subscription with its deliveries."""
    return await _act(request, webhook_id, "delete", person, parts, form)


async def _act(
    request: Request,
    webhook_id: str,
    action: str,
    person: Session,
    parts: Portal,
    form: dict[str, str],
) -> Response:
    """The action sent to notifications as the person; back to the page the form was on
    (``back=detail``: the subscription's, but after a delete), saying what was done; a
    refusal (a 404: deleted meanwhile) above the list."""
    suffix, method, done = ACTIONS[action]
    path = f"{webhook_path(webhook_id)}{suffix}"
    sent = await send_correctable(parts, person, form, "notifications", path, method=method)
    if isinstance(sent, Refused):
        problem = f"Webhook {webhook_id}: {sent.message}"
        return await _list_page(request, person, parts, problem=problem, status=sent.status)
    query: dict[str, Any] = {"done": done, "webhook_id": webhook_id}
    if action == "replay":
        query["replayed"] = int(sent.body.get("replayed") or 0)
    if form.get("back") == "detail" and action != "delete":
        return see_other(f"/webhooks/{quote(webhook_id, safe='')}?{urlencode(query)}")
    return see_other(f"/webhooks?{urlencode(query)}")


async def _list_page(
    request: Request,
    person: Session,
    parts: Portal,
    *,
    outcome: dict[str, Any] | None = None,
    problem: str | None = None,
    refused: Refused | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The subscriptions, with what became of the last action (``outcome``) or its
    ``problem``; a refused new subscription (``refused``) on its form with ``values``."""
    found = await parts.backend.read("notifications", "/webhooks", person.access_token)
    fields, form_problem = _on_form(refused, (values or {}).get("event_types", []))
    context = {
        "person": person,
        "title": "Webhooks",
        "webhooks": found.get("webhooks", []),
        "event_types": EVENT_TYPES,
        "outcome": outcome,
        "problem": problem,
        "form_problem": form_problem,
        "field_problems": fields,
        "values": values or {},
    }
    return render(request, "webhooks.html", context, status=status)


def _on_form(refused: Refused | None, sent_types: list[str]) -> tuple[dict[str, str], str | None]:
    """A refusal of the new subscription: each field notifications named with its problem
    (shown beside the field: "URL: the webhook URL resolves to …"), and what names no field
    of the form (shown above it: notifications' words)."""
    if refused is None:
        return {}, None
    fields: dict[str, list[str]] = {}
    for loc, message in refused.problems:
        names = [name for name in loc if name not in ("body", "query", "path", "header")]
        field = names[0] if names and names[0] in FIELD_WORDS else "form"
        if field == "event_types" and len(names) > 1 and names[1].isdigit():
            index = int(names[1])
            if index < len(sent_types):
                message = f"{sent_types[index]}: {message}"
        fields.setdefault(field, []).append(message)
    if not fields:
        return {}, refused.message
    said = {field: "; ".join(messages) for field, messages in fields.items()}
    return said, said.pop("form", None)


# --------------------------------------------------------------------------- one subscription


@router.get("/webhooks/{webhook_id}")
async def webhook(
    request: Request,
    webhook_id: str,
    person: Staff,
    parts: Parts,
    status: str = "",
    cursor: str = "",
    done: str | None = None,
    replayed: int | None = None,
) -> HTMLResponse:
    """The subscription and its deliveries, newest first, each with its attempts;
    ``PORTAL_PAGE_SIZE`` at a time, of one status when chosen."""
    token = person.access_token
    found = await parts.backend.read("notifications", webhook_path(webhook_id), token)
    problem, code = None, 200
    deliveries: dict[str, Any] = {"deliveries": [], "next_cursor": None}
    if status and status not in DELIVERY_STATUSES:
        problem = (
            f"Status: {status!r} is none of {', '.join(DELIVERY_STATUSES)}; "
            "every delivery is shown when none is chosen."
        )
        code = 422
    else:
        params = {"status": status, "cursor": cursor, "limit": parts.settings.portal_page_size}
        try:
            deliveries = await parts.backend.read(
                "notifications", f"{webhook_path(webhook_id)}/deliveries", token, params
            )
        except Refused as exc:
            if not exc.correctable:
                raise
            problem, code = f"The deliveries cannot be shown: {exc.message}", exc.status
    here = f"/webhooks/{quote(webhook_id, safe='')}"
    next_cursor = deliveries.get("next_cursor")
    context = {
        "person": person,
        "title": f"Webhook {found.get('webhook_id', webhook_id)}",
        "webhook": found,
        "deliveries": deliveries.get("deliveries", []),
        "next_page": _page_of(here, status, next_cursor) if next_cursor else None,
        "first_page": _page_of(here, status, None),
        "status": status,
        "statuses": DELIVERY_STATUSES,
        "cursor": cursor,
        "outcome": {"done": done, "webhook_id": webhook_id, "replayed": replayed} if done else None,
        "problem": problem,
    }
    return render(request, "webhook.html", context, status=code)


def _outcome(
    done: str | None, webhook_id: str | None, replayed: int | None
) -> dict[str, Any] | None:
    """What the last action did, from the address it was answered with: one of
    :data:`ACTIONS`' and a webhook id as notifications makes them, or nothing to say."""
    if done not in {d for _, _, d in ACTIONS.values()} or not WEBHOOK_ID.match(webhook_id or ""):
        return None
    return {"done": done, "webhook_id": webhook_id, "replayed": replayed}


def _page_of(here: str, status: str, cursor: str | None) -> str:
    """The address of a page of deliveries, with the status chosen."""
    query = {name: value for name, value in (("status", status), ("cursor", cursor)) if value}
    return f"{here}?{urlencode(query)}" if query else here
