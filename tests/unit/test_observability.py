from __future__ import annotations

import json
import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from shared.observability import JsonFormatter, operational_routes


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.LogRecord(
        "partnerhub.test", logging.WARNING, __file__, 1, "dead-lettered %s", ("e-1",), None
    )
    record.event_id = "e-1"
    line = json.loads(JsonFormatter("reporting").format(record))
    assert line["message"] == "dead-lettered e-1"
    assert line["level"] == "warning"
    assert line["service"] == "reporting"
    assert line["event_id"] == "e-1"


def test_operational_routes() -> None:
    registry = CollectorRegistry()
    Counter("partnerhub_test_events_total", "test counter", registry=registry).inc()
    state = {"kafka": True}

    async def kafka() -> bool:
        return state["kafka"]

    async def mongodb() -> bool:
        return True

    app = FastAPI()
    app.include_router(operational_routes({"kafka": kafka, "mongodb": mongodb}, registry))
    client = TestClient(app)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    state["kafka"] = False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["kafka"]
    metrics = client.get("/metrics")
    assert "partnerhub_test_events_total 1.0" in metrics.text
    assert metrics.headers["content-type"].startswith("text/plain")
