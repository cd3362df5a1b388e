"""Sign-in with OpenID Connect: the authorization-code flow with PKCE (docs/portal.md).

The portal is a client of the configured issuer. ``/login`` sends the person to
the issuer's authorization endpoint with a fresh ``state``, ``nonce`` and PKCE
challenge (S256); the issuer sends them back to ``/auth/callback`` with a code,
which is exchanged for tokens at the token endpoint. The ID token's signature,
issuer, audience (the client id) and nonce are checked; the access token is
checked as every service checks it (:class:`shared.tokens.TokenVerifier`), and
its claims say who the person is. A refresh token renews the access token
before it expires; logout ends the session at the issuer too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import jwt

from services.portal.sessions import Session, SignIn, new_csrf, safe_next
from services.portal.settings import PortalSettings
from shared.tokens import ALGORITHMS, LEEWAY_SECONDS, TokenVerifier


class SignInFailed(Exception):
    """The issuer refused, or answered what cannot be trusted; the message says which."""


class IssuerUnreachable(Exception):
    """The issuer does not answer (503)."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorization: str
    token: str
    jwks: str
    end_session: str | None


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """The portal's client at the issuer."""

    def __init__(self, settings: PortalSettings, http: httpx.AsyncClient) -> None:
        if settings.oidc_issuer is None:
            raise ValueError("OIDC_ISSUER is not set")
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.settings = settings
        self.http = http
        self.tokens = TokenVerifier(
            settings.oidc_issuer,
            settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            cooldown_seconds=settings.oidc_jwks_cooldown_seconds,
        )
        self._endpoints: Endpoints | None = None
        self._id_keys: jwt.PyJWKClient | None = None

    async def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            document = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            try:
                self._endpoints = Endpoints(
                    authorization=str(document["authorization_endpoint"]),
                    token=str(document["token_endpoint"]),
                    jwks=str(document["jwks_uri"]),
                    end_session=document.get("end_session_endpoint"),
                )
            except KeyError as exc:
                raise IssuerUnreachable(f"the issuer's discovery document lacks {exc}") from None
        return self._endpoints

    async def begin(self, next_path: str | None) -> tuple[str, SignIn]:
        """The authorization URL to send the person to, and what the callback checks."""
        sign_in = SignIn(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next_path=safe_next(next_path),
        )
        query = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.settings.callback_url,
            "scope": self.settings.oidc_scopes,
            "state": sign_in.state,
            "nonce": sign_in.nonce,
            "code_challenge": pkce_challenge(sign_in.verifier),
            "code_challenge_method": "S256",
        }
        return f"{(await self.endpoints()).authorization}?{urlencode(query)}", sign_in

    async def finish(self, code: str, sign_in: SignIn) -> Session:
        """Exchange the code; the new session of the person it signs in."""
        answer = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.settings.callback_url,
                "code_verifier": sign_in.verifier,
            }
        )
        identity = await self._verified_id_token(answer, sign_in.nonce)
        access_token = str(answer["access_token"])
        claims = await self._access_claims(access_token)
        now = time.time()
        return Session(
            subject=claims.subject,
            name=str(identity.get("name") or identity.get("preferred_username") or claims.subject),
            role=claims.role,
            partner_id=claims.partner_id,
            access_token=access_token,
            refresh_token=answer.get("refresh_token"),
            access_expires_at=now + float(answer.get("expires_in", 300)),
            started_at=now,
            csrf=new_csrf(),
        )

    async def refresh(self, session: Session) -> Session:
        """A new access token for the session; :class:`SignInFailed` when refused."""
        if session.refresh_token is None:
            raise SignInFailed("the session has no refresh token")
        answer = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": session.refresh_token}
        )
        access_token = str(answer["access_token"])
        await self._access_claims(access_token)
        expires_at = time.time() + float(answer.get("expires_in", 300))
        return session.with_tokens(access_token, answer.get("refresh_token"), expires_at)

    async def logout_url(self) -> str | None:
        """Where to end the session at the issuer, returning to the portal's home."""
        try:
            end_session = (await self.endpoints()).end_session
        except IssuerUnreachable:
            return None
        if end_session is None:
            return None
        query = {
            "client_id": self.settings.oidc_client_id,
            "post_logout_redirect_uri": f"{self.settings.portal_url}/",
        }
        return f"{end_session}?{urlencode(query)}"

    async def _access_claims(self, access_token: str) -> Any:
        try:
            return await self.tokens.verify(access_token)
        except Exception as exc:  # TokenRejected, TokenForbidden, IssuerUnavailable
            raise SignInFailed(f"the issuer's access token is not accepted: {exc}") from None

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        form = {**form, "client_id": self.settings.oidc_client_id}
        secret = self.settings.oidc_client_secret
        if secret is not None:
            form["client_secret"] = secret.get_secret_value()
        try:
            response = await self.http.post((await self.endpoints()).token, data=form)
        except httpx.HTTPError as exc:
            raise IssuerUnreachable(f"the issuer's token endpoint: {exc}") from None
        body = _json_or_empty(response)
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or response.status_code
            raise SignInFailed(f"the issuer refused the sign-in: {reason}")
        return body

    async def _verified_id_token(self, answer: dict[str, Any], nonce: str) -> dict[str, Any]:
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the issuer sent no ID token")
        if self._id_keys is None:
            self._id_keys = jwt.PyJWKClient((await self.endpoints()).jwks, lifespan=300)
        try:
            key = await asyncio.to_thread(self._id_keys.get_signing_key_from_jwt, id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.settings.oidc_client_id,
                issuer=self.settings.oidc_issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"the ID token is not valid: {exc}") from None
        if claims.get("nonce") != nonce:
            raise SignInFailed("the ID token's nonce is not this sign-in's")
        return claims

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self.http.get(url)
        except httpx.HTTPError as exc:
            raise IssuerUnreachable(f"the issuer at {url}: {exc}") from None
        body = _json_or_empty(response)
        if response.status_code != 200 or not body:
            raise IssuerUnreachable(f"the issuer at {url} answered {response.status_code}")
        return body


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
