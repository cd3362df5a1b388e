"""Commission inquiries and adjustments (docs/rules/settlement.md, "Inquiries and
adjustments"), over incentives' in-memory fakes: a partner asks about a deal, a channel
manager explains or adjusts, adjustments count in the period and the settlements pay
them, once, carrying those that reach a settled period into the next settlement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.incentives.domain import Adjustment, Revision, period_totals
from shared import access
from tests.unit.test_incentives_service import (
    ADMIN,
    EXAMPLE,
    NOW,
    OTHER,
    OWN,
    Incentives,
    example_events,
)

DEAL = EXAMPLE.deal(3)


async def with_example() -> Incentives:
    incentives = Incentives()
    await incentives.service.deliver(example_events(with_cancellation=False))
    return incentives


def field_names(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]


def settle(incentives: Incentives, period: str, settlement_id: str) -> dict[str, Any]:
    paid = incentives.post(
        "/settlements", {"period": period, "partner_ids": ["P-1"], "settlement_id": settlement_id}
    )
    assert paid.status_code == 201, paid.text
    (payout,) = paid.json()["payouts"]
    found: dict[str, Any] = payout
    return found


async def test_a_partner_asks_about_its_deal_and_follows_the_answer() -> None:
    incentives = await with_example()
    url = f"/commissions/{DEAL}/inquiries"
    assert incentives.post(url, {"message": "why?"}, key=OTHER).status_code == 403
    assert incentives.post("/commissions/D-none/inquiries", {"message": "?"}).status_code == 404
    assert field_names(incentives.post(url, {"message": " "}, key=OWN)) == ["body.message"]

    opened = incentives.post(url, {"message": "the bonus is missing"}, key=OWN, idempotency="i-1")
    assert opened.status_code == 201, opened.text
    inquiry = opened.json()
    assert (inquiry["status"], inquiry["deal_id"], inquiry["period"], inquiry["age_days"]) == (
        "open",
        DEAL,
        "2026-Q4",
        0,
    )
    again = incentives.post(url, {"message": "the bonus is missing"}, key=OWN, idempotency="i-1")
    assert (again.status_code, again.json()) == (201, inquiry)
    assert again.headers["idempotent-replayed"] == "true"
    (event,) = incentives.kafka.of_type("CommissionInquiryOpened")
    assert event["data"] == {
        "partner_id": "P-1",
        "actor": {"kind": "key", "id": access.key_id(OWN)},
        "inquiry_id": inquiry["inquiry_id"],
        "deal_id": DEAL,
        "period": "2026-Q4",
        "message": "the bonus is missing",
        "opened_at": "2027-01-10T09:00:00Z",
    }

    listed = incentives.get("/inquiries", status="open").json()["inquiries"]
    assert [i["inquiry_id"] for i in listed] == [inquiry["inquiry_id"]]
    assert incentives.get("/inquiries", key=OTHER).json()["inquiries"] == []
    assert incentives.get("/inquiries", key=OTHER, partner_id="P-1").status_code == 403
    assert incentives.get(f"/inquiries/{inquiry['inquiry_id']}", key=OTHER).status_code == 403

    resolve = f"/inquiries/{inquiry['inquiry_id']}/resolve"
    explained = {"resolution": "explained", "note": "D-3 closed after the certification ended"}
    assert incentives.post(resolve, explained, key=OWN).status_code == 403
    answered = incentives.post(resolve, explained)
    assert answered.status_code == 200, answered.text
    assert (answered.json()["status"], answered.json()["resolution"]) == ("resolved", "explained")
    replayed = incentives.post(resolve, explained)
    assert (replayed.status_code, replayed.headers["idempotent-replayed"]) == (200, "true")
    other = incentives.post(resolve, {**explained, "note": "something else"})
    assert other.status_code == 409
    assert "already resolved" in other.json()["detail"]
    assert incentives.get("/inquiries", status="open").json()["inquiries"] == []
    followed = incentives.get(f"/inquiries/{inquiry['inquiry_id']}", key=OWN).json()
    assert followed["note"] == explained["note"]
    assert incentives.kafka.of_type("CommissionAdjusted") == []


async def test_a_resolution_is_checked_field_by_field() -> None:
    incentives = await with_example()
    opened = incentives.post(f"/commissions/{DEAL}/inquiries", {"message": "?"}, key=OWN).json()
    resolve = f"/inquiries/{opened['inquiry_id']}/resolve"
    adjusted = {"resolution": "adjusted", "note": "n"}
    assert field_names(incentives.post(resolve, adjusted)) == ["body.adjustment"]
    zero = {**adjusted, "adjustment": {"amount": "0.00", "reason": "r"}}
    assert field_names(incentives.post(resolve, zero)) == ["body.adjustment.amount"]
    floating = {**adjusted, "adjustment": {"amount": 12.5, "reason": "r"}}
    assert field_names(incentives.post(resolve, floating)) == ["body.adjustment.amount"]
    explained = {
        "resolution": "explained",
        "note": "n",
        "adjustment": {"amount": "1.00", "reason": "r"},
    }
    assert field_names(incentives.post(resolve, explained)) == ["body.adjustment"]
    unknown = incentives.post("/inquiries/nope/resolve", {"resolution": "explained", "note": "n"})
    assert unknown.status_code == 404


async def test_an_adjustment_is_paid_once_and_a_late_one_is_carried_into_the_next() -> None:
    incentives = await with_example()
    opened = incentives.post(f"/commissions/{DEAL}/inquiries", {"message": "?"}, key=OWN).json()
    resolved = incentives.post(
        f"/inquiries/{opened['inquiry_id']}/resolve",
        {
            "resolution": "adjusted",
            "note": "the registration was approved late by mistake",
            "adjustment": {"amount": "800.00", "reason": "registered-deal bonus"},
        },
    )
    assert resolved.status_code == 200, resolved.text
    adjustment = resolved.json()["adjustment"]
    assert (adjustment["amount"], adjustment["currency"], adjustment["period"]) == (
        "800.00",
        "USD",
        "2026-Q4",
    )
    (event,) = incentives.kafka.of_type("CommissionAdjusted")
    assert event["data"]["inquiry_id"] == opened["inquiry_id"]
    assert event["data"]["actor"] == {"kind": "key", "id": access.key_id(ADMIN)}

    first = settle(incentives, "2026-Q4", "S-1")
    assert first["amount_paid"] == "51400.00", "50 600.00 of commissions and 800.00 adjusted"

    # Made after the period was settled: pending against it, paid by the next settlement.
    late = incentives.post(
        "/adjustments",
        {"partner_id": "P-1", "period": "2026-Q4", "amount": "-150.00", "reason": "goodwill"},
        idempotency="adj-1",
    )
    assert late.status_code == 201, late.text
    assert late.json()["currency"] == "USD"
    again = incentives.post(
        "/adjustments",
        {"partner_id": "P-1", "period": "2026-Q4", "amount": "-150.00", "reason": "goodwill"},
        idempotency="adj-1",
    )
    assert again.json() == late.json()
    assert len(incentives.kafka.of_type("CommissionAdjusted")) == 2
    pending = incentives.get("/partners/P-1/settlements").json()["pending_adjustments"]
    assert pending == [{"period": "2026-Q4", "currency": "USD", "amount": "-150.00"}]
    bonus = incentives.post(
        "/adjustments",
        {"partner_id": "P-1", "period": "2027-Q1", "amount": "1000.00", "reason": "spiff"},
    )
    assert bonus.status_code == 201, bonus.text
    second = settle(incentives, "2027-Q1", "S-2")
    assert (second["amount_paid"], second["carried_adjustments"]) == (
        "850.00",
        [{"period": "2026-Q4", "amount": "-150.00"}],
    )
    assert incentives.get("/partners/P-1/settlements").json()["pending_adjustments"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period": "2026-Q4", "amount": "0", "reason": "r"}, "body.amount"),
        ({"amount": "5.00", "reason": "r"}, "body.period"),
        ({"deal_id": "D-none", "amount": "5.00", "reason": "r"}, "body.deal_id"),
        ({"period": "2026-Q5", "amount": "5.00", "reason": "r"}, "body.period"),
        ({"period": "2026-Q4", "amount": "5.00", "reason": ""}, "body.reason"),
        ({"period": "2026-Q4", "amount": "5.00", "reason": "r", "currency": "XX"}, "body.currency"),
    ],
)
async def test_a_bad_adjustment_is_422_naming_the_field(body: dict[str, Any], field: str) -> None:
    incentives = await with_example()
    assert field_names(incentives.post("/adjustments", {"partner_id": "P-1", **body})) == [field]
    assert incentives.kafka.of_type("CommissionAdjusted") == []


async def test_adjustments_need_staff_and_a_known_partner() -> None:
    incentives = await with_example()
    body = {"partner_id": "P-1", "period": "2026-Q4", "amount": "5.00", "reason": "r"}
    assert incentives.post("/adjustments", body, key=OWN).status_code == 403
    unknown = incentives.post("/adjustments", {**body, "partner_id": "P-9"})
    assert unknown.status_code == 404
    by_deal = incentives.post(
        "/adjustments", {"partner_id": "P-1", "deal_id": DEAL, "amount": "5.00", "reason": "r"}
    )
    assert (by_deal.json()["period"], by_deal.json()["currency"]) == ("2026-Q4", "USD")


def test_a_period_total_counts_its_adjustments_in_its_currency() -> None:
    revisions: list[Revision] = []
    adjustments = [
        Adjustment("A-1", None, "2026-Q4", "USD", Decimal("10.005"), "r", NOW),
        Adjustment("A-2", None, "2026-Q4", "EUR", Decimal("99"), "r", NOW),
        Adjustment("A-3", None, "2027-Q1", "USD", Decimal("-3"), "r", NOW),
    ]
    assert period_totals(revisions, "USD", adjustments) == {
        "2026-Q4": Decimal("10.00"),
        "2027-Q1": Decimal("-3.00"),
    }
