"""Approved MDF claims paid by settlements (docs/rules/settlement.md, "MDF claims"), over
incentives' in-memory fakes: each approved claim once, in the next settlement in its
currency, beside the commissions."""

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
    (event,) = incentives.kafka.of_type("PayoutSettled")
    assert (event["data"]["mdf_reimbursed"], sorted(event["data"]["mdf_claims"])) == (
        "1000.00",
        ["MC-1", "MC-2"],
    )

    # Approved after: paid by the next settlement, even of a period that earned nothing.
    await incentives.service.deliver([approved("MC-4", "200.00"), second])
    q1 = settle(incentives, "2027-Q1", "S-2")
    assert (q1["amount_paid"], q1["mdf_reimbursed"], q1["mdf_claims"]) == (
        "0.00",
        "200.00",
        ["MC-4"],
    )
    again = incentives.post(
        "/settlements", {"period": "2027-Q2", "partner_ids": ["P-1"], "settlement_id": "S-3"}
    )
    assert [p["partner_id"] for p in again.json()["payouts"]] == [], "nothing left in USD"
