"""Onboarding's wiring: settings, MongoDB, Kafka, the outbox relay, the commands, the routes.

``create_app(settings)`` is the service as it runs. Tests pass their own
``store`` and ``publisher`` (fakes in memory) and do not enter the app's
lifespan, so neither Kafka nor MongoDB is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from services.onboarding.api import ROUTERS
from services.onboarding.api.dependencies import provide
from services.onboarding.commands import OnboardingCommands
from services.onboarding.queries import OnboardingQueries
from services.onboarding.settings import OnboardingSettings
from services.onboarding.store import OnboardingStore, PartnerStore
from shared import topics
from shared.messaging import make_broker
from shared.mongo import make_mongo_client, service_database
from shared.outbox import Outbox, Publisher
from shared.service import service_app

DESCRIPTION = (
    "Partner selection with a weighted scorecard, contracts, renewals, tier changes and "
    "terminations (docs/rules/scorecard.md); every change is published on partners.v1."
)


def create_app(
    settings: OnboardingSettings,
    *,
    store: PartnerStore | None = None,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    mongo_store = OnboardingStore(service_database(mongo, settings))
    if publisher is None:
        publisher = Outbox(broker, settings.service_name, [mongo_store.partners])

    # For the AsyncAPI document: what onboarding publishes.
    broker.publisher(
        topics.PARTNERS,
        title="PartnerLifecycle",
        description="PartnerApplied, PartnerApproved, PartnerRejected, PartnerSigned, "
        "ContractRenewed, PartnerTierChanged, PartnerTerminated; keyed by partner id",
    )

    async def startup() -> None:
        await mongo_store.create_indexes()
        await publisher.publish_pending()

    app = service_app(
        settings,
        title="partnerhub onboarding",
        description=DESCRIPTION,
        broker=broker,
        mongo=mongo,
        on_startup=startup,
        readiness_details={"outbox_backlog": publisher.known_backlog},
        background=[publisher.run],
    )
    store = mongo_store if store is None else store
    commands = OnboardingCommands(
        store, settings.rules, publisher, service=settings.service_name, clock=clock
    )
    provide(app, commands, OnboardingQueries(store))
    for router in ROUTERS:
        app.include_router(router)
    return app
