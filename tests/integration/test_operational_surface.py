"""What every service offers the same way, checked on each of the five as the process it is.

The operational surface (``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``,
``/asyncapi.json``; docs/operations.md) and access control (docs/rules/events.md, HTTP
access roles): every route but the probes and the documents needs a key; a partner's
key may read its own partner's data and nothing else. Each service's table below says
which of its routes show it. (That every route describes its answer in the OpenAPI
document needs no running service: tests/unit/test_openapi_answers.py.)

What only one service's data can show (a partner reading its own partner, a channel
manager's commands) is in that service's own tests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared import topics
from shared.infra import start_group_at_end
from shared.settings import Settings
from tests.support.eventually import eventually
from tests.support.http import api_keys
from tests.support.onboarding import application
from tests.support.processes import ServiceProcess, httpx
from tests.support.services import running

SUFFIX = uuid.uuid4().hex[:10]
PARTNER_KEY = f"partner-key-{SUFFIX}"
#: The partner PARTNER_KEY reads for, and one it may not read.
OWN, OTHER = f"P-own-{SUFFIX}", f"P-other-{SUFFIX}"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)

    def send(self, service: ServiceProcess, key: str | None) -> httpx.Response:
        """This request, with ``key`` as its bearer token (none when ``key`` is None)."""
        return httpx.request(
            self.method,
            f"{service.url}{self.path}",
            params=self.params,
            json=self.body,
            headers={} if key is None else {"Authorization": f"Bearer {key}"},
            timeout=10,
        )


@dataclass(frozen=True)
class Surface:
    """What one service shows of what every service offers."""

    #: Routes its OpenAPI document lists.
    paths: tuple[str, ...]
    #: Topics its AsyncAPI document names.
    topics: tuple[str, ...]
    #: Requests that need a key: 401 without one, and with an unknown one.
    protected: tuple[Call, ...]
    #: Staff routes (commands, reads across partners): 403 to a partner's key.
    staff_only: tuple[Call, ...]
    #: Reads of another partner's data, self-service commands for another partner: 403 to
    #: a partner's key.
    other_partners: tuple[Call, ...]
    #: Reads of the key's own partner's data: 200 to its key, whatever the service holds.
    own_partner: tuple[Call, ...] = ()
    #: Metrics with a sample labelled with the service, once ``traffic`` was sent.
    metrics: tuple[str, ...] = ("partnerhub_http_requests_total",)
    #: A command (sent with the admin key) before /metrics is read.
    traffic: Call | None = None
    #: /readyz shows the outbox's backlog (a service that publishes from an outbox).
    outbox: bool = False


def get(path: str, **params: str) -> Call:
    return Call("GET", path, params=params)


def post(path: str, body: Any = None) -> Call:
    return Call("POST", path, body)


SURFACES: dict[str, Surface] = {
    "onboarding": Surface(
        paths=(
            "/applications",
            "/applications/{application_id}",
            "/applications/{application_id}/approve",
            "/applications/{application_id}/reject",
            "/partners/{partner_id}",
            "/partners/{partner_id}/contracts",
            "/partners/{partner_id}/contracts/{contract_id}/renew",
            "/partners/{partner_id}/tier",
            "/partners/{partner_id}/terminate",
        ),
        topics=(topics.PARTNERS,),
        protected=(get("/applications"), post("/applications", application())),
        staff_only=(
            get("/applications"),
            post("/applications", application()),
            post(f"/applications/A-none-{SUFFIX}/reject", {"reason": "x"}),
            post(f"/partners/{OWN}/tier", {"tier": "silver", "effective_date": "2030-01-01"}),
        ),
        other_partners=(get(f"/partners/{OTHER}"),),
        metrics=("partnerhub_http_requests_total", "partnerhub_events_published_total"),
        traffic=post("/applications", application(name="Operational Surface")),
        outbox=True,
    ),
    "enablement": Surface(
        paths=(
            "/courses",
            "/certifications",
            "/completions",
            "/materials",
            "/feedback",
            "/mdf-requests",
            "/mdf-requests/{request_id}/approve",
            "/mdf-requests/{request_id}/reject",
        ),
        topics=(topics.ENABLEMENT,),
        protected=(get("/courses"),),
        staff_only=(
            post("/courses", {}),
            get("/courses"),
            post(f"/mdf-requests/R-none-{SUFFIX}/approve"),
            post(f"/mdf-requests/R-none-{SUFFIX}/reject"),
        ),
        other_partners=(
            post("/feedback", {"partner_id": OTHER, "rating": 5, "topic": "t", "text": ""}),
            post(
                "/mdf-requests",
                {"partner_id": OTHER, "campaign": "c", "amount": "10", "currency": "USD"},
            ),
            get("/feedback", partner_id=OTHER),
            get("/mdf-requests", partner_id=OTHER),
            get(f"/partners/{OTHER}/certifications"),
            get(f"/partners/{OTHER}/standing"),
        ),
        own_partner=(get("/feedback", partner_id=OWN),),
        outbox=True,
    ),
    "incentives": Surface(
        paths=(
            "/commissions/{deal_id}",
            "/partners/{partner_id}/commissions",
            "/registrations",
            "/registrations/{registration_id}",
            "/settlements",
            "/partners/{partner_id}/settlements",
            "/simulations",
        ),
        topics=topics.CONSUMED["incentives"],
        protected=(get(f"/partners/{OWN}/commissions"), post("/settlements", {})),
        staff_only=(post("/settlements", {"period": "2026-Q4"}), post("/simulations", {})),
        other_partners=(
            get(f"/partners/{OTHER}/commissions"),
            get(f"/partners/{OTHER}/settlements"),
            post(
                "/registrations",
                {
                    "partner_id": OTHER,
                    "deal_id": f"D-{SUFFIX}",
                    "customer": "Initech",
                    "product_line": "cloud",
                    "expected_amount": "10.00",
                },
            ),
        ),
        outbox=True,
    ),
    "reporting": Surface(
        paths=(
            "/partners",
            "/partners/{partner_id}",
            "/partners/{partner_id}/statements/{period}",
            "/partners/{partner_id}/payouts",
            "/partners/{partner_id}/health",
            "/partners/at-risk",
            "/settlements/{settlement_id}/export.csv",
            "/leaderboard",
            "/programme/summary",
        ),
        topics=topics.CONSUMED["reporting"],
        protected=(get("/partners"), get(f"/partners/{OWN}")),
        staff_only=(
            get("/partners"),
            get("/partners/at-risk"),
            get("/leaderboard", period="2026-Q4"),
            get("/programme/summary", period="2026-Q4"),
            get(f"/settlements/S-none-{SUFFIX}/export.csv"),
        ),
        other_partners=(
            get(f"/partners/{OTHER}"),
            get(f"/partners/{OTHER}/statements/2026-Q4"),
            get(f"/partners/{OTHER}/payouts"),
            get(f"/partners/{OTHER}/health"),
        ),
    ),
    "notifications": Surface(
        paths=(
            "/webhooks",
            "/webhooks/{webhook_id}",
            "/webhooks/{webhook_id}/deliveries",
            "/webhooks/{webhook_id}/replay",
            "/me/notifications",
            "/unsubscribe",
            "/emails",
            "/notices",
        ),
        topics=topics.CONSUMED["notifications"],
        protected=(get("/webhooks"), get("/emails"), get("/me/notifications")),
        staff_only=(
            get("/webhooks"),
            post(
                "/webhooks",
                {"url": "https://hooks.example.com/x", "event_types": ["PartnerSigned"]},
            ),
            post("/notices", {}),
            get("/me/notifications"),  # a key is no person: 403 to every key
        ),
        other_partners=(get("/emails", partner_id=OTHER),),
        own_partner=(get("/emails", partner_id=OWN),),
        traffic=post("/notices", {}),
    ),
}


@pytest.fixture(scope="module", params=sorted(SURFACES))
async def service(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[tuple[str, ServiceProcess]]:
    """Each service in turn, with an admin key and PARTNER_KEY for OWN; a consuming
    service reads only what is published from now on (not the broker's history)."""
    name: str = request.param
    group = f"surface-{name}-{SUFFIX}"
    if name in topics.CONSUMED:
        await start_group_at_end(settings, group, topics.CONSUMED[name])
    async with running(
        settings,
        name,
        f"test_surface_{name}_{SUFFIX}",
        group,
        API_KEYS=api_keys(partner=(PARTNER_KEY, OWN)),
    ) as process:
        yield name, process


async def test_probes_metrics_and_documents_need_no_key(
    service: tuple[str, ServiceProcess],
) -> None:
    name, process = service
    surface = SURFACES[name]
    assert httpx.get(f"{process.url}/healthz").status_code == 200
    ready = httpx.get(f"{process.url}/readyz").json()
    assert ready["status"] == "ready"
    if surface.outbox:
        assert isinstance(ready["outbox_backlog"], int)

    paths = httpx.get(f"{process.url}/openapi.json").json()["paths"]
    for path in surface.paths:
        assert path in paths, path
    asyncapi = json.dumps(httpx.get(f"{process.url}/asyncapi.json").json())
    for topic in surface.topics:
        assert topic in asyncapi, topic

    if surface.traffic is not None:
        answer = surface.traffic.send(process, process.admin_key)
        assert answer.status_code < 300, answer.text

    def counted() -> None:
        lines = httpx.get(f"{process.url}/metrics").text.splitlines()
        for metric in surface.metrics:
            assert any(
                line.startswith(f"{metric}{{") and f'service="{name}"' in line for line in lines
            ), metric

    await eventually(counted, f"/metrics of {name} shows {surface.metrics}")


async def test_every_other_route_needs_a_known_key(service: tuple[str, ServiceProcess]) -> None:
    name, process = service
    for call in SURFACES[name].protected:
        assert call.send(process, None).status_code == 401, call
        assert call.send(process, "not-a-key").status_code == 401, call


async def test_a_partner_key_reads_its_own_partner_only(
    service: tuple[str, ServiceProcess],
) -> None:
    name, process = service
    surface = SURFACES[name]
    for call in (*surface.staff_only, *surface.other_partners):
        assert call.send(process, PARTNER_KEY).status_code == 403, call
    for call in surface.own_partner:
        assert call.send(process, PARTNER_KEY).status_code == 200, call
