"""The infrastructure the tests run on: Kafka and a MongoDB-protocol server.

``tests/conftest.py`` says in which order they are found; this module finds them, and
lets a fault test stop and start the local ones (``deploy/local/infra.sh``) under it.
Nothing here runs on import: the ``test`` instance's settings are read the first time
a test asks for the infrastructure.
"""

from __future__ import annotations

import functools
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "deploy" / "local" / "infra.sh"


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    mongodb_url: str
    #: "environment", "testcontainers" or "local"
    origin: str


@functools.cache
def use_test_instance() -> None:
    """Export the ``test`` instance's settings (``infra.sh env``: its data directory and
    ports) unless the environment names others; ``make test`` has exported the same.

    Tests must not put their events into the platform's topics (the instance of
    ``make up``): the ``test`` instance has data of its own (``.local/test``) and ports
    of its own (19092, 17017)."""
    os.environ.setdefault("PARTNERHUB_INSTANCE", "test")
    shown = subprocess.run([str(INFRA), "env"], capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        pytest.exit(f"deploy/local/infra.sh env failed: {shown.stderr.strip()}", returncode=3)
    for line in shown.stdout.splitlines():
        name, _, value = line.partition("=")
        os.environ.setdefault(name, value)


def local_endpoints() -> tuple[str, str]:
    """Kafka's bootstrap server and the MongoDB URL of the local instance in use."""
    use_test_instance()
    return (
        f"127.0.0.1:{os.environ['PARTNERHUB_KAFKA_PORT']}",
        f"mongodb://127.0.0.1:{os.environ['PARTNERHUB_MONGO_PORT']}",
    )


def docker_answers() -> bool:
    try:
        import docker  # testcontainers' client

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def from_testcontainers() -> Iterator[Infrastructure]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with (
        KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka,
        MongoDbContainer("mongo:8.0") as mongo,
    ):
        yield Infrastructure(
            kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers"
        )


def _running(status: str, *components: str) -> bool:
    return all(f"{name}: running" in status for name in components)


def from_local_infrastructure() -> Iterator[Infrastructure]:
    """The local ``test`` instance; started (and stopped afterwards) when it is not up."""
    use_test_instance()
    status = subprocess.run([str(INFRA), "status"], capture_output=True, text=True, check=False)
    already_running = _running(status.stdout, "kafka", "ferretdb")
    if not already_running:
        started = subprocess.run([str(INFRA), "up"], text=True, check=False)
        if started.returncode != 0:
            pytest.exit(
                "the local Kafka and FerretDB could not be started (deploy/local/infra.sh up failed; "
                "it needs Java 17, Maven and Go, see README) and no KAFKA_BOOTSTRAP_SERVERS/"
                "MONGODB_URL were given",
                returncode=3,
            )
    try:
        yield Infrastructure(*local_endpoints(), "local")
    finally:
        if not already_running:
            subprocess.run([str(INFRA), "down"], check=False)


# --------------------------------------------------------------------------- faults
#
# Fault tests (an outage mid-commands, a restart mid-stream) control the infrastructure
# itself. That is possible when it is the local one ``deploy/local/infra.sh`` runs
# (``make test``, CI); a broker given from outside (``KAFKA_BOOTSTRAP_SERVERS`` pointing
# elsewhere, testcontainers) cannot be stopped by a test, and the test says so and skips.


def require_local_infrastructure(settings: Settings) -> None:
    """Skip unless the test infrastructure is the local one ``infra.sh`` runs."""
    kafka, mongo = local_endpoints()
    status = subprocess.run([str(INFRA), "status"], capture_output=True, text=True, check=False)
    ours = (
        _running(status.stdout, "kafka", "ferretdb")
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
    use_test_instance()
    started = time.monotonic()
    subprocess.run([str(INFRA), "stop", component], check=True)
    return time.monotonic() - started


def start(component: str) -> float:
    """Start it again and wait until it serves; the seconds it took."""
    use_test_instance()
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
