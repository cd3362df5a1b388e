"""The portal in a real browser: Debian's chromium driven by Selenium, signing in at the
real local OIDC provider, against the five services and the portal as processes on the
test infrastructure (docs/portal.md).

The fixtures make two active partners (A with a closed deal, B), an application
waiting for a decision, and three people in the provider's realm bound to them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from demo.people import Person, write_realm
from shared import topics
from shared.infra import start_group_at_end
from shared.settings import Settings
from tests.support.events import envelope, send
from tests.support.onboarding import active_partner, apply
from tests.support.processes import ROOT, ServiceProcess, free_port
from tests.support.services import service_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
#: Where screenshots of the main pages go: docs/images with PARTNERHUB_SCREENSHOTS=docs/images.
SHOTS = Path(
    os.environ.get("PARTNERHUB_SCREENSHOTS", ROOT / ".local" / "logs" / "tests" / "screenshots")
)


#: Signs the unsubscribe links of the notifications process the fixture starts.
NOTIFICATIONS_SECRET = secrets.token_urlsafe(32)
SERVICES = ("onboarding", "enablement", "incentives", "reporting", "notifications")


@dataclass
class Portal:
    url: str
    services: dict[str, ServiceProcess]
    people: dict[str, Person]
    partner_a: str
    partner_b: str
    pending_application: str
    deal_id: str


def issuer() -> str:
    found = os.environ.get("PARTNERHUB_OIDC_ISSUER")
    assert found, "the local OIDC provider is unknown: run through make test (infra.sh env)"
    return found


def realm_path() -> Path:
    return Path(os.environ["PARTNERHUB_STATE"]) / "oidc" / "realm.json"


async def close_a_deal(settings: Settings, partner_id: str, deal_id: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        data = {
            "partner_id": partner_id,
            "deal_id": deal_id,
            "customer": "Initech",
            "product_line": "cloud",
            "amount": "80000.00",
            "currency": "USD",
            "closed_at": datetime.now(UTC).isoformat(),
        }
        await send(producer, topics.DEALS, envelope("DealClosed", data))
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def portal(settings: Settings) -> Iterator[Portal]:
    unique = secrets.token_hex(5)
    oidc = {"OIDC_ISSUER": issuer()}
    started: dict[str, ServiceProcess] = {}
    mail = {
        "SMTP_URL": os.environ["PARTNERHUB_SMTP_URL"],
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "NOTIFICATIONS_SECRET": NOTIFICATIONS_SECRET,
        "DELIVERY_POLL_SECONDS": "0.2",
    }
    asyncio.run(
        start_group_at_end(
            settings, f"browser-notifications-{unique}", topics.CONSUMED["notifications"]
        )
    )
    try:
        for name in SERVICES:
            extra = mail if name == "notifications" else {}
            env = service_env(
                settings, f"browser_{name}_{unique}", f"browser-{name}-{unique}", **oidc, **extra
            )
            started[name] = ServiceProcess(name, env).start(timeout=120)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        started["portal"] = ServiceProcess(
            "portal",
            {
                **oidc,
                "PORTAL_URL": url,
                "PORTAL_SESSION_SECRET": secrets.token_urlsafe(32),
                **{f"{n.upper()}_URL": started[n].url for n in SERVICES},
            },
            port=port,
        )
        partner_a, _ = active_partner(started["onboarding"])
        partner_b, _ = active_partner(started["onboarding"])
        pending = apply(started["onboarding"], name=f"Waiting Reseller {unique}")["application_id"]
        deal_id = f"D-browser-{unique}"
        asyncio.run(close_a_deal(settings, partner_a, deal_id))
        people = {
            "manager": Person(
                f"manager-{unique}",
                secrets.token_urlsafe(12),
                "Morgan Manager",
                "channel_manager",
                "",
            ),
            "a": Person(
                f"a-{unique}", secrets.token_urlsafe(12), "Alex of A", "partner", partner_a
            ),
            "b": Person(
                f"b-{unique}", secrets.token_urlsafe(12), "Blake of B", "partner", partner_b
            ),
        }
        write_realm(realm_path(), list(people.values()), url)
        started["portal"].start(timeout=60)
        yield Portal(url, started, people, partner_a, partner_b, pending, deal_id)
    finally:
        for process in started.values():
            process.stop()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--lang=en-GB",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
