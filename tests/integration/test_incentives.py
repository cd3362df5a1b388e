"""Incentives over real Kafka and FerretDB: the worked example, in reverse order, exactly."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from services.incentives.store import (
    DEAL_PARTNERS,
    PARTNERS,
    IncentivesStore,
    decode_ledger,
    encode_ledger,
)
from shared import topics
from shared.infra import start_group_at_end
from shared.mongo import Document, make_mongo_client
from shared.outbox import decode_outbox
from shared.processes import ServiceProcess, httpx
from shared.settings import Settings
from tests.event_examples import CONTRACT, PROFILE, envelope
from tests.kafka_reading import collect, first_record
from tests.unit.test_incentives_store import a_ledger
from tests.worked_example import TOTALS, WorkedExample


def incentives(settings: Settings, unique: str, **env: str) -> ServiceProcess:
    return ServiceProcess(
        "incentives",
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "MONGODB_URL": settings.mongodb_url.get_secret_value(),
            "MONGODB_DATABASE": f"test_incentives_{unique}",
            "CONSUMER_GROUP": f"incentives-{unique}",
            **env,
        },
    )


async def from_now_on(settings: Settings, unique: str) -> None:
    """The test's consumer group skips whatever history the broker holds (see start_group_at_end)."""
    await start_group_at_end(settings, f"incentives-{unique}", topics.CONSUMED["incentives"])


@pytest.fixture
async def service(settings: Settings, unique: str) -> AsyncIterator[ServiceProcess]:
    await from_now_on(settings, unique)
    process = incentives(settings, unique).start()
    try:
        yield process
    finally:
        process.stop()


def latest_revisions(records: list[Any]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        data = json.loads(record.value)["data"]
        if data["deal_id"] not in latest or data["revision"] > latest[data["deal_id"]]["revision"]:
            latest[data["deal_id"]] = data
    return latest


def matches_expected(example: WorkedExample, records: list[Any]) -> bool:
    latest = latest_revisions(records)
    expected = example.expected_final()
    return set(latest) == set(expected) and all(
        latest[d]["status"] == row["status"]
        and all(
            Decimal(latest[d][k]) == Decimal(row[k])
            for k in ("base", "uplift", "commission", "target_bonus")
        )
        for d, row in expected.items()
    )


async def wait_for_worked_example(
    settings: Settings, example: WorkedExample, seconds: float = 90
) -> list[Any]:
    key = example.partner_id.encode()
    return await collect(
        settings,
        topics.INCENTIVES,
        lambda r: r.key == key,
        lambda found: matches_expected(example, found),
        seconds=seconds,
    )


async def publish(producer: AIOKafkaProducer, messages: list[Any]) -> None:
    for m in messages:
        await producer.send_and_wait(
            m.topic, m.value, key=m.key, headers=[("content-type", b"application/cloudevents+json")]
        )


async def test_worked_example_in_reverse_order(
    settings: Settings, producer: AIOKafkaProducer, service: ServiceProcess, unique: str
) -> None:
    example = WorkedExample(f"P-{unique}", unique)
    await publish(producer, list(reversed(example.messages())))
    records = await wait_for_worked_example(settings, example)

    latest = latest_revisions(records)
    for deal_id, row in example.expected_final().items():
        for field, value in row.items():
            actual = latest[deal_id][field]
            assert (actual == value) if field == "status" else Decimal(actual) == Decimal(value), (
                deal_id,
                field,
            )
    payouts = [Decimal(json.loads(r.value)["data"]["delta"]) for r in records]
    assert sum(payouts) == TOTALS["commission"] + TOTALS["bonus"], (
        "the deltas add up to the final totals"
    )
    ids = [json.loads(r.value)["id"] for r in records]
    revisions = {
        (json.loads(r.value)["data"]["deal_id"], json.loads(r.value)["data"]["revision"])
        for r in records
    }
    assert len(set(ids)) == len(revisions), "one CloudEvent id per (deal, revision)"

    statement = service.get(f"/partners/{example.partner_id}/commissions", period="2026-Q4").json()
    assert Decimal(statement["revenue"]) == TOTALS["revenue"]
    assert Decimal(statement["commission"]) == TOTALS["commission"]
    assert Decimal(statement["target_bonus"]) == TOTALS["bonus"]

    d3 = service.get(f"/commissions/{example.deal(3)}").json()
    assert d3["uplift_reasons"] == ["certified for cloud"]
    assert [tuple(Decimal(p[k]) for k in ("from", "amount", "rate")) for p in d3["portions"]] == [
        (Decimal(0), Decimal(20000), Decimal("0.10")),
        (Decimal(100000), Decimal(150000), Decimal("0.12")),
        (Decimal(250000), Decimal(30000), Decimal("0.15")),
    ]
    assert d3["revision"] == len(d3["history"]) >= 1

    registration = service.get(f"/registrations/R-4-{unique}").json()
    assert registration["status"] == "approved"
    decision = await first_record(
        settings,
        topics.DEALS,
        lambda r: r.key == example.partner_id.encode() and b"DealRegistrationApproved" in r.value,
    )
    assert json.loads(decision.value)["data"]["approved_at"] == "2026-11-15T00:00:00Z"

    simulation = service.post(
        "/simulations",
        {
            "plan": {
                **CONTRACT["commission_plan"],
                "brackets": [{"from": "0", "rate": "0.05"}],
                "target_amount": None,
            },
            "partner_ids": [example.partner_id],
            "period": "2026-Q4",
        },
    ).json()
    simulated = simulation["partners"][0]
    assert Decimal(simulated["actual"]["commission"]) == TOTALS["commission"]
    # 5 % of 290 000 plus the unchanged uplifts (4 000 certification, 100 registration).
    assert Decimal(simulated["simulated"]["commission"]) == Decimal("18600.00")


async def test_published_entries_leave_the_stored_ledger_and_its_state_is_compact(
    settings: Settings, producer: AIOKafkaProducer, service: ServiceProcess, unique: str
) -> None:
    """Published entries leave the document lazily (its next write, a while later, or at
    shutdown); the ledger's facts and revisions are one compressed field beside the
    queried ones."""
    example = WorkedExample(f"P-{unique}", unique)
    await publish(producer, example.messages())
    await wait_for_worked_example(settings, example)
    # SIGTERM: uvicorn exits by the signal after a graceful shutdown.
    assert service.stop() in (0, -signal.SIGTERM)
    client = make_mongo_client(settings)
    try:
        stored = await client[f"test_incentives_{unique}"][PARTNERS].find_one(
            {"_id": example.partner_id}
        )
        assert stored is not None
        assert stored["outbox"] == [], "published entries are removed from the document"
        assert decode_outbox(stored) == []
        assert set(stored) == {
            "_id",
            "version",
            "indexed",
            "state",
            "outbox",
            "outbox_events",
            "write_token",
        }
        assert stored["indexed"] is True
        assert decode_ledger(stored).book.results().keys() == example.expected_final().keys()
        index = client[f"test_incentives_{unique}"][DEAL_PARTNERS]
        assert {
            doc["_id"]: doc["partner_id"]
            async for doc in index.find({"partner_id": example.partner_id})
        } == dict.fromkeys(example.expected_final(), example.partner_id)
    finally:
        await client.close()


async def test_bad_input_is_dead_lettered_and_the_consumer_keeps_going(
    settings: Settings, producer: AIOKafkaProducer, service: ServiceProcess, unique: str
) -> None:
    partner = f"P-{unique}"
    bad_brackets = {
        **CONTRACT["commission_plan"],
        "brackets": [{"from": "0", "rate": "0.1"}, {"from": "0", "rate": "1.5"}],
    }
    poison = [
        (
            topics.PARTNERS,
            envelope(
                "PartnerSigned",
                {
                    "partner_id": partner,
                    **PROFILE,
                    "contract": {**CONTRACT, "commission_plan": bad_brackets},
                },
            ),
        ),
        (
            topics.DEALS,
            envelope(
                "DealClosed",
                {
                    "partner_id": partner,
                    "deal_id": f"NEG-{unique}",
                    "customer": "c",
                    "product_line": "x",
                    "amount": "-5",
                    "currency": "USD",
                    "closed_at": "2026-10-01T00:00:00Z",
                },
            ),
        ),
        (
            topics.DEALS,
            envelope(
                "DealClosed",
                {
                    "partner_id": partner,
                    "deal_id": f"CUR-{unique}",
                    "customer": "c",
                    "product_line": "x",
                    "amount": "5",
                    "currency": "ZZZ",
                    "closed_at": "2026-10-01T00:00:00Z",
                },
            ),
        ),
    ]
    for topic, event in poison:
        await producer.send_and_wait(topic, json.dumps(event).encode(), key=partner.encode())
    await producer.send_and_wait(topics.DEALS, b"\x00 not json", key=partner.encode())
    # A valid partner after the poison is still processed.
    example = WorkedExample(f"P-ok-{unique}", unique)
    await publish(producer, example.messages())
    await wait_for_worked_example(settings, example)

    group = f"incentives-{unique}"
    for topic, expected_reason in (
        (topics.PARTNERS, "invalid_data"),
        (topics.DEALS, "invalid_data"),
        (topics.DEALS, "not_json"),
    ):
        letter = await first_record(
            settings,
            topics.dead_letter_topic(topic),
            lambda r, reason=expected_reason: (
                r.key == partner.encode()
                and dict(r.headers).get("dlq-reason") == reason.encode()
                and dict(r.headers).get("dlq-service") == b"incentives"
            ),
        )
        assert dict(letter.headers)["dlq-original-topic"] == topic.encode()
    assert group  # the DLQ headers name the service, not the group
    assert service.get(f"/partners/{partner}/commissions").status_code == 404, (
        "nothing of the poison was stored"
    )


def assert_revisions_consistent(records: list[Any], example: WorkedExample) -> None:
    """Re-published revisions are the same event: de-duplicated on id, deltas add up exactly."""
    by_id: dict[str, dict[str, Any]] = {}
    ids_of: dict[tuple[str, int], set[str]] = {}
    for record in records:
        event = json.loads(record.value)
        by_id[event["id"]] = event["data"]
        ids_of.setdefault((event["data"]["deal_id"], event["data"]["revision"]), set()).add(
            event["id"]
        )
    assert all(len(ids) == 1 for ids in ids_of.values()), (
        "a (deal, revision) was published under two ids"
    )
    assert (
        sum(Decimal(d["delta"]) for d in by_id.values()) == TOTALS["commission"] + TOTALS["bonus"]
    )
    assert matches_expected(example, records)


@pytest.mark.parametrize(
    "failpoint",
    ["incentives_after_store", "incentives_after_publish", "incentives_before_commit"],
)
async def test_a_crash_at_any_step_loses_nothing_and_counts_nothing_twice(
    settings: Settings, producer: AIOKafkaProducer, unique: str, tmp_path: Any, failpoint: str
) -> None:
    env = {"PARTNERHUB_FAILPOINTS": failpoint, "PARTNERHUB_FAILPOINT_DIR": str(tmp_path)}
    process = incentives(settings, unique, **env)
    await from_now_on(settings, unique)
    example = WorkedExample(f"P-{unique}", unique)
    await publish(producer, example.messages())
    process.start(wait_ready=False)
    try:
        assert process.process is not None
        exit_code = process.process.wait(90)
        assert exit_code == 137, f"the failpoint did not fire:\n{process.tail()}"
        assert (tmp_path / failpoint).exists()
        process.start()
        records = await wait_for_worked_example(settings, example)
        assert_revisions_consistent(records, example)
    finally:
        process.stop()


async def test_two_replicas_give_exactly_the_results_of_one(
    settings: Settings, producer: AIOKafkaProducer, unique: str
) -> None:
    await from_now_on(settings, unique)
    first = incentives(settings, unique).start()
    second = incentives(settings, unique).start()
    try:
        examples = [WorkedExample(f"P-{n}-{unique}", f"{n}-{unique}") for n in range(8)]
        for example in examples:
            await publish(producer, list(reversed(example.messages())))
        for example in examples:
            records = await wait_for_worked_example(settings, example)
            assert_revisions_consistent(records, example)
        assert first.process is not None
        assert second.process is not None
        assert first.process.poll() is None
        assert second.process.poll() is None
    finally:
        first.stop()
        second.stop()


async def test_metrics_show_http_traffic_and_consumer_lag(
    service: ServiceProcess, producer: AIOKafkaProducer, unique: str
) -> None:
    assert service.get("/partners/P-none/commissions").status_code == 404
    await publish(producer, WorkedExample(f"P-{unique}", unique).messages()[:1])
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        text = httpx.get(f"{service.url}/metrics", timeout=5).text
        if (
            "partnerhub_consumer_lag_messages{" in text
            and "partnerhub_batch_processing_seconds_bucket" in text
        ) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(1)
    assert (
        'partnerhub_http_requests_total{method="GET",route="/partners/{partner_id}/commissions",service="incentives",status="404"} 1.0'
        in text
    )
    assert (
        'partnerhub_consumer_lag_messages{partition="0",service="incentives",topic="deals.v1"}'
        in text
    )
    assert "partnerhub_batch_processing_seconds_bucket" in text


async def test_a_deal_finds_its_ledger_by_the_index_and_in_earlier_layouts(
    database: AsyncDatabase[Document],
) -> None:
    store = IncentivesStore(database)
    ledger = a_ledger()  # publishes D-1 and D-2
    stored = encode_ledger(ledger, 1)
    del stored["indexed"]
    # The layout before deal_partners: a deal_ids array, nothing in the index.
    await database[PARTNERS].insert_one({**stored, "deal_ids": ["D-1", "D-2"]})

    found = await store.ledger_of_deal("D-1")
    assert found is not None, "found by the earlier deal_ids"
    assert (found.partner_id, found.indexed) == (ledger.partner_id, set())
    # Its next write indexes every deal it published, before the ledger says so.
    assert await store.save_ledgers([found]) == set()
    assert {d["_id"]: d["partner_id"] async for d in database[DEAL_PARTNERS].find({})} == {
        "D-1": ledger.partner_id,
        "D-2": ledger.partner_id,
    }
    rewritten = await database[PARTNERS].find_one({"_id": ledger.partner_id})
    assert rewritten is not None
    assert (rewritten["indexed"], "deal_ids" in rewritten) == (True, False)
    again = await store.ledger_of_deal("D-2")
    assert again is not None
    assert again.indexed == {"D-1", "D-2"}
    assert await store.index_deals([again]) == 0, "nothing new to index"
    again.indexed.clear()  # as if a batch were consumed again: the entries stay as they are
    assert await store.index_deals([again]) == 0
    assert await store.ledger_of_deal("D-none") is None
