"""Prometheus, as ``make infra-up`` runs it, scrapes a service; promtool finds nothing in /metrics.

A service process on a free port is registered with the local Prometheus by
writing a file-based target (as ``deploy/local/prometheus/prometheus.yml.in``
describes); traffic is sent; the counters are read back through Prometheus'
HTTP query API, so what operators query is what the service counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared.mongo import make_mongo_client
from shared.settings import Settings
from tests.support.eventually import eventually
from tests.support.infrastructure import INFRA, Infrastructure
from tests.support.onboarding import application
from tests.support.processes import ServiceProcess, httpx
from tests.support.services import running, service_env


def targets() -> Path:
    """Where the local Prometheus finds its file-based targets."""
    return Path(os.environ["PARTNERHUB_STATE"]) / "prometheus" / "targets"


@pytest.fixture(scope="module")
def prometheus(infrastructure: Infrastructure) -> str:
    """The local Prometheus' URL (the test instance's settings are exported once the
    infrastructure is found)."""
    status = subprocess.run([str(INFRA), "status"], capture_output=True, text=True, check=False)
    if "prometheus: running" not in status.stdout:
        if "kafka: running" not in status.stdout:
            pytest.skip("the infrastructure is not deploy/local/infra.sh's, which runs Prometheus")
        pytest.fail(
            "the local Prometheus is not running: install Debian's 'prometheus' package "
            "and run 'make infra-up' (deploy/local/infra.sh start prometheus)"
        )
    return f"http://127.0.0.1:{os.environ['PARTNERHUB_PROMETHEUS_PORT']}"


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def value(prometheus: str, promql: str) -> float | None:
    result = query(prometheus, promql)
    return float(result[0]["value"][1]) if result else None


@pytest.fixture
async def scraped_onboarding(settings: Settings, prometheus: str) -> AsyncIterator[ServiceProcess]:
    """An onboarding process registered as a Prometheus target, unregistered afterwards."""
    suffix = uuid.uuid4().hex[:10]
    async with running(settings, "onboarding", f"test_prometheus_{suffix}") as process:
        target = targets() / f"test-{suffix}.json"
        target.write_text(
            json.dumps(
                [{"targets": [f"127.0.0.1:{process.port}"], "labels": {"service": "onboarding"}}]
            )
        )
        try:
            yield process
        finally:
            target.unlink(missing_ok=True)


async def test_prometheus_reads_back_what_the_service_counted(
    prometheus: str, scraped_onboarding: ServiceProcess
) -> None:
    instance = f'instance="127.0.0.1:{scraped_onboarding.port}"'

    def scraped() -> None:
        assert value(prometheus, f"up{{{instance}}}") == 1.0

    await eventually(scraped, "the new target is scraped and up", interval=1)
    for n in range(5):
        answer = scraped_onboarding.post("/applications", application(name=f"Scraped {n}"))
        assert answer.status_code == 201, answer.text
    assert scraped_onboarding.get("/applications/does-not-exist").status_code == 404

    def counted() -> None:
        created = value(
            prometheus,
            f'sum(partnerhub_http_requests_total{{{instance},route="/applications",'
            f'method="POST",status="201"}})',
        )
        missing = value(
            prometheus, f'sum(partnerhub_http_requests_total{{{instance},status="404"}})'
        )
        published = value(
            prometheus,
            f'sum(partnerhub_events_published_total{{{instance},type="PartnerApplied"}})',
        )
        assert (created, missing, published) == (5.0, 1.0, 5.0)

    await eventually(
        counted,
        "Prometheus shows the five 201s, the 404 and the five PartnerApplied published",
        interval=1,
    )
    # The labels alerts.yml and the dashboard select on.
    series = query(prometheus, f"partnerhub_http_requests_total{{{instance},status='201'}}")
    assert {(s["metric"]["job"], s["metric"]["service"]) for s in series} == {
        ("partnerhub", "onboarding")
    }
    latency = value(
        prometheus,
        f"sum(partnerhub_http_request_duration_seconds_count{{{instance},route='/applications'}})",
    )
    assert latency == 5.0
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    alerts = {rule["name"] for group in rules for rule in group["rules"]}
    assert {"PartnerhubServiceDown", "PartnerhubDeadLetters"} <= alerts, alerts


@pytest.mark.parametrize(
    "service", ["onboarding", "enablement", "incentives", "reporting", "notifications"]
)
async def test_promtool_finds_nothing_wrong_in_metrics(
    settings: Settings, prometheus: str, service: str
) -> None:
    suffix = uuid.uuid4().hex[:10]
    process = ServiceProcess(
        service, service_env(settings, f"test_promtool_{suffix}", f"promtool-{suffix}")
    ).start()
    try:
        process.get("/readyz")
        process.get("/no-such-route")
        text = httpx.get(f"{process.url}/metrics", timeout=10).text
    finally:
        process.stop()
        client = make_mongo_client(settings)
        await client.drop_database(f"test_promtool_{suffix}")
        await client.close()
    assert "partnerhub_http_requests_total" in text
    checked = await asyncio.create_subprocess_exec(
        "promtool",
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await checked.communicate(text.encode())
    assert (checked.returncode, out, err) == (0, b"", b"")
