"""Unclaimed MDF funds (docs/rules/enablement.md, "Unclaimed funds"): once the claims of an
approved request have closed (the last day of its quarter + the claim window), what its
claims do not hold goes back to the quarter's budget, as MdfFundsReleased carrying what
the request has released in all. The rules, pure; then the commands and the API in memory
(the fakes of :mod:`tests.unit.test_enablement_service`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.enablement.commands import MdfClaimRejectionBody
from services.enablement.domain import (
    ClaimRule,
    MdfBudget,
    MdfClaimRefused,
    MdfStatus,
    check_mdf_claim,
    quarter_budget,
    quarter_last_day,
    quarter_of,
    request_claims_close,
    unclaimed_funds,
)
from services.enablement.store import MDF_CLAIMS
from shared.events import MdfFundsReleased, Tier
from tests.support.fakes import InMemoryPublisher
from tests.unit.test_enablement_domain import ACTIVE
from tests.unit.test_enablement_service import (
    ADMIN_KEY,
    KEYED_PARTNER,
    NOW,
    PARTNER_KEY,
    Enablement,
    InMemoryStore,
    ok,
)
from tests.unit.test_mdf_claims import (
    MANAGER,
    approved_request,
    approved_request_of,
    body_of,
    claim,
    claim_body,
    claims_path,
    commands_over,
    request,
)

#: request() draws on 2026-Q4: its claims close 60 days after 31 December.
CLOSE = date(2027, 3, 1)
AFTER = CLOSE + timedelta(days=1)


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("quarter", "last"),
    [
        ("2026-Q1", date(2026, 3, 31)),
        ("2026-Q2", date(2026, 6, 30)),
        ("2026-Q3", date(2026, 9, 30)),
        ("2026-Q4", date(2026, 12, 31)),
    ],
)
def test_a_quarter_ends_on_its_last_day(quarter: str, last: date) -> None:
    assert quarter_last_day(quarter) == last


def test_a_requests_claims_close_the_window_after_its_quarter() -> None:
    assert request_claims_close(request(), 60) == CLOSE
    assert request_claims_close(request(), 0) == date(2026, 12, 31)


def test_nothing_is_released_while_claims_may_still_be_made() -> None:
    assert unclaimed_funds(request(), [], Decimal(0), CLOSE) is None
    assert unclaimed_funds(request(), [], Decimal(0), AFTER) == Decimal("1000.00")


@pytest.mark.parametrize("status", [MdfStatus.REQUESTED, MdfStatus.REJECTED])
def test_a_request_never_approved_releases_nothing(status: MdfStatus) -> None:
    assert unclaimed_funds(request(status), [], Decimal(0), AFTER) is None


def test_what_the_claims_hold_stays_and_the_rest_is_released() -> None:
    part = claim("700.00", claim_id="MC-1").approve(NOW, Decimal("600.00"))
    waiting = claim("100.00", claim_id="MC-2")
    rejected = claim("50.00", claim_id="MC-3").reject(NOW, "blurred")
    claims = [part, waiting, rejected]
    assert unclaimed_funds(request(), claims, Decimal(0), AFTER) == Decimal("300.00")
    assert unclaimed_funds(request(), claims, Decimal("300.00"), AFTER) is None, "done already"
    # The claim waiting at the close is rejected later: its 100.00 is released too.
    claims[1] = waiting.reject(NOW, "not the roadshow's")
    assert unclaimed_funds(request(), claims, Decimal("300.00"), AFTER) == Decimal("400.00")


def test_a_request_claimed_in_full_releases_nothing() -> None:
    claims = [claim("1000.00").approve(NOW)]
    assert unclaimed_funds(request(), claims, Decimal(0), AFTER) is None


def test_no_claim_is_made_after_the_requests_claims_closed() -> None:
    late = claim("10.00", activity_end=date(2027, 2, 27))  # its own window is still open
    check_mdf_claim(late, request(), [], CLOSE)
    with pytest.raises(MdfClaimRefused) as refused:
        check_mdf_claim(late, request(), [], AFTER)
    assert (refused.value.rule, refused.value.location) == (
        ClaimRule.CLAIM_WINDOW_CLOSED,
        ("path", "request_id"),
    )
    assert "could be claimed against until 2027-03-01" in refused.value.message


def test_released_funds_are_unused_budget_again() -> None:
    budget = quarter_budget(
        ACTIVE,
        "2026-Q4",
        date(2026, 11, 1),
        MdfBudget("USD", {Tier.GOLD: Decimal(1000)}),
        [request(amount="1000.00")],
        {"M-1": Decimal("300.00"), "M-other": Decimal("50.00")},
    )
    assert (budget.budget, budget.approved, budget.released, budget.remaining) == (
        Decimal(1000),
        Decimal("1000.00"),
        Decimal("300.00"),
        Decimal("300.00"),
    ), "a release of a request not of this quarter counts nowhere"


# --------------------------------------------------------------------------- the commands


class Clock:
    """A clock the test moves; each reading a millisecond after the last."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    def move_to(self, day: date) -> None:
        self.at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def closes_after(start: datetime, window_days: int = 60) -> date:
    return quarter_last_day(quarter_of(start)) + timedelta(days=window_days + 1)


def releases_of(store: InMemoryStore) -> dict[str, str]:
    (book,) = store.docs[MDF_CLAIMS].values()
    return dict(book["released"])


async def test_a_release_happens_once_and_again_only_for_more() -> None:
    store = InMemoryStore()
    commands = await commands_over(store)
    clock = Clock(NOW)
    commands.clock = clock
    request_id = await approved_request_of(commands, "600")
    decided = await commands.submit_mdf_claim(request_id, body_of("200", 1), None, MANAGER)
    await commands.approve_mdf_claim(request_id, decided.body["claim_id"], None, None, MANAGER)
    waiting = await commands.submit_mdf_claim(request_id, body_of("100", 2), None, MANAGER)
    kafka = commands.publisher
    assert (await commands.release_unclaimed_funds()).released == [], "claims are still open"

    clock.move_to(closes_after(NOW))
    first = await commands.release_unclaimed_funds()
    assert [(r.request_id, r.amount, r.currency) for r in first.released] == [
        (request_id, "300", "USD")
    ]
    assert releases_of(store) == {request_id: "300"}
    assert (await commands.release_unclaimed_funds()).released == [], "nothing more to give"

    with pytest.raises(MdfClaimRefused, match="claim_window_closed"):
        await commands.submit_mdf_claim(request_id, body_of("1", 3), None, MANAGER)
    rejection = MdfClaimRejectionBody(reason="not the roadshow's")
    await commands.reject_mdf_claim(request_id, waiting.body["claim_id"], rejection, None, MANAGER)
    again = await commands.release_unclaimed_funds()
    assert [r.amount for r in again.released] == ["400"]

    assert isinstance(kafka, InMemoryPublisher)
    kafka.flush()
    published = kafka.of_type("MdfFundsReleased")
    assert [e["data"]["amount"] for e in published] == ["300", "400"]
    assert len({e["id"] for e in published}) == 2
    for event in published:
        data = MdfFundsReleased.model_validate(event["data"])
        assert (data.request_id, data.quarter) == (request_id, quarter_of(NOW))
        assert event["data"]["actor"] == {"kind": "system", "id": "enablement"}


async def test_a_claim_decided_while_a_release_is_written_is_counted_by_it() -> None:
    store = InMemoryStore()
    commands = await commands_over(store)
    clock = Clock(NOW)
    commands.clock = clock
    request_id = await approved_request_of(commands, "600")
    waiting = await commands.submit_mdf_claim(request_id, body_of("250", 1), None, MANAGER)
    clock.move_to(closes_after(NOW))
    # The claim is rejected just before the release's write: the release decides again.
    store.before_next_write = lambda: commands.reject_mdf_claim(
        request_id, waiting.body["claim_id"], None, None, MANAGER
    )
    released = await commands.release_unclaimed_funds()
    assert [r.amount for r in released.released] == ["600"]
    assert releases_of(store) == {request_id: "600"}


# --------------------------------------------------------------------------- the API


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def enablement(clock: Clock) -> Iterator[Enablement]:
    service = Enablement(clock=clock)
    service.sign(KEYED_PARTNER, "gold")  # 1000 USD a quarter here
    yield service
    service.client.close()


def test_staff_release_now_and_the_budget_shows_it(enablement: Enablement, clock: Clock) -> None:
    request_id = approved_request(enablement, "600.00")
    made = ok(
        enablement.post(claims_path(request_id), claim_body("250.00", 1), key=PARTNER_KEY), 201
    )
    ok(enablement.post(claims_path(request_id, made["claim_id"], "approve")))
    quarter = quarter_of(NOW)
    assert enablement.post("/mdf-releases", None, key=PARTNER_KEY).status_code == 403

    clock.move_to(closes_after(NOW))
    released = ok(enablement.post("/mdf-releases", None, key=ADMIN_KEY))
    assert [(r["request_id"], r["quarter"], r["amount"]) for r in released["released"]] == [
        (request_id, quarter, "350.00")
    ]
    detail = ok(enablement.get(f"/mdf-requests/{request_id}", key=PARTNER_KEY))
    assert (detail["released"], detail["claimable"]) == ("350.00", "0.00")
    budget = ok(enablement.get("/mdf-requests", partner_id=KEYED_PARTNER, quarter=quarter))[
        "budget"
    ]
    assert (budget["quarter"], budget["approved"], budget["released"], budget["remaining"]) == (
        quarter,
        "600.00",
        "350.00",
        "750.00",
    )
    yesterday = (closes_after(NOW) - timedelta(days=1)).isoformat()
    late = enablement.post(
        claims_path(request_id), claim_body("1.00", 2, activity_end=yesterday), key=PARTNER_KEY
    )
    assert late.status_code == 422, late.text
    (error,) = late.json()["detail"]
    assert (error["loc"], error["msg"].split(":")[0]) == (
        ["path", "request_id"],
        "claim_window_closed",
    )


def test_a_budget_of_a_malformed_quarter_names_the_parameter(enablement: Enablement) -> None:
    answer = enablement.get("/mdf-requests", partner_id=KEYED_PARTNER, quarter="2026-Q5")
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [["query", "quarter"]]
