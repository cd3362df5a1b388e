"""Reporting's wiring: the projection subscribed to every topic, and the read API."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.api import health, leaderboard, partners, payouts, programme, statements
from services.reporting.api.dependencies import provide
from services.reporting.projection import Projection
from services.reporting.queries import ReadModels
from services.reporting.settings import ReportingSettings
from services.reporting.store import LinesCache
from shared import topics
from shared.consuming import subscribe
from shared.messaging import make_broker
from shared.metrics import BUSINESS_COMMISSION, BUSINESS_REVENUE
from shared.mongo import Document, make_mongo_client, service_database
from shared.periodic import every
from shared.service import service_app

log = logging.getLogger("partnerhub.reporting")

ROUTERS = (
    partners.router,
    statements.router,
    payouts.router,
    leaderboard.router,
    health.router,
    programme.router,
)
#: Seconds between refreshes of the business gauges.
GAUGES_INTERVAL = 30


async def refresh_business_gauges(read_models: ReadModels) -> None:
    """Revenue and commission per currency and period, from the period totals."""
    for (currency, period), (revenue, payout) in (await read_models.business_totals()).items():
        BUSINESS_REVENUE.labels(currency, period).set(float(revenue))
        BUSINESS_COMMISSION.labels(currency, period).set(float(payout))


def create_app(
    settings: ReportingSettings, *, database: AsyncDatabase[Document] | None = None
) -> FastAPI:
    """The reporting service; ``database``: the read models' (default: ``MONGODB_DATABASE``
    on ``MONGODB_URL``)."""
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    if database is None:
        database = service_database(mongo, settings)
    lines = LinesCache(settings.lines_cache_revisions)
    projection = Projection(database, lines, settings.service_name)
    read_models = ReadModels(database, lines)
    report_lag = subscribe(
        broker,
        settings,
        topics.CONSUMED["reporting"],
        projection.handle,
        title="reporting-events",
        description="Every event of the contract, projected into the read models.",
        partner_partitions_together=True,
    )

    async def create_indexes() -> None:
        for generation in await projection.generations():
            await generation.create_indexes()

    async def business_gauges() -> None:
        await every(
            GAUGES_INTERVAL,
            lambda: refresh_business_gauges(read_models),
            what="could not refresh business gauges",
            log=log,
            immediately=True,
        )

    app = service_app(
        settings,
        title="partnerhub reporting",
        description="Read models of the partner programme: partner 360, statements, "
        "payouts, leaderboards, health and the programme summary.",
        broker=broker,
        mongo=mongo,
        on_startup=create_indexes,
        background=[report_lag, business_gauges],
    )
    provide(app, read_models)
    for router in ROUTERS:
        app.include_router(router)
    return app
