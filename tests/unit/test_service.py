"""The FastAPI app every service gets (``shared.service.service_app``), without a network."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from shared import access
from shared.service import service_app, watch
from shared.settings import Settings

KEY = "k-admin"


def bare_app(settings: Settings) -> FastAPI:
    """A service's app with no routes of its own, nothing connected."""
    return service_app(
        settings,
        title="t",
        description="d",
        broker=KafkaBroker(settings.kafka_bootstrap_servers),
        mongo=AsyncMongoClient(connect=False),
    )


def test_a_missing_query_parameter_is_named_once() -> None:
    app = bare_app(Settings(api_keys=f"{KEY}=admin"))

    @app.get("/feedback", dependencies=[access.PartnerReadAccess])
    async def feedback(partner_id: str, limit: int = Query(default=10, le=100)) -> dict[str, Any]:
        return {"partner_id": partner_id, "limit": limit}

    client = TestClient(app)  # no lifespan: nothing connects
    headers = {"Authorization": f"Bearer {KEY}"}
    answer = client.get("/feedback", params={"limit": 1000}, headers=headers)
    assert answer.status_code == 422
    problems = [(tuple(e["loc"]), e["type"]) for e in answer.json()["detail"]]
    assert problems == [
        (("query", "partner_id"), "missing"),
        (("query", "limit"), "less_than_equal"),
    ]
    assert client.get("/feedback", params={"partner_id": "P-1"}, headers=headers).json() == {
        "partner_id": "P-1",
        "limit": 10,
    }


async def test_background_work_that_ends_is_logged_and_stops_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopped: list[str] = []

    async def relay() -> None:
        raise RuntimeError("the relay broke")

    async def forever() -> None:
        await asyncio.sleep(3600)

    failing = asyncio.create_task(relay())
    watch(failing, "relay", stop=lambda: stopped.append("relay"))
    running = asyncio.create_task(forever())
    watch(running, "forever", stop=lambda: stopped.append("forever"))
    with caplog.at_level(logging.CRITICAL, logger="partnerhub.service"):
        await asyncio.gather(failing, return_exceptions=True)
        await asyncio.sleep(0)  # the done callbacks run
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await asyncio.sleep(0)
    assert stopped == ["relay"], "a cancelled task (a shutdown) stops nothing"
    (record,) = caplog.records
    assert "background work relay failed: the relay broke" in record.getMessage()
    assert record.exc_info is not None


def test_every_answer_carries_the_security_headers() -> None:
    app = bare_app(Settings(api_keys=f"{KEY}=admin"))

    @app.get("/things", dependencies=[access.StaffAccess])
    async def things() -> dict[str, Any]:
        return {}

    client = TestClient(app)
    answers = {
        "a 200": client.get("/things", headers={"Authorization": f"Bearer {KEY}"}),
        "a 401": client.get("/things"),
        "a 404": client.get("/nothing-here"),
        "a probe": client.get("/healthz"),
    }
    for what, answer in answers.items():
        assert answer.headers["X-Content-Type-Options"] == "nosniff", what
        assert answer.headers["X-Frame-Options"] == "DENY", what
        assert answer.headers["Referrer-Policy"] == "no-referrer", what
        assert answer.headers["Cache-Control"] == "no-store", what
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'"), what
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "Content-Security-Policy" not in docs.headers, "the API's own page runs its scripts"
    assert docs.headers["X-Frame-Options"] == "DENY"
