"""Kafka security by configuration, against the local broker's SCRAM listener.

``deploy/local/infra.sh`` starts Kafka with a SASL_PLAINTEXT listener (SCRAM-SHA-256
and -512; port 9094, 19094 in the tests' instance) and one user. The services' own factories
(``shared.messaging``: the FastStream broker and plain aiokafka clients) are
given only settings, as in production: they must publish and consume over
SCRAM, a wrong password must be refused, and a service started with these
settings must be ready.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from shared import topics
from shared.infra import partition_ids
from shared.messaging import kafka_client_options, make_broker
from shared.settings import Settings
from tests.support.infrastructure import require_local_infrastructure
from tests.support.processes import ServiceProcess, httpx


@dataclass(frozen=True)
class Scram:
    """The local broker's SCRAM listener and its one user."""

    servers: str
    user: str
    password: str


@pytest.fixture
def scram(settings: Settings) -> Scram:
    """The test instance's SCRAM listener and user, read once ``settings`` has found the
    infrastructure (and exported the instance's settings)."""
    return Scram(
        f"127.0.0.1:{os.environ['PARTNERHUB_KAFKA_SASL_PORT']}",
        os.environ.get("PARTNERHUB_KAFKA_SCRAM_USER", "partnerhub"),
        os.environ.get("PARTNERHUB_KAFKA_SCRAM_PASSWORD", "partnerhub-local"),
    )


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_the_services_clients_publish_and_consume_over_scram(
    settings: Settings, scram: Scram, mechanism: str
) -> None:
    require_local_infrastructure(settings)
    secured = Settings(
        kafka_bootstrap_servers=scram.servers,
        kafka_sasl_mechanism=mechanism,  # type: ignore[arg-type]
        kafka_sasl_username=scram.user,
        kafka_sasl_password=scram.password,  # type: ignore[arg-type]
        mongodb_url=settings.mongodb_url,
    )
    assert secured.effective_security_protocol == "SASL_PLAINTEXT"
    marker = f"scram-{uuid.uuid4().hex}".encode()
    broker = make_broker(secured)
    await broker.connect()
    try:
        await broker.publish(marker, topics.DEALS + ".dlq", key=b"scram-test")
    finally:
        await broker.stop()

    partitions = [
        TopicPartition(topics.DEALS + ".dlq", p)
        for p in await partition_ids(settings, topics.DEALS + ".dlq")
    ]
    consumer = AIOKafkaConsumer(**kafka_client_options(secured), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(0, ends[tp] - 50))
        found = False
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            if any(r.value == marker for records in batch.values() for r in records):
                found = True
                break
        assert found, "the message published over SCRAM was not read back over SCRAM"
    finally:
        await consumer.stop()


async def test_a_wrong_password_is_refused(settings: Settings, scram: Scram) -> None:
    require_local_infrastructure(settings)
    wrong = Settings(
        kafka_bootstrap_servers=scram.servers,
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username=scram.user,
        kafka_sasl_password="not-the-password",  # type: ignore[arg-type]
    )
    producer = AIOKafkaProducer(**kafka_client_options(wrong), request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()


def test_a_service_configured_for_scram_is_ready(settings: Settings, scram: Scram) -> None:
    require_local_infrastructure(settings)
    process = ServiceProcess(
        "incentives",
        {
            "KAFKA_BOOTSTRAP_SERVERS": scram.servers,
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": scram.user,
            "KAFKA_SASL_PASSWORD": scram.password,
            "MONGODB_URL": settings.mongodb_url.get_secret_value(),
            "MONGODB_DATABASE": f"test_scram_{uuid.uuid4().hex[:10]}",
            "CONSUMER_GROUP": f"scram-{uuid.uuid4().hex[:10]}",
        },
    ).start()
    try:
        ready = httpx.get(f"{process.url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["kafka"] is True, ready.json()
    finally:
        process.stop()
