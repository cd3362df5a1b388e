"""What reporting serves over HTTP, from events a plain Kafka client publishes shuffled
and duplicated: the worked example's statement, a leaderboard, partner 360, health,
the programme summary."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.eventually import eventually
from tests.support.processes import ServiceProcess
from tests.support.reporting import (
    BOARD_PERIOD,
    EXPECTED_STATEMENT,
    PERIOD,
    RUN,
    P,
    calculated,
    publish_shuffled,
)


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
                "responses": None,
            },
            {
                "rank": 2,
                "partner_id": "P-400",
                "name": "Partner P-400",
                "value": "120000.00",
                "currency": "USD",
                "responses": None,
            },
            {
                "rank": 3,
                "partner_id": "P-300",
                "name": "Partner P-300",
                "value": "90000.50",
                "currency": "USD",
                "responses": None,
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
                calculated(
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
