"""Approved MDF claims paid by settlements (docs/rules/settlement.md, "MDF claims"), over
incentives' in-memory fakes: each approved claim once, in the next settlement, beside the
commissions; a claim in another currency than the settlement's paid apart, in its own."""

from __future__ import annotations

from typing import Any

from shared.events import parse_event
from tests.support.events import DATA, message
from tests.unit.test_incentives_service import Incentives, example_events


def approved(claim: str, amount: str, currency: str = "USD") -> Any:
    data = {
        **DATA["MdfClaimApproved"],
        "partner_id": "P-1",
        "claim_id": claim,
        "approved_amount": amount,
        "currency": currency,
    }
    return parse_event(message("MdfClaimApproved", data))


def settle(incentives: Incentives, period: str, settlement_id: str) -> dict[str, Any]:
    paid = incentives.post(
        "/settlements", {"period": period, "partner_ids": ["P-1"], "settlement_id": settlement_id}
    )
    assert paid.status_code == 201, paid.text
    (payout,) = paid.json()["payouts"]
    found: dict[str, Any] = payout
    return found


async def test_approved_claims_are_paid_once_in_the_next_settlement_in_their_currency() -> None:
    incentives = Incentives()
    first, second, euros = (
        approved("MC-1", "700.00"),
        approved("MC-2", "300.00"),
        approved("MC-3", "900.00", "EUR"),
    )
    await incentives.service.deliver(
        [*example_events(with_cancellation=False), first, second, first, euros]
    )
    q4 = settle(incentives, "2026-Q4", "S-1")
    assert (q4["amount_paid"], q4["mdf_reimbursed"], sorted(q4["mdf_claims"])) == (
        "50600.00",
        "1000.00",
        ["MC-1", "MC-2"],
    ), "the commissions as before, the claims beside them"
    apart = [{"currency": "EUR", "amount": "900.00", "claims": ["MC-3"]}]
    assert q4["mdf_other_currencies"] == apart, "the EUR claim paid apart, in EUR"
    (event,) = incentives.kafka.of_type("PayoutSettled")
    assert (event["data"]["mdf_reimbursed"], sorted(event["data"]["mdf_claims"])) == (
        "1000.00",
        ["MC-1", "MC-2"],
    )
    assert event["data"]["mdf_other_currencies"] == apart

    # Approved after: paid by the next settlement, even of a period that earned nothing.
    await incentives.service.deliver([approved("MC-4", "200.00"), second])
    q1 = settle(incentives, "2027-Q1", "S-2")
    assert (q1["amount_paid"], q1["mdf_reimbursed"], q1["mdf_claims"]) == (
        "0.00",
        "200.00",
        ["MC-4"],
    )
    assert q1["mdf_other_currencies"] == [], "the EUR claim was paid by S-1"
    again = incentives.post(
        "/settlements", {"period": "2027-Q2", "partner_ids": ["P-1"], "settlement_id": "S-3"}
    )
    assert [p["partner_id"] for p in again.json()["payouts"]] == [], "nothing left to pay"


async def test_claims_in_other_currencies_alone_make_a_settlement_paying_them_apart() -> None:
    incentives = Incentives()
    await incentives.service.deliver(
        [
            *example_events(with_cancellation=False),
            approved("MC-E1", "150.00", "EUR"),
            approved("MC-G1", "80.00", "GBP"),
            approved("MC-E2", "50.00", "EUR"),
        ]
    )
    settle(incentives, "2026-Q4", "S-1")
    late = [approved("MC-E3", "10.00", "EUR"), approved("MC-E1", "150.00", "EUR")]
    await incentives.service.deliver(late)
    q1 = settle(incentives, "2027-Q1", "S-2")
    assert (q1["currency"], q1["amount_paid"], q1["mdf_reimbursed"]) == ("USD", "0.00", "0.00")
    assert q1["mdf_other_currencies"] == [
        {"currency": "EUR", "amount": "10.00", "claims": ["MC-E3"]}
    ], "only the claim approved since; the one delivered again was paid by S-1"
    first = incentives.kafka.of_type("PayoutSettled")[0]["data"]["mdf_other_currencies"]
    assert first == [
        {"currency": "EUR", "amount": "200.00", "claims": ["MC-E1", "MC-E2"]},
        {"currency": "GBP", "amount": "80.00", "claims": ["MC-G1"]},
    ], "one entry per currency, by currency, each claim oldest first"
