"""Notifications' wiring: settings, MongoDB, Kafka, the consumer, the delivery worker,
the mailer, the periodic notices, the routes.

``create_app(settings)`` is the service as it runs. Tests pass their own ``store`` (a
fake in memory), resolver and clock, and do not enter the app's lifespan, so neither
Kafka nor MongoDB is touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from fastapi import FastAPI

from services.notifications import SERVICE
from services.notifications.api import ROUTERS
from services.notifications.api.dependencies import provide
from services.notifications.commands import NotificationsCommands
from services.notifications.handlers import NotificationsConsumer
from services.notifications.mail import Mailer, Outgoing
from services.notifications.notices import Reminders
from services.notifications.queries import NotificationsQueries
from services.notifications.settings import NotificationsSettings
from services.notifications.store import NotificationsStore, Store
from services.notifications.webhooks import Deliverer, Resolver, resolve
from shared import topics
from shared.consuming import subscribe
from shared.messaging import make_broker
from shared.mongo import make_mongo_client, service_database
from shared.periodic import every
from shared.service import service_app

DESCRIPTION = (
    "Signed webhooks for other systems and email for people, from the event log "
    "(docs/rules/notifications.md)."
)


def create_app(
    settings: NotificationsSettings,
    *,
    store: Store | None = None,
    resolver: Resolver = resolve,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    mongo_store = NotificationsStore(service_database(mongo, settings))
    store = mongo_store if store is None else store
    secret = settings.notifications_secret.get_secret_value()
    deliverer = Deliverer.from_settings(store, settings, resolver, clock)
    mailer = Mailer.from_settings(store, settings, clock)
    outgoing = Outgoing(
        store,
        portal_url=settings.portal_url,
        secret=secret,
        manager_addresses=settings.manager_addresses,
        wake=mailer.wake,
    )
    consumer = NotificationsConsumer(
        store,
        outgoing,
        max_event_age=timedelta(hours=settings.email_max_event_age_hours),
        wake_deliveries=deliverer.wake,
        clock=clock,
    )
    report_lag = subscribe(
        broker,
        settings,
        topics.CONSUMED[SERVICE],
        consumer.handle,
        title="notifications-events",
        description="Every partner event in: delivered to the webhooks that want it, and "
        "the decisions, payouts and waiting work emailed to the people concerned.",
    )
    reminders = Reminders(store, outgoing, clock=clock)
    commands = NotificationsCommands(
        store,
        reminders,
        secret=secret,
        allow_private=settings.webhook_allow_private,
        wake_deliveries=deliverer.wake,
        resolver=resolver,
        clock=clock,
    )
    notices = partial(
        every,
        settings.notice_interval_seconds,
        reminders.run_once,
        what="queueing the notices of registrations and certifications about to end",
        log=logging.getLogger("partnerhub.notifications"),
        immediately=True,
    )
    app = service_app(
        settings,
        title="partnerhub notifications",
        description=DESCRIPTION,
        broker=broker,
        mongo=mongo,
        on_startup=mongo_store.create_indexes,
        background=[deliverer.run, mailer.run, report_lag, notices],
    )
    provide(app, commands, NotificationsQueries(store))
    for router in ROUTERS:
        app.include_router(router)
    return app
