"""``/login``, ``/auth/callback``, ``/logout``: signing in and out (docs/portal.md).

Signing in also makes the person known to notifications as someone to email (its
``PUT /me``, with their own token), best effort: notifications refusing or not
answering is logged and the sign-in goes on."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.backend import Refused
from services.portal.pages.dependencies import (
    Parts,
    Person,
    Portal,
    SignInLimit,
    SignOutForm,
    render,
    see_other,
)
from services.portal.sessions import SESSION_COOKIE, SIGN_IN_COOKIE, Session, safe_next
from services.portal.signin import IssuerUnreachable, SignInFailed

router = APIRouter(tags=["sign-in"])
log = logging.getLogger("partnerhub.portal")

#: The longest a sign-in waits for notifications to know the person.
MAKE_KNOWN_SECONDS = 3.0


@router.get("/login", response_model=None, dependencies=[SignInLimit])
async def login(request: Request, parts: Parts, next: str = "/") -> Response:
    """Off to the issuer, with this sign-in's state, nonce and PKCE challenge."""
    if parts.oidc is None:
        return _sign_in_problem(request, "Sign-in is not configured: set OIDC_ISSUER.", 503)
    try:
        url, sign_in = await parts.oidc.begin(next)
    except IssuerUnreachable as exc:
        return _sign_in_problem(request, f"The sign-in service cannot be reached: {exc}", 503)
    response = RedirectResponse(url, status_code=303)
    parts.codec.keep_sign_in(response, sign_in)
    return response


@router.get("/auth/callback", response_model=None)
async def callback(
    request: Request,
    parts: Parts,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    """Back from the issuer: the code becomes the session."""
    sign_in = parts.codec.sign_in(request.cookies.get(SIGN_IN_COOKIE))
    if error is not None:
        return _sign_in_problem(request, f"The sign-in service said: {error_description or error}")
    if parts.oidc is None or sign_in is None or state != sign_in.state or not code:
        return _sign_in_problem(
            request, "This sign-in has expired or was not started here; sign in again."
        )
    try:
        session = await parts.oidc.finish(code, sign_in)
    except SignInFailed as exc:
        return _sign_in_problem(request, str(exc))
    except IssuerUnreachable as exc:
        return _sign_in_problem(request, f"The sign-in service cannot be reached: {exc}", 503)
    await make_known(parts, session)
    response = see_other(safe_next(sign_in.next_path))
    parts.codec.forget(response, SIGN_IN_COOKIE)
    parts.codec.keep_session(response, session, time.time())
    return response


async def make_known(parts: Portal, session: Session) -> None:
    """Notifications' ``PUT /me`` as the person just signed in, so they are emailed what
    concerns them; any failure is a warning, never the sign-in's."""
    try:
        async with asyncio.timeout(MAKE_KNOWN_SECONDS):
            await parts.backend.put("notifications", "/me", session.access_token)
    except Refused as exc:
        log.warning(
            "notifications did not take %s as someone to email (%s): %s",
            session.subject,
            exc.status,
            exc.message,
        )
    except Exception:  # best effort: nothing about email stops a sign-in
        log.warning("notifications could not be told of %s", session.subject, exc_info=True)


@router.get("/logout")
async def confirm_logout(request: Request, person: Person) -> HTMLResponse:
    """A page with the sign-out button (signing out is a form, so it carries a CSRF token)."""
    return render(request, "logout.html", {"person": person, "title": "Sign out"})


@router.post("/logout", response_model=None)
async def logout(parts: Parts, _: SignOutForm) -> Response:
    """The session ends here and at the issuer."""
    target = (await parts.oidc.logout_url() if parts.oidc else None) or "/"
    response = RedirectResponse(target, status_code=303)
    parts.codec.forget(response, SESSION_COOKIE)
    return response


def _sign_in_problem(request: Request, message: str, status: int = 400) -> HTMLResponse:
    response = render(
        request,
        "error.html",
        {
            "title": "Sign-in did not work",
            "message": message,
            "person": None,
            "status": status,
            "retry": "/login",
        },
        status=status,
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response
