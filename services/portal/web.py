"""The portal's HTTP hygiene: security headers on every answer, the renewed session
written back, and what readiness checks (docs/portal.md)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import Request, Response

from services.portal.pages.dependencies import Portal
from services.portal.signin import IssuerUnreachable

Endpoint = Callable[[Request], Awaitable[Response]]


def content_security_policy(issuer: str | None) -> str:
    """Scripts, styles and images from the portal only; forms go to the portal, or to
    the issuer (signing in and out redirect there); no framing."""
    form_targets = "'self'"
    if issuer:
        parts = urlsplit(issuer)
        form_targets += f" {parts.scheme}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_targets}",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(portal: Portal) -> Callable[[Request, Endpoint], Awaitable[Response]]:
    """Middleware: the headers every answer carries, and a renewed session's cookie."""
    policy = content_security_policy(portal.settings.oidc_issuer)

    async def add(request: Request, call_next: Endpoint) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        renewed = getattr(request.state, "renewed_session", None)
        if renewed is not None:
            portal.codec.keep_session(response, renewed, time.time())
        return response

    return add


def readiness(portal: Portal) -> dict[str, Callable[[], Awaitable[bool]]]:
    """Ready when the issuer and the reporting API answer."""

    async def issuer() -> bool:
        if portal.oidc is None:
            return False
        try:
            await portal.oidc.endpoints()
        except IssuerUnreachable:
            return False
        return True

    async def reporting() -> bool:
        try:
            answer = await portal.backend.http.get(f"{portal.settings.reporting_url}/healthz")
        except Exception:
            return False
        return answer.status_code == 200

    return {"issuer": issuer, "reporting": reporting}
