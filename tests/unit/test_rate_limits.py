"""Rate limits (shared/ratelimit.py; docs/rules/events.md, "Rate limits"): a token bucket
per key; 429 with Retry-After on self-service commands per partner, on the routes reached
without a credential per address, and on the portal's sign-in and unsubscribe pages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.notifications.app import create_app as notifications_app
from services.notifications.settings import NotificationsSettings
from shared import access
from shared.ratelimit import RateLimiter
from shared.settings import Settings
from tests.support.notifications import InMemoryNotificationsStore
from tests.support.portal import FakeServices, portal_settings, running_portal
from tests.unit.test_service import bare_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_rate_then_one_more_each_60_over_rate_seconds() -> None:
    clock = Clock()
    limiter = RateLimiter(6, clock=clock)
    assert [limiter.wait("a") for _ in range(6)] == [0.0] * 6
    assert limiter.wait("a") == pytest.approx(10.0)
    assert limiter.wait("b") == 0.0, "each key has its own bucket"
    clock.now += 10.0
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a") == pytest.approx(10.0)
    clock.now += 3600.0
    assert [limiter.wait("a") for _ in range(6)] == [0.0] * 6, "a bucket fills to the rate"
    assert limiter.wait("a") > 0


def test_refused_requests_take_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    assert limiter.wait("a") == 0.0
    for _ in range(5):
        assert limiter.wait("a") == pytest.approx(60.0)
    clock.now += 60.0
    assert limiter.wait("a") == 0.0


def test_the_least_recently_seen_keys_are_forgotten_beyond_the_bound() -> None:
    limiter = RateLimiter(1, max_keys=3)
    for key in "abcd":
        limiter.wait(key)
    assert list(limiter.buckets) == ["b", "c", "d"]


def test_over_the_limit_is_429_with_retry_after_in_whole_seconds() -> None:
    limiter = RateLimiter(2, clock=Clock())
    limiter.check("a", "things")
    limiter.check("a", "things")
    with pytest.raises(HTTPException) as refused:
        limiter.check("a", "things")
    assert refused.value.status_code == 429
    assert refused.value.headers == {"Retry-After": "30"}
    assert "at most 2 a minute" in str(refused.value.detail)


def self_service_app(per_minute: int) -> TestClient:
    keys = "admin-key=admin,a-key=partner:P-A,a2-key=partner:P-A,b-key=partner:P-B"
    settings = Settings(api_keys=SecretStr(keys), self_service_per_minute=per_minute)
    app = bare_app(settings)

    @app.post("/feedback")
    async def feedback(principal: access.SelfService) -> dict[str, Any]:
        return {"partner_id": principal.partner_id}

    return TestClient(app)


def test_a_partners_callers_share_its_self_service_limit_and_staff_have_none() -> None:
    client = self_service_app(per_minute=3)

    def send(key: str) -> Any:
        return client.post("/feedback", headers={"Authorization": f"Bearer {key}"})

    assert [send(k).status_code for k in ("a-key", "a2-key", "a-key")] == [200, 200, 200]
    refused = send("a2-key")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "self-service commands for this partner" in refused.json()["detail"]
    assert send("b-key").status_code == 200, "another partner has its own limit"
    assert all(send("admin-key").status_code == 200 for _ in range(10))


def test_the_unsubscribe_route_is_limited_per_address() -> None:
    settings = NotificationsSettings(public_per_minute=2, api_keys_file=None)
    client = TestClient(notifications_app(settings, store=InMemoryNotificationsStore()))
    body = {"address": "a@acme.example", "kind": "payout_settled", "token": "0" * 64}
    answers = [client.post("/unsubscribe", json=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [403, 403, 429]
    assert "Retry-After" in answers[2].headers
    forwarded = client.post("/unsubscribe", json=body, headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 429, "a forwarded address counts only from a trusted proxy"


def test_the_portal_limits_sign_ins_and_unsubscribes_per_address() -> None:
    services = FakeServices()
    settings = portal_settings(sign_in_per_minute=2, public_per_minute=2)
    with running_portal(settings, services) as portal:
        sign_ins = [portal.get("/login").status_code for _ in range(3)]
        assert sign_ins[2] == 429, sign_ins
        refused = portal.get("/login")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "Too many requests" in refused.text
        link = "/unsubscribe?address=a%40acme.example&kind=payout_settled&token=" + "0" * 64
        pages = [portal.get(link).status_code for _ in range(3)]
        assert pages == [200, 200, 429]
