"""Commission adjustments and inquiries served by a real reporting process (Kafka and the
store), from events a plain Kafka client publishes shuffled and duplicated, as
incentives would: the statement's adjustments, adjustment_total and payout_total, a
period with adjustments only, the period's inquiries, and the partner 360's open
inquiries (docs/rules/commissions.md, "The statement")."""

from __future__ import annotations

import json
import random
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.eventually import eventually
from tests.support.processes import ServiceProcess
from tests.support.reporting import (
    ADJUSTED_PERIOD,
    EXPECTED_ADJUSTMENT_ONLY_STATEMENT,
    EXPECTED_CORRECTED_STATEMENT,
    EXPECTED_OPEN_INQUIRIES,
    MARIA,
    PERIOD,
    RUN,
    corrected_partner,
    inquiry_opened,
    inquiry_resolved,
)


async def _publish(
    producer: AIOKafkaProducer, partner: str, items: list[tuple[str, dict[str, Any]]]
) -> None:
    for topic, event in items:
        await producer.send(topic, json.dumps(event).encode(), key=partner.encode())
    await producer.flush()


async def test_statements_list_adjustments_and_inquiries_with_exact_totals(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    """The worked example's lines (commission 38 100.00, bonus 0.00) with +800.00 and
    −150.25 adjusted in the quarter and +1 000.00 in a quarter without deals; two
    inquiries resolved, one open."""
    reporting = reporting_from_now
    # A partner of this test's own: the worked example's partner is compared exactly,
    # without adjustments, by the tests that read the whole history.
    partner = f"P-adjusted-{RUN}"
    items = corrected_partner(partner)
    rng = random.Random(23)
    await _publish(producer, partner, rng.sample(items, len(items)) + rng.sample(items, 6))

    def statement_matches() -> None:
        answer = reporting.get(f"/partners/{partner}/statements/{PERIOD}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {**EXPECTED_CORRECTED_STATEMENT, "partner_id": partner}

    await eventually(statement_matches)
    quarter = reporting.get(f"/partners/{partner}/statements/{PERIOD}").json()
    assert [a["amount"] for a in quarter["adjustments"]] == ["800.00", "-150.25"]
    assert (quarter["adjustment_total"], quarter["payout_total"]) == ("649.75", "38749.75")
    assert [(i["status"], i["resolution"]) for i in quarter["inquiries"]] == [
        ("resolved", "explained"),
        ("resolved", "adjusted"),
        ("open", None),
    ]

    adjusted_only = reporting.get(f"/partners/{partner}/statements/{ADJUSTED_PERIOD}")
    assert adjusted_only.status_code == 200, adjusted_only.text
    assert adjusted_only.json() == {**EXPECTED_ADJUSTMENT_ONLY_STATEMENT, "partner_id": partner}

    partner_view = reporting.get(f"/partners/{partner}").json()
    assert partner_view["open_inquiries"] == EXPECTED_OPEN_INQUIRIES
    assert partner_view["commission_total"] == "38100.00", "adjustments are no commission"

    payouts = reporting.get(f"/partners/{partner}/payouts").json()
    assert [(p["period"], p["current_total"]) for p in payouts["periods"]] == [
        (PERIOD, "38749.75"),
        (ADJUSTED_PERIOD, "1000.00"),
    ]


async def test_an_inquiry_resolved_before_its_opening_arrives_stays_resolved(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    reporting = reporting_from_now
    partner = f"P-inquiry-{RUN}"
    inquiry, deal = f"I-early-{RUN}", f"D-early-{RUN}"
    signed = envelope("PartnerSigned", {"partner_id": partner, **PROFILE, "contract": CONTRACT})
    resolved = inquiry_resolved(partner, inquiry, deal, PERIOD, "2027-01-04T09:00:00Z")
    await _publish(producer, partner, [(topics.PARTNERS, signed), (topics.INCENTIVES, resolved)])

    def inquiries() -> list[dict[str, Any]]:
        answer = reporting.get(f"/partners/{partner}/statements/{PERIOD}")
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["inquiries"]
        return found

    def resolved_without_its_opening() -> None:
        found = inquiries()
        assert len(found) == 1, found
        early = found[0]
        assert (early["status"], early["resolution"], early["message"], early["resolved_by"]) == (
            "resolved",
            "explained",
            None,
            MARIA,
        )

    await eventually(resolved_without_its_opening)
    assert reporting.get(f"/partners/{partner}").json()["open_inquiries"] == []

    opened = inquiry_opened(partner, inquiry, deal, PERIOD, "why?", "2027-01-03T09:00:00Z")
    await _publish(producer, partner, [(topics.INCENTIVES, opened), (topics.INCENTIVES, opened)])

    def resolved_with_its_opening() -> None:
        found = inquiries()
        assert len(found) == 1, found
        late = found[0]
        assert (late["status"], late["message"], late["opened_at"]) == (
            "resolved",
            "why?",
            "2027-01-03T09:00:00.000000Z",
        )

    await eventually(resolved_with_its_opening)
    assert reporting.get(f"/partners/{partner}").json()["open_inquiries"] == []
