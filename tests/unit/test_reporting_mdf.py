"""A partner's MDF position in reporting's read models (docs/rules/enablement.md, "The
partner's MDF position"), on the in-memory fake of tests/unit/test_reporting_service.py,
fed events through the real projection: per quarter (of the request, UTC) and currency,
what was requested, approved, claimed, approved in claims, reimbursed by settlements and
released unclaimed, to the cent; part approvals and rejections; each claim reimbursed
once; a request's releases counting their greatest; the same documents whatever the
order and however often events come; the partner 360's summary and the programme
summary's claimed, reimbursed and released figures.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from decimal import Decimal
from typing import Any

import pytest

from services.reporting.domain import (
    MdfAmount,
    MdfFigures,
    in_period,
    mdf_amounts,
    mdf_position,
    mdf_quarter,
    mdf_totals,
)
from services.reporting.projection import writes_for
from services.reporting.queries import ReportingQueries, UnknownPartner
from services.reporting.store import COLLECTIONS, LinesCache
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.reporting import calculated
from tests.unit.test_reporting_service import (
    ADMIN_KEY,
    PARTNER_KEY,
    FakeDatabase,
    P,
    Reporting,
    parsed,
    project,
    snapshot,
)

#: The partner of these tests (not P, whose key the fake's app knows).
PM = "P-mdf"
EVIDENCE = [{"kind": "invoice", "url": "https://files.example.com/i.pdf", "sha256": "a" * 64}]


# --------------------------------------------------------------------------- events


def signed(partner: str = PM) -> dict[str, Any]:
    return envelope(
        "PartnerSigned",
        {"partner_id": partner, **PROFILE, "contract": CONTRACT},
        id=f"mdf-test/{partner}/signed",
    )


def requested(
    request: str, amount: str, currency: str, at: str, partner: str = PM
) -> dict[str, Any]:
    data = {
        "partner_id": partner,
        "request_id": request,
        "campaign": f"Campaign {request}",
        "amount": amount,
        "currency": currency,
        "requested_at": at,
    }
    return envelope("MdfRequested", data, id=f"mdf-test/{request}/requested", time=at)


def approved(
    request: str, amount: str, currency: str, at: str, partner: str = PM
) -> dict[str, Any]:
    data = {
        "partner_id": partner,
        "request_id": request,
        "amount": amount,
        "currency": currency,
        "approved_at": at,
    }
    return envelope("MdfApproved", data, id=f"mdf-test/{request}/approved", time=at)


def rejected(request: str, at: str, partner: str = PM) -> dict[str, Any]:
    data = {"partner_id": partner, "request_id": request, "rejected_at": at, "reason": "budget"}
    return envelope("MdfRejected", data, id=f"mdf-test/{request}/rejected", time=at)


def claim(
    request: str, claim_id: str, amount: str, currency: str, at: str, partner: str = PM
) -> dict[str, Any]:
    data = {
        "partner_id": partner,
        "request_id": request,
        "claim_id": claim_id,
        "amount": amount,
        "currency": currency,
        "activity_end": at[:10],
        "evidence": EVIDENCE,
        "submitted_at": at,
    }
    return envelope("MdfClaimSubmitted", data, id=f"mdf-test/{claim_id}/submitted", time=at)


def claim_approved(
    request: str, claim_id: str, amount: str, currency: str, at: str, partner: str = PM
) -> dict[str, Any]:
    data = {
        "partner_id": partner,
        "request_id": request,
        "claim_id": claim_id,
        "approved_amount": amount,
        "currency": currency,
        "approved_at": at,
    }
    return envelope("MdfClaimApproved", data, id=f"mdf-test/{claim_id}/approved", time=at)


def claim_rejected(request: str, claim_id: str, at: str, partner: str = PM) -> dict[str, Any]:
    data = {
        "partner_id": partner,
        "request_id": request,
        "claim_id": claim_id,
        "reason": "the invoice is another event's",
        "rejected_at": at,
    }
    return envelope("MdfClaimRejected", data, id=f"mdf-test/{claim_id}/rejected", time=at)


def settled(
    settlement: str,
    currency: str,
    reimbursed: str,
    claims: list[str],
    at: str,
    partner: str = PM,
    *,
    event_id: str | None = None,
) -> dict[str, Any]:
    data = {
        "partner_id": partner,
        "settlement_id": settlement,
        "period": "2026-Q4",
        "currency": currency,
        "amount_paid": "0.00",
        "settled_at": at,
        "mdf_reimbursed": reimbursed,
        "mdf_claims": claims,
    }
    return envelope("PayoutSettled", data, id=event_id or f"mdf-test/{settlement}/settled", time=at)


def released(
    request: str,
    amount: str,
    currency: str,
    budget: str,
    at: str,
    partner: str = PM,
    *,
    event_id: str | None = None,
) -> dict[str, Any]:
    """MdfFundsReleased: ``amount`` is all the request has released so far."""
    data = {
        "partner_id": partner,
        "actor": {"kind": "system", "id": "enablement"},
        "request_id": request,
        "quarter": budget,
        "amount": amount,
        "currency": currency,
        "released_at": at,
    }
    event_id = event_id or f"mdf-test/{request}/released/{amount}"
    return envelope("MdfFundsReleased", data, id=event_id, time=at)


def position_events() -> list[dict[str, Any]]:
    """Four requests and five claims of one partner, three settlements paying three of the
    claims, four releases of unclaimed funds:

    - M-1, 2026-10-10, 10 000.00 USD, approved: MC-1 claims 6 000.00, 5 500.00 approved
      and paid by S-1; MC-2 claims 4 000.00, rejected; MC-3 claims 4 000.00, approved,
      not paid yet; 100.00 released, then 500.00 in all;
    - M-2, 2026-12-31 22:00 at −05:00, so 2027-01-01 03:00 UTC, in 2027-Q1: 2 500.50
      USD, approved; MC-4 claims 1 234.56, approved and paid by S-2; 1 265.94 released;
    - M-3, 2026-11-01, 4 000.00 USD, rejected (over the budget);
    - M-4, 2026-10-20, 3 000.00 EUR, approved: MC-5 claims 2 999.99, 1 000.01 approved
      and paid by S-3 (in EUR); 1 999.99 released.
    """
    return [
        signed(),
        requested("M-1", "10000.00", "USD", "2026-10-10T08:00:00Z"),
        approved("M-1", "10000.00", "USD", "2026-10-12T08:00:00Z"),
        requested("M-2", "2500.50", "USD", "2026-12-31T22:00:00-05:00"),
        approved("M-2", "2500.50", "USD", "2027-01-02T08:00:00Z"),
        requested("M-3", "4000.00", "USD", "2026-11-01T08:00:00Z"),
        rejected("M-3", "2026-11-01T08:00:00Z"),
        requested("M-4", "3000.00", "EUR", "2026-10-20T08:00:00Z"),
        approved("M-4", "3000.00", "EUR", "2026-10-21T08:00:00Z"),
        claim("M-1", "MC-1", "6000.00", "USD", "2026-11-28T09:00:00Z"),
        claim_approved("M-1", "MC-1", "5500.00", "USD", "2026-12-02T09:00:00Z"),
        claim("M-1", "MC-2", "4000.00", "USD", "2026-12-03T09:00:00Z"),
        claim_rejected("M-1", "MC-2", "2026-12-04T09:00:00Z"),
        claim("M-1", "MC-3", "4000.00", "USD", "2026-12-05T09:00:00Z"),
        claim_approved("M-1", "MC-3", "4000.00", "USD", "2027-01-06T09:00:00Z"),
        claim("M-2", "MC-4", "1234.56", "USD", "2027-02-01T09:00:00Z"),
        claim_approved("M-2", "MC-4", "1234.56", "USD", "2027-02-02T09:00:00Z"),
        claim("M-4", "MC-5", "2999.99", "EUR", "2026-11-15T09:00:00Z"),
        claim_approved("M-4", "MC-5", "1000.01", "EUR", "2026-11-16T09:00:00Z"),
        settled("S-1", "USD", "5500.00", ["MC-1"], "2027-01-05T00:00:00Z"),
        settled("S-2", "USD", "1234.56", ["MC-4"], "2027-04-05T00:00:00Z"),
        settled("S-3", "EUR", "1000.01", ["MC-5"], "2027-01-05T00:00:00Z"),
        released("M-1", "100.00", "USD", "2026-Q4", "2027-03-01T00:00:00Z"),
        released("M-1", "500.00", "USD", "2026-Q4", "2027-03-10T00:00:00Z"),
        released("M-2", "1265.94", "USD", "2027-Q1", "2027-06-01T00:00:00Z"),
        released("M-4", "1999.99", "EUR", "2026-Q4", "2027-02-01T00:00:00Z"),
    ]


def quarter(
    name: str,
    currency: str,
    requested: str,
    approved: str,
    claimed: str,
    claims_approved: str,
    reimbursed: str,
    released: str = "0.00",
) -> dict[str, str]:
    return {
        "quarter": name,
        "currency": currency,
        "requested": requested,
        "approved": approved,
        "claimed": claimed,
        "claims_approved": claims_approved,
        "reimbursed": reimbursed,
        "released": released,
    }


EXPECTED_QUARTERS = [
    # M-1 and M-3: 10 000.00 + 4 000.00 asked, M-3 rejected; 6 000.00 + 4 000.00 +
    # 4 000.00 claimed, 5 500.00 + 4 000.00 approved of it, MC-1's 5 500.00 paid; M-1's
    # greatest release, 500.00, released.
    quarter("2026-Q4", "EUR", "3000.00", "3000.00", "2999.99", "1000.01", "1000.01", "1999.99"),
    quarter("2026-Q4", "USD", "14000.00", "10000.00", "14000.00", "9500.00", "5500.00", "500.00"),
    quarter("2027-Q1", "USD", "2500.50", "2500.50", "1234.56", "1234.56", "1234.56", "1265.94"),
]


async def position(database: FakeDatabase, partner: str = PM) -> list[dict[str, str]]:
    """The partner's position as the API serves it."""
    service = Reporting(database)
    try:
        answer = service.get(f"/partners/{partner}/mdf")
        assert answer.status_code == 200, answer.text
        assert answer.json()["partner_id"] == partner
        quarters: list[dict[str, str]] = answer.json()["quarters"]
        return quarters
    finally:
        service.client.close()


def figures(quarters: list[dict[str, str]], name: str, currency: str = "USD") -> dict[str, str]:
    return next(q for q in quarters if (q["quarter"], q["currency"]) == (name, currency))


# --------------------------------------------------------------------------- the position


async def test_the_position_per_quarter_and_currency_is_exact() -> None:
    database = FakeDatabase()
    await project(database, position_events())
    assert await position(database) == EXPECTED_QUARTERS


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_any_order_and_any_duplicates_give_the_same_documents(seed: int) -> None:
    """Shuffled, half of them twice, in batches of three: the same documents (every
    collection, as a rebuild compares them) and the same position."""
    raw = position_events()
    natural, shuffled = FakeDatabase(), FakeDatabase()
    await project(natural, raw)
    rng = random.Random(seed)
    mixed = rng.sample(raw, len(raw)) + rng.sample(raw, len(raw) // 2)
    await project(shuffled, mixed, batch=3, lines=LinesCache(200_000 if seed % 2 else 0))
    assert await snapshot(shuffled) == await snapshot(natural)
    assert "partner_mdf" in COLLECTIONS, "a rebuild compares and drops it"
    assert await position(shuffled) == EXPECTED_QUARTERS


async def test_a_part_approval_counts_what_was_approved_and_a_rejection_nothing() -> None:
    database = FakeDatabase()
    await project(
        database,
        [
            signed(),
            requested("M-1", "1000.00", "USD", "2026-10-10T08:00:00Z"),
            approved("M-1", "1000.00", "USD", "2026-10-11T08:00:00Z"),
            claim("M-1", "MC-1", "600.10", "USD", "2026-11-01T08:00:00Z"),
            claim_approved("M-1", "MC-1", "333.33", "USD", "2026-11-02T08:00:00Z"),
            claim("M-1", "MC-2", "399.90", "USD", "2026-11-03T08:00:00Z"),
            claim_rejected("M-1", "MC-2", "2026-11-04T08:00:00Z"),
            claim("M-1", "MC-3", "0.01", "USD", "2026-11-05T08:00:00Z"),  # not decided yet
            requested("M-2", "700.00", "USD", "2026-10-12T08:00:00Z"),
            rejected("M-2", "2026-10-12T08:00:00Z"),
        ],
    )
    assert await position(database) == [
        quarter("2026-Q4", "USD", "1700.00", "1000.00", "1000.01", "333.33", "0.00")
    ]


async def test_a_claim_approved_before_its_submission_arrives_counts() -> None:
    database = FakeDatabase()
    await project(
        database,
        [
            signed(),
            claim_approved("M-1", "MC-1", "250.25", "USD", "2026-11-02T08:00:00Z"),
            requested("M-1", "1000.00", "USD", "2026-10-10T08:00:00Z"),
        ],
    )
    assert await position(database) == [
        quarter("2026-Q4", "USD", "1000.00", "0.00", "0.00", "250.25", "0.00")
    ]
    await project(
        database,
        [
            claim("M-1", "MC-1", "300.00", "USD", "2026-11-01T08:00:00Z"),
            approved("M-1", "1000.00", "USD", "2026-10-11T08:00:00Z"),
        ],
    )
    assert await position(database) == [
        quarter("2026-Q4", "USD", "1000.00", "1000.00", "300.00", "250.25", "0.00")
    ]


async def test_a_claim_counts_in_its_requests_quarter_once_the_request_arrives() -> None:
    """A claim is filed under its request: before the request arrives it counts nowhere
    (its quarter is not known), then in the request's quarter, not its own."""
    database = FakeDatabase()
    early = [
        signed(),
        claim("M-1", "MC-1", "80.00", "USD", "2027-01-10T08:00:00Z"),
        claim_approved("M-1", "MC-1", "80.00", "USD", "2027-01-11T08:00:00Z"),
        settled("S-1", "USD", "80.00", ["MC-1"], "2027-04-05T00:00:00Z"),
    ]
    await project(database, early)
    assert await position(database) == []
    await project(database, [requested("M-1", "100.00", "USD", "2026-12-20T08:00:00Z")])
    assert await position(database) == [
        quarter("2026-Q4", "USD", "100.00", "0.00", "80.00", "80.00", "80.00")
    ]


async def test_a_claim_is_reimbursed_once_however_often_it_is_paid() -> None:
    """A PayoutSettled delivered twice, published again under another event id, and
    another settlement listing the same claim: the claim's approved amount once. A claim
    listed before its approval arrived is reimbursed once it does."""
    database = FakeDatabase()
    paid = settled("S-1", "USD", "5500.00", ["MC-1", "MC-2"], "2027-01-05T00:00:00Z")
    again = {**paid, "id": "mdf-test/S-1/republished", "time": "2027-01-06T00:00:00Z"}
    rerun = settled("S-2", "USD", "5500.00", ["MC-1"], "2027-01-07T00:00:00Z")
    await project(
        database,
        [
            signed(),
            requested("M-1", "10000.00", "USD", "2026-10-10T08:00:00Z"),
            approved("M-1", "10000.00", "USD", "2026-10-11T08:00:00Z"),
            claim("M-1", "MC-1", "6000.00", "USD", "2026-11-01T08:00:00Z"),
            claim_approved("M-1", "MC-1", "5500.00", "USD", "2026-11-02T08:00:00Z"),
            claim("M-1", "MC-2", "100.00", "USD", "2026-11-03T08:00:00Z"),
            paid,
        ],
    )
    await project(database, [paid, again, rerun, paid])
    assert figures(await position(database), "2026-Q4")["reimbursed"] == "5500.00"
    stored = database.documents("partner_mdf")[PM]["reimbursed"]
    assert {claim_id: sorted(by) for claim_id, by in stored.items()} == {
        "MC-1": ["S-1", "S-2"],
        "MC-2": ["S-1"],
    }
    await project(database, [claim_approved("M-1", "MC-2", "99.99", "USD", "2026-11-04T08:00:00Z")])
    assert figures(await position(database), "2026-Q4")["reimbursed"] == "5599.99"


async def test_a_claim_paid_apart_in_its_own_currency_is_reimbursed() -> None:
    """A USD payout paying a EUR claim apart (mdf_other_currencies): the claim is
    reimbursed in EUR, and the finance export has a EUR row for it."""
    database = FakeDatabase()
    paid = settled("S-1", "USD", "0.00", [], "2027-01-05T00:00:00Z")
    paid["data"]["mdf_other_currencies"] = [
        {"currency": "EUR", "amount": "900.00", "claims": ["MC-E"]}
    ]
    await project(
        database,
        [
            signed(),
            requested("M-E", "1000.00", "EUR", "2026-10-10T08:00:00Z"),
            approved("M-E", "1000.00", "EUR", "2026-10-11T08:00:00Z"),
            claim("M-E", "MC-E", "900.00", "EUR", "2026-11-01T08:00:00Z"),
            claim_approved("M-E", "MC-E", "900.00", "EUR", "2026-11-02T08:00:00Z"),
            paid,
            paid,
        ],
    )
    assert figures(await position(database), "2026-Q4", "EUR")["reimbursed"] == "900.00"
    service = Reporting(database)
    try:
        payouts = service.get(f"/partners/{PM}/payouts").json()["payouts"]
        assert [p["mdf_other_currencies"] for p in payouts] == [
            [{"currency": "EUR", "amount": "900.00", "claims": ["MC-E"]}]
        ]
        export = service.get("/settlements/S-1/export.csv")
        assert export.status_code == 200, export.text
        rows = list(csv.DictReader(io.StringIO(export.text)))
    finally:
        service.client.close()
    assert [(r["currency"], r["amount_paid"], r["mdf_reimbursed"]) for r in rows] == [
        ("USD", "0.00", "0.00"),
        ("EUR", "0.00", "900.00"),
    ], "one row per currency paid"


async def test_a_fact_published_again_counts_once_its_earliest_version_standing() -> None:
    """A request or a claim's approval published again under another event id and time
    (a republication) is one fact: its earliest version stands."""
    database = FakeDatabase()
    ask = requested("M-1", "1000.00", "USD", "2026-10-10T08:00:00Z")
    ok = claim_approved("M-1", "MC-1", "400.00", "USD", "2026-11-02T08:00:00Z")
    later = {**ok, "id": "mdf-test/MC-1/again", "time": "2026-12-02T08:00:00Z"}
    restated = {**later, "data": {**ok["data"], "approved_amount": "1.00"}}
    await project(database, [signed(), restated, ask, ok, {**ask, "id": "mdf-test/again"}])
    assert await position(database) == [
        quarter("2026-Q4", "USD", "1000.00", "0.00", "0.00", "400.00", "0.00")
    ]


async def test_a_release_counts_in_its_requests_quarter() -> None:
    """A request made 2026-12-31 at −05:00, so in 2027-Q1 (UTC): its release counts in
    2027-Q1's ``released``, not in the quarter it was released in; stored under the
    request and the event's version key."""
    database = FakeDatabase()
    await project(
        database,
        [
            signed(),
            requested("M-1", "2000.00", "USD", "2026-12-31T22:00:00-05:00"),
            approved("M-1", "2000.00", "USD", "2027-01-02T08:00:00Z"),
            claim("M-1", "MC-1", "750.00", "USD", "2027-02-01T08:00:00Z"),
            claim_approved("M-1", "MC-1", "750.00", "USD", "2027-02-02T08:00:00Z"),
            released("M-1", "1250.00", "USD", "2027-Q1", "2027-05-01T00:00:00+02:00"),
        ],
    )
    assert await position(database) == [
        quarter("2027-Q1", "USD", "2000.00", "2000.00", "750.00", "750.00", "0.00", "1250.00")
    ]
    (stored,) = database.documents("partner_mdf")[PM]["released"]["M-1"].values()
    assert stored == {
        "request_id": "M-1",
        "quarter": "2027-Q1",
        "amount": "1250.00",
        "currency": "USD",
        "released_at": "2027-04-30T22:00:00.000000Z",
    }


async def test_a_requests_releases_count_their_greatest_whatever_the_order() -> None:
    """1 000.00 released, then 1 250.00 in all: 1 250.00, in every order, each of them
    delivered once or twice, in one batch or one at a time; the same documents."""
    base = [signed(), requested("M-1", "3000.00", "USD", "2026-10-10T08:00:00Z")]
    first = released("M-1", "1000.00", "USD", "2026-Q4", "2027-02-01T00:00:00Z")
    more = released("M-1", "1250.00", "USD", "2026-Q4", "2027-02-20T00:00:00Z")
    natural = FakeDatabase()
    await project(natural, [*base, first, more])
    assert figures(await position(natural), "2026-Q4")["released"] == "1250.00"
    for order in itertools.permutations([first, more, first, more, base[1]]):
        for batch in (1, 5):
            database = FakeDatabase()
            await project(database, [base[0], *order], batch=batch)
            assert await snapshot(database) == await snapshot(natural), (order, batch)
    only_more = FakeDatabase()
    await project(only_more, [*base, more, more])
    assert figures(await position(only_more), "2026-Q4")["released"] == "1250.00"
    await project(only_more, [first])
    assert figures(await position(only_more), "2026-Q4")["released"] == "1250.00"


async def test_a_release_of_an_unknown_request_counts_once_the_request_arrives() -> None:
    database = FakeDatabase()
    await project(
        database, [signed(), released("M-1", "40.00", "EUR", "2026-Q4", "2027-02-01T00:00:00Z")]
    )
    assert await position(database) == []
    service = Reporting(database)
    try:
        assert service.json("/programme/summary")["mdf_released"] == {}
        assert service.json(f"/partners/{PM}")["mdf"] == []
    finally:
        service.client.close()
    await project(database, [requested("M-1", "100.00", "EUR", "2026-11-20T08:00:00Z")])
    assert await position(database) == [
        quarter("2026-Q4", "EUR", "100.00", "0.00", "0.00", "0.00", "0.00", "40.00")
    ]


async def test_the_documented_example() -> None:
    """docs/rules/enablement.md, "The partner's MDF position": the example of Claims."""
    database = FakeDatabase()
    await project(
        database,
        [
            signed("P-100"),
            requested("M-1", "10000.00", "USD", "2026-10-10T08:00:00Z", "P-100"),
            approved("M-1", "10000.00", "USD", "2026-10-12T08:00:00Z", "P-100"),
            claim("M-1", "MC-1", "6000.00", "USD", "2026-11-28T09:00:00Z", "P-100"),
            claim_approved("M-1", "MC-1", "5500.00", "USD", "2026-12-02T09:00:00Z", "P-100"),
            claim("M-1", "MC-2", "4500.00", "USD", "2027-01-19T09:00:00Z", "P-100"),
            claim_rejected("M-1", "MC-2", "2027-01-25T09:00:00Z", "P-100"),
            settled("S-1", "USD", "5500.00", ["MC-1"], "2027-01-05T00:00:00Z", "P-100"),
        ],
    )
    assert await position(database, "P-100") == [
        quarter("2026-Q4", "USD", "10000.00", "10000.00", "10500.00", "5500.00", "5500.00")
    ]


# --------------------------------------------------------------------------- the read API


@pytest.fixture
async def projected() -> FakeDatabase:
    database = FakeDatabase()
    await project(database, position_events(), batch=4)
    return database


def test_unknown_partners_are_404_and_a_partner_reads_its_own(projected: FakeDatabase) -> None:
    service = Reporting(projected)
    try:
        nobody = service.get("/partners/P-nobody/mdf")
        assert (nobody.status_code, nobody.json()) == (404, {"detail": "unknown partner P-nobody"})
        # The fake's partner key is P's: it may read P's position (none: 404), not PM's.
        assert service.get(f"/partners/{PM}/mdf", key=PARTNER_KEY).status_code == 403
        assert service.get(f"/partners/{P}/mdf", key=PARTNER_KEY).status_code == 404
        assert service.get(f"/partners/{PM}/mdf", key=ADMIN_KEY).status_code == 200
    finally:
        service.client.close()


async def test_a_known_partner_without_mdf_has_no_quarters_and_facts_alone_are_enough() -> None:
    database = FakeDatabase()
    await project(database, [signed("P-plain")])
    assert await position(database, "P-plain") == []
    await project(database, [requested("M-9", "10.00", "USD", "2026-10-10T08:00:00Z", "P-new")])
    assert await position(database, "P-new") == [
        quarter("2026-Q4", "USD", "10.00", "0.00", "0.00", "0.00", "0.00")
    ]
    queries = ReportingQueries(database)  # type: ignore[arg-type]
    with pytest.raises(UnknownPartner):
        await queries.mdf("P-nobody")


def test_the_partner_360_sums_the_position_per_currency(projected: FakeDatabase) -> None:
    service = Reporting(projected)
    try:
        partner = service.json(f"/partners/{PM}")
        assert partner["mdf"] == [
            {
                "currency": "EUR",
                "requested": "3000.00",
                "approved": "3000.00",
                "claimed": "2999.99",
                "claims_approved": "1000.01",
                "reimbursed": "1000.01",
                "released": "1999.99",
            },
            {
                "currency": "USD",
                "requested": "16500.50",
                "approved": "12500.50",
                "claimed": "15234.56",
                "claims_approved": "10734.56",
                "reimbursed": "6734.56",
                "released": "1765.94",
            },
        ]
        page = service.json("/partners", limit=10)
        assert [item["mdf"] for item in page["items"] if item["partner_id"] == PM] == [
            partner["mdf"]
        ]
    finally:
        service.client.close()


Q4_CLAIMED = {"EUR": "2999.99", "USD": "14000.00"}
Q4_REIMBURSED = {"EUR": "1000.01", "USD": "5500.00"}
Q4_RELEASED = {"EUR": "1999.99", "USD": "500.00"}
Q1 = {"USD": "1234.56"}


@pytest.mark.parametrize(
    ("period", "claimed", "reimbursed", "released_"),
    [
        ("2026-Q4", Q4_CLAIMED, Q4_REIMBURSED, Q4_RELEASED),
        ("2027-Q1", Q1, Q1, {"USD": "1265.94"}),
        ("2027", Q1, Q1, {"USD": "1265.94"}),
        ("2026-10", Q4_CLAIMED, Q4_REIMBURSED, Q4_RELEASED),
        ("2026-11", {}, {}, {}),  # M-3, rejected: nothing claimed or released
        (
            None,
            {"EUR": "2999.99", "USD": "15234.56"},
            {"EUR": "1000.01", "USD": "6734.56"},
            {"EUR": "1999.99", "USD": "1765.94"},
        ),
    ],
)
def test_the_programme_summary_counts_the_claims_and_releases_of_the_periods_requests(
    projected: FakeDatabase,
    period: str | None,
    claimed: dict[str, str],
    reimbursed: dict[str, str],
    released_: dict[str, str],
) -> None:
    service = Reporting(projected)
    try:
        summary = service.json("/programme/summary", **({"period": period} if period else {}))
        found = (summary["mdf_claimed"], summary["mdf_reimbursed"], summary["mdf_released"])
        assert found == (claimed, reimbursed, released_)
        assert summary["open_mdf"] == {"requests": 0, "amount": {}}, "every request is decided"
    finally:
        service.client.close()


def test_the_position_documents_its_answer(projected: FakeDatabase) -> None:
    service = Reporting(projected)
    try:
        document = service.client.get("/openapi.json").json()
        operation = document["paths"]["/partners/{partner_id}/mdf"]["get"]
        assert operation["tags"] == ["mdf"]
        assert "404" in operation["responses"]
        schemas = document["components"]["schemas"]
        assert set(schemas["MdfPositionView"]["required"]) == {"partner_id", "quarters"}
        assert set(schemas["MdfQuarterView"]["required"]) == set(EXPECTED_QUARTERS[0])
        assert "mdf" in schemas["Partner360View"]["required"]
        summary = schemas["ProgrammeSummaryView"]["required"]
        assert {"mdf_claimed", "mdf_reimbursed", "mdf_released"} <= set(summary)
    finally:
        service.client.close()


# --------------------------------------------------------------------------- the hot path


def test_a_commission_and_a_payout_without_claims_write_no_mdf() -> None:
    """CommissionCalculated's path is untouched: its batch writes the lines only; a
    payout that paid no claim writes what it wrote before."""
    commission = calculated(
        PM, "D-1", 1, "2026-Q4", "1000.00", "commissionable", "100.00", "0.00", "100.00",
        "0.00", "100.00", "2026-10-05",
    )  # fmt: skip
    assert set(writes_for(parsed([commission])).by_collection) == {"lines"}
    plain = settled("S-1", "USD", "0.00", [], "2027-01-05T00:00:00Z")
    assert set(writes_for(parsed([plain])).by_collection) == {"payouts", "partner_payouts"}
    paying = settled("S-2", "USD", "1.00", ["MC-1"], "2027-01-05T00:00:00Z")
    assert set(writes_for(parsed([paying])).by_collection) == {
        "payouts",
        "partner_payouts",
        "partner_mdf",
    }


# --------------------------------------------------------------------------- the rules


def test_the_quarter_is_the_requests_in_utc() -> None:
    assert mdf_quarter("2027-01-01T03:00:00.000000Z") == "2027-Q1"
    assert mdf_quarter("2026-12-31T23:59:59.999999Z") == "2026-Q4"
    assert in_period("2026-10-31T23:59:59.999999Z", "2026-10")
    assert not in_period("2026-11-01T00:00:00.000000Z", "2026-10")
    assert in_period("2026-11-01T00:00:00.000000Z", "2026")


def test_the_figures_add_up_exactly_per_quarter_and_over_all() -> None:
    amounts = [
        MdfAmount("2026-10-01T00:00:00.000000Z", "USD", "requested", Decimal("0.10")),
        MdfAmount("2026-11-01T00:00:00.000000Z", "USD", "requested", Decimal("0.20")),
        MdfAmount("2026-11-01T00:00:00.000000Z", "USD", "claimed", Decimal("0.05")),
        MdfAmount("2027-02-01T00:00:00.000000Z", "USD", "requested", Decimal("0.30")),
        MdfAmount("2026-12-01T00:00:00.000000Z", "EUR", "reimbursed", Decimal("1.01")),
    ]
    assert mdf_position(amounts) == [
        MdfFigures("EUR", "2026-Q4", reimbursed=Decimal("1.01")),
        MdfFigures("USD", "2026-Q4", requested=Decimal("0.30"), claimed=Decimal("0.05")),
        MdfFigures("USD", "2027-Q1", requested=Decimal("0.30")),
    ]
    assert mdf_totals(amounts) == [
        MdfFigures("EUR", reimbursed=Decimal("1.01")),
        MdfFigures("USD", requested=Decimal("0.60"), claimed=Decimal("0.05")),
    ]
    assert mdf_position([]) == mdf_totals([]) == []


def test_amounts_from_facts_file_claims_under_their_request() -> None:
    at = "2026-10-10T08:00:00.000000Z"
    requests = {
        "M-1": {
            "requested": {
                "v2": {
                    "request_id": "M-1",
                    "amount": "9.00",
                    "currency": "USD",
                    "requested_at": at,
                },
                "v1": {
                    "request_id": "M-1",
                    "amount": "5.00",
                    "currency": "USD",
                    "requested_at": at,
                },
            },
            "approved": {"v3": {"amount": "5.00", "currency": "USD"}},
            "rejected": {"v4": {"reason": "a faulty producer"}},
        }
    }
    claims = {
        "MC-1": {"approved": {"v5": {"request_id": "M-1", "approved_amount": "2.50",
                                     "currency": "USD"}}},
        "MC-2": {"submitted": {"v6": {"request_id": "M-9", "amount": "1.00",
                                      "currency": "USD"}}},
    }  # fmt: skip
    reimbursed: dict[str, dict[str, Any]] = {"MC-1": {"S-1": {}, "S-2": {}}, "MC-2": {"S-1": {}}}
    released = {
        "M-1": {
            "v9": {"request_id": "M-1", "amount": "2.00", "currency": "USD"},
            "v7": {"request_id": "M-1", "amount": "3.00", "currency": "USD"},
            "v8": {"request_id": "M-1", "amount": "1.00", "currency": "USD"},
        },
        "M-9": {"v6": {"request_id": "M-9", "amount": "1.00", "currency": "USD"}},
    }
    assert mdf_amounts(requests, claims, reimbursed, released) == [
        MdfAmount(at, "USD", "requested", Decimal("5.00")),  # the earliest version stands
        # approved, then rejected: no approved amount (the rejection stands, as in ``mdf``)
        MdfAmount(at, "USD", "claims_approved", Decimal("2.50")),
        MdfAmount(at, "USD", "reimbursed", Decimal("2.50")),  # once, by two settlements
        # MC-2: its request M-9 is not known: nowhere yet
        MdfAmount(at, "USD", "released", Decimal("3.00")),  # the greatest, not the latest
        # M-9's release: its request is not known: nowhere yet
    ]
    assert mdf_amounts(None, None, None, None) == []
