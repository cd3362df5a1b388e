"""Reporting's wiring: settings, MongoDB, Kafka, the projection subscribed to every topic,
the queries, the business gauges and the routes.

``create_app(settings)`` is the service as it runs. Tests pass their own
``database`` (a fake in memory) and do not enter the app's lifespan, so
neither Kafka nor MongoDB is touched.
"""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from services.reporting import SERVICE
from services.reporting.api import ROUTERS
from services.reporting.api.dependencies import provide
from services.reporting.metrics import keep_business_gauges
from services.reporting.projection import Projection
from services.reporting.queries import ReportingQueries
from services.reporting.settings import ReportingSettings
from services.reporting.store import Database, LinesCache
from shared import topics
from shared.consuming import subscribe
from shared.messaging import make_broker
from shared.mongo import make_mongo_client, service_database
from shared.service import service_app

DESCRIPTION = (
    "Read models of the partner programme: partner 360, statements, payouts, MDF positions, "
    "leaderboards, health and the programme summary."
)


def create_app(settings: ReportingSettings, *, database: Database | None = None) -> FastAPI:
    """The reporting service; ``database``: the read models' (default: ``MONGODB_DATABASE``
    on ``MONGODB_URL``)."""
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    if database is None:
        database = service_database(mongo, settings)
    lines = LinesCache(settings.lines_cache_revisions)
    projection = Projection(database, lines, settings.service_name)
    queries = ReportingQueries(
        database, lines, satisfaction_weight=settings.health_satisfaction_weight
    )
    report_lag = subscribe(
        broker,
        settings,
        topics.CONSUMED[SERVICE],
        projection.handle,
        title="reporting-events",
        description="Every event of the contract, projected into the read models.",
        partner_partitions_together=True,
    )

    async def create_indexes() -> None:
        for generation in await projection.generations():
            await generation.create_indexes()

    app = service_app(
        settings,
        title="partnerhub reporting",
        description=DESCRIPTION,
        broker=broker,
        mongo=mongo,
        on_startup=create_indexes,
        background=[report_lag, partial(keep_business_gauges, queries)],
    )
    provide(app, queries)
    for router in ROUTERS:
        app.include_router(router)
    return app
