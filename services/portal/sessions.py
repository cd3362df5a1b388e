"""The signed-in person's session, kept in an encrypted cookie (docs/portal.md).

The portal keeps no session store: the cookie carries, encrypted and
authenticated with ``PORTAL_SESSION_SECRET`` (Fernet: AES-CBC and HMAC-SHA256),
who the person is, their access and refresh tokens and a CSRF token. Any replica
with the same secret reads it. It is ``HttpOnly`` and ``SameSite=Lax``, and
``Secure`` unless the portal runs on plain ``http`` on this machine. A session
ends ``PORTAL_SESSION_HOURS`` after sign-in, or at logout.

The sign-in in flight (state, nonce, PKCE verifier, the page to return to) has a
cookie of its own that lives ten minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.responses import Response

SESSION_COOKIE = "partnerhub_session"
SIGN_IN_COOKIE = "partnerhub_sign_in"
SIGN_IN_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in person: who, in what role, for which partner, with which tokens."""

    subject: str
    name: str
    role: str
    partner_id: str | None
    access_token: str
    refresh_token: str | None
    access_expires_at: float
    started_at: float
    csrf: str

    @property
    def is_partner(self) -> bool:
        return self.role == "partner"

    @property
    def is_staff(self) -> bool:
        return self.role in ("admin", "channel_manager")

    def may_see_partner(self, partner_id: str) -> bool:
        return not self.is_partner or self.partner_id == partner_id

    def csrf_matches(self, token: str | None) -> bool:
        # As bytes: compare_digest refuses str with non-ASCII characters (a form may send any).
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())

    def with_tokens(
        self, access_token: str, refresh_token: str | None, expires_at: float
    ) -> Session:
        return replace(
            self,
            access_token=access_token,
            refresh_token=refresh_token or self.refresh_token,
            access_expires_at=expires_at,
        )


@dataclass(frozen=True, slots=True)
class SignIn:
    """A sign-in in flight: what the callback must see again."""

    state: str
    nonce: str
    verifier: str
    next_path: str


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def safe_next(path: str | None) -> str:
    """Only a path on this site: ``/x`` yes, ``//host`` or ``https://host`` no, nor a path
    with whitespace or control characters (browsers drop a tab or a newline between the
    two slashes of ``//host``)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    if any(c.isspace() or not c.isprintable() for c in path):
        return "/"
    return path


class SessionCodec:
    """Encrypts sessions into cookie values and back, refusing any it did not make or
    that have outlived their time."""

    def __init__(self, secret: str | None, session_seconds: float, *, secure: bool) -> None:
        material = secret if secret else secrets.token_urlsafe(32)
        key = base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())
        self._fernet = Fernet(key)
        self.session_seconds = session_seconds
        self.secure = secure

    def _seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()

    def _open(self, cookie: str | None, ttl: float) -> dict[str, Any] | None:
        if not cookie:
            return None
        try:
            value = json.loads(self._fernet.decrypt(cookie.encode(), ttl=int(ttl)))
        except (InvalidToken, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def session(self, cookie: str | None, now: float) -> Session | None:
        value = self._open(cookie, self.session_seconds)
        if value is None:
            return None
        try:
            session = Session(**value)
        except TypeError:
            return None
        return session if now < session.started_at + self.session_seconds else None

    def sign_in(self, cookie: str | None) -> SignIn | None:
        value = self._open(cookie, SIGN_IN_SECONDS)
        try:
            return None if value is None else SignIn(**value)
        except TypeError:
            return None

    def keep_session(self, response: Response, session: Session, now: float) -> None:
        remaining = max(1, int(session.started_at + self.session_seconds - now))
        self._set(response, SESSION_COOKIE, self._seal(asdict(session)), remaining)

    def keep_sign_in(self, response: Response, sign_in: SignIn) -> None:
        self._set(response, SIGN_IN_COOKIE, self._seal(asdict(sign_in)), SIGN_IN_SECONDS)

    def forget(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")

    def _set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
