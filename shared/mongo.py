"""MongoDB access: the PyMongo async client factory and the service's database.

PyMongo's own async API (``AsyncMongoClient``) is the successor of Motor. The
same code runs on MongoDB and on FerretDB v1 (the embedded default), so the
services use single-document atomic writes only: no multi-document
transactions, no change streams.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import Settings

Document = dict[str, Any]


def make_mongo_client(settings: Settings, **options: Any) -> AsyncMongoClient[Document]:
    """A client for ``MONGODB_URL``; it connects lazily on first use.

    Decimal money is stored as a string (exact, and sortable only where the
    read model says so), so the client needs no Decimal128 codec. Writes are
    acknowledged by the majority; ``tz_aware`` returns instants in UTC.
    """
    defaults: dict[str, Any] = {
        "appname": settings.service_name,
        "tz_aware": True,
        "serverSelectionTimeoutMS": 10_000,
        "w": "majority",
    }
    defaults.update(options)
    return AsyncMongoClient(settings.mongodb_url.get_secret_value(), **defaults)


def service_database(
    client: AsyncMongoClient[Document], settings: Settings
) -> AsyncDatabase[Document]:
    """The service's own database (``MONGODB_DATABASE``); no service reads another's."""
    return client[settings.mongodb_database]


async def ping(client: AsyncMongoClient[Document]) -> bool:
    """True when the server answers; used by ``/readyz``."""
    try:
        await client.admin.command("ping")
    except Exception:
        return False
    return True
