"""Fixtures for the tests on real infrastructure (docs/development.md, "Tests":
integration, end-to-end and reliability tests run against a real Kafka broker and
a real MongoDB-protocol server, never a mock).

Kafka and the MongoDB-protocol server are found in this order, the first time a test
asks for them (the ``infrastructure`` fixture, which ``settings`` and every fixture
after it need):

1. ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URL`` when both are set
   (``make test`` sets them after starting the local infrastructure);
2. testcontainers, when a Docker engine answers (a developer laptop);
3. the embedded default, started with ``deploy/local/infra.sh up`` and stopped at
   the end of the session if this session started it. Its ``test`` instance
   (``PARTNERHUB_INSTANCE``, data in ``.local/test``, ports 19092 and 17017), never
   the platform's of ``make up``: tests must not put their events into the
   platform's topics.

A piece that cannot be had is an error naming what is missing, never a skip.

Importing this file starts nothing and runs no program: the unit tests
(``tests/unit``) ask for none of these fixtures, so they never touch the
infrastructure or ``deploy/local/infra.sh``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from shared.infra import ensure_topics
from shared.messaging import kafka_client_options
from shared.mongo import Document, make_mongo_client
from shared.settings import Settings

# The helpers' assertions explain their failures as the tests' own do (pytest rewrites
# the asserts of the modules registered before they are imported).
pytest.register_assert_rewrite("tests.support")

from tests.support.infrastructure import (  # noqa: E402
    Infrastructure,
    docker_answers,
    from_local_infrastructure,
    from_testcontainers,
    use_test_instance,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/" not in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    use_test_instance()
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL")
    if kafka and mongo:
        yield Infrastructure(kafka, mongo, "environment")
    elif docker_answers():
        yield from from_testcontainers()
    else:
        yield from from_local_infrastructure()


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
