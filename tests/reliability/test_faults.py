"""The delivery guarantees of docs/rules/events.md under faults, shown on real Kafka and FerretDB.

One stream of mixed events (contracts, deals, corrections, cancellations,
certifications, terminations; ``FAULT_EVENTS``, 20 000 by default) goes to
incentives and reporting running as the processes they are. Every event is
sent twice, the copy later in the stream. Poison messages are mixed in (not
JSON, not a CloudEvent, an unknown type, invalid data, and payloads close to
the broker's message-size limit). While the stream runs, the test SIGKILLs
each consumer service several times and restarts it, stops each gracefully
once (SIGTERM: it must exit 0), restarts the Kafka broker, and restarts the
MongoDB-protocol server.

Afterwards every statement reporting serves must equal an independent
recomputation from the valid events sent (``demo/reference.py``), every
poison message must be in ``deals.v1.dlq`` once per consuming service, and
no service may have died on its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from demo.__main__ import compare
from demo.reference import expected_statements
from shared import topics
from shared.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, Payload, parse_event
from shared.infra import start_group_at_end
from shared.messaging import DLQ_ORIGINAL_OFFSET, DLQ_ORIGINAL_PARTITION, DLQ_SERVICE
from shared.mongo import make_mongo_client
from shared.settings import Settings
from tests.support.events import CONTRACT, PROFILE
from tests.support.infrastructure import require_local_infrastructure, start, stop
from tests.support.kafka import collect
from tests.support.processes import ServiceProcess, httpx
from tests.support.services import service_env

EVENTS = int(os.environ.get("FAULT_EVENTS", "20000"))
POISON = int(os.environ.get("FAULT_POISON", "1000"))
HEADERS = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
#: The local broker's message.max.bytes is Kafka's default, 1 048 588 bytes.
NEAR_MAX_BYTES = 1_000_000


@dataclass
class Stream:
    """What the test sends, in order, and what it expects."""

    run: str
    messages: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # topic, key, value
    valid: list[CloudEvent[Payload]] = field(default_factory=list)
    poison: int = 0


def _event(event_type: str, data: dict[str, Any], moment: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/tests/faults",
        "type": event_type,
        "time": moment.isoformat(),
        "subject": data["partner_id"],
        "datacontenttype": "application/json",
        "data": data,
    }


def build_stream(run: str, events: int, poison: int, seed: int = 7) -> Stream:
    """About ``events`` valid events over ``events // 100`` partners, and ``poison`` bad ones."""
    rng = random.Random(seed)
    stream = Stream(run)
    partners = [f"F-{run}-{n:03d}" for n in range(max(2, events // 100))]
    moment = datetime(2026, 12, 20, tzinfo=UTC)
    valid: list[tuple[str, dict[str, Any]]] = []

    def add(topic: str, event_type: str, data: dict[str, Any]) -> None:
        nonlocal moment
        moment += timedelta(seconds=1)
        valid.append((topic, _event(event_type, data, moment)))

    for partner in partners:
        add(
            topics.PARTNERS,
            "PartnerSigned",
            {
                "partner_id": partner,
                **PROFILE,
                "contract": {**CONTRACT, "contract_id": f"C-{partner}"},
            },
        )
    deals: list[tuple[str, str, datetime]] = []
    while len(valid) < events:
        partner = rng.choice(partners)
        roll = rng.random()
        if roll < 0.80 or not deals:
            deal_id = f"{partner}-D{len(deals)}"
            closed = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(
                days=rng.randrange(180), minutes=rng.randrange(1440)
            )
            deals.append((partner, deal_id, closed))
            add(topics.DEALS, "DealClosed", _deal(partner, deal_id, closed, rng))
        elif roll < 0.85:  # a correction of an earlier deal: a later version stands
            partner, deal_id, closed = rng.choice(deals)
            add(topics.DEALS, "DealClosed", _deal(partner, deal_id, closed, rng))
        elif roll < 0.93:
            partner, deal_id, closed = rng.choice(deals)
            add(
                topics.DEALS,
                "DealCancelled",
                {
                    "partner_id": partner,
                    "deal_id": deal_id,
                    "cancelled_at": (closed + timedelta(days=rng.randrange(1, 150))).isoformat(),
                    "reason": "customer withdrew",
                },
            )
        elif roll < 0.995:
            awarded = datetime(2026, 9, 1, tzinfo=UTC) + timedelta(days=rng.randrange(150))
            add(
                topics.ENABLEMENT,
                "CertificationAwarded",
                {
                    "partner_id": partner,
                    "learner_id": f"L-{rng.randrange(5)}",
                    "certification_id": "CERT-CLOUD",
                    "product_line": "cloud",
                    "awarded_at": awarded.isoformat(),
                    "expires_at": (awarded + timedelta(days=365)).isoformat(),
                },
            )
        else:
            add(
                topics.PARTNERS,
                "PartnerTerminated",
                {
                    "partner_id": partner,
                    "reason": "programme exit",
                    "effective_date": (
                        datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(90))
                    )
                    .date()
                    .isoformat(),
                },
            )

    stream.valid = [parse_event(json.dumps(event).encode()) for _, event in valid]
    messages = [
        (topic, event["subject"].encode(), json.dumps(event).encode()) for topic, event in valid
    ]
    # Every event twice: the copy somewhere later in the stream.
    doubled: list[tuple[str, bytes, bytes]] = []
    copies: list[tuple[int, tuple[str, bytes, bytes]]] = []
    for index, message in enumerate(messages):
        doubled.append(message)
        copies.append((index + rng.randrange(1, 2000), message))
        due = [c for c in copies if c[0] <= index]
        for c in due:
            doubled.append(c[1])
            copies.remove(c)
    doubled.extend(c[1] for c in copies)
    # Poison, spread evenly.
    bad = [_poison(run, n, rng.choice(partners)) for n in range(poison)]
    step = max(1, len(doubled) // (len(bad) + 1))
    for n, message in enumerate(bad):
        doubled.insert((n + 1) * step + n, message)
    stream.messages = doubled
    stream.poison = len(bad)
    return stream


def _deal(partner: str, deal_id: str, closed: datetime, rng: random.Random) -> dict[str, Any]:
    return {
        "partner_id": partner,
        "deal_id": deal_id,
        "customer": f"Customer {rng.randrange(50)}",
        "product_line": rng.choice(["cloud", "security"]),
        "amount": str(Decimal(rng.randrange(100_000, 6_000_000)) / 100),
        "currency": "USD",
        "closed_at": closed.isoformat(),
    }


def _poison(run: str, n: int, partner: str) -> tuple[str, bytes, bytes]:
    """Poison on deals.v1 (read by incentives and reporting); the run id is in every one."""
    key = partner.encode()
    kind = n % 5
    marker = f"poison-{run}-{n}"
    if kind == 0:
        return topics.DEALS, key, f"\xff not JSON {marker}".encode("latin-1")
    if kind == 1:
        return topics.DEALS, key, json.dumps({"hello": marker}).encode()
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    data = {
        "partner_id": partner,
        "deal_id": marker,
        "customer": "Initech",
        "product_line": "cloud",
        "amount": "-5.00",  # invalid: negative
        "currency": "USD",
        "closed_at": moment.isoformat(),
    }
    if kind == 2:
        event = _event("DealTeleported", data, moment)  # unknown type
    elif kind == 3 or n % 50 != 4:
        event = _event("DealClosed", data, moment)  # invalid data
    else:  # invalid data close to the broker's limit
        event = _event("DealClosed", {**data, "customer": "x" * NEAR_MAX_BYTES}, moment)
    return topics.DEALS, key, json.dumps(event).encode()


@dataclass
class Services:
    incentives: ServiceProcess
    reporting: ServiceProcess
    kills: Counter[str] = field(default_factory=Counter)
    terms: Counter[str] = field(default_factory=Counter)

    def kill_and_restart(self, name: str) -> None:
        process: ServiceProcess = getattr(self, name)
        process.kill()
        assert process.process is not None
        assert process.process.returncode == -9
        self.kills[name] += 1
        process.start(timeout=120)

    def terminate_and_restart(self, name: str) -> float:
        """SIGTERM mid-stream: the service finishes its batch, commits, and shuts down cleanly.

        uvicorn re-raises the signal once its shutdown is complete, so the
        exit status is "terminated by SIGTERM" either way; what shows the
        graceful path is the completed shutdown in the log, well before the
        30 s after which ServiceProcess.stop would SIGKILL.
        """
        process: ServiceProcess = getattr(self, name)
        began = time.monotonic()
        code = process.stop()
        took = time.monotonic() - began
        assert code in (0, -signal.SIGTERM), f"{name} exited {code} on SIGTERM"
        assert took < 25, f"{name} took {took:.0f} s to stop"
        assert "Application shutdown complete" in process.tail(50), process.tail(50)
        self.terms[name] += 1
        process.start(timeout=120)
        return took

    def alive(self) -> dict[str, bool]:
        return {
            name: p.process is not None and p.process.poll() is None
            for name, p in (("incentives", self.incentives), ("reporting", self.reporting))
        }


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    require_local_infrastructure(settings)
    run = uuid.uuid4().hex[:8]
    for name in ("incentives", "reporting"):  # only this test's events, not the history
        await start_group_at_end(settings, f"faults-{name}-{run}", topics.CONSUMED[name])
    made = {
        name: ServiceProcess(
            name,
            service_env(
                settings, f"test_faults_{name}_{run}", f"faults-{name}-{run}", LOG_LEVEL="INFO"
            ),
        ).start(timeout=120)
        for name in ("incentives", "reporting")
    }
    try:
        yield Services(made["incentives"], made["reporting"])
    finally:
        for process in made.values():
            process.stop()
        client = make_mongo_client(settings)
        for name in made:
            await client.drop_database(f"test_faults_{name}_{run}")
        await client.close()


async def send(settings: Settings, messages: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        linger_ms=5,
        max_request_size=2 * NEAR_MAX_BYTES,
    )
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(topic, value, key=key, headers=HEADERS)
        await producer.flush()
    finally:
        await producer.stop()


async def statements_match(
    reporting: ServiceProcess, expected: dict[tuple[str, str], Any], seconds: float
) -> dict[tuple[str, str], list[str]]:
    """Compare every expected statement with what reporting serves, until equal or timed out."""
    pending = dict(expected)
    problems: dict[tuple[str, str], list[str]] = {}
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(
        base_url=reporting.url,
        headers={"Authorization": f"Bearer {reporting.admin_key}"},
        timeout=30,
    ) as http:
        while pending and time.monotonic() < deadline:
            for key, statement in list(pending.items()):
                answer = await http.get(f"/partners/{key[0]}/statements/{key[1]}")
                found = (
                    compare(statement, answer.json())
                    if answer.status_code == 200
                    else [f"HTTP {answer.status_code}"]
                )
                if found:
                    problems[key] = found
                else:
                    problems.pop(key, None)
                    del pending[key]
            if pending:
                await asyncio.sleep(2)
    return problems


async def test_a_stream_through_kills_restarts_poison_and_duplicates_ends_exact(
    settings: Settings, services: Services
) -> None:
    stream = build_stream(uuid.uuid4().hex[:8], EVENTS, POISON)
    expected = expected_statements(stream.valid)
    chunks = [
        stream.messages[n * len(stream.messages) // 10 : (n + 1) * len(stream.messages) // 10]
        for n in range(10)
    ]
    restarts: Counter[str] = Counter()
    shutdowns: list[float] = []
    started = time.monotonic()
    rng = random.Random(3)
    for n, chunk in enumerate(chunks):
        await send(settings, chunk)
        await asyncio.sleep(rng.uniform(0.2, 2.0))  # a random moment in the processing
        if n in (1, 4, 8):
            services.kill_and_restart("incentives")
        if n in (2, 5, 8):
            services.kill_and_restart("reporting")
        if n == 3:
            stop("kafka")
            await asyncio.sleep(3)
            start("kafka")
            restarts["kafka"] += 1
        if n == 7:
            shutdowns = [
                services.terminate_and_restart(name) for name in ("incentives", "reporting")
            ]
        if n == 6:
            stop("ferretdb")
            await asyncio.sleep(3)
            start("ferretdb")
            restarts["ferretdb"] += 1

    problems = await statements_match(services.reporting, expected, seconds=600)
    elapsed = time.monotonic() - started

    poison_marker = f"poison-{stream.run}".encode()
    dead = await collect(
        settings,
        f"{topics.DEALS}.dlq",
        lambda r: poison_marker in r.value,
        lambda found: (
            len({_dlq_origin(r) for r in found if _dlq_service(r) == "incentives"}) >= stream.poison
            and len({_dlq_origin(r) for r in found if _dlq_service(r) == "reporting"})
            >= stream.poison
        ),
        seconds=120,
    )
    per_service = Counter(_dlq_service(r) for r in {_dlq_key(r): r for r in dead}.values())
    lines = sum(len(s.lines) for s in expected.values())
    print(
        f"\nfaults: {len(stream.valid)} valid events sent twice ({2 * len(stream.valid)} records) "
        f"and {stream.poison} poison, {len(expected)} statements / {lines} deal lines expected; "
        f"SIGKILLs {dict(services.kills)}, SIGTERMs {dict(services.terms)} (graceful exits in "
        f"{', '.join(f'{t:.1f}' for t in shutdowns)} s), restarts {dict(restarts)}; "
        f"{len(problems)} statements wrong or missing; dead letters per service "
        f"{dict(per_service)} ({len(dead)} records); {elapsed:.0f} s"
    )
    assert problems == {}, list(problems.items())[:5]
    assert per_service == {"incentives": stream.poison, "reporting": stream.poison}
    assert services.alive() == {"incentives": True, "reporting": True}


def _dlq_service(record: Any) -> str:
    return dict(record.headers).get(DLQ_SERVICE, b"").decode()


def _dlq_origin(record: Any) -> tuple[bytes, bytes]:
    headers = dict(record.headers)
    return headers.get(DLQ_ORIGINAL_PARTITION, b""), headers.get(DLQ_ORIGINAL_OFFSET, b"")


def _dlq_key(record: Any) -> tuple[str, tuple[bytes, bytes]]:
    return _dlq_service(record), _dlq_origin(record)
