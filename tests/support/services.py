"""A service process on the test infrastructure: its settings, and the database it leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.mongo import make_mongo_client
from shared.settings import Settings
from tests.support.processes import ServiceProcess


def service_env(
    settings: Settings, database: str, group: str | None = None, **extra: str
) -> dict[str, str]:
    """The environment that puts a service on the test infrastructure: its broker, its
    server, a database of its own and, for a consuming service, a consumer group of its
    own (so that it never shares offsets with another test's process)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "MONGODB_DATABASE": database,
    }
    if group is not None:
        env["CONSUMER_GROUP"] = group
    return {**env, **extra}


async def drop_database(settings: Settings, database: str) -> None:
    client = make_mongo_client(settings)
    try:
        await client.drop_database(database)
    finally:
        await client.close()


@asynccontextmanager
async def running(
    settings: Settings,
    name: str,
    database: str,
    group: str | None = None,
    *,
    ready_within: float = 60.0,
    **extra: str,
) -> AsyncIterator[ServiceProcess]:
    """``services.<name>`` running on the test infrastructure until the block ends; then
    stopped (SIGTERM), and its database dropped."""
    process = ServiceProcess(name, service_env(settings, database, group, **extra))
    try:
        yield process.start(timeout=ready_within)
    finally:
        process.stop()
        await drop_database(settings, database)
