"""Reporting over real Kafka and FerretDB: SPEC §5's worked example, as reporting serves it.

CommissionCalculated revisions are published by a plain Kafka client (as
incentives would), shuffled and duplicated, with the partner and enablement
events around them. The worked example's partner and deals get ids of their
own each run: an incentives service of another test reading the same broker
would otherwise publish its own revisions of these deals. The leaderboard's
partners (no deals, so no incentives revisions) keep fixed ids and event ids:
a second run publishes the same events again, which changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

import services.reporting.projection as projection
from services.reporting.domain import deal_key, partner_settlements, revision_key, revision_text
from services.reporting.handlers import project_into
from services.reporting.projection import partner_terms, writes_for
from services.reporting.store import (
    LINES_CACHE_REVISIONS,
    Generation,
    configure_lines_cache,
    decode_lines,
    decode_terms,
    encode_lines,
)
from shared import topics
from shared.events import parse_event
from shared.infra import start_group_at_end
from shared.lag import consumer_lag
from shared.mongo import Document, make_mongo_client
from shared.processes import ROOT, ServiceProcess
from shared.settings import Settings
from tests.event_examples import CONTRACT, PROFILE, envelope

RUN = uuid.uuid4().hex[:8]
P = f"P-100-{RUN}"
D1, D2, D3, D4 = (f"D-{n}-{RUN}" for n in range(1, 5))
PERIOD = "2026-Q4"
CLOSED = {D1: "2026-10-05", D2: "2026-10-20", D3: "2026-11-10", D4: "2026-12-01"}
AMOUNT = {D1: "80000.00", D2: "50000.00", D3: "200000.00", D4: "10000.00"}

# (deal, revision, status, base, uplift, commission, target_bonus, delta): what incentives
# publishes for the worked example in its natural order, then after D-2's cancellation.
REVISIONS = [
    (D1, 1, "commissionable", "8000.00", "0.00", "8000.00", "0", "8000.00"),
    (D2, 1, "commissionable", "5600.00", "0.00", "5600.00", "0", "5600.00"),
    (D3, 1, "commissionable", "26400.00", "4000.00", "30400.00", "5000", "35400.00"),
    (D4, 1, "commissionable", "1500.00", "100.00", "1600.00", "0", "1600.00"),
    (D2, 2, "clawed_back", "0", "0", "0", "0", "-5600.00"),
    (D3, 2, "commissionable", "24500.00", "4000.00", "28500.00", "0", "-6900.00"),
]

EXPECTED_STATEMENT = {
    "partner_id": P,
    "period": PERIOD,
    "currency": "USD",
    "lines": [
        {
            "deal_id": D1,
            "closed_at": "2026-10-05T12:00:00.000000Z",
            "amount": "80000.00",
            "status": "commissionable",
            "base": "8000.00",
            "uplift": "0.00",
            "commission": "8000.00",
            "target_bonus": "0.00",
            "revision": 1,
        },
        {
            "deal_id": D2,
            "closed_at": "2026-10-20T12:00:00.000000Z",
            "amount": "50000.00",
            "status": "clawed_back",
            "base": "0.00",
            "uplift": "0.00",
            "commission": "0.00",
            "target_bonus": "0.00",
            "revision": 2,
        },
        {
            "deal_id": D3,
            "closed_at": "2026-11-10T12:00:00.000000Z",
            "amount": "200000.00",
            "status": "commissionable",
            "base": "24500.00",
            "uplift": "4000.00",
            "commission": "28500.00",
            "target_bonus": "0.00",
            "revision": 2,
        },
        {
            "deal_id": D4,
            "closed_at": "2026-12-01T12:00:00.000000Z",
            "amount": "10000.00",
            "status": "commissionable",
            "base": "1500.00",
            "uplift": "100.00",
            "commission": "1600.00",
            "target_bonus": "0.00",
            "revision": 1,
        },
    ],
    "revenue": "290000.00",
    "commission_total": "38100.00",
    "bonus_total": "0.00",
    "payout_total": "38100.00",
    "target": "300000.00",
    "attainment": "0.9667",
    "settled": False,
    "paid": "0.00",
    "pending_adjustment": "0.00",
}

# A period only this test writes, for an exact leaderboard.
BOARD_PERIOD = "2019-Q2"
BOARD = {"P-400": "120000.00", "P-200": "250000.00", "P-300": "90000.50"}


def _calculated(
    partner: str,
    deal: str,
    revision: int,
    period: str,
    amount: str,
    status: str,
    base: str,
    uplift: str,
    commission: str,
    bonus: str,
    delta: str,
    closed: str,
) -> dict[str, Any]:
    return envelope(
        "CommissionCalculated",
        {
            "partner_id": partner,
            "deal_id": deal,
            "period": period,
            "currency": "USD",
            "amount": amount,
            "status": status,
            "base": base,
            "uplift": uplift,
            "commission": commission,
            "target_bonus": bonus,
            "delta": delta,
            "revision": revision,
            "closed_at": f"{closed}T12:00:00Z",
        },
        id=f"reporting-test/{partner}/{deal}/{revision}",
    )


def events() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = [
        (
            topics.PARTNERS,
            envelope(
                "PartnerSigned",
                {"partner_id": P, **PROFILE, "contract": CONTRACT},
                id=f"reporting-test/{P}/signed",
            ),
        ),
        (
            topics.ENABLEMENT,
            envelope(
                "TrainingCompleted",
                {
                    "partner_id": P,
                    "learner_id": "L-1",
                    "course_id": "CLOUD-101",
                    "completed_at": "2026-10-20T15:00:00Z",
                    "score": 88,
                },
                id=f"reporting-test/{P}/t1",
            ),
        ),
        (
            topics.ENABLEMENT,
            envelope(
                "TrainingCompleted",
                {
                    "partner_id": P,
                    "learner_id": "L-1",
                    "course_id": "CLOUD-201",
                    "completed_at": "2026-10-28T15:00:00Z",
                    "score": 91,
                },
                id=f"reporting-test/{P}/t2",
            ),
        ),
        (
            topics.ENABLEMENT,
            envelope(
                "CertificationAwarded",
                {
                    "partner_id": P,
                    "learner_id": "L-1",
                    "certification_id": "CERT-CLOUD",
                    "product_line": "cloud",
                    "awarded_at": "2026-11-01T00:00:00Z",
                    "expires_at": "2027-11-01T00:00:00Z",
                },
                id=f"reporting-test/{P}/cert",
            ),
        ),
        (
            topics.ENABLEMENT,
            envelope(
                "PartnerFeedbackSubmitted",
                {
                    "partner_id": P,
                    "feedback_id": f"reporting-test-F1-{RUN}",
                    "rating": 4,
                    "topic": "training",
                    "text": "",
                    "submitted_at": "2026-11-03T10:00:00Z",
                },
                id=f"reporting-test/{P}/f1",
            ),
        ),
        (
            topics.DEALS,
            envelope(
                "DealClosed",
                {
                    "partner_id": P,
                    "deal_id": D4,
                    "customer": "Globex",
                    "product_line": "security",
                    "amount": "10000.00",
                    "currency": "USD",
                    "closed_at": "2026-12-01T12:00:00Z",
                },
                id=f"reporting-test/{P}/d4",
            ),
        ),
    ]
    for deal, revision, status, base, uplift, commission, bonus, delta in REVISIONS:
        out.append(
            (
                topics.INCENTIVES,
                _calculated(
                    P,
                    deal,
                    revision,
                    PERIOD,
                    AMOUNT[deal],
                    status,
                    base,
                    uplift,
                    commission,
                    bonus,
                    delta,
                    CLOSED[deal],
                ),
            )
        )
    for partner, revenue in BOARD.items():
        out.append(
            (
                topics.INCENTIVES,
                _calculated(
                    partner,
                    f"{partner}-Q2-2019",
                    1,
                    BOARD_PERIOD,
                    revenue,
                    "commissionable",
                    "0.00",
                    "0.00",
                    "0.00",
                    "0",
                    "0.00",
                    "2019-05-01",
                ),
            )
        )
        out.append(
            (
                topics.PARTNERS,
                envelope(
                    "PartnerSigned",
                    {
                        "partner_id": partner,
                        **PROFILE,
                        "name": f"Partner {partner}",
                        "contract": {**CONTRACT, "contract_id": f"C-{partner}"},
                    },
                    id=f"reporting-test/{partner}/signed",
                ),
            )
        )
    return out


def reporting_process(settings: Settings, unique: str) -> ServiceProcess:
    return ServiceProcess(
        "reporting",
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "MONGODB_URL": settings.mongodb_url.get_secret_value(),
            "MONGODB_DATABASE": f"test_reporting_{unique}",
            "CONSUMER_GROUP": f"reporting-{unique}",
        },
    )


@pytest.fixture
def reporting(settings: Settings, unique: str) -> Iterator[ServiceProcess]:
    """A reporting service reading every topic from the beginning (the whole history)."""
    process = reporting_process(settings, unique).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def reporting_from_now(settings: Settings, unique: str) -> AsyncIterator[ServiceProcess]:
    """A reporting service that skips the topics' history: it sees this test's events only."""
    await start_group_at_end(settings, f"reporting-{unique}", topics.CONSUMED["reporting"])
    process = reporting_process(settings, unique).start()
    try:
        yield process
    finally:
        process.stop()


async def publish_shuffled(producer: AIOKafkaProducer) -> None:
    items = events()
    rng = random.Random(11)
    shuffled = rng.sample(items, len(items)) + rng.sample(items, 6)  # and a few duplicates
    for topic, event in shuffled:
        await producer.send(topic, json.dumps(event).encode(), key=event["subject"].encode())
    await producer.flush()


async def eventually(check: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_statement_and_leaderboard_are_exact(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    reporting = reporting_from_now
    await publish_shuffled(producer)

    def statement_matches() -> None:
        response = reporting.get(f"/partners/{P}/statements/{PERIOD}")
        assert response.status_code == 200, response.text
        assert response.json() == EXPECTED_STATEMENT

    await eventually(statement_matches)

    def board_matches() -> None:
        board = reporting.get("/leaderboard", period=BOARD_PERIOD, by="revenue", limit=10).json()
        assert board["entries"] == [
            {
                "rank": 1,
                "partner_id": "P-200",
                "name": "Partner P-200",
                "value": "250000.00",
                "currency": "USD",
            },
            {
                "rank": 2,
                "partner_id": "P-400",
                "name": "Partner P-400",
                "value": "120000.00",
                "currency": "USD",
            },
            {
                "rank": 3,
                "partner_id": "P-300",
                "name": "Partner P-300",
                "value": "90000.50",
                "currency": "USD",
            },
        ]

    await eventually(board_matches)
    quarter = reporting.get("/leaderboard", period=PERIOD, by="commission", limit=1000).json()
    ours = next(e for e in quarter["entries"] if e["partner_id"] == P)
    assert ours["value"] == "38100.00"
    assert [e["rank"] for e in quarter["entries"]] == list(range(1, len(quarter["entries"]) + 1))
    values = [float(e["value"]) for e in quarter["entries"]]
    assert values == sorted(values, reverse=True)

    partner = reporting.get(f"/partners/{P}").json()
    assert partner["status"] == "active"
    assert partner["tier"] == "gold"
    assert partner["contract"]["contract_id"] == CONTRACT["contract_id"]
    assert partner["trainings_completed"] == 2
    # The deals its totals count: the worked example's four lines (its revenue_total
    # too), although this test publishes only D-4's DealClosed.
    assert partner["deals_closed"] == 4
    assert [c["certification_id"] for c in partner["certifications"]] == ["CERT-CLOUD"]
    assert (partner["revenue_total"], partner["commission_total"], partner["bonus_total"]) == (
        "290000.00",  # the worked example's quarter (the leaderboard's partners are others)
        "38100.00",
        "0.00",
    )
    health = reporting.get(f"/partners/{P}/health", as_of="2026-12-16T00:00:00Z").json()
    assert health["period"] == PERIOD
    assert health["factors"]["attainment"]["value"] == "0.9667"
    assert health["factors"]["activity"]["days_since_last_deal"] == 14
    assert health["factors"]["certifications"]["valid"] == 1
    assert health["factors"]["feedback"]["average_rating"] == "4.00"
    # 40 × 0.9667 + 25 × (1 − 14/90) + 10 + 15 × 3/4 = 38.668 + 21.111 + 10 + 11.25
    assert health["score"] == "81.0"
    assert health["at_risk"] is False

    summary = reporting.get("/programme/summary", period=PERIOD).json()
    assert summary["partners"]["by_status"]["active"] >= 3
    assert summary["training_completions"] >= 2
    assert float(summary["revenue"]["USD"]) >= 290000

    page = reporting.get("/partners", status="active", limit=2).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    following = reporting.get(
        "/partners", status="active", limit=2, cursor=page["next_cursor"]
    ).json()
    assert {i["partner_id"] for i in page["items"]}.isdisjoint(
        {i["partner_id"] for i in following["items"]}
    )

    assert reporting.get(f"/partners/{P}/statements/2026-Q5").status_code == 422
    assert reporting.get("/partners/P-nobody").status_code == 404


async def test_activity_is_the_last_deal_closed_by_then_and_not_cancelled(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    """Health's activity factor and partner 360's deal count, read without a query of all
    deals: the last deal comes from the partner's lines, checked against its deal."""
    partner = f"P-activity-{RUN}"
    early, late = (f"D-activity-{n}-{RUN}" for n in ("early", "late"))
    closed = {early: "2026-11-01", late: "2026-12-01"}
    sent = [
        (
            topics.PARTNERS,
            envelope("PartnerSigned", {"partner_id": partner, **PROFILE, "contract": CONTRACT}),
        ),
        *(
            (
                topics.DEALS,
                envelope(
                    "DealClosed",
                    {
                        "partner_id": partner,
                        "deal_id": deal,
                        "customer": "Initech",
                        "product_line": "cloud",
                        "amount": "1000.00",
                        "currency": "USD",
                        "closed_at": f"{day}T12:00:00Z",
                    },
                ),
            )
            for deal, day in closed.items()
        ),
        (
            topics.DEALS,
            envelope(
                "DealCancelled",
                {
                    "partner_id": partner,
                    "deal_id": late,
                    "cancelled_at": "2026-12-05T00:00:00Z",
                    "reason": "customer withdrew",
                },
            ),
        ),
        # What incentives publishes for them.
        *(
            (
                topics.INCENTIVES,
                _calculated(
                    partner, deal, 1, PERIOD, "1000.00", status, "0.00", "0.00", "0.00", "0.00",
                    "0.00", closed[deal],
                ),
            )
            for deal, status in ((early, "commissionable"), (late, "clawed_back"))
        ),
    ]  # fmt: skip
    for topic, event in sent:
        await producer.send(topic, json.dumps(event).encode(), key=partner.encode())
    await producer.flush()

    def activity(as_of: str) -> Any:
        answer = reporting_from_now.get(f"/partners/{partner}/health", as_of=as_of)
        assert answer.status_code == 200, answer.text
        return answer.json()["factors"]["activity"]["days_since_last_deal"]

    def counted() -> None:
        assert reporting_from_now.get(f"/partners/{partner}").json()["deals_closed"] == 2
        # The late deal is cancelled: the early one is the last, 45 days before.
        assert activity("2026-12-16T12:00:00Z") == 45

    await eventually(counted)
    assert activity("2026-11-15T12:00:00Z") == 14  # the late deal had not closed yet
    assert activity("2026-10-15T12:00:00Z") is None  # nor the early one


async def test_payouts_stored_before_partner_payouts_existed_are_copied_once(
    database: AsyncDatabase[Document],
) -> None:
    """A generation written by an earlier version has ``payouts`` only: its statements read
    ``partner_payouts`` once the start-up backfill has copied them there."""
    generation = Generation(database, "g1")

    def payout(settlement_id: str, partner_id: str, settled_at: str) -> dict[str, Any]:
        return {
            "settlement_id": settlement_id,
            "partner_id": partner_id,
            "period": "2026-Q4",
            "currency": "USD",
            "amount_paid": "100.00",
            "period_amount": "100.00",
            "carried_adjustments": [{"period": "2026-Q3", "amount": "-5.00"}],
            "settled_at": settled_at,
            "rerun": False,
        }

    later = payout("S.2027-01", "P-1", "2027-01-05T00:00:00.000000Z")  # a dot: escaped
    earlier = payout("S.2026-10", "P-1", "2026-10-05T00:00:00.000000Z")
    other = payout("S.2026-10", "P-2", "2026-10-05T00:00:00.000000Z")
    await generation["payouts"].insert_many(
        [{"_id": f"{p['settlement_id']}|{p['partner_id']}", **p} for p in (later, earlier, other)]
    )
    assert await generation.backfill_partner_payouts() == 3
    stored = await generation["partner_payouts"].find_one({"_id": "P-1"})
    assert partner_settlements(stored) == [
        {**earlier, "unrecovered": []},
        {**later, "unrecovered": []},
    ]
    assert await generation.backfill_partner_payouts() == 0, "once per generation"


async def test_rebuild_gives_the_same_read_models_without_downtime(
    settings: Settings, producer: AIOKafkaProducer, reporting: ServiceProcess, unique: str
) -> None:
    await publish_shuffled(producer)

    def statement_matches() -> None:
        assert reporting.get(f"/partners/{P}/statements/{PERIOD}").json() == EXPECTED_STATEMENT

    await eventually(statement_matches)
    # The old generation stops receiving writes at the switch: let the live service
    # catch up with every topic first (it may be replaying other tests' history),
    # so that the generation kept for comparison is complete.
    group = reporting.env["CONSUMER_GROUP"]
    deadline = time.monotonic() + 300
    while sum((await consumer_lag(settings, group, topics.CONSUMED["reporting"])).values()) > 0:
        assert time.monotonic() < deadline, "the live reporting service did not catch up"
        await asyncio.sleep(1)
    env = {**os.environ, **reporting.env}
    rebuild = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.reporting",
        "rebuild",
        "--keep-old",
        "--settle",
        "1",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []

    async def read_output() -> None:
        assert rebuild.stdout is not None
        async for line in rebuild.stdout:
            lines.append(line.decode())

    reader = asyncio.create_task(read_output())
    # The read API keeps answering, with the same numbers, while the rebuild runs.
    while rebuild.returncode is None:
        served = reporting.get(f"/partners/{P}/statements/{PERIOD}").json()
        assert served == EXPECTED_STATEMENT, "".join(lines)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rebuild.wait(), 0.2)
    await reader
    output = "".join(lines)
    assert rebuild.returncode == 0, output
    assert "switched readers to generation g2" in output
    assert "replayed" in output

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url.get_secret_value()
    )
    try:
        database = client[f"test_reporting_{unique}"]

        async def generations_equal() -> None:
            old, new = (
                await Generation(database, "g1").snapshot(),
                await Generation(database, "g2").snapshot(),
            )
            for collection in old:
                assert new[collection] == old[collection], collection

        deadline = time.monotonic() + 30
        while True:
            try:
                await generations_equal()
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
    finally:
        await client.close()
    statement_matches()


def _batch(*raw: dict[str, Any]) -> Any:
    """The writes of a batch of these events, as the consumer makes them."""
    return writes_for(parse_event(json.dumps(event)) for event in raw)


def _commissionable(partner: str, deal: str, amount: str, commission: str) -> dict[str, Any]:
    """Revision 1 of a commissionable deal of PERIOD, its commission all base."""
    return _calculated(
        partner,
        deal,
        1,
        PERIOD,
        amount,
        "commissionable",
        commission,
        "0.00",
        commission,
        "0",
        commission,
        "2026-10-05",
    )


class Finds(monitoring.CommandListener):
    """The collections ``find`` commands read, in order."""

    def __init__(self) -> None:
        self.collections: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.collections.append(event.command["find"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_period_totals_take_the_terms_the_lines_carry_and_keep_them_current(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    """A batch of commissions reads no partner document: the partner's ``terms`` (name
    and contracts) travel in its lines document. They are written with the first
    commission, follow every lifecycle change, and a lines document written before
    they were kept there gets them at its next batch."""
    generation = Generation(database, "g1")
    partner = "P-terms"

    async def stored_terms() -> Any:
        doc = await generation["lines"].find_one({"_id": partner})
        return None if doc is None or "terms" not in doc else decode_terms(doc["terms"])

    async def totals() -> tuple[Any, ...]:
        doc = await generation["period_totals"].find_one({"_id": f"{partner}|{PERIOD}"})
        assert doc is not None
        return doc["name"], doc["target"], doc["revenue"], doc["deals"]

    signed = envelope("PartnerSigned", {"partner_id": partner, **PROFILE, "contract": CONTRACT})
    await project_into(generation, _batch(signed))
    assert await generation["lines"].find_one({"_id": partner}) is None, "no commission yet"
    profile = await generation["partners"].find_one({"_id": partner})
    assert profile is not None
    assert profile["view"]["name"] == PROFILE["name"]

    await project_into(generation, _batch(_commissionable(partner, "D-T1", "80000.00", "8000.00")))
    assert await stored_terms() == partner_terms(profile)
    assert await totals() == (PROFILE["name"], "300000.00", "80000.00", 1)

    # A new name (a renewal): the terms in the lines, and the totals, follow.
    renewed = envelope(
        "ContractRenewed",
        {
            "partner_id": partner,
            **PROFILE,
            "name": "Acme Renamed",
            "contract": {
                **CONTRACT,
                "contract_id": "C-T2",
                "start_date": "2027-10-01",
                "end_date": "2028-09-30",
            },
        },
        time="2026-11-30T10:00:00Z",
    )
    await project_into(generation, _batch(renewed))
    profile = await generation["partners"].find_one({"_id": partner})
    assert profile is not None
    assert await stored_terms() == partner_terms(profile)
    assert [c["contract_id"] for c in (await stored_terms())["contracts"]] == [
        CONTRACT["contract_id"],
        "C-T2",
    ]
    assert await totals() == ("Acme Renamed", "300000.00", "80000.00", 1)

    # A batch of commissions reads no partner document: only its lines' version and, after
    # the write, its write token.
    finds = Finds()
    watched = make_mongo_client(settings, event_listeners=[finds])
    try:
        await project_into(
            Generation(watched[database.name], "g1"),
            _batch(_commissionable(partner, "D-T3", "1000.00", "100.00")),
        )
    finally:
        await watched.close()
    # (On FerretDB the version is read before the write; MongoDB checks it in the write.)
    assert finds.collections in (["g1_lines", "g1_lines"], ["g1_lines"]), finds.collections
    assert await totals() == ("Acme Renamed", "300000.00", "81000.00", 2)

    # As written before terms moved into the lines (and not in this process's memory).
    await generation["lines"].update_one({"_id": partner}, {"$unset": {"terms": ""}})
    configure_lines_cache(LINES_CACHE_REVISIONS)
    await project_into(generation, _batch(_commissionable(partner, "D-T2", "20000.00", "2000.00")))
    assert await stored_terms() == partner_terms(profile), "written again from the partner"
    assert await totals() == ("Acme Renamed", "300000.00", "101000.00", 3)


async def test_totals_come_only_from_lines_read_or_written_in_the_batch(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that changes nothing for a partner leaves its totals alone: the lines this
    process holds may be older than another writer's. A batch that failed after writing
    its lines recomputes the totals when it is delivered again."""
    generation = Generation(database, "g1")
    partner = "P-fresh"

    async def totals() -> tuple[Any, ...]:
        doc = await generation["period_totals"].find_one({"_id": f"{partner}|{PERIOD}"})
        assert doc is not None
        return doc["revenue"], doc["deals"]

    signed = envelope("PartnerSigned", {"partner_id": partner, **PROFILE, "contract": CONTRACT})
    first = _commissionable(partner, "D-F1", "80000.00", "8000.00")
    await project_into(generation, _batch(signed))
    await project_into(generation, _batch(first))
    assert await totals() == ("80000.00", 1)

    # Another writer (a replica overlapping this one) adds a deal, then its totals.
    stored = await generation["lines"].find_one({"_id": partner})
    assert stored is not None
    other = decode_lines(stored)
    data = _commissionable(partner, "D-F2", "20000.00", "2000.00")["data"]
    fields = {k: data[k] for k in ("deal_id", "period", "currency", "amount", "status")}
    fields |= {k: data[k] for k in ("base", "uplift", "commission", "target_bonus")}
    fields["closed_at"] = "2026-10-05T12:00:00.000000Z"
    other.add([(deal_key("D-F2"), revision_key(1), revision_text(fields))])
    await generation["lines"].replace_one({"_id": partner}, encode_lines(other, other.version + 1))
    await generation["period_totals"].update_one(
        {"_id": f"{partner}|{PERIOD}"}, {"$set": {"revenue": "100000.00", "deals": 2}}
    )

    # D-F1's revision delivered again: nothing changes here, and the totals stand.
    await project_into(generation, _batch(first))
    assert await totals() == ("100000.00", 2)
    # The next change finds the newer version, reads it again and adds to it.
    await project_into(generation, _batch(_commissionable(partner, "D-F3", "5000.00", "500.00")))
    assert await totals() == ("105000.00", 3)

    # The totals' write fails once, after the lines were written; delivered again, the
    # batch changes no lines but recomputes the totals.
    real = projection.bulk_write_chunked
    failures = []

    async def failing_once(collection: Any, operations: Any) -> None:
        if collection.name.endswith("period_totals") and not failures:
            failures.append(collection.name)
            raise RuntimeError("the server went away")
        await real(collection, operations)

    monkeypatch.setattr(projection, "bulk_write_chunked", failing_once)
    with pytest.raises(RuntimeError, match="went away"):
        await project_into(
            generation, _batch(_commissionable(partner, "D-F4", "1000.00", "100.00"))
        )
    assert await totals() == ("105000.00", 3)
    await project_into(generation, _batch(_commissionable(partner, "D-F4", "1000.00", "100.00")))
    assert failures == ["g1_period_totals"]
    assert await totals() == ("106000.00", 4)
