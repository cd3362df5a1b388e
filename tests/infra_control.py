"""Stopping and starting the local Kafka broker or FerretDB under a running test.

Fault tests (an outage mid-commands, a restart mid-stream) need to control
the infrastructure itself. That is possible when the infrastructure is the
embedded default started by ``deploy/local/infra.sh`` (``make test``, CI);
a broker given from outside (``KAFKA_BOOTSTRAP_SERVERS`` pointing elsewhere,
testcontainers) cannot be stopped by a test, and the test says so and skips.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from shared.settings import Settings
from tests.conftest import INFRA, local_endpoints


def require_local_infrastructure(settings: Settings) -> None:
    """Skip unless the test infrastructure is the local one ``infra.sh`` runs."""
    status = subprocess.run([str(INFRA), "status"], capture_output=True, text=True, check=False)
    kafka, mongo = local_endpoints()
    ours = (
        all(f"{name}: running" in status.stdout for name in ("kafka", "ferretdb"))
        and settings.kafka_bootstrap_servers == kafka
        and settings.mongodb_url.get_secret_value().rstrip("/") == mongo
    )
    if not ours:
        pytest.skip(
            "needs the embedded infrastructure of deploy/local/infra.sh (a broker or server "
            "given from outside cannot be stopped by a test)"
        )


def stop(component: str) -> float:
    """Stop ``kafka`` or ``ferretdb``; the seconds it took."""
    started = time.monotonic()
    subprocess.run([str(INFRA), "stop", component], check=True)
    return time.monotonic() - started


def start(component: str) -> float:
    """Start it again and wait until it serves; the seconds it took."""
    started = time.monotonic()
    subprocess.run([str(INFRA), "start", component], check=True)
    return time.monotonic() - started


@contextmanager
def outage(component: str) -> Iterator[None]:
    """``component`` is down inside the block, and up again after it (also on failure)."""
    stop(component)
    try:
        yield
    finally:
        start(component)
