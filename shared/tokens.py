"""People's bearer tokens: JWT access tokens of the configured OpenID Connect issuer.

Besides API keys (:mod:`shared.access`), every service accepts a JWT access
token signed by the issuer ``OIDC_ISSUER`` for the audience ``OIDC_AUDIENCE``
(docs/rules/events.md, "HTTP access"). The signing keys come from the
issuer's JWKS, found through its discovery document
(``<issuer>/.well-known/openid-configuration``, or ``OIDC_JWKS_URL`` when set)
and cached; a token signed with a key id the cached set lacks makes the set be
fetched again (at most once per ``OIDC_JWKS_COOLDOWN_SECONDS``), so a key the
issuer rotates in is accepted without a restart.

A token must be signed by a published key, unexpired, of this issuer and for
this audience, and carry ``sub``; its claims map to the caller:

- ``partnerhub_role``: ``admin``, ``channel_manager`` or ``partner``;
- ``partner_id``: the partner a ``partner`` acts for (required then).

Every refusal says what is wrong with the token, never what it holds.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

#: Signature algorithms accepted; never ``none`` and never a shared secret.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
#: Seconds of clock difference tolerated on ``exp``, ``nbf`` and ``iat``.
LEEWAY_SECONDS = 30
#: What a person's ``partnerhub_role`` may be.
ROLES = ("admin", "channel_manager", "partner")


class TokenRejected(Exception):
    """A token this service does not accept (401); the message says why."""


class TokenForbidden(Exception):
    """A valid token whose claims give no access here (403); the message says why."""


class IssuerUnavailable(Exception):
    """The issuer's keys cannot be fetched (503): the token may be good."""


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says of the person."""

    subject: str
    role: str
    partner_id: str | None
    email: str | None = None


def claims_of(payload: dict[str, Any]) -> Claims:
    """The caller a verified token's payload names; :class:`TokenForbidden` when its
    role claims give no access."""
    role = payload.get("partnerhub_role")
    if role not in ROLES:
        raise TokenForbidden(
            f"the token's partnerhub_role must be one of {', '.join(ROLES)}, not {role!r}"
        )
    partner_id = payload.get("partner_id")
    if role == "partner" and (not isinstance(partner_id, str) or not partner_id):
        raise TokenForbidden("a partner's token must carry its partner_id")
    email = payload.get("email")
    return Claims(
        subject=str(payload["sub"]),
        role=role,
        partner_id=partner_id if role == "partner" else None,
        email=email if isinstance(email, str) and email else None,
    )


class TokenVerifier:
    """Verifies JWT access tokens of one issuer for one audience."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_url: str | None = None,
        cooldown_seconds: float = 30.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks_url = jwks_url
        self._cooldown = cooldown_seconds
        self._timeout = timeout_seconds
        self._client: jwt.PyJWKClient | None = None

    async def verify(self, token: str) -> Claims:
        """The claims of ``token``; :class:`TokenRejected`, :class:`TokenForbidden` or
        :class:`IssuerUnavailable` otherwise."""
        client = await self._keys()
        try:
            key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise IssuerUnavailable(f"the issuer's keys could not be fetched: {exc}") from None
        except jwt.PyJWKClientError as exc:
            raise TokenRejected(
                f"the token is not signed by a key the issuer publishes ({exc})"
            ) from None
        except jwt.PyJWTError:
            raise TokenRejected("not a JWT access token") from None
        return claims_of(self._decode(token, key.key))

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(f"the token is not for this audience ({self.audience})") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected(f"the token is not from the issuer {self.issuer}") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"the token lacks the {exc.claim} claim") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the token is not valid: {exc}") from None
        return payload

    async def _keys(self) -> jwt.PyJWKClient:
        """The issuer's JWKS client, its URL discovered on first use."""
        if self._client is None:
            url = self._jwks_url
            if url is None:
                url = await asyncio.to_thread(self._discover_jwks_url)
            self._client = jwt.PyJWKClient(
                url,
                cache_jwk_set=True,
                lifespan=300,
                timeout=self._timeout,
                cooldown_duration=self._cooldown,
            )
        return self._client

    def _discover_jwks_url(self) -> str:
        url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=self._timeout) as answer:
                document = json.load(answer)
        except (OSError, ValueError) as exc:
            raise IssuerUnavailable(f"the issuer's discovery document {url}: {exc}") from None
        jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
        if not isinstance(jwks_uri, str):
            raise IssuerUnavailable(f"the issuer's discovery document {url} names no jwks_uri")
        return jwks_uri


def looks_like_jwt(credential: str) -> bool:
    """Whether a bearer credential is a JWT (three dot-separated parts) rather than an API
    key (which never holds a dot)."""
    return credential.count(".") == 2
