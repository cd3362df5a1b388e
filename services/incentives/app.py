"""Incentives' wiring: settings, MongoDB, Kafka, the outbox relay, the consumer, the
commands (registrations, settlements), the reads and the routes.

``create_app(settings)`` is the service as it runs. Tests pass their own
``store`` and ``publisher`` (fakes in memory) and do not enter the app's
lifespan, so neither Kafka nor MongoDB is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from services.incentives import PUBLISHES, SERVICE
from services.incentives.api import ROUTERS
from services.incentives.api.dependencies import provide
from services.incentives.commands import IncentivesCommands
from services.incentives.handlers import IncentivesConsumer
from services.incentives.inquiries import Inquiries
from services.incentives.ledgers import Ledgers
from services.incentives.queries import IncentivesQueries
from services.incentives.rates import RatesConsumer, subscribe_rates
from services.incentives.settings import IncentivesSettings
from services.incentives.settlements import Settlements
from services.incentives.store import IncentivesStore, Store
from shared import topics
from shared.consuming import subscribe
from shared.messaging import make_broker
from shared.mongo import make_mongo_client, service_database
from shared.outbox import Outbox, Publisher
from shared.service import service_app

DESCRIPTION = (
    "Deal registration, the commission engine and settlements (docs/rules/commissions.md, "
    "docs/rules/deal-registration.md, docs/rules/settlement.md)."
)


def create_app(
    settings: IncentivesSettings,
    *,
    store: Store | None = None,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    name = settings.service_name
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    stored = IncentivesStore(service_database(mongo, settings))
    store = stored if store is None else store
    if publisher is None:
        # No periodic sweep: the consumer's published entries stay in the ledgers a while
        # (services.incentives.ledgers); what a crash left is published at start-up.
        collections = [stored.ledgers, stored.registrations, stored.registration_requests]
        publisher = Outbox(broker, name, collections, sweep=None)

    # One Ledgers for both sides: what a settlement writes, the consumer reads again.
    ledgers = Ledgers(store, publisher, cache_deals=settings.ledger_cache_deals, service=name)
    days = settings.registration_protection_days
    consumer = IncentivesConsumer(
        ledgers, store, publisher, service=name, protection_days=days, clock=clock
    )
    negative = settings.settlement_allow_negative
    settlements = Settlements(ledgers, allow_negative=negative, clock=clock)

    report_lag = subscribe(
        broker,
        settings,
        topics.CONSUMED[SERVICE],
        consumer.handle,
        title="incentives-events",
        description="Contracts, deals, cancellations, registrations and certifications in; "
        "CommissionCalculated and registration decisions out.",
        partner_partitions_together=True,
    )
    report_rates_lag = subscribe_rates(broker, settings, RatesConsumer(ledgers, store, clock=clock))
    for topic, title, description in PUBLISHES:  # for the AsyncAPI document
        broker.publisher(topic, title=title, description=description)

    async def startup() -> None:
        await store.create_indexes()
        await publisher.publish_pending()

    app = service_app(
        settings,
        title="partnerhub incentives",
        description=DESCRIPTION,
        broker=broker,
        mongo=mongo,
        on_startup=startup,
        on_shutdown=ledgers.remove_all_published,
        readiness_details={"outbox_backlog": publisher.known_backlog},
        background=[
            publisher.run,
            report_lag,
            report_rates_lag,
            ledgers.keep_removing_published,
        ],
    )
    inquiries = Inquiries(ledgers, store, clock=clock)
    commands = IncentivesCommands(
        store, publisher, settlements, inquiries, protection_days=days, clock=clock
    )
    provide(app, commands, IncentivesQueries(store, clock=clock))
    for router in ROUTERS:
        app.include_router(router)
    return app
