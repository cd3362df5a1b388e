"""Portal page times (``make bench-portal``): how long people wait for their pages.

On the local ``bench`` infrastructure (its OIDC provider included):

1. incentives, reporting and enablement run as processes, with their own
   databases and consumer groups, and the portal in front of them;
2. ``--partners`` partners sign contracts and close ``--deals`` deals between them
   (events on Kafka, as the CRM sends them), and the benchmark waits until every
   service has processed them;
3. a channel manager and a partner user sign in through the provider's form;
4. ``--requests`` page loads of each kind, ``--concurrency`` at a time: a partner's
   dashboard and statement (random partners, as the manager; the partner user's
   own), the partner list, the partners at risk, the programme page. Each page is
   timed from request to the last byte of its HTML, and must answer 200.

Prints p50/p95/p99 per page and pages/s.

    python -m bench.portal [--partners 1000] [--deals 20000] [--requests 400] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
from aiokafka import AIOKafkaProducer

from bench.engine import bench_contract
from bench.pipeline import HEADERS, deal_message, format_ms, percentile, say
from demo.people import Person, sign_in, write_realm
from shared import events, topics
from shared.events import new_event
from shared.infra import start_group_at_end
from shared.lag import consumer_lag
from shared.messaging import kafka_client_options
from shared.settings import Settings
from tests.support.processes import ServiceProcess, free_port

BACKENDS = ("incentives", "reporting", "enablement")
PERIOD = "2026-Q4"


@contextmanager
def platform(settings: Settings, run: str, issuer: str, portal_url: str) -> Iterator[None]:
    """The three services the portal's pages read, and the portal, until the block ends."""
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "LOG_LEVEL": "WARNING",
        "OIDC_ISSUER": issuer,
    }
    started: dict[str, ServiceProcess] = {}
    try:
        for name in BACKENDS:
            env = {
                **common,
                "MONGODB_DATABASE": f"bench_{name}_{run}",
                "CONSUMER_GROUP": f"bench-{name}-{run}",
            }
            started[name] = ServiceProcess(name, env).start(timeout=120)
        urls = {f"{name.upper()}_URL": started[name].url for name in BACKENDS}
        port = int(portal_url.rsplit(":", 1)[1])
        started["portal"] = ServiceProcess(
            "portal",
            {
                **common,
                **urls,
                "PORTAL_URL": portal_url,
                "PORTAL_SESSION_SECRET": secrets.token_urlsafe(32),
            },
            port=port,
        ).start(timeout=60)
        yield
    finally:
        for process in started.values():
            process.stop()


async def caught_up(settings: Settings, run: str, seconds: float = 900) -> None:
    deadline = time.monotonic() + seconds
    while True:
        lags = {
            name: sum(
                (
                    await consumer_lag(settings, f"bench-{name}-{run}", topics.CONSUMED[name])
                ).values()
            )
            for name in BACKENDS
        }
        if all(lag == 0 for lag in lags.values()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the services did not catch up: {lags}")
        await asyncio.sleep(1)


async def load(settings: Settings, run: str, partners: list[str], deals: int) -> None:
    """Contracts for every partner, then the deals, as the CRM sends them."""
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all", linger_ms=5)
    await producer.start()
    try:
        for partner in partners:
            signed = new_event(
                events.PartnerSigned(
                    partner_id=partner,
                    name=f"Partner {partner[-4:]}",
                    partner_type="reseller",
                    region="EMEA",
                    industry="IT",
                    contract=bench_contract(f"{partner}-C"),
                ),
                source="/bench",
            )
            await producer.send(topics.PARTNERS, signed.to_bytes(), key=signed.key, headers=HEADERS)
        await producer.flush()
        start = datetime(2026, 10, 1, tzinfo=UTC)
        for n in range(deals):
            _, key, value = deal_message(
                run, partners[n % len(partners)], n, start + timedelta(minutes=n % 80_000)
            )
            await producer.send(topics.DEALS, value, key=key, headers=HEADERS)
        await producer.flush()
    finally:
        await producer.stop()


async def timed(
    client: httpx.AsyncClient, paths: list[str], concurrency: int
) -> tuple[list[float], float]:
    """Each path loaded once, ``concurrency`` at a time: the seconds each took, and the
    wall time of all."""
    queue = list(paths)
    seconds: list[float] = []

    async def worker() -> None:
        while queue:
            path = queue.pop()
            started = time.perf_counter()
            answer = await client.get(path)
            seconds.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:300]}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sorted(seconds), time.perf_counter() - began


async def measure(
    args: argparse.Namespace, portal_url: str, people: dict[str, Person], partners: list[str]
) -> list[tuple[str, list[float], float]]:
    pick = random.Random(7).choice
    rows = []
    async with (
        httpx.AsyncClient(base_url=portal_url, follow_redirects=True, timeout=60) as manager,
        httpx.AsyncClient(base_url=portal_url, follow_redirects=True, timeout=60) as partner,
    ):
        await sign_in(manager, portal_url, people["manager"].username, people["manager"].password)
        own = people["partner"].partner_id
        await sign_in(partner, portal_url, people["partner"].username, people["partner"].password)
        pages: list[tuple[str, httpx.AsyncClient, Callable[[], str]]] = [
            ("dashboard (manager, random partner)", manager, lambda: f"/partners/{pick(partners)}"),
            (
                "statement (manager, random partner)",
                manager,
                lambda: f"/partners/{pick(partners)}/statements/{PERIOD}",
            ),
            ("dashboard (partner user, own)", partner, lambda: f"/partners/{own}"),
            (
                "statement (partner user, own)",
                partner,
                lambda: f"/partners/{own}/statements/{PERIOD}",
            ),
            ("partners list (manager, page of 25)", manager, lambda: "/partners"),
            ("partners at risk (manager)", manager, lambda: "/partners/at-risk"),
            ("programme (manager)", manager, lambda: f"/?period={PERIOD}"),
        ]
        for label, client, path in pages:
            await timed(client, [path() for _ in range(min(20, args.requests))], 1)  # warm-up
            seconds, wall = await timed(
                client, [path() for _ in range(args.requests)], args.concurrency
            )
            rows.append((label, seconds, wall))
            say(f"  {label}: p95 {format_ms(percentile(seconds, 95))}")
    return rows


async def main_async(args: argparse.Namespace) -> None:
    settings = Settings()
    issuer = os.environ.get("PARTNERHUB_OIDC_ISSUER")
    if not issuer:
        raise SystemExit("no local OIDC provider: run through `make bench-portal`")
    run = uuid.uuid4().hex[:8]
    partners = [f"B-{run}-{p:04d}" for p in range(args.partners)]
    portal_url = f"http://127.0.0.1:{free_port()}"
    people = {
        "manager": Person(
            f"bench-manager-{run}",
            secrets.token_urlsafe(12),
            "Bench Manager",
            "channel_manager",
            "",
        ),
        "partner": Person(
            f"bench-partner-{run}",
            secrets.token_urlsafe(12),
            "Bench Partner",
            "partner",
            partners[0],
        ),
    }
    write_realm(
        Path(os.environ["PARTNERHUB_STATE"]) / "oidc" / "realm.json",
        list(people.values()),
        portal_url,
    )
    say(
        f"partnerhub portal benchmark on {os.cpu_count()} cores: {args.partners:,} partners, "
        f"{args.deals:,} deals, {args.requests} loads of each page, {args.concurrency} at a time"
    )
    for name in BACKENDS:
        await start_group_at_end(settings, f"bench-{name}-{run}", topics.CONSUMED[name])
    with platform(settings, run, issuer, portal_url):
        began = time.monotonic()
        await load(settings, run, partners, args.deals)
        await caught_up(settings, run)
        say(f"  data loaded and processed in {time.monotonic() - began:.0f} s")
        rows = await measure(args, portal_url, people, partners)
    say("")
    say("RESULTS (from request to the page's last byte)")
    for label, seconds, wall in rows:
        say(
            f"  {label:<40} p50 {format_ms(percentile(seconds, 50)):>8}  "
            f"p95 {format_ms(percentile(seconds, 95)):>8}  p99 {format_ms(percentile(seconds, 99)):>8}"
            f"  {len(seconds) / wall:6.1f} pages/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.portal", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=400, help="loads of each page")
    parser.add_argument("--concurrency", type=int, default=4, help="loads in flight at once")
    args = parser.parse_args()
    if args.partners < 1 or args.deals < 0 or args.requests < 1 or args.concurrency < 1:
        parser.error("--partners, --requests and --concurrency must be at least 1")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
