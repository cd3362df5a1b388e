"""Enablement's wiring: settings, MongoDB, Kafka, the consumer, the commands, the routes.

``create_app(settings)`` is the service as it runs. Tests pass their own
``store`` and ``publisher`` (fakes in memory) and do not enter the app's
lifespan, so neither Kafka nor MongoDB is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from fastapi import FastAPI

from services.enablement import SERVICE
from services.enablement.api import ROUTERS
from services.enablement.api.dependencies import provide
from services.enablement.awards import AwardSettling
from services.enablement.commands import EnablementCommands
from services.enablement.handlers import EnablementConsumer
from services.enablement.queries import EnablementQueries
from services.enablement.settings import EnablementSettings
from services.enablement.store import EnablementStore, Store
from shared import topics
from shared.consuming import dead_letter_unusable, subscribe
from shared.messaging import make_broker
from shared.mongo import make_mongo_client, service_database
from shared.outbox import Outbox, Publisher
from shared.service import service_app

DESCRIPTION = (
    "Partner education and support: courses, certifications, completions, sales materials, "
    "feedback and co-marketing funds (docs/rules/enablement.md)."
)


def create_app(
    settings: EnablementSettings,
    *,
    store: Store | None = None,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    name = settings.service_name
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    mongo_store = EnablementStore(service_database(mongo, settings))
    store = mongo_store if store is None else store
    if publisher is None:
        publisher = Outbox(broker, name, mongo_store.with_outbox)
    award_settling = AwardSettling(store, publisher, name)
    dead_letter = partial(dead_letter_unusable, broker, service=name)
    consumer = EnablementConsumer(store, publisher, award_settling, dead_letter, service=name)
    report_lag = subscribe(
        broker,
        settings,
        topics.CONSUMED[SERVICE],
        consumer.handle,
        title="enablement-events",
        description="Partners' status and tier, and TrainingCompleted from any source "
        "(this API or an external LMS), in; CertificationAwarded out.",
    )
    # For the AsyncAPI document: what enablement publishes.
    broker.publisher(
        topics.ENABLEMENT,
        title="EnablementEvents",
        description="TrainingCompleted, CertificationAwarded, PartnerFeedbackSubmitted, "
        "MdfRequested, MdfApproved, MdfRejected, MdfClaimSubmitted, MdfClaimApproved, "
        "MdfClaimRejected, MdfFundsReleased",
    )

    budget = settings.mdf_budget
    commands = EnablementCommands(
        store,
        publisher,
        award_settling,
        budget,
        claim_window_days=settings.mdf_claim_window_days,
        clock=clock,
    )

    async def startup() -> None:
        await mongo_store.create_indexes()
        await publisher.publish_pending()
        award_settling.definitions_added()  # settle what a crash may have left stale

    app = service_app(
        settings,
        title="partnerhub enablement",
        description=DESCRIPTION,
        broker=broker,
        mongo=mongo,
        on_startup=startup,
        readiness_details={
            "outbox_backlog": publisher.known_backlog,
            "awards_current": award_settling.awards_current,
        },
        background=[
            publisher.run,
            award_settling.keep_learners_settled,
            report_lag,
            partial(commands.keep_releasing, settings.mdf_release_interval_seconds),
        ],
    )
    provide(
        app,
        commands,
        EnablementQueries(store, budget, clock, claim_window_days=settings.mdf_claim_window_days),
    )
    for router in ROUTERS:
        app.include_router(router)
    return app
