"""The partners at risk across the programme (``GET /partners/at-risk``,
docs/rules/health-score.md), from events a plain Kafka client publishes: each partner
listed as its own health score has it, worst first, the healthy and the terminated not
at all."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.eventually import eventually
from tests.support.processes import ServiceProcess
from tests.support.reporting import PERIOD, RUN, calculated

AS_OF = "2026-12-16T00:00:00Z"
#: No deal, no certification, no feedback, a target and no revenue: 0 + 0 + 0 + 7.5.
IDLE = f"P-risk-idle-{RUN}"
#: Its latest deal cancelled, the one before 44 days old: 0.1 + 12.8 + 0 + 7.5.
LAPSED = f"P-risk-lapsed-{RUN}"
#: Its target met: not at risk whatever else.
HEALTHY = f"P-risk-healthy-{RUN}"
#: At risk, but terminated: not scored.
LEAVING = f"P-risk-leaving-{RUN}"


def closed_deal(partner: str, deal: str, day: str, amount: str, status: str) -> list[Any]:
    """A deal's DealClosed and the commission line incentives publishes for it."""
    data = {
        "partner_id": partner,
        "deal_id": deal,
        "customer": "Initech",
        "product_line": "cloud",
        "amount": amount,
        "currency": "USD",
        "closed_at": f"{day}T12:00:00Z",
    }
    line = calculated(
        partner, deal, 1, PERIOD, amount, status, "0.00", "0.00", "0.00", "0.00", "0.00", day
    )
    return [(topics.DEALS, envelope("DealClosed", data)), (topics.INCENTIVES, line)]


def sent() -> list[tuple[str, dict[str, Any]]]:
    signed = [
        (
            topics.PARTNERS,
            envelope(
                "PartnerSigned",
                {
                    "partner_id": partner,
                    **PROFILE,
                    "name": f"Name of {partner}",
                    "contract": {**CONTRACT, "contract_id": f"C-{partner}"},
                },
            ),
        )
        for partner in (IDLE, LAPSED, HEALTHY, LEAVING)
    ]
    cancelled = {
        "partner_id": LAPSED,
        "deal_id": f"D-lapsed-late-{RUN}",
        "cancelled_at": "2026-12-05T00:00:00Z",
        "reason": "customer withdrew",
    }
    terminated = {"partner_id": LEAVING, "effective_date": "2027-01-31", "reason": "notice"}
    return [
        *signed,
        *closed_deal(LAPSED, f"D-lapsed-early-{RUN}", "2026-11-01", "1000.00", "commissionable"),
        *closed_deal(LAPSED, f"D-lapsed-late-{RUN}", "2026-12-01", "1000.00", "clawed_back"),
        (topics.DEALS, envelope("DealCancelled", cancelled)),
        *closed_deal(HEALTHY, f"D-healthy-{RUN}", "2026-12-10", "300000.00", "commissionable"),
        (topics.PARTNERS, envelope("PartnerTerminated", terminated)),
    ]


async def test_the_partners_at_risk_are_listed_worst_first_as_each_scores(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    reporting = reporting_from_now
    for topic, event in sent():
        await producer.send(topic, json.dumps(event).encode(), key=event["subject"].encode())
    await producer.flush()

    def listed() -> dict[str, Any]:
        answer = reporting.get("/partners/at-risk", as_of=AS_OF, limit=1000)
        assert answer.status_code == 200, answer.text
        found = answer.json()
        ours = [p for p in found["partners"] if p["partner_id"] in (IDLE, LAPSED, LEAVING)]
        assert [(p["partner_id"], p["score"]) for p in ours] == [
            (IDLE, "7.5"),
            (LAPSED, "20.4"),
        ]
        assert ours[1]["factors"]["activity"]["days_since_last_deal"] == 44
        return dict(found)

    found = await eventually(listed, "the partners at risk")
    assert found["as_of"] == "2026-12-16T00:00:00+00:00"
    assert found["scored"] >= 3  # IDLE, LAPSED, HEALTHY
    assert HEALTHY not in {p["partner_id"] for p in found["partners"]}
    health = reporting.get(f"/partners/{HEALTHY}/health", as_of=AS_OF).json()
    assert health["at_risk"] is False
    scores = [float(p["score"]) for p in found["partners"]]
    assert scores == sorted(scores)
    for partner in found["partners"]:
        if partner["partner_id"] in (IDLE, LAPSED):
            own = reporting.get(f"/partners/{partner['partner_id']}/health", as_of=AS_OF).json()
            assert (partner["period"], partner["score"], partner["factors"]) == (
                own["period"],
                own["score"],
                own["factors"],
            )
            assert (partner["name"], partner["tier"], partner["region"]) == (
                f"Name of {partner['partner_id']}",
                "gold",
                PROFILE["region"],
            )
    first = reporting.get("/partners/at-risk", as_of=AS_OF, limit=1).json()
    assert first["partners"] == found["partners"][:1]
    assert reporting.get("/partners/at-risk", limit=0).status_code == 422
