"""What every page needs: the signed-in person, CSRF-checked forms, rendering, and the
refusals a page answers with (docs/portal.md)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.portal.backend import Backend, Refused, Sent
from services.portal.sessions import SESSION_COOKIE, Session, SessionCodec, safe_next
from services.portal.settings import PortalSettings
from services.portal.signin import IssuerUnreachable, OidcClient, SignInFailed
from shared.ratelimit import RateLimiter

#: Renew the access token when it has less than this left.
RENEW_SECONDS = 60
#: How a form's command is sent.
Method = Literal["POST", "PUT", "DELETE"]


@dataclass(frozen=True, slots=True)
class Portal:
    """The portal's parts, one per process (``app.state.portal``)."""

    settings: PortalSettings
    codec: SessionCodec
    oidc: OidcClient | None
    backend: Backend
    templates: Jinja2Templates


class SignInRequired(Exception):
    """No session, or one that can no longer be used: sign in, then come back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageRefused(Exception):
    """A page the person may not see, or a request it cannot serve."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def portal(request: Request) -> Portal:
    found: Portal = request.app.state.portal
    return found


def return_path(request: Request) -> str:
    """Where to come back to after signing in: this page; for a form sent (a POST, which
    cannot be opened again), the portal's page it was sent from, else home."""
    if request.method in ("GET", "HEAD"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return "/"
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))


def current_session(request: Request) -> Session:
    """The session as the cookie has it, its token not renewed; none: sign in."""
    session = portal(request).codec.session(request.cookies.get(SESSION_COOKIE), time.time())
    if session is None:
        raise SignInRequired(return_path(request))
    return session


async def signed_in(request: Request) -> Session:
    """The person signed in; their access token renewed when it is about to expire."""
    parts = portal(request)
    session = current_session(request)
    here = return_path(request)
    if session.access_expires_at - time.time() < RENEW_SECONDS:
        if parts.oidc is None:
            raise SignInRequired(here)
        try:
            session = await parts.oidc.refresh(session)
        except (SignInFailed, IssuerUnreachable, KeyError):
            raise SignInRequired(here) from None
        request.state.renewed_session = session
    return session


Person = Annotated[Session, Depends(signed_in)]
Parts = Annotated[Portal, Depends(portal)]


async def staff(person: Person) -> Session:
    """A channel manager or admin; a partner user gets 403."""
    if not person.is_staff:
        raise PageRefused(403, "This page is for channel managers.")
    return person


Staff = Annotated[Session, Depends(staff)]


def aware_instant(text: str) -> datetime | None:
    """``text`` as an ISO 8601 instant with its offset (``2026-12-01T00:00:00Z``,
    ``…+01:00``); none for anything else, a date or a time without its offset included
    (the services refuse those)."""
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def ensure_may_see(person: Session, partner_id: str) -> None:
    """A partner user sees their own partner only (the services check it again)."""
    if not person.may_see_partner(partner_id):
        raise PageRefused(403, "You can see your own partner's pages only.")


async def form_of(request: Request, person: Person) -> dict[str, str]:
    """The submitted form's fields, once its CSRF token is this session's."""
    return await _checked_form(request, person)


async def sign_out_form(request: Request) -> dict[str, str]:
    """As :func:`form_of`, but the token is not renewed: signing out needs none, and a
    renewed session's cookie would outlive the sign-out."""
    return await _checked_form(request, current_session(request))


async def _checked_form(request: Request, person: Session) -> dict[str, str]:
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not person.csrf_matches(fields.pop("csrf", None)):
        raise PageRefused(
            403,
            "The form has expired or did not come from this portal; "
            "reload the page and send it again.",
        )
    return fields


Form = Annotated[dict[str, str], Depends(form_of)]
SignOutForm = Annotated[dict[str, str], Depends(sign_out_form)]


def fields_of(form: dict[str, str], names: tuple[str, ...], person: Session) -> dict[str, str]:
    """A self-service command's body from its form: the named fields, trimmed, and, from a
    staff person, the partner it acts for (a partner user's command acts for their own,
    which the service decides from their token)."""
    body = {name: form.get(name, "").strip() for name in names}
    if person.is_staff:
        body["partner_id"] = form.get("partner_id", "").strip()
    return body


async def send_form(
    parts: Portal,
    person: Session,
    form: dict[str, str],
    service: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    method: Method = "POST",
) -> Sent:
    """The form's command, sent to ``service`` as the person, with the form's
    ``submission`` as its Idempotency-Key: a form sent twice is one command. ``method``:
    ``POST``, or ``PUT`` or ``DELETE`` for a service whose route is one."""
    key = form.get("submission") or None
    token = person.access_token
    if method == "PUT":
        return await parts.backend.put(service, path, token, body, idempotency_key=key)
    if method == "DELETE":
        return await parts.backend.delete(service, path, token, idempotency_key=key)
    return await parts.backend.send(service, path, token, body, idempotency_key=key)


async def send_correctable(
    parts: Portal,
    person: Session,
    form: dict[str, str],
    service: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    method: Method = "POST",
) -> Sent | Refused:
    """:func:`send_form`, with a refusal the person can correct (a 4xx but 401) returned
    to be shown on the form; any other (a 401 signs in again, a 5xx) is raised."""
    try:
        return await send_form(parts, person, form, service, path, body, method=method)
    except Refused as exc:
        if not exc.correctable:
            raise
        return exc


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    parts = portal(request)
    page: HTMLResponse = parts.templates.TemplateResponse(
        request, template, {"settings": parts.settings, **context}, status_code=status
    )
    return page


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    target = f"/login?next={quote(exc.next_path, safe='')}"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return see_other(target)


async def page_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    return _error_page(request, exc.status, exc.message)


async def service_refused(request: Request, exc: Exception) -> Response:
    """A service's refusal: 401 means signing in again; others are shown as they are."""
    assert isinstance(exc, Refused)
    if exc.status == 401:
        return await sign_in_required(request, SignInRequired(return_path(request)))
    return _error_page(request, exc.status, exc.message)


async def not_a_page(request: Request, exc: Exception) -> Response:
    """No such page (404), a method it does not take (405), too many requests (429, with
    its Retry-After): the portal's own page."""
    assert isinstance(exc, StarletteHTTPException)
    messages = {
        404: f"There is no page at {request.url.path}.",
        405: f"{request.url.path} does not take a {request.method}.",
    }
    page = _error_page(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))
    page.headers.update(exc.headers or {})
    return page


def client_of(request: Request) -> str:
    """The address the request came from (the forwarded one, from a trusted proxy)."""
    return request.client.host if request.client else "unknown"


async def sign_in_limit(request: Request) -> None:
    """At most ``SIGN_IN_PER_MINUTE`` sign-ins a minute from one address (429 beyond)."""
    limiter: RateLimiter = request.app.state.sign_in_limit
    limiter.check(client_of(request), "sign-ins from this address")


async def public_limit(request: Request) -> None:
    """At most ``PUBLIC_PER_MINUTE`` requests a minute from one address to a page that
    needs no sign-in and acts (unsubscribing; 429 beyond)."""
    limiter: RateLimiter = request.app.state.public_limit
    limiter.check(client_of(request), "requests from this address")


#: Route dependency: the sign-in pages' rate limit.
SignInLimit = Depends(sign_in_limit)
#: Route dependency: the rate limit of pages that act without a sign-in.
PublicLimit = Depends(public_limit)


async def bad_request(request: Request, exc: Exception) -> Response:
    """A query or form the page cannot use: the page says which field, as a 422 page."""
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in error['loc'][1:]) or error['loc'][0]}: {error['msg']}"
        for error in exc.errors()
    )
    return _error_page(request, 422, f"This request cannot be used: {problems}.")


def _error_page(request: Request, status: int, message: str) -> Response:
    titles = {
        403: "Not yours to see",
        404: "Not found",
        405: "Not found",
        422: "Something to fix",
        429: "Too many requests",
        503: "Not available right now",
    }
    session = portal(request).codec.session(request.cookies.get(SESSION_COOKIE), time.time())
    context = {
        "title": titles.get(status, "Something went wrong"),
        "message": message,
        "person": session,
        "status": status,
    }
    return render(request, "error.html", context, status=status)
