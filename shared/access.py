"""HTTP access control, the same in every service (docs/rules/events.md, "HTTP access").

Every endpoint except the probes (``/healthz``, ``/readyz``, ``/metrics``) and the
API's own documents (``/docs``, ``/openapi.json``, ``/asyncapi.json``) needs
``Authorization: Bearer <key or token>``. Keys come from ``API_KEYS`` (comma-separated
``key=role``) and, for keys mounted as a secret, from the file named by
``API_KEYS_FILE`` (one ``key=role`` a line, ``#`` comments). Roles:

- ``admin``: everything;
- ``channel_manager``: every read and every command;
- ``partner:<partner_id>``: reads that partner's own data only; anything else 403.

People call with a JWT access token of the configured OpenID Connect issuer
instead of a key; its claims give the same roles (:mod:`shared.tokens`).

A service calls :func:`install` once with its settings, then declares on each
route what it needs with the dependencies below::

    @router.post("/things", dependencies=[StaffAccess])
    @router.get("/partners/{partner_id}", dependencies=[PartnerReadAccess])

**Self-service commands** (a partner acting for itself, staff for any partner)
take the caller as :data:`SelfService` and resolve the partner the command acts
for with :func:`acting_partner`: a partner caller's own (a body naming another
partner is 403), the one a staff caller names (required: 422).

**Actors.** Every event a command publishes names who caused it
(:class:`shared.events.Actor`, :attr:`Principal.actor`): a person by their
subject at the issuer, an API key by its identifier (:func:`key_id`, never the
key). A command route takes it with :data:`CallerActor`.

Keys are held only as SHA-256 digests, looked up by digest.

``python -m shared.access init-env .env`` writes a random admin key into a
local ``.env`` file on first use (``make up`` and ``make demo`` call it).
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError

from shared.events import Actor, ActorKind
from shared.ratelimit import RateLimiter
from shared.settings import Settings
from shared.tokens import (
    IssuerUnavailable,
    TokenForbidden,
    TokenRejected,
    TokenVerifier,
    looks_like_jwt,
)

ADMIN = "admin"
CHANNEL_MANAGER = "channel_manager"
PARTNER_PREFIX = "partner:"
ADMIN_KEY_VARIABLE = "PARTNERHUB_ADMIN_KEY"
#: Hex digits of a key's SHA-256 digest that identify it in events (:func:`key_id`).
KEY_ID_DIGITS = 12


@dataclass(frozen=True)
class Principal:
    """Who is calling: the role their key or token carries, and either the person signed
    in (their subject at the issuer) or the API key (its identifier, :func:`key_id`)."""

    role: str
    partner_id: str | None = None
    person: str | None = None
    key_id: str | None = None
    email: str | None = None  # a signed-in person's address, when their token gives it

    @property
    def is_partner(self) -> bool:
        return self.partner_id is not None

    @property
    def is_staff(self) -> bool:
        return self.role in (ADMIN, CHANNEL_MANAGER)

    def may_read_partner(self, partner_id: str) -> bool:
        return not self.is_partner or self.partner_id == partner_id

    @property
    def actor(self) -> Actor:
        """Who the events this caller's commands publish name: the person, else the key."""
        if self.person is not None:
            return Actor(kind=ActorKind.PERSON, id=self.person)
        if self.key_id is not None:
            return Actor(kind=ActorKind.KEY, id=self.key_id)
        raise ValueError(f"a {self.role} principal with neither a person nor a key")


def _parse_role(role: str) -> Principal:
    if role in (ADMIN, CHANNEL_MANAGER):
        return Principal(role)
    if role.startswith(PARTNER_PREFIX) and len(role) > len(PARTNER_PREFIX):
        return Principal(role, partner_id=role[len(PARTNER_PREFIX) :])
    raise ValueError(f"unknown role {role!r}: use admin, channel_manager or partner:<partner_id>")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """A key's identifier in events and logs: the first :data:`KEY_ID_DIGITS` hex digits of
    its SHA-256 digest. Stable while the key is, and never the key itself."""
    return _digest(key)[:KEY_ID_DIGITS]


def parse_api_keys(entries: list[str], origin: str) -> dict[str, Principal]:
    """``key=role`` entries → digest → principal. Errors name the entry, never the key."""
    keys: dict[str, Principal] = {}
    for number, entry in enumerate(entries, start=1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        key, separator, role = entry.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"{origin} entry {number}: expected key=role")
        try:
            principal = _parse_role(role.strip())
        except ValueError as exc:
            raise ValueError(f"{origin} entry {number}: {exc}") from None
        digest = _digest(key.strip())
        keys[digest] = replace(principal, key_id=digest[:KEY_ID_DIGITS])
    return keys


def load_api_keys(settings: Settings) -> dict[str, Principal]:
    """Keys from ``API_KEYS`` and from ``API_KEYS_FILE`` when set."""
    keys = parse_api_keys(settings.api_keys.get_secret_value().split(","), "API_KEYS")
    if settings.api_keys_file is not None:
        try:
            lines = settings.api_keys_file.read_text().splitlines()
        except OSError as exc:
            raise ValueError(f"API_KEYS_FILE {settings.api_keys_file}: {exc.strerror}") from None
        keys.update(parse_api_keys(lines, f"API_KEYS_FILE {settings.api_keys_file}"))
    return keys


@dataclass(frozen=True)
class RateLimits:
    """The rate limits the access dependencies apply (:mod:`shared.ratelimit`)."""

    self_service: RateLimiter
    public: RateLimiter


def install(app: FastAPI, settings: Settings) -> None:
    """Give ``app`` the keys, the token verifier and the rate limits its access
    dependencies check."""
    app.state.rate_limits = RateLimits(
        RateLimiter(settings.self_service_per_minute), RateLimiter(settings.public_per_minute)
    )
    app.state.api_keys = load_api_keys(settings)
    app.state.tokens = (
        None
        if settings.oidc_issuer is None
        else TokenVerifier(
            settings.oidc_issuer,
            settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            cooldown_seconds=settings.oidc_jwks_cooldown_seconds,
        )
    )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticated(request: Request) -> Principal:
    """The caller's principal (an API key's, or a signed-in person's), or 401."""
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("missing Authorization: Bearer <key or token> header")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise _unauthorized("the Authorization header must be 'Bearer <key or token>'")
    if looks_like_jwt(credential):
        return await _person(request, credential)
    keys: dict[str, Principal] = getattr(request.app.state, "api_keys", {})
    principal = keys.get(_digest(credential))
    if principal is None:
        raise _unauthorized("unknown API key")
    return principal


async def _person(request: Request, token: str) -> Principal:
    """The principal of a person's access token (shared.tokens)."""
    verifier: TokenVerifier | None = getattr(request.app.state, "tokens", None)
    if verifier is None:
        raise _unauthorized("a token was given, but this service accepts API keys only")
    try:
        claims = await verifier.verify(token)
    except TokenRejected as exc:
        raise _unauthorized(str(exc)) from None
    except TokenForbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    except IssuerUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
    role = claims.role if claims.partner_id is None else PARTNER_PREFIX + claims.partner_id
    return Principal(role, partner_id=claims.partner_id, person=claims.subject, email=claims.email)


Authenticated = Annotated[Principal, Depends(authenticated)]


async def staff(principal: Authenticated) -> Principal:
    """Admin or channel manager: any command, any read. Partner keys get 403."""
    if principal.is_partner:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="a partner key may only read its own partner's data "
            "and use the self-service commands for it",
        )
    return principal


def forbidden(principal: Principal) -> HTTPException:
    """403 for a partner key asking for another partner's data."""
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"this key reads only partner {principal.partner_id}'s data",
    )


def ensure_may_read(principal: Principal, partner_id: str) -> None:
    """403 unless ``principal`` may read ``partner_id``'s data (a route that finds the
    partner only once it has read what was asked for)."""
    if not principal.may_read_partner(partner_id):
        raise forbidden(principal)


def scoped_partner(principal: Principal, partner_id: str | None) -> str | None:
    """The partner a listing is for: a partner key's own (naming another is 403);
    for staff, the one asked for, if any."""
    if not principal.is_partner:
        return partner_id
    if partner_id is not None:
        ensure_may_read(principal, partner_id)
    return principal.partner_id


async def partner_reader(partner_id: str, principal: Authenticated) -> Principal:
    """Reads of one partner's data (the route has a ``{partner_id}`` path parameter)."""
    ensure_may_read(principal, partner_id)
    return principal


async def shared_reader(principal: Authenticated) -> Principal:
    """Reads of data about no partner (exchange rates): any caller with a credential."""
    return principal


async def self_service(request: Request, principal: Authenticated) -> Principal:
    """A self-service command's caller: staff, or a partner (for itself only; the route
    resolves the partner with :func:`acting_partner`). A partner's callers together send
    at most ``SELF_SERVICE_PER_MINUTE`` of them a minute (429 beyond)."""
    if not (principal.is_staff or principal.is_partner):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"role {principal.role} may not act")
    if principal.partner_id is not None:
        limits: RateLimits = request.app.state.rate_limits
        limits.self_service.check(principal.partner_id, "self-service commands for this partner")
    return principal


async def signed_in_person(principal: Authenticated) -> Principal:
    """A person's own settings (their email preferences): a person signed in, whatever
    their role; an API key, even an admin's, is no person (403)."""
    if principal.person is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="this is a signed-in person's own; an API key has none",
        )
    return principal


async def link_holder(request: Request) -> None:
    """A route reached from a link sent by email (unsubscribing): no credential; the
    link's own signed token, in the request, is checked by the command it reaches. One
    client address sends at most ``PUBLIC_PER_MINUTE`` of them a minute (429 beyond)."""
    limits: RateLimits = request.app.state.rate_limits
    client = request.client.host if request.client else "unknown"
    limits.public.check(client, "requests without a credential from this address")


def acting_partner(principal: Principal, named: str | None) -> str:
    """The partner a self-service command acts for, given the ``partner_id`` its body
    names (``None``: none named).

    - a partner caller acts for its own partner: naming it is fine, naming another
      partner is 403;
    - a staff caller acts for the partner it names, which it must (422 naming
      ``body.partner_id``).
    """
    if principal.partner_id is not None:
        if named is not None and named != principal.partner_id:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"a partner may act only for itself: body.partner_id is {named}, "
                f"this caller acts for partner {principal.partner_id}",
            )
        return principal.partner_id
    if named is None:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "partner_id"),
                    "msg": "Field required: a staff caller names the partner it acts for",
                    "type": "missing",
                }
            ]
        )
    return named


async def caller_actor(principal: Authenticated) -> Actor:
    """Who the events of the caller's command name (:attr:`Principal.actor`)."""
    return principal.actor


#: Route dependencies: commands and cross-partner reads; one partner's data.
StaffAccess = Depends(staff)
PartnerReadAccess = Depends(partner_reader)
#: Route dependency: data about no partner, for any caller with a credential.
SharedReadAccess = Depends(shared_reader)
#: A route parameter of this type is a self-service command's caller (:func:`acting_partner`).
SelfService = Annotated[Principal, Depends(self_service)]
#: A route parameter of this type is a signed-in person (:func:`signed_in_person`).
SignedInPerson = Annotated[Principal, Depends(signed_in_person)]
#: Route dependency: reached from an emailed link, its token checked by the command.
LinkAccess = Depends(link_holder)
#: A route parameter of this type is who the events of the caller's command name.
CallerActor = Annotated[Actor, Depends(caller_actor)]


def read_admin_key(path: Path) -> str | None:
    """The admin key an env file (``.env``) keeps in ``PARTNERHUB_ADMIN_KEY``: the first
    non-empty value; ``None`` when the file or the variable is missing."""
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() == ADMIN_KEY_VARIABLE and value.strip():
            return value.strip()
    return None


def ensure_env_file(path: Path) -> tuple[str, bool]:
    """Return the admin key kept in ``path``, creating one on first use (mode 0600)."""
    kept = read_admin_key(path)
    if kept is not None:
        return kept, False
    lines = path.read_text().splitlines() if path.exists() else []
    key = secrets.token_urlsafe(32)
    lines.append(f"{ADMIN_KEY_VARIABLE}={key}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return key, True


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "init-env":
        print("usage: python -m shared.access init-env PATH", file=sys.stderr)
        return 2
    path = Path(argv[1])
    _, created = ensure_env_file(path)
    verb = "created a random admin key in" if created else "admin key kept in"
    print(
        f"{verb} {path.resolve()} ({ADMIN_KEY_VARIABLE}); send it as 'Authorization: Bearer <key>'"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
