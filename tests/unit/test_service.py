"""The FastAPI app every service gets (``shared.service.service_app``), without a network."""

from __future__ import annotations

from typing import Any

from fastapi import Query
from fastapi.testclient import TestClient
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from shared import access
from shared.service import service_app
from shared.settings import Settings

KEY = "k-admin"


def test_a_missing_query_parameter_is_named_once() -> None:
    settings = Settings(api_keys=f"{KEY}=admin")  # type: ignore[arg-type]
    app = service_app(
        settings,
        title="t",
        description="d",
        broker=KafkaBroker(settings.kafka_bootstrap_servers),
        mongo=AsyncMongoClient(connect=False),
    )

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
