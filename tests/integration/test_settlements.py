"""Settlements over real Kafka and FerretDB: the worked example paid, clawed back, carried forward.

Incentives and reporting run as the processes they are. Two partners live
through the worked example of docs/rules/commissions.md, settled as
docs/rules/settlement.md says. Both are settled for 2026-Q4 before D-2 is
cancelled (45 600.00 + 5 000.00 = 50 600.00 each); then D-2 is cancelled and
the quarter drops to 38 100.00 + 0.00. Partner A also closes a 200 000.00
cloud deal in 2027-Q1 (26 000.00), so its 2027-Q1 settlement nets the
−12 500.00 in full: 13 500.00. Partner B earns nothing in 2027-Q1, so its
2027-Q1 settlement pays 0.00 and the −12 500.00 stays pending.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared import topics
from shared.infra import start_group_at_end
from shared.mongo import make_mongo_client
from shared.settings import Settings
from tests.support.events import DATA, envelope, send
from tests.support.eventually import eventually
from tests.support.incentives import incentives
from tests.support.kafka import collect
from tests.support.processes import ServiceProcess
from tests.support.services import service_env
from tests.support.worked_example import WorkedExample, publish


def reporting_process(settings: Settings, unique: str) -> ServiceProcess:
    return ServiceProcess(
        "reporting",
        service_env(settings, f"test_settlement_reporting_{unique}", f"reporting-{unique}"),
    )


@pytest.fixture
async def services(
    settings: Settings, unique: str
) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    # Both see this test's events only, whatever history the broker holds.
    for name in ("incentives", "reporting"):
        await start_group_at_end(settings, f"{name}-{unique}", topics.CONSUMED[name])
    engine = incentives(
        settings, unique, API_KEYS="test-admin-key=admin,test-partner-key=partner:P-x"
    ).start()
    try:
        reads = reporting_process(settings, unique).start()
        try:
            yield engine, reads
        finally:
            reads.stop()
    finally:
        engine.stop()
        client = make_mongo_client(settings)
        for name in (f"test_incentives_{unique}", f"test_settlement_reporting_{unique}"):
            await client.drop_database(name)
        await client.close()


def quarter(engine: ServiceProcess, partner_id: str, period: str) -> tuple[str, str]:
    answer = engine.get(f"/partners/{partner_id}/commissions", period=period)
    assert answer.status_code == 200, answer.text  # 404 until the partner's events are in
    body = answer.json()
    return body["commission"], body["target_bonus"]


def settle(engine: ServiceProcess, period: str, partner_ids: list[str], **extra: Any) -> Any:
    return engine.post("/settlements", {"period": period, "partner_ids": partner_ids, **extra})


def adjustments(payout: dict[str, Any], field: str = "carried_adjustments") -> list[Any]:
    return [(a["period"], a["amount"]) for a in payout[field]]


async def test_a_settled_quarter_clawed_back_carries_into_the_next_settlement(
    settings: Settings,
    producer: AIOKafkaProducer,
    services: tuple[ServiceProcess, ServiceProcess],
    unique: str,
) -> None:
    engine, reads = services
    a, b = WorkedExample(f"PA-{unique}", f"a{unique}"), WorkedExample(f"PB-{unique}", f"b{unique}")
    await publish(producer, a.messages(with_cancellation=False))
    await publish(producer, b.messages(with_cancellation=False))
    for p in (a, b):
        await eventually(
            lambda p=p: expect(quarter(engine, p.partner_id, "2026-Q4"), ("45600.00", "5000.00"))
        )

    # 2026-Q4 settled before the cancellation: 45 600.00 + 5 000.00.
    first = settle(engine, "2026-Q4", [a.partner_id, b.partner_id])
    assert first.status_code == 201, first.text
    q4 = first.json()
    assert q4["totals"] == {"USD": "101200.00"}
    for payout in q4["payouts"]:
        assert (payout["amount_paid"], payout["period_amount"], payout["carried_adjustments"]) == (
            "50600.00",
            "50600.00",
            [],
        )

    again = settle(engine, "2026-Q4", [a.partner_id])
    assert again.status_code == 409, again.text
    assert again.json()["refused"] == [
        {"partner_id": a.partner_id, "period": "2026-Q4", "settled_by": [q4["settlement_id"]]}
    ]
    retried = settle(engine, "2026-Q4", [a.partner_id], settlement_id=q4["settlement_id"])
    assert retried.status_code == 200, retried.text
    assert [(p["amount_paid"], p["replayed"]) for p in retried.json()["payouts"]] == [
        ("50600.00", True)
    ]

    # D-2 is cancelled inside the clawback window; A closes a deal in 2027-Q1.
    await publish(producer, a.messages()[-1:])
    await publish(producer, b.messages()[-1:])
    await publish(producer, [a.later_deal(5, "2027-01-15", "200000.00", "cloud")])
    for p in (a, b):
        await eventually(
            lambda p=p: expect(quarter(engine, p.partner_id, "2026-Q4"), ("38100.00", "0.00"))
        )
    await eventually(lambda: expect(quarter(engine, a.partner_id, "2027-Q1"), ("26000.00", "0.00")))
    pending = engine.get(f"/partners/{a.partner_id}/settlements").json()["pending_adjustments"]
    assert pending == [{"period": "2026-Q4", "currency": "USD", "amount": "-12500.00"}]

    preview = settle(engine, "2027-Q1", [a.partner_id, b.partner_id], dry_run=True)
    assert preview.status_code == 200, preview.text
    nxt = settle(engine, "2027-Q1", [a.partner_id, b.partner_id])
    assert nxt.status_code == 201, nxt.text
    assert [p["amount_paid"] for p in preview.json()["payouts"]] == [
        p["amount_paid"] for p in nxt.json()["payouts"]
    ]
    q1 = {p["partner_id"]: p for p in nxt.json()["payouts"]}
    pa, pb = q1[a.partner_id], q1[b.partner_id]
    assert adjustments(pa) == [("2026-Q4", "-12500.00")]
    assert (pa["period_amount"], pa["amount_paid"], pa["unrecovered"]) == (
        "26000.00",
        "13500.00",
        [],
    )
    assert adjustments(pb) == []
    assert (pb["period_amount"], pb["amount_paid"]) == ("0.00", "0.00")
    assert adjustments(pb, "unrecovered") == [("2026-Q4", "-12500.00")]

    # On Kafka: one PayoutSettled per partner and settlement, as outside systems read them.
    key = a.partner_id.encode()
    records = await collect(
        settings,
        topics.INCENTIVES,
        lambda r: r.key == key and json.loads(r.value)["type"] == "PayoutSettled",
        lambda found: len({json.loads(r.value)["id"] for r in found}) >= 2,
    )
    settled = sorted((json.loads(r.value)["data"] for r in records), key=lambda d: d["settled_at"])
    assert [(d["period"], d["amount_paid"], d["carried_adjustments"]) for d in settled] == [
        ("2026-Q4", "50600.00", []),
        ("2027-Q1", "13500.00", [{"period": "2026-Q4", "amount": "-12500.00"}]),
    ]

    # Reporting: per period current total, paid, pending; the list; the finance export.
    def reported(partner_id: str) -> dict[str, Any]:
        answer = reads.get(f"/partners/{partner_id}/payouts")
        assert answer.status_code == 200, answer.text  # 404 until reporting has the partner
        body: dict[str, Any] = answer.json()
        assert len(body["payouts"]) == 2, body
        assert {p["period"] for p in body["periods"]} == {"2026-Q4", "2027-Q1"}, body
        return body

    ra = await eventually(lambda: reported(a.partner_id))
    assert [
        (p["period"], p["current_total"], p["paid"], p["pending_adjustment"]) for p in ra["periods"]
    ] == [
        ("2026-Q4", "38100.00", "38100.00", "0.00"),
        ("2027-Q1", "26000.00", "26000.00", "0.00"),
    ]
    assert ra["pending_adjustments"] == {"USD": "0.00"}
    rb = await eventually(lambda: reported(b.partner_id))
    assert [
        (p["period"], p["current_total"], p["paid"], p["pending_adjustment"]) for p in rb["periods"]
    ] == [
        ("2026-Q4", "38100.00", "50600.00", "-12500.00"),
        ("2027-Q1", "0.00", "0.00", "0.00"),
    ]
    assert rb["pending_adjustments"] == {"USD": "-12500.00"}
    statement = reads.get(f"/partners/{b.partner_id}/statements/2026-Q4").json()
    assert (statement["payout_total"], statement["paid"], statement["pending_adjustment"]) == (
        "38100.00",
        "50600.00",
        "-12500.00",
    )

    export = reads.get(f"/settlements/{nxt.json()['settlement_id']}/export.csv")
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [
        (
            r["partner_id"],
            r["period"],
            r["currency"],
            r["period_amount"],
            r["carried_adjustments"],
            r["carried_total"],
            r["amount_paid"],
            r["unrecovered"],
        )
        for r in rows
    ] == [
        (
            a.partner_id,
            "2027-Q1",
            "USD",
            "26000.00",
            "2026-Q4 -12500.00",
            "-12500.00",
            "13500.00",
            "",
        ),
        (b.partner_id, "2027-Q1", "USD", "0.00", "", "0.00", "0.00", "2026-Q4 -12500.00"),
    ]
    assert reads.get("/settlements/no-such-settlement/export.csv").status_code == 404


def expect(actual: object, wanted: object) -> None:
    assert actual == wanted


async def test_settlement_requests_are_checked(
    services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    engine, _ = services
    bad_period = engine.post("/settlements", {"period": "2026-Q5", "partner_ids": None})
    assert bad_period.status_code == 422
    assert "period" in bad_period.text
    unknown = settle(engine, "2026-Q4", ["P-nobody"])
    assert unknown.status_code == 404
    assert "P-nobody" in unknown.json()["detail"]
    partner_key = engine.post("/settlements", {"period": "2026-Q4"}, key="test-partner-key")
    assert partner_key.status_code in (401, 403)


async def test_an_inquiry_resolved_by_an_adjustment_is_reported_and_paid_once(
    producer: AIOKafkaProducer,
    services: tuple[ServiceProcess, ServiceProcess],
    unique: str,
) -> None:
    """docs/rules/inquiries.md's example: +800.00 adjusted through an inquiry shows on the
    statement and is paid with 2026-Q4; −150.00 adjusted after 2026-Q4 was settled is
    carried into the 2027-Q1 settlement. Another partner's key is refused on each route."""
    engine, reads = services
    c = WorkedExample(f"PC-{unique}", f"c{unique}")
    await publish(producer, c.messages(with_cancellation=False))
    await eventually(
        lambda: expect(quarter(engine, c.partner_id, "2026-Q4"), ("45600.00", "5000.00"))
    )
    deal = c.deal(3)
    other = {"key": "test-partner-key"}  # partner P-x's

    ask = {"message": "the registered-deal bonus is missing"}
    assert engine.post(f"/commissions/{deal}/inquiries", ask, **other).status_code == 403
    opened = engine.post(f"/commissions/{deal}/inquiries", ask)
    assert opened.status_code == 201, opened.text
    inquiry = opened.json()["inquiry_id"]
    resolution = {
        "resolution": "adjusted",
        "note": "approved late by mistake",
        "adjustment": {"amount": "800.00", "reason": "registered-deal bonus"},
    }
    assert engine.get(f"/inquiries/{inquiry}", **other).status_code == 403
    assert engine.post(f"/inquiries/{inquiry}/resolve", resolution, **other).status_code == 403
    late = {"partner_id": c.partner_id, "period": "2026-Q4", "amount": "-150.00", "reason": "r"}
    assert engine.post("/adjustments", late, **other).status_code == 403
    resolved = engine.post(f"/inquiries/{inquiry}/resolve", resolution)
    assert resolved.status_code == 200, resolved.text
    assert engine.get("/inquiries", status="open").json()["inquiries"] == []

    def statement(total: str) -> dict[str, Any]:
        answer = reads.get(f"/partners/{c.partner_id}/statements/2026-Q4")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert body["payout_total"] == total, body
        return body

    shown = await eventually(lambda: statement("51400.00"))
    assert [(a["amount"], a["inquiry_id"]) for a in shown["adjustments"]] == [("800.00", inquiry)]
    assert shown["adjustment_total"] == "800.00"

    first = settle(engine, "2026-Q4", [c.partner_id])
    assert first.status_code == 201, first.text
    assert [p["amount_paid"] for p in first.json()["payouts"]] == ["51400.00"]

    assert engine.post("/adjustments", late).status_code == 201
    await publish(producer, [c.later_deal(5, "2027-01-15", "200000.00", "cloud")])
    await eventually(lambda: expect(quarter(engine, c.partner_id, "2027-Q1"), ("26000.00", "0.00")))
    nxt = settle(engine, "2027-Q1", [c.partner_id])
    assert nxt.status_code == 201, nxt.text
    (payout,) = nxt.json()["payouts"]
    assert (payout["amount_paid"], adjustments(payout)) == ("25850.00", [("2026-Q4", "-150.00")])
    await eventually(lambda: statement("51250.00"))


async def test_approved_mdf_claims_are_paid_once_beside_the_commissions(
    producer: AIOKafkaProducer,
    services: tuple[ServiceProcess, ServiceProcess],
    unique: str,
) -> None:
    """docs/rules/settlement.md, "MDF claims": two approved claims (one delivered twice)
    are paid by the next settlement as mdf_reimbursed, and a EUR claim apart, in EUR;
    shown in reporting's payouts and the finance export (a row per currency); the next
    settlement pays none of them again."""
    engine, reads = services
    e = WorkedExample(f"PE-{unique}", f"e{unique}")
    await publish(producer, e.messages(with_cancellation=False))
    await eventually(
        lambda: expect(quarter(engine, e.partner_id, "2026-Q4"), ("45600.00", "5000.00"))
    )

    def approved(claim: str, amount: str, currency: str = "USD") -> tuple[str, dict[str, Any]]:
        data = {
            **DATA["MdfClaimApproved"],
            "partner_id": e.partner_id,
            "claim_id": f"{claim}-{unique}",
            "approved_amount": amount,
            "currency": currency,
        }
        return topics.ENABLEMENT, envelope("MdfClaimApproved", data, id=f"{claim}-{unique}")

    for topic, event in (
        approved("MC-1", "700.00"),
        approved("MC-2", "300.00"),
        approved("MC-1", "700.00"),
        approved("MC-3", "900.00", "EUR"),
    ):
        await send(producer, topic, event)

    def paid() -> dict[str, Any]:
        answer = settle(engine, "2026-Q4", [e.partner_id], dry_run=True)
        assert answer.status_code == 200, answer.text
        payouts = answer.json()["payouts"]
        assert len(payouts) == 1, payouts
        payout = payouts[0]
        assert payout["mdf_reimbursed"] == "1000.00", payout  # until both claims are in
        assert [o["amount"] for o in payout["mdf_other_currencies"]] == ["900.00"], payout
        found: dict[str, Any] = payout
        return found

    await eventually(paid)
    run = settle(engine, "2026-Q4", [e.partner_id])
    assert run.status_code == 201, run.text
    (payout,) = run.json()["payouts"]
    assert (payout["amount_paid"], payout["mdf_reimbursed"]) == ("50600.00", "1000.00")
    nxt = settle(engine, "2027-Q1", [e.partner_id])
    assert nxt.json()["payouts"] == [], "nothing earned, nothing pending, no claim left"

    def reported() -> dict[str, Any]:
        answer = reads.get(f"/partners/{e.partner_id}/payouts")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert len(body["payouts"]) == 1, body
        return body

    (shown,) = (await eventually(reported))["payouts"]
    assert (shown["mdf_reimbursed"], sorted(shown["mdf_claims"])) == (
        "1000.00",
        [f"MC-1-{unique}", f"MC-2-{unique}"],
    )
    euros = [{"currency": "EUR", "amount": "900.00", "claims": [f"MC-3-{unique}"]}]
    assert (payout["mdf_other_currencies"], shown["mdf_other_currencies"]) == (euros, euros)
    export = reads.get(f"/settlements/{run.json()['settlement_id']}/export.csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["currency"], r["amount_paid"], r["mdf_reimbursed"]) for r in rows] == [
        ("USD", "50600.00", "1000.00"),
        ("EUR", "0.00", "900.00"),
    ]
