"""The demo's MDF claims step: a partner claims against an approved MDF request with its
proof of performance, a channel manager approves one claim whole and another in part,
and a settlement pays exactly what was approved, once (docs/rules/enablement.md,
"Claims"; docs/rules/settlement.md, "MDF claims")."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from demo import scenario as sim
from demo.lifecycle import Api, Exercised

CENT = Decimal("0.01")
#: The period the demo settles to pay the claims (its deals close in it).
PERIOD = "2026-Q4"


def evidence(run: str, request_id: str, n: int) -> dict[str, str]:
    """A piece of evidence: an invoice's address and the SHA-256 of what it holds."""
    text = f"{run} {request_id} invoice {n}"
    return {
        "kind": "invoice",
        "url": f"https://files.example.com/{run}/{request_id}/{n}.pdf",
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


async def exercise(api: Api, run: str, scenario: sim.Scenario, done: Exercised) -> None:
    """Claim, decide, settle, and check the settlement paid the approved sum once."""
    ours = {
        a.partner_id: a
        for n, a in enumerate(scenario.applicants)
        if a.partner_id and a.currency == "USD" and n != scenario.terminated
    }
    found = await api.get("enablement", "/mdf-requests", status="approved", limit=1000)
    requests = [r for r in found["requests"] if r["partner_id"] in ours and r["currency"] == "USD"]
    if not requests:
        done.problems.append("no approved USD MDF request of a USD partner to claim against")
        return
    request = requests[0]
    partner_id, request_id = request["partner_id"], request["request_id"]
    approved = Decimal(request["amount"])
    today = datetime.now(UTC).date().isoformat()
    amounts = [
        (approved * Decimal("0.6")).quantize(CENT),
        (approved * Decimal("0.3")).quantize(CENT),
    ]
    claims = []
    for n, amount in enumerate(amounts, start=1):
        claim = await api.post(
            "enablement",
            f"/mdf-requests/{request_id}/claims",
            {
                "amount": str(amount),
                "activity_end": today,
                "evidence": [evidence(run, request_id, n)],
            },
            f"{run}-claim-{n}",
        )
        claims.append(claim["claim_id"])
    first = await api.post(
        "enablement",
        f"/mdf-requests/{request_id}/claims/{claims[0]}/approve",
        {},
        f"{run}-claim-1-ok",
    )
    part = (amounts[1] / 2).quantize(CENT)
    second = await api.post(
        "enablement",
        f"/mdf-requests/{request_id}/claims/{claims[1]}/approve",
        {"approved_amount": str(part)},
        f"{run}-claim-2-ok",
    )
    wanted = amounts[0] + part
    if Decimal(first["approved_amount"]) + Decimal(second["approved_amount"]) != wanted:
        done.problems.append(f"claims on {request_id} approved as {first}, {second}")
    paid = await _settled(api, run, partner_id, wanted)
    if paid is None:
        done.problems.append(f"{partner_id}'s settlement did not pay {wanted} USD of MDF claims")
        return
    if sorted(paid["mdf_claims"]) != sorted(claims):
        done.problems.append(f"{partner_id}'s settlement paid claims {paid['mdf_claims']}")
    again = await api.post(
        "incentives",
        "/settlements",
        {"period": "2027-Q1", "partner_ids": [partner_id], "settlement_id": f"{run}-mdf-2"},
        f"{run}-mdf-2",
        expect=(200, 201, 409),
    )
    if any(Decimal(p.get("mdf_reimbursed", "0")) for p in again.get("payouts", [])):
        done.problems.append(f"{partner_id}'s next settlement paid MDF claims again: {again}")
    done.said.append(
        f"   {partner_id} claimed {amounts[0]} + {amounts[1]} USD on {request_id}; approved "
        f"{amounts[0]} + {part}; the {PERIOD} settlement paid {paid['mdf_reimbursed']} USD "
        "of MDF claims beside its commissions, and the next paid none again"
    )


async def _settled(
    api: Api, run: str, partner_id: str, wanted: Decimal, seconds: float = 60
) -> dict[str, Any] | None:
    """Settle ``PERIOD`` for the partner once incentives has both approvals (a dry run
    shows them); the payout, or None when the claims never showed."""
    body = {"period": PERIOD, "partner_ids": [partner_id], "settlement_id": f"{run}-mdf"}
    deadline = time.monotonic() + seconds
    while True:
        dry = await api.post(
            "incentives",
            "/settlements",
            {**body, "dry_run": True},
            f"{run}-mdf-dry-{time.monotonic()}",
            expect=(200, 409),
        )
        payouts = dry.get("payouts", [])
        if payouts and Decimal(payouts[0]["mdf_reimbursed"]) == wanted:
            break
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.5)  # a poll of another process: no event to wait on
    run_answer = await api.post("incentives", "/settlements", body, f"{run}-mdf", expect=(200, 201))
    (payout,) = run_answer["payouts"]
    found: dict[str, Any] = payout
    return found if Decimal(payout["mdf_reimbursed"]) == wanted else None
