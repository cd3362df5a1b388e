"""The partners at risk (docs/rules/health-score.md, "Partners at risk"), on reporting's
in-memory read models (the fake of tests/unit/test_reporting_service.py), fed events
through the real projection.

The list is computed in bulk, but it must be what scoring each active partner alone
(``ReportingQueries.health``, ``GET /partners/{partner_id}/health``) gives: a table of
partners, each showing one way the score can go, and partners made at random are
scored both ways and compared. The bulk read asks the same queries whatever the number
of partners (counted in the fake), where scoring each alone asks some per partner.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.reporting.domain import period_of
from services.reporting.queries import PartnerHealth, ReportingQueries
from tests.support.events import CONTRACT, DATA, PROFILE, envelope
from tests.support.reporting import calculated
from tests.unit.test_reporting_service import PARTNER_KEY, FakeDatabase, Reporting, project

AS_OF = datetime(2026, 12, 16, tzinfo=UTC)

# --------------------------------------------------------------------------- events


def signed(partner: str, *, target: str | None = "300000", plan: str = "quarter") -> Any:
    contract = {
        **CONTRACT,
        "contract_id": f"C-{partner}",
        "commission_plan": {**CONTRACT["commission_plan"], "period": plan, "target_amount": target},
    }
    if target is None:
        contract["commission_plan"]["target_bonus"] = None
    data = {"partner_id": partner, **PROFILE, "name": f"Name of {partner}", "contract": contract}
    return envelope("PartnerSigned", data)


def approved(partner: str) -> list[Any]:
    applied = {**DATA["PartnerApplied"], "partner_id": partner, "application_id": f"A-{partner}"}
    decided = {
        "partner_id": partner,
        "application_id": f"A-{partner}",
        "approved_at": "2026-09-02T09:00:00Z",
    }
    return [envelope("PartnerApplied", applied), envelope("PartnerApproved", decided)]


def terminated(partner: str) -> Any:
    data = {"partner_id": partner, "effective_date": "2027-01-31", "reason": "notice"}
    return envelope("PartnerTerminated", data)


def deal(
    partner: str,
    deal_id: str,
    day: str,
    *,
    amount: str = "1000.00",
    status: str = "commissionable",
    plan: str = "quarter",
    closed: str | None = "line",
    cancelled: str | None = None,
) -> list[Any]:
    """A deal's commission line (closed on ``day``), its DealClosed (closed on ``day``,
    or on ``closed``; None: reporting never heard of it) and its cancellation."""
    period = period_of(date.fromisoformat(day), plan)
    found = [calculated(partner, deal_id, 1, period, amount, status, "0", "0", "0", "0", "0", day)]
    if closed is not None:
        data = {
            "partner_id": partner,
            "deal_id": deal_id,
            "customer": "Initech",
            "product_line": "cloud",
            "amount": amount,
            "currency": "USD",
            "closed_at": f"{day if closed == 'line' else closed}T12:00:00Z",
        }
        found.append(envelope("DealClosed", data))
    if cancelled is not None:
        data = {
            "partner_id": partner,
            "deal_id": deal_id,
            "cancelled_at": f"{cancelled}T00:00:00Z",
            "reason": "customer withdrew",
        }
        found.append(envelope("DealCancelled", data))
    return found


def certified(partner: str, n: int, awarded: str, expires: str) -> Any:
    data = {
        "partner_id": partner,
        "learner_id": f"L-{n}",
        "certification_id": f"CERT-{n}",
        "product_line": "cloud",
        "awarded_at": f"{awarded}T00:00:00Z",
        "expires_at": f"{expires}T00:00:00Z",
    }
    return envelope("CertificationAwarded", data)


def feedback(partner: str, n: int, rating: int, day: str) -> Any:
    data = {
        "partner_id": partner,
        "feedback_id": f"F-{partner}-{n}",
        "rating": rating,
        "topic": "labs",
        "text": "",
        "submitted_at": f"{day}T10:00:00Z",
    }
    return envelope("PartnerFeedbackSubmitted", data)


# --------------------------------------------------------------------------- the table

#: Partner → its events, as of AS_OF (2026-12-16, in 2026-Q4).
TABLE: dict[str, list[Any]] = {
    # No target (20), no deal, no certification, no feedback (7.5): 27.5.
    "P-quiet": [signed("P-quiet", target=None)],
    # The same score: ties go by partner id.
    "P-quiet-too": [signed("P-quiet-too", target=None)],
    # A target and no revenue in the period: 0 for attainment.
    "P-no-revenue": [signed("P-no-revenue"), *deal("P-no-revenue", "D-nr-1", "2026-09-20")],
    # Healthy whatever its deals: its deals are not even looked up.
    "P-healthy": [
        signed("P-healthy"),
        *deal("P-healthy", "D-h-1", "2026-12-10", amount="300000.00"),
        certified("P-healthy", 1, "2026-01-01", "2027-06-01"),
        feedback("P-healthy", 1, 5, "2026-11-01"),
    ],
    # The latest deal is cancelled: the one before it is the last.
    "P-cancelled-latest": [
        signed("P-cancelled-latest"),
        *deal("P-cancelled-latest", "D-cl-1", "2026-11-01"),
        *deal("P-cancelled-latest", "D-cl-2", "2026-12-10", cancelled="2026-12-12"),
    ],
    # A cancellation after as_of still disqualifies the deal.
    "P-cancelled-later": [
        signed("P-cancelled-later"),
        *deal("P-cancelled-later", "D-cx-1", "2026-10-02"),
        *deal("P-cancelled-later", "D-cx-2", "2026-12-01", cancelled="2027-01-05"),
    ],
    # Ten deals cancelled, latest first: the qualifying one is in the second chunk.
    "P-many-cancelled": [
        signed("P-many-cancelled"),
        *deal("P-many-cancelled", "D-mc-00", "2026-10-03"),
        *(
            event
            for n in range(1, 11)
            for event in deal(
                "P-many-cancelled", f"D-mc-{n:02d}", f"2026-11-{n + 10}", cancelled="2026-12-01"
            )
        ),
    ],
    # Every deal cancelled, in three chunks: no deal.
    "P-all-cancelled": [
        signed("P-all-cancelled"),
        *(
            event
            for n in range(1, 20)
            for event in deal(
                "P-all-cancelled", f"D-ac-{n:02d}", f"2026-11-{n + 1:02d}", cancelled="2026-12-01"
            )
        ),
    ],
    # Its only deal closes after as_of.
    "P-future": [signed("P-future"), *deal("P-future", "D-f-1", "2026-12-20")],
    # A line whose DealClosed reporting never saw: not a closed deal.
    "P-unknown-deal": [
        signed("P-unknown-deal"),
        *deal("P-unknown-deal", "D-u-1", "2026-12-01", closed=None),
    ],
    # The deal closed later than its line says (after as_of), or earlier: its DealClosed
    # decides; the latest qualifying in the chunk stands.
    "P-moved": [
        signed("P-moved"),
        *deal("P-moved", "D-m-1", "2026-12-10", closed="2026-12-20"),
        *deal("P-moved", "D-m-2", "2026-12-08", closed="2026-11-01"),
        *deal("P-moved", "D-m-3", "2026-12-05"),
    ],
    # Expired, and not yet awarded, certifications count nothing; one valid counts 10.
    "P-certifications": [
        signed("P-certifications", target=None),
        certified("P-certifications", 1, "2025-01-01", "2026-01-01"),
        certified("P-certifications", 2, "2026-12-20", "2027-12-20"),
        certified("P-certifications", 3, "2026-06-01", "2027-06-01"),
    ],
    # Feedback after as_of is not counted; a rating of 1 is no point.
    "P-feedback": [
        signed("P-feedback", target=None),
        feedback("P-feedback", 1, 1, "2026-11-01"),
        feedback("P-feedback", 2, 5, "2026-12-20"),
    ],
    # A monthly plan: its current period is the month (November's big deal counts not).
    "P-monthly": [
        signed("P-monthly", plan="month"),
        *deal("P-monthly", "D-mo-1", "2026-11-20", amount="250000.00", plan="month"),
        *deal("P-monthly", "D-mo-2", "2026-12-02", amount="20000.00", plan="month"),
    ],
    # Exactly 40 (20 without a target + two certifications + 0 for a rating of 1): not
    # at risk, whatever its deals.
    "P-forty": [
        signed("P-forty", target=None),
        certified("P-forty", 1, "2026-01-01", "2027-06-01"),
        certified("P-forty", 2, "2026-01-01", "2027-06-01"),
        feedback("P-forty", 1, 1, "2026-11-01"),
    ],
    # Not active: not scored.
    "P-terminated": [signed("P-terminated", target=None), terminated("P-terminated")],
    "P-approved": approved("P-approved"),
}


async def projected(partners: dict[str, list[Any]]) -> FakeDatabase:
    database = FakeDatabase()
    await project(database, [event for events in partners.values() for event in events])
    return database


def active(database: FakeDatabase) -> list[str]:
    return sorted(
        pid
        for pid, doc in database.documents("partners").items()
        if doc["view"]["status"] == "active"
    )


async def each_alone(
    database: FakeDatabase, moment: datetime
) -> tuple[list[tuple[str, PartnerHealth]], int]:
    """The active partners at risk as each one's own health score has them, worst first
    (then by partner id); and how many are active."""
    queries = ReportingQueries(database)  # type: ignore[arg-type]
    scores = {pid: await queries.health(pid, moment) for pid in active(database)}
    at_risk = sorted(
        (pid for pid, found in scores.items() if found.health.at_risk),
        key=lambda pid: (scores[pid].health.score, pid),
    )
    return [(pid, scores[pid]) for pid in at_risk], len(scores)


async def in_bulk(
    database: FakeDatabase, moment: datetime, limit: int = 1000
) -> tuple[list[tuple[str, PartnerHealth]], int]:
    found = await ReportingQueries(database).partners_at_risk(moment, limit)  # type: ignore[arg-type]
    return [(p.partner_id, p.health) for p in found.partners], found.scored


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize(
    "moment",
    [AS_OF, datetime(2026, 11, 15, 8, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)],
    ids=["in-Q4", "mid-November", "next-quarter"],
)
async def test_the_list_is_each_active_partners_own_score(moment: datetime) -> None:
    database = await projected(TABLE)
    expected, scored = await each_alone(database, moment)
    assert await in_bulk(database, moment) == (expected, scored)
    assert scored == len(TABLE) - 2  # not P-terminated nor P-approved


async def test_the_table_as_of_mid_december() -> None:
    """What the table's partners show, worst first, ties by partner id."""
    database = await projected(TABLE)
    found, scored = await in_bulk(database, AS_OF)
    assert scored == len(TABLE) - 2
    order = [pid for pid, _ in found]
    listed = {pid: scored_partner.health for pid, scored_partner in found}
    # 7.6 twice (ties by partner id), then 8.6; the two of 27.5 side by side.
    assert order[:3] == ["P-future", "P-unknown-deal", "P-no-revenue"]
    assert order.index("P-quiet") + 1 == order.index("P-quiet-too")
    assert len(order) == 13
    assert not {"P-healthy", "P-forty", "P-terminated", "P-approved"} & set(listed)
    assert listed["P-quiet"].score == 27.5
    assert listed["P-cancelled-latest"].days_since_last_deal == 44  # D-cl-1, 2026-11-01
    assert listed["P-cancelled-later"].days_since_last_deal == 74  # D-cx-1, 2026-10-02
    assert listed["P-many-cancelled"].days_since_last_deal == 73  # D-mc-00, 2026-10-03
    assert listed["P-all-cancelled"].days_since_last_deal is None
    assert listed["P-future"].days_since_last_deal is None
    assert listed["P-unknown-deal"].days_since_last_deal is None
    # D-m-3 (2026-12-05): D-m-1 closed after as_of, D-m-2 earlier than its line says.
    assert listed["P-moved"].days_since_last_deal == 10
    assert listed["P-certifications"].valid_certifications == 1
    assert listed["P-feedback"].average_rating == 1
    assert listed["P-no-revenue"].attainment == 0
    monthly = dict(found)["P-monthly"]  # December's revenue only: 20 000 of 300 000
    assert (monthly.period, monthly.health.attainment) == ("2026-12", Decimal("0.0667"))


@pytest.mark.parametrize("seed", range(4))
async def test_partners_made_at_random_score_the_same_in_bulk(seed: int) -> None:
    rng = random.Random(seed)
    database = await projected(random_partners(rng, 30))
    for moment in (AS_OF, datetime(2026, 11, 20, 15, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)):
        expected, scored = await each_alone(database, moment)
        assert await in_bulk(database, moment) == (expected, scored), moment
        assert await in_bulk(database, moment, limit=3) == (expected[:3], scored)


def random_partners(rng: random.Random, count: int) -> dict[str, list[Any]]:
    """``count`` partners, most of them active, with deals (some cancelled, closing after
    as_of, unknown to reporting, or closing on another day than their line says),
    certifications and feedback around AS_OF."""
    start = date(2026, 9, 1)

    def day(spread: int = 150) -> str:
        return (start + timedelta(days=rng.randrange(spread))).isoformat()

    partners: dict[str, list[Any]] = {}
    for n in range(count):
        pid = f"P-rand-{n:02d}"
        plan = rng.choice(["quarter", "quarter", "month"])
        events = [signed(pid, target=rng.choice(["300000", "50000", None]), plan=plan)]
        if rng.random() < 0.1:
            events.append(terminated(pid))
        for d in range(rng.choice([0, 1, 2, 5, 12, 20])):
            events += deal(
                pid,
                f"D-{pid}-{d}",
                day(),
                amount=f"{rng.randrange(1000, 60000)}.00",
                status=rng.choice(["commissionable", "commissionable", "clawed_back"]),
                plan=plan,
                closed=rng.choice(["line"] * 6 + [None, day()]),
                cancelled=rng.choice([None, None, day(200)]),
            )
        for c in range(rng.choice([0, 0, 1, 2, 3])):
            awarded = day(200)
            expires = (
                date.fromisoformat(awarded) + timedelta(days=rng.choice([30, 365]))
            ).isoformat()
            events.append(certified(pid, c, awarded, expires))
        for f in range(rng.choice([0, 1, 3])):
            events.append(feedback(pid, f, rng.randint(1, 5), day(200)))
        partners[pid] = events
    return partners


def at_risk_partners(count: int) -> dict[str, list[Any]]:
    """``count`` partners at risk whose last deal is in their second chunk of candidates,
    and ``count`` healthy ones."""
    partners: dict[str, list[Any]] = {}
    for n in range(count):
        pid = f"P-risk-{n:03d}"
        partners[pid] = [
            signed(pid),
            *deal(pid, f"D-{pid}-first", "2026-10-01"),
            *(
                event
                for d in range(10)
                for event in deal(pid, f"D-{pid}-{d}", f"2026-11-{d + 10}", cancelled="2026-12-01")
            ),
        ]
        healthy = f"P-well-{n:03d}"
        partners[healthy] = [
            signed(healthy),
            *deal(healthy, f"D-{healthy}", "2026-12-10", amount="300000.00"),
            certified(healthy, 1, "2026-01-01", "2027-06-01"),
        ]
    return partners


async def reads(database: FakeDatabase, ask: Any) -> Counter[str]:
    database.reads.clear()
    await ask
    return Counter({name.removeprefix("g1_"): n for name, n in database.reads.items()})


async def test_the_queries_do_not_grow_with_the_partners() -> None:
    """The same seven queries (and the active generation's) for 3 partners at risk and 3
    healthy as for 40 and 40: the active partners, their periods' totals, their valid
    certifications, their feedback, the lines of those at risk, and the deals of two
    chunks of candidates (the last deal of each is in its second). Scoring each partner
    alone asks as many queries again per partner."""
    for count in (3, 40):
        database = await projected(at_risk_partners(count))
        queries = ReportingQueries(database)  # type: ignore[arg-type]
        bulk = await reads(database, queries.partners_at_risk(AS_OF, 1000))
        assert bulk == BULK_QUERIES, count
        found = await queries.partners_at_risk(AS_OF, 1000)
        assert (found.scored, len(found.partners)) == (2 * count, count)
        alone: Counter[str] = Counter()
        for pid in active(database):
            alone += await reads(database, queries.health(pid, AS_OF))
        assert alone["partners"] == alone["period_totals"] == alone["lines"] == 2 * count
        assert alone["deals"] == 3 * count  # two chunks of each at risk, one of each healthy


#: The queries of ``partners_at_risk`` by collection, whatever the number of partners.
BULK_QUERIES = Counter(
    {
        "meta": 1,
        "partners": 1,
        "period_totals": 1,
        "certifications": 1,
        "feedback": 1,
        "surveys": 1,
        "lines": 1,
        "deals": 2,
    }
)


# --------------------------------------------------------------------------- the route


@pytest.fixture
async def table() -> FakeDatabase:
    return await projected(TABLE)


@pytest.fixture
def reporting(table: FakeDatabase) -> Iterator[Reporting]:
    service = Reporting(table)
    yield service
    service.client.close()


def test_the_route_answers_each_partner_as_its_health_route_does(reporting: Reporting) -> None:
    """``/partners/at-risk`` is that route, not the partner 360 of a partner "at-risk"."""
    answer = reporting.json("/partners/at-risk", as_of="2026-12-16T00:00:00Z", limit=3)
    assert (answer["as_of"], answer["scored"]) == ("2026-12-16T00:00:00+00:00", len(TABLE) - 2)
    assert [p["partner_id"] for p in answer["partners"]] == [
        "P-future",
        "P-unknown-deal",
        "P-no-revenue",
    ]
    for partner in answer["partners"]:
        health = reporting.json(f"/partners/{partner['partner_id']}/health", as_of="2026-12-16")
        assert (partner["period"], partner["score"], partner["factors"]) == (
            health["period"],
            health["score"],
            health["factors"],
        )
        assert (partner["name"], partner["tier"], partner["region"]) == (
            f"Name of {partner['partner_id']}",
            "gold",
            PROFILE["region"],
        )
    everyone = reporting.json("/partners/at-risk", as_of="2026-12-16T00:00:00")
    assert len(everyone["partners"]) == 13
    scores = [float(p["score"]) for p in everyone["partners"]]
    assert scores == sorted(scores)
    assert max(scores) < 40


def test_the_route_is_staffs_and_checks_its_query(reporting: Reporting) -> None:
    assert reporting.get("/partners/at-risk", key=PARTNER_KEY).status_code == 403
    for limit in (0, 1001):
        assert reporting.get("/partners/at-risk", limit=limit).status_code == 422
    assert reporting.get("/partners/at-risk", as_of="yesterday").status_code == 422
