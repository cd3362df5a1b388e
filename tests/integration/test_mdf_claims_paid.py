"""MDF claims paid through a settlement, on real Kafka and FerretDB (docs/rules/enablement.md,
"Claims" and "Unclaimed funds"; docs/rules/settlement.md, "MDF claims").

A partner's request of 1 000.00 USD is approved; it claims 400.00 and 300.00. Enablement
is killed right after writing the approval of the first claim, before its event left the
outbox; restarted, it publishes the event, and the retried approval answers the first
answer. The second claim is approved in part (200.00). Incentives' settlement pays
600.00 as ``mdf_reimbursed`` once; the next one pays nothing. Then, as of the day after
the request's claims close, the release of unclaimed funds gives back exactly 400.00
(once, however often it runs), which enablement's budget and reporting's MDF position
show.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.enablement.awards import AwardSettling
from services.enablement.commands import EnablementCommands
from services.enablement.domain import MdfBudget, quarter_last_day, quarter_of
from services.enablement.store import EnablementStore
from shared import topics
from shared.failpoints import CRASH_EXIT_CODE
from shared.infra import start_group_at_end
from shared.messaging import make_broker
from shared.mongo import make_mongo_client
from shared.outbox import Outbox
from shared.settings import Settings
from tests.support.enablement import exactly, known_as, signed
from tests.support.events import send
from tests.support.eventually import eventually
from tests.support.http import api_keys
from tests.support.incentives import incentives
from tests.support.processes import ServiceProcess
from tests.support.services import drop_database, service_env

BUDGETS = "registered=0,silver=500,gold=1000,platinum=5000"
FAILPOINT = "enablement_claims_after_store"


class Run:
    """This test's processes and names."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.unique = uuid.uuid4().hex[:10]
        self.partner = f"P-claims-{self.unique}"
        self.partner_key = f"partner-key-{self.unique}"
        self.databases = [
            f"test_claims_enablement_{self.unique}",
            f"test_incentives_{self.unique}",
            f"test_claims_reporting_{self.unique}",
        ]
        self.enablement_env = service_env(
            settings,
            self.databases[0],
            f"enablement-{self.unique}",
            API_KEYS=api_keys(None, (self.partner_key, self.partner)),
            MDF_BUDGET_CURRENCY="USD",
            MDF_QUARTERLY_BUDGETS=BUDGETS,
            PARTNERHUB_FAILPOINT_DIR=str(tmp_path),
        )
        self.enablement = ServiceProcess("enablement", self.enablement_env)
        self.incentives = incentives(settings, self.unique)
        self.reporting = ServiceProcess(
            "reporting",
            service_env(settings, self.databases[2], f"reporting-{self.unique}"),
        )


@pytest.fixture
async def run(settings: Settings, tmp_path: Path) -> AsyncIterator[Run]:
    run = Run(settings, tmp_path)
    for name in ("enablement", "incentives", "reporting"):
        await start_group_at_end(settings, f"{name}-{run.unique}", topics.CONSUMED[name])
    try:
        run.enablement.start()
        run.incentives.start()
        run.reporting.start()
        yield run
    finally:
        for process in (run.enablement, run.incentives, run.reporting):
            process.stop()
        for database in run.databases:
            await drop_database(settings, database)


def digest(n: int) -> str:
    return hashlib.sha256(f"claims-paid-{n}-{uuid.uuid4()}".encode()).hexdigest()


def claim(amount: str) -> dict[str, Any]:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    proof = {"kind": "invoice", "url": "https://files.example.com/i.pdf", "sha256": digest(1)}
    return {"amount": amount, "activity_end": yesterday, "evidence": [proof]}


def next_quarter(quarter: str) -> str:
    return quarter_of(
        datetime.combine(quarter_last_day(quarter), datetime.min.time(), UTC) + timedelta(days=1)
    )


def ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def release_as_of(settings: Settings, database: str, day: date) -> list[dict[str, Any]]:
    """Enablement's release of unclaimed funds run in this process on ``day``, over the
    service's database and the real broker (the process's own clock is today's)."""
    client = make_mongo_client(settings)
    broker = make_broker(settings)
    await broker.connect()
    try:
        store = EnablementStore(client[database])
        publisher = Outbox(broker, "enablement", store.with_outbox)
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        commands = EnablementCommands(
            store,
            publisher,
            AwardSettling(store, publisher),
            MdfBudget.parse("USD", BUDGETS),
            clock=lambda: at,
        )
        released = await commands.release_unclaimed_funds()
        await publisher.publish_pending()
        return [r.model_dump() for r in released.released]
    finally:
        await broker.stop()
        await client.close()


async def test_claims_are_paid_once_through_a_crash_and_the_rest_is_released(
    settings: Settings, producer: AIOKafkaProducer, run: Run
) -> None:
    service, engine, reads = run.enablement, run.incentives, run.reporting
    await send(producer, topics.PARTNERS, signed(run.partner, "gold"))
    await known_as(service, run.partner, "active")
    asked = {"partner_id": run.partner, "campaign": "Roadshow", "amount": "1000.00"}
    request = ok(service.post("/mdf-requests", {**asked, "currency": "USD"}), 201)
    request_id = request["request_id"]
    assert ok(service.post(f"/mdf-requests/{request_id}/approve", None))["status"] == "approved"
    claims = f"/mdf-requests/{request_id}/claims"
    first = ok(service.post(claims, claim("400.00"), key=run.partner_key), 201)
    second = ok(service.post(claims, claim("300.00"), key=run.partner_key), 201)

    # Killed after writing the first claim's approval, before its event is published.
    service.stop()
    service.env = {**run.enablement_env, "PARTNERHUB_FAILPOINTS": FAILPOINT}
    service.start()
    retry = {"Idempotency-Key": f"approve-{run.unique}"}
    approve_first = f"{claims}/{first['claim_id']}/approve"
    with pytest.raises(httpx.TransportError):  # the process dies under the request
        service.post(approve_first, None, **retry)
    assert service.process is not None
    assert service.process.wait(30) == CRASH_EXIT_CODE, service.tail()
    service.start()
    again = ok(service.post(approve_first, None, **retry))
    assert (again["status"], again["approved_amount"]) == ("approved", "400.00")
    part = ok(service.post(f"{claims}/{second['claim_id']}/approve", {"approved_amount": "200"}))
    assert part["approved_amount"] == "200"
    approvals = await exactly(settings, run.partner, "MdfClaimApproved", 2)
    assert sorted(e["data"]["approved_amount"] for e in approvals.values()) == ["200", "400.00"]

    period = quarter_of(datetime.now(UTC))

    def payable() -> dict[str, Any]:
        answer = engine.post("/settlements", {"period": period, "dry_run": True})
        payouts = [p for p in ok(answer)["payouts"] if p["partner_id"] == run.partner]
        assert [p["mdf_reimbursed"] for p in payouts] == ["600.00"], payouts
        return payouts[0]

    await eventually(payable)
    settled = ok(engine.post("/settlements", {"period": period, "partner_ids": [run.partner]}), 201)
    (payout,) = settled["payouts"]
    assert (payout["amount_paid"], payout["mdf_reimbursed"]) == ("0.00", "600.00")
    assert sorted(payout["mdf_claims"]) == sorted([first["claim_id"], second["claim_id"]])
    for body in (
        {"period": period, "partner_ids": [run.partner], "rerun": True},
        {"period": next_quarter(period), "partner_ids": [run.partner]},
    ):
        later = ok(engine.post("/settlements", body))  # 200: nothing was settled
        assert later["payouts"] == [], ("the claims are paid once", body)
    await exactly(settings, run.partner, "MdfClaimApproved", 2)

    # The day after the request's claims close: 1 000.00 − 400.00 − 200.00 goes back.
    after = quarter_last_day(period) + timedelta(days=61)
    database = run.databases[0]
    released = await release_as_of(settings, database, after)
    assert [(r["request_id"], r["amount"]) for r in released] == [(request_id, "400.00")]
    assert await release_as_of(settings, database, after) == [], "released once"
    (event,) = (await exactly(settings, run.partner, "MdfFundsReleased", 1)).values()
    assert (event["data"]["amount"], event["data"]["quarter"]) == ("400.00", period)

    budget = ok(service.get("/mdf-requests", partner_id=run.partner, quarter=period))["budget"]
    assert (budget["approved"], budget["released"], budget["remaining"]) == (
        "1000.00",
        "400.00",
        "400.00",
    )
    assert ok(service.get(f"/mdf-requests/{request_id}"))["released"] == "400.00"

    def position() -> dict[str, Any]:
        answer = reads.get(f"/partners/{run.partner}/mdf")
        quarters = [q for q in ok(answer)["quarters"] if q["quarter"] == period]
        assert [(q["reimbursed"], q["released"]) for q in quarters] == [("600.00", "400.00")]
        return quarters[0]

    shown = await eventually(position)
    assert (shown["approved"], shown["claims_approved"]) == ("1000.00", "600.00")
