"""The access matrix: every route of every service, asked by every kind of caller
(docs/rules/events.md, "HTTP access"; :mod:`shared.access`).

The contract: every endpoint but the probes and the API's own documents (:data:`EXEMPT`)
needs a credential, and

- no credential, or a bad one (an unknown API key; a JWT signed by a key the issuer does
  not publish, expired, or for another audience) is 401;
- a partner's caller (its API key or a person of it signed in) is 403 on anything about
  another partner, and on every staff-only route; data about no partner (exchange rates)
  any caller with a credential reads;
- staff (an admin key, a channel manager signed in) are never 401 or 403, but for a
  person's own settings (email preferences), which only a signed-in person has: every API
  key gets 403 there, and every person with a valid token is let through;
- an unsubscribe link's route takes no credential: its token, checked by the command,
  is the proof (docs/rules/notifications.md).

The routes are not listed here: they are read from each app as ``create_app`` builds it
(:data:`ROUTES`), and each is classified by the access it declares (:func:`classify`,
the :class:`Guard` table), so a new route is in the matrix the day it is added, and a
route the matrix cannot classify fails it.

Each app is the service as it runs, with its access installed from its settings (API
keys, and the stand-in OIDC issuer of :mod:`tests.support.tokens`) and its lifespan not
entered: nothing connects. Access is decided in the HTTP layer (the access dependencies,
and the routes' :func:`~shared.access.acting_partner`,
:func:`~shared.access.scoped_partner` and :func:`~shared.access.ensure_may_read`); what
is behind it, the commands and reads the routes take from the app
(:func:`shared.routes.wired`), is replaced by a stand-in (:class:`Backend`): one that
finds nothing (a caller let through gets 404, or 422 for what it sent), or, for a caller
of P-OTHER, one where everything asked for is P-MINE's, so that a route which learns
whose a resource is only once it has read it must refuse that caller too.

Made-up ids fill the paths (P-MINE for ``{partner_id}``, X-1 for the others), a
``partner_id`` query parameter is P-MINE; a body is ``{}`` (access comes before
validation), but a self-service command, which learns from its body whom it acts for,
gets a minimal valid body naming P-MINE (:data:`SELF_SERVICE_BODIES`). A body that is not
JSON at all, which FastAPI refuses before any dependency runs, is 401 all the same
without a valid credential (:data:`UNREADABLE`).

Since the guard is read from what a route declares, the declaration is checked against
what the route is (:func:`fits`): a read of one partner's data lets that partner read it,
and a command is staff's unless it is a self-service one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared import access
from shared.commands import NotFound
from tests.support.tokens import Issuer
from tests.unit.test_openapi_answers import APPS

MINE, OTHER = "P-MINE", "P-OTHER"
#: The id every other path parameter is given.
MADE_UP_ID = "X-1"

ADMIN_KEY, MINE_KEY, OTHER_KEY = "matrix-admin", "matrix-p-mine", "matrix-p-other"
KEYS = f"{ADMIN_KEY}=admin,{MINE_KEY}=partner:{MINE},{OTHER_KEY}=partner:{OTHER}"

#: What needs no credential: the probes, Prometheus' metrics and the API's documents.
EXEMPT = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
    "/asyncapi.json",
}


# --------------------------------------------------------------------------- classifying


class Guard(Enum):
    """What a route lets a partner's caller do, as its dependencies declare it."""

    STAFF = "staff only (commands, cross-partner reads): access.staff"
    PARTNER = "one partner's data, named in the path or the query: access.partner_reader"
    SELF_SERVICE = "a command a partner sends for itself, named in the body: access.self_service"
    SCOPED = "names a partner (partner_id) and checks it itself: scoped_partner, ensure_may_read"
    OWNED = "one resource, its partner checked once read: ensure_may_read"
    SHARED = "data about no partner (exchange rates), for any credential: access.shared_reader"
    PERSONAL = "a signed-in person's own settings; no API key: access.signed_in_person"
    LINK = "reached from an emailed link, its token checked by the command: access.link_holder"


#: Dependencies that decide a route's guard, the strictest first.
DECLARED: tuple[tuple[Callable[..., Any], Guard], ...] = (
    (access.staff, Guard.STAFF),
    (access.partner_reader, Guard.PARTNER),
    (access.self_service, Guard.SELF_SERVICE),
    (access.shared_reader, Guard.SHARED),
    (access.signed_in_person, Guard.PERSONAL),
    (access.link_holder, Guard.LINK),
)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _query_names(dependant: Dependant) -> Iterator[str]:
    yield from (param.name for param in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


def classify(route: Any) -> Guard | str:
    """The route's :class:`Guard`, or why it has none.

    A route that only authenticates (``access.Authenticated``) finds out itself whose
    data it is asked for: from a ``partner_id`` parameter (SCOPED), else, a read of one
    resource named in its path, from the resource (OWNED). Anything else is a route this
    matrix cannot tell the rules of."""
    if not isinstance(route.original_route, APIRoute):
        return f"a {type(route.original_route).__name__} that declares no access"
    calls = set(_calls(route.dependant))
    for dependency, guard in DECLARED:
        if dependency in calls:
            return guard
    if access.authenticated not in calls:
        return "declares no access dependency: anyone may call it"
    if "partner_id" in set(_query_names(route.dependant)) | set(route.param_convertors):
        return Guard.SCOPED
    if route.methods == {"GET"} and route.dependant.path_params:
        return Guard.OWNED
    return "authenticates only, and neither names a partner nor reads one resource"


@dataclass(frozen=True)
class Route:
    """One method of one path of one service, as the matrix asks it."""

    service: str
    method: str
    path: str
    guard: Guard | str
    partner_in_query: bool
    has_body: bool

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def url(self) -> str:
        def made_up(match: re.Match[str]) -> str:
            return MINE if match[1] == "partner_id" else MADE_UP_ID

        return re.sub(r"\{(\w+)(?::[^}]*)?\}", made_up, self.path)


def routes_of(service: str, app: FastAPI) -> Iterator[Route]:
    """Every method of every route ``app`` serves, but :data:`EXEMPT`."""
    for route in iter_route_contexts(app.routes):
        if route.path in EXEMPT:
            continue
        api = isinstance(route.original_route, APIRoute)
        for method in sorted(route.methods or {"*"}):
            yield Route(
                service,
                method,
                route.path,
                classify(route),
                partner_in_query=api and "partner_id" in set(_query_names(route.dependant)),
                has_body=api and route.body_field is not None,
            )


def _settings(service: str, issuer: str | None = None) -> Any:
    settings_class, _ = APPS[service]
    return settings_class(api_keys=SecretStr(KEYS), oidc_issuer=issuer)


def _app(service: str, issuer: str | None = None) -> FastAPI:
    _, create_app = APPS[service]
    return create_app(_settings(service, issuer))


#: Every route of every service (built, not started, to be read).
ROUTES = [route for service in sorted(APPS) for route in routes_of(service, _app(service))]

#: A minimal valid body of each self-service command, naming P-MINE; a self-service
#: route missing here fails the matrix.
SELF_SERVICE_BODIES: dict[str, dict[str, Any]] = {
    "enablement POST /feedback": {"partner_id": MINE, "rating": 4, "topic": "labs"},
    "enablement POST /mdf-requests": {
        "partner_id": MINE,
        "campaign": "Launch",
        "amount": "100.00",
        "currency": "USD",
    },
    "enablement POST /mdf-requests/{request_id}/claims": {
        "amount": "100.00",
        "activity_end": "2026-11-20",
        "evidence": [
            {"kind": "invoice", "url": "https://files.example.com/i.pdf", "sha256": "0" * 64}
        ],
    },
    "incentives POST /registrations": {
        "partner_id": MINE,
        "deal_id": "D-77",
        "customer": "Initech",
        "product_line": "cloud",
        "expected_amount": "80000.00",
    },
    "incentives POST /commissions/{deal_id}/inquiries": {"message": "where is my bonus?"},
    "incentives POST /registrations/{registration_id}/extension": {
        "days": 30,
        "reason": "the signature moved to next quarter",
    },
}


# --------------------------------------------------------------------------- the callers


class Outcome(Enum):
    UNAUTHENTICATED = "401"
    FORBIDDEN = "403"
    LET_THROUGH = "neither 401 nor 403"


def everywhere(outcome: Outcome) -> dict[Guard, Outcome]:
    """``outcome`` on every kind of route but an emailed link's, which lets anyone through."""
    return {**dict.fromkeys(Guard, outcome), Guard.LINK: Outcome.LET_THROUGH}


#: A key is no person: every API key is refused a person's own settings.
NO_PERSON = {Guard.PERSONAL: Outcome.FORBIDDEN}


#: Each caller (the credential its requests carry), and what each kind of route answers it.
CALLERS: dict[str, dict[Guard, Outcome]] = {
    "no credential": everywhere(Outcome.UNAUTHENTICATED),
    "an unknown API key": everywhere(Outcome.UNAUTHENTICATED),
    "a JWT signed by a key the issuer does not publish": everywhere(Outcome.UNAUTHENTICATED),
    "an expired JWT": everywhere(Outcome.UNAUTHENTICATED),
    "a JWT for another audience": everywhere(Outcome.UNAUTHENTICATED),
    "P-OTHER's API key": {**everywhere(Outcome.FORBIDDEN), Guard.SHARED: Outcome.LET_THROUGH},
    "a person of P-OTHER (JWT)": {
        **everywhere(Outcome.FORBIDDEN),
        Guard.SHARED: Outcome.LET_THROUGH,
        Guard.PERSONAL: Outcome.LET_THROUGH,
    },
    "P-MINE's API key": {
        **everywhere(Outcome.LET_THROUGH),
        Guard.STAFF: Outcome.FORBIDDEN,
        **NO_PERSON,
    },
    "the admin API key": {**everywhere(Outcome.LET_THROUGH), **NO_PERSON},
    "a channel manager (JWT)": everywhere(Outcome.LET_THROUGH),
}


def credentials(issuer: Issuer) -> dict[str, str | None]:
    """The ``Authorization`` header of each caller of :data:`CALLERS`. The bad tokens
    claim the admin role: what is wrong with them is all that refuses them."""
    now = int(time.time())
    bearer = "Bearer {}".format
    return {
        "no credential": None,
        "an unknown API key": bearer("matrix-unknown"),
        "a JWT signed by a key the issuer does not publish": bearer(
            issuer.token("unpublished", partnerhub_role="admin")
        ),
        "an expired JWT": bearer(
            issuer.token(partnerhub_role="admin", iat=now - 7200, exp=now - 3600)
        ),
        "a JWT for another audience": bearer(
            issuer.token(partnerhub_role="admin", aud="another-audience")
        ),
        "P-OTHER's API key": bearer(OTHER_KEY),
        "a person of P-OTHER (JWT)": bearer(
            issuer.token(partnerhub_role="partner", partner_id=OTHER, sub="pat")
        ),
        "P-MINE's API key": bearer(MINE_KEY),
        "the admin API key": bearer(ADMIN_KEY),
        "a channel manager (JWT)": bearer(issuer.token(partnerhub_role="channel_manager")),
    }


# --------------------------------------------------------------------------- the backend


class Backend:
    """A stand-in for a service's commands and reads: any call either finds nothing
    (:class:`~shared.commands.NotFound`, 404) or, ``owner`` given, answers something of
    that partner (a route that returned it would fail its response model: 500)."""

    def __init__(self, owner: str | None = None) -> None:
        self.owner = owner

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.owner is None:
                raise NotFound(f"nothing here ({name})")
            return SimpleNamespace(partner_id=self.owner)

        return call


def stand_in(app: FastAPI, backend: Backend) -> None:
    """Give the app's routes ``backend`` as their commands and reads
    (:func:`shared.routes.wired`)."""
    for wired in ("commands", "queries"):
        if hasattr(app.state, wired):
            setattr(app.state, wired, backend)


@dataclass
class World:
    """Each service's app and its client, and each caller's ``Authorization`` header."""

    apps: dict[str, FastAPI]
    clients: dict[str, TestClient]
    credentials: dict[str, str | None]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    issuer = Issuer()
    issuer.add_key("k1")
    issuer.add_key("unpublished", publish=False)
    apps = {service: _app(service, issuer.url) for service in APPS}
    clients = {
        service: TestClient(app, raise_server_exceptions=False) for service, app in apps.items()
    }
    made = credentials(issuer)
    assert set(made) == set(CALLERS)
    yield World(apps, clients, made)
    for client in clients.values():
        client.close()
    issuer.close()


# --------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize(
    ("route", "caller"),
    [
        pytest.param(route, caller, id=f"{route} | {caller}")
        for route in ROUTES
        for caller in CALLERS
    ],
)
def test_access(world: World, route: Route, caller: str) -> None:
    assert isinstance(route.guard, Guard), f"{route}: the matrix cannot classify it: {route.guard}"
    expected = CALLERS[caller][route.guard]
    reaching = expected is not Outcome.UNAUTHENTICATED
    body: Any = None
    if route.guard is Guard.SELF_SERVICE and reaching:
        assert str(route) in SELF_SERVICE_BODIES, f"{route}: no minimal body in the matrix"
        body = SELF_SERVICE_BODIES[str(route)]
    elif route.has_body:
        body = {}
    stand_in(world.apps[route.service], Backend(MINE if expected is Outcome.FORBIDDEN else None))
    header = world.credentials[caller]
    answer = world.clients[route.service].request(
        route.method,
        route.url,
        params={"partner_id": MINE} if route.partner_in_query else None,
        json=body,
        headers={} if header is None else {"Authorization": header},
    )
    said = f"{route} ({route.guard.name}) to {caller}: {answer.status_code} {answer.text}"
    if expected is Outcome.UNAUTHENTICATED:
        assert answer.status_code == 401, said
        assert answer.headers.get("www-authenticate") == "Bearer", said
        if header is None:
            assert "Authorization: Bearer" in answer.json()["detail"], said
    elif expected is Outcome.FORBIDDEN:
        assert answer.status_code == 403, said
    else:
        assert answer.status_code not in (401, 403), said
        assert answer.status_code < 500, said
        if body:  # a valid body: the command was reached
            assert answer.status_code != 422, said


#: Bodies FastAPI cannot read, which it refuses before any dependency runs (422, 400): to
#: a caller without a valid credential, the service answers 401 all the same.
UNREADABLE = {"not JSON": b"{partner_id: P-MINE", "not UTF-8": b'{"partner_id": "\xff"}'}


@pytest.mark.parametrize(
    ("route", "caller", "body"),
    [
        pytest.param(route, caller, body, id=f"{route} | {caller} | a body {body}")
        for route in ROUTES
        if route.has_body and route.guard is not Guard.LINK
        for caller in ("no credential", "an unknown API key")
        for body in UNREADABLE
    ],
)
def test_a_body_it_cannot_read_is_401_without_a_credential(
    world: World, route: Route, caller: str, body: str
) -> None:
    header = world.credentials[caller]
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    client = world.clients[route.service]
    stand_in(world.apps[route.service], Backend())
    answer = client.request(route.method, route.url, content=UNREADABLE[body], headers=headers)
    said = f"{route} to {caller}, a body {body}: {answer.status_code} {answer.text}"
    assert answer.status_code == 401, said
    assert answer.headers.get("www-authenticate") == "Bearer", said
    admin = {**headers, "Authorization": f"Bearer {ADMIN_KEY}"}
    answer = client.request(route.method, route.url, content=UNREADABLE[body], headers=admin)
    assert answer.status_code in (400, 422), f"{route} to staff, a body {body}: {answer.text}"


def fits(route: Route) -> bool:
    """Whether the guard a route declares is the one the rules give what it is
    (docs/rules/events.md, "HTTP access"): a partner reads its own partner's data, and
    sends the self-service commands only."""
    if route.guard is Guard.PERSONAL:
        return "{partner_id}" not in route.path and not route.partner_in_query
    if route.method != "GET":
        return route.guard in (Guard.STAFF, Guard.SELF_SERVICE, Guard.LINK)
    if "{partner_id}" in route.path or route.partner_in_query:
        return route.guard in (Guard.PARTNER, Guard.SCOPED)
    return route.guard in (Guard.STAFF, Guard.OWNED, Guard.SHARED)


@pytest.mark.parametrize("route", [pytest.param(r, id=str(r)) for r in ROUTES])
def test_what_a_route_declares_fits_what_it_is(route: Route) -> None:
    assert isinstance(route.guard, Guard), f"{route}: the matrix cannot classify it: {route.guard}"
    assert fits(route), f"{route}: declared {route.guard.name}: {route.guard.value}"
    if route.guard is Guard.SELF_SERVICE:
        assert str(route) in SELF_SERVICE_BODIES, f"{route}: no minimal body in the matrix"


@pytest.mark.parametrize("service", sorted(APPS))
def test_the_matrix_covers_every_route_the_openapi_document_lists(service: str) -> None:
    document = _app(service).openapi()
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    asked = {(r.method, r.path) for r in ROUTES if r.service == service}
    assert asked, f"{service}: no routes"
    assert {(m, p) for m, p in listed - asked if p not in EXEMPT} == set()
    unclassified = [
        f"{r}: {r.guard}" for r in ROUTES if r.service == service and not isinstance(r.guard, Guard)
    ]
    assert unclassified == []
