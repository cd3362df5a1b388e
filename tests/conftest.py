"""Fixtures for tests on real infrastructure (ARCHITECTURE.md, "Tests use the real thing").

Kafka and the MongoDB-protocol server are found in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URL`` when both are set
   (``make test`` sets them after starting the local infrastructure);
2. testcontainers, when a Docker engine answers (a developer laptop);
3. the embedded default, started here with ``deploy/local/infra.sh up`` and
   stopped at the end of the session if this session started it. Its
   ``test`` instance (``PARTNERHUB_INSTANCE``, data in ``.local/test``, ports
   19092 and 37017), never the platform's of ``make up``: tests must not put
   their events into the platform's topics.

A piece that cannot be had is an error naming what is missing, never a skip.
Unit tests (``tests/unit``) use none of this.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from shared.infra import ensure_topics
from shared.messaging import kafka_client_options
from shared.mongo import Document, make_mongo_client
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "deploy" / "local" / "infra.sh"


def _use_test_instance() -> None:
    """Export the ``test`` instance's settings (``infra.sh env``: its data directory and
    ports) unless the environment names others; ``make test`` has exported the same."""
    os.environ.setdefault("PARTNERHUB_INSTANCE", "test")
    shown = subprocess.run([str(INFRA), "env"], capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        raise pytest.UsageError(f"deploy/local/infra.sh env failed: {shown.stderr.strip()}")
    for line in shown.stdout.splitlines():
        name, _, value = line.partition("=")
        os.environ.setdefault(name, value)


_use_test_instance()


def local_endpoints() -> tuple[str, str]:
    """Kafka's bootstrap server and the MongoDB URL of the local instance in use."""
    return (
        f"127.0.0.1:{os.environ['PARTNERHUB_KAFKA_PORT']}",
        f"mongodb://127.0.0.1:{os.environ['PARTNERHUB_MONGO_PORT']}",
    )


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    mongodb_url: str
    origin: str


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/" not in item.nodeid:
            item.add_marker(pytest.mark.integration)


def _docker_answers() -> bool:
    try:
        import docker  # testcontainers' client

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def _from_testcontainers() -> Iterator[Infrastructure]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with (
        KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka,
        MongoDbContainer("mongo:8.0") as mongo,
    ):
        yield Infrastructure(
            kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers"
        )


def _from_local_infrastructure() -> Iterator[Infrastructure]:
    status = subprocess.run([str(INFRA), "status"], capture_output=True, text=True, check=False)
    already_running = all(f"{name}: running" in status.stdout for name in ("kafka", "ferretdb"))
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


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL")
    if kafka and mongo:
        yield Infrastructure(kafka, mongo, "environment")
    elif _docker_answers():
        yield from _from_testcontainers()
    else:
        yield from _from_local_infrastructure()


@pytest.fixture(scope="session")
async def settings(infrastructure: Infrastructure) -> Settings:
    """Settings pointing at the test infrastructure, with the contract's topics in place."""
    settings = Settings(
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        mongodb_url=infrastructure.mongodb_url,  # type: ignore[arg-type]
        service_name="tests",
    )
    await ensure_topics(settings)
    return settings


@pytest.fixture
def unique() -> str:
    """A short unique suffix, so tests sharing one broker and server never see each other's data."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def database(settings: Settings, unique: str) -> AsyncIterator[AsyncDatabase[Document]]:
    """A fresh MongoDB database for one test, dropped afterwards."""
    client = make_mongo_client(settings)
    name = f"test_{unique}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    """A plain aiokafka producer, as an outside system (a CRM, an LMS) would use."""
    client = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
