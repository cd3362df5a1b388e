"""``/notifications``: which kinds of email a signed-in person receives; and
``/unsubscribe``: the link of every email, which works without signing in
(docs/portal.md, "Email").

Both are notifications' API: ``GET`` and ``PUT /me/notifications`` with the person's
own token, and ``POST /unsubscribe`` with none at all. An unsubscribe link carries the
address, the kind of email and a token, an HMAC of the two made by notifications; that
token, not a session, is what proves the link was emailed to that address. So
``POST /unsubscribe`` is the one form of the portal without the session's CSRF token:
someone without a session clicks it, and a forged one needs the token of the address it
names, which only its inbox has. It also takes the RFC 8058 one-click POST a mail
client sends (the link's address, with the body ``List-Unsubscribe=One-Click``).
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Form,
    Parts,
    Person,
    Portal,
    PublicLimit,
    client_of,
    portal,
    render,
    send_correctable,
)
from services.portal.sessions import SESSION_COOKIE, Session

router = APIRouter(tags=["email"])

#: Each kind of email in words, as notifications names it (the unsubscribe page is
#: shown before notifications is asked anything; its answer names the kind again).
KIND_TITLES = {
    "registration_decided": "A deal registration is decided",
    "registration_expiring": "A deal registration's protection ends within 7 days",
    "mdf_request_decided": "An MDF request is decided",
    "mdf_claim_decided": "An MDF claim is decided",
    "payout_settled": "A payout is settled",
    "certification_expiring": "A certification expires within 30 days",
    "application_waiting": "A partner application waits for a decision",
    "extension_waiting": "A registration extension request waits",
    "mdf_request_waiting": "An MDF request waits for a decision",
    "mdf_claim_waiting": "An MDF claim waits for a decision",
    "inquiry_waiting": "A commission inquiry waits for an answer",
}
#: An unsubscribe token: notifications' HMAC-SHA256, in hex.
TOKEN = re.compile(r"^[0-9a-fA-F]{64}$")
#: The body of an RFC 8058 one-click unsubscribe.
ONE_CLICK = ("List-Unsubscribe", "One-Click")
NOT_VALID = "This link is not valid"


def kind_title(kind: str) -> str:
    """A kind of email in words; one the portal does not know, as it is."""
    return KIND_TITLES.get(kind, kind.replace("_", " "))


# --------------------------------------------------------------------------- preferences


@router.get("/notifications")
async def preferences(request: Request, person: Person, parts: Parts) -> HTMLResponse:
    """The person's address and, per kind of email they may receive, whether they do."""
    try:
        found = await parts.backend.read("notifications", "/me/notifications", person.access_token)
    except Refused as exc:
        return _unavailable(request, person, exc)
    return _preferences_page(request, person, found)


@router.post("/notifications", response_model=None)
async def save_preferences(
    request: Request, person: Person, parts: Parts, form: Form
) -> HTMLResponse:
    """The kinds left unchecked become the person's ``unsubscribed``: the kinds are
    notifications' own, read again, so a value the page did not offer is ignored."""
    checked = {
        value for value in (await request.form()).getlist("subscribed") if isinstance(value, str)
    }
    try:
        found = await parts.backend.read("notifications", "/me/notifications", person.access_token)
    except Refused as exc:
        return _unavailable(request, person, exc)
    kinds = [str(k.get("kind")) for k in kinds_of(found)]
    body = {"unsubscribed": [kind for kind in kinds if kind not in checked]}
    sent = await send_correctable(
        parts, person, form, "notifications", "/me/notifications", body, method="PUT"
    )
    if isinstance(sent, Refused):
        shown = {
            **found,
            "kinds": [{**k, "subscribed": k.get("kind") in checked} for k in kinds_of(found)],
        }
        return _preferences_page(request, person, shown, problem=sent.message, status=sent.status)
    return _preferences_page(request, person, sent.body, saved=True)


def _preferences_page(
    request: Request,
    person: Session,
    found: dict[str, Any],
    *,
    saved: bool = False,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    kinds = [
        {**k, "title": k.get("title") or kind_title(str(k.get("kind")))} for k in kinds_of(found)
    ]
    context = {
        "person": person,
        "title": "Email notifications",
        "address": found.get("address"),
        "kinds": kinds,
        "saved": saved_sentence(kinds) if saved else None,
        "problem": problem,
    }
    return render(request, "notifications.html", context, status=status)


def _unavailable(request: Request, person: Session, refused: Refused) -> HTMLResponse:
    """Notifications refusing (a sign-in without an email address: 403) or not
    answering, said on the page; a 401 is signing in again."""
    if refused.status == 401:
        raise refused
    context = {
        "person": person,
        "title": "Email notifications",
        "address": None,
        "kinds": [],
        "saved": None,
        "problem": f"Your email settings cannot be shown now: {refused.message}",
    }
    return render(request, "notifications.html", context, status=refused.status)


def kinds_of(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The kinds of email of notifications' preferences, each a mapping."""
    return [k for k in found.get("kinds", []) if isinstance(k, dict)]


def saved_sentence(kinds: list[dict[str, Any]]) -> str:
    """What the person now receives, and what not: "Saved: you receive “A payout is
    settled”; not “An MDF claim is decided”."."""
    receiving = [f"“{k['title']}”" for k in kinds if k.get("subscribed")]
    not_receiving = [f"“{k['title']}”" for k in kinds if not k.get("subscribed")]
    said = f"you receive {', '.join(receiving)}" if receiving else "you receive no email"
    if receiving and not_receiving:
        said += f"; not {', '.join(not_receiving)}"
    return f"Saved: {said}."


# --------------------------------------------------------------------------- unsubscribe


@router.get("/unsubscribe", dependencies=[PublicLimit])
async def confirm_unsubscribe(
    request: Request, address: str = "", kind: str = "", token: str = ""
) -> HTMLResponse:
    """The link of an email: asks before unsubscribing (a GET changes nothing, so a
    mail scanner opening links unsubscribes no one). No sign-in needed."""
    link = _link(address, kind, token)
    if link is None:
        return _unsubscribe_page(request, problem=_incomplete(), status=400)
    return _unsubscribe_page(request, link=link)


@router.post("/unsubscribe", response_model=None, dependencies=[PublicLimit])
async def unsubscribe(
    request: Request, parts: Parts, address: str = "", kind: str = "", token: str = ""
) -> HTMLResponse:
    """The confirmation's form (address, kind and token as hidden fields), or a mail
    client's one-click POST to the link itself (``List-Unsubscribe=One-Click``, the rest
    in the query): sent to notifications without any Authorization; the token is the
    proof, so no session and no CSRF token is asked for."""
    form = await request.form()
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    query = {"address": address, "kind": kind, "token": token}
    link = _link(*(fields.get(name) or query[name] for name in ("address", "kind", "token")))
    if link is None:
        return _unsubscribe_page(request, problem=_incomplete(), status=400)
    try:
        sent = await parts.backend.send_public(
            "notifications", "/unsubscribe", link, for_client=client_of(request)
        )
    except Refused as exc:
        if exc.status in (403, 404, 422):
            problem = (
                f"{NOT_VALID} for that address and kind of email: it may have been cut or "
                f"changed on its way ({exc.message}). Use the link of the email as it is, "
                "or sign in and choose on Email notifications."
            )
            return _unsubscribe_page(request, problem=problem, status=403)
        problem = (
            f"Unsubscribing is not possible right now: {exc.message}. Try the link again later."
        )
        return _unsubscribe_page(
            request, link=link, problem=problem, status=503 if exc.status >= 500 else exc.status
        )
    done = {
        "address": sent.body.get("address") or link["address"],
        "title": sent.body.get("title") or kind_title(link["kind"]),
        "one_click": fields.get(ONE_CLICK[0]) == ONE_CLICK[1],
    }
    return _unsubscribe_page(request, done=done)


def _link(address: str, kind: str, token: str) -> dict[str, str] | None:
    """What an unsubscribe link carries, when it carries it all: an address, a kind and
    a token of the right shape (notifications judges the token itself)."""
    address, kind, token = address.strip(), kind.strip(), token.strip()
    if not (3 <= len(address) <= 320) or not kind or len(kind) > 64 or not TOKEN.match(token):
        return None
    return {"address": address, "kind": kind, "token": token}


def _incomplete() -> str:
    return (
        f"{NOT_VALID}: it does not carry an address, a kind of email and its token. "
        "Use the link of the email as it is, or sign in and choose on Email notifications."
    )


def _unsubscribe_page(
    request: Request,
    *,
    link: dict[str, str] | None = None,
    done: dict[str, Any] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "person": _signed_in(request),
        "title": "Unsubscribe",
        "link": link,
        "kind_title": kind_title(link["kind"]) if link else None,
        "done": done,
        "problem": problem,
    }
    return render(request, "unsubscribe.html", context, status=status)


def _signed_in(request: Request) -> Session | None:
    """The session, when there is one, for the page's navigation; none is needed."""
    parts: Portal = portal(request)
    return parts.codec.session(request.cookies.get(SESSION_COOKIE), time.time())
