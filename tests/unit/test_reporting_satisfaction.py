"""Customer satisfaction (docs/rules/satisfaction.md): survey answers per partner, corrected
by survey id, out of order and duplicated like every event; NPS, the health factor, the
leaderboard by NPS, the programme summary; and the partners' capabilities."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.reporting.domain import health, satisfaction
from shared.events import InvalidEvent, parse_event
from tests.support.events import CONTRACT, DATA, PROFILE, envelope
from tests.unit.test_reporting_service import FakeDatabase, Reporting, project

NOW = datetime.now(UTC)
PA, PB, PC = "P-sat-a", "P-sat-b", "P-sat-c"


def signed(partner: str) -> dict[str, Any]:
    return envelope(
        "PartnerSigned",
        {"partner_id": partner, **PROFILE, "name": f"Partner {partner}", "contract": CONTRACT},
        id=f"sat/{partner}/signed",
    )


def survey(
    partner: str, survey_id: str, score: int, days_ago: float, *, version: int = 0
) -> dict[str, Any]:
    """An answer ``days_ago`` days before now; ``version`` orders corrections."""
    completed = NOW - timedelta(days=days_ago)
    return envelope(
        "CustomerSurveyCompleted",
        {
            "partner_id": partner,
            "survey_id": survey_id,
            "customer": f"customer of {survey_id}",
            "score": score,
            "completed_at": completed.isoformat(),
        },
        id=f"sat/{survey_id}/v{version}",
        time=(completed + timedelta(hours=version)).isoformat(),
    )


# --------------------------------------------------------------------------- the arithmetic


@pytest.mark.parametrize(
    ("scores", "nps", "average"),
    [
        ([10, 9, 9], "100.0", "9.33"),
        ([0, 6, 3], "-100.0", "3.00"),
        ([7, 8], "0.0", "7.50"),
        ([10, 9, 8, 7, 6, 0], "0.0", "6.67"),
        ([10, 10, 0], "33.3", "6.67"),
        ([10, 0, 0], "-33.3", "3.33"),
        ([9, 9, 9, 9, 9, 9, 6, 6], "50.0", "8.25"),
    ],
)
def test_nps_is_the_share_of_promoters_less_the_share_of_detractors(
    scores: list[int], nps: str, average: str
) -> None:
    found = satisfaction(scores)
    assert (str(found.nps), str(found.average), found.responses) == (nps, average, len(scores))
    assert found.promoters + found.passives + found.detractors == len(scores)


def test_no_answers_have_no_nps() -> None:
    found = satisfaction([])
    assert (found.responses, found.nps, found.average) == (0, None, None)


def test_the_health_factor_weighs_in_only_with_answers() -> None:
    figures: dict[str, Any] = {
        "attainment": Decimal("0.5"),
        "days_since_last_deal": 30,
        "valid_certifications": 1,
        "average_rating": Decimal("4.00"),
    }
    without = health(**figures, customers=satisfaction([]))
    # 20 + 16.667 + 10 + 11.25 = 57.9: as before the factor existed.
    assert (without.score, without.satisfaction_points) == (Decimal("57.9"), None)
    unhappy = health(**figures, customers=satisfaction([0, 3, 6, 8]))  # NPS −75.0
    # 57.917 × 0.8 + 20 × 25 / 200 = 46.333 + 2.5
    assert (unhappy.score, unhappy.satisfaction_points) == (Decimal("48.8"), Decimal("2.5"))
    happy = health(**figures, customers=satisfaction([10, 9]))
    assert happy.score == Decimal("66.3"), "57.917 × 0.8 + 20"
    heavier = health(**figures, customers=satisfaction([0]), satisfaction_weight=50)
    assert heavier.score == Decimal("29.0"), "57.917 × 0.5 + 0: at risk"
    assert heavier.at_risk


# --------------------------------------------------------------------------- the read models


def history() -> list[dict[str, Any]]:
    return [
        signed(PA),
        signed(PB),
        signed(PC),
        # A: 10, 9, 3 (S-A3 first said 9, corrected to 3), and one from 14 months ago.
        survey(PA, "S-A1", 10, 10),
        survey(PA, "S-A2", 9, 20),
        survey(PA, "S-A3", 9, 30, version=0),
        survey(PA, "S-A3", 3, 30, version=1),
        survey(PA, "S-A0", 0, 420),
        # B: all detractors; C: no answer.
        survey(PB, "S-B1", 2, 5),
        survey(PB, "S-B2", 6, 6),
    ]


@pytest.mark.parametrize("seed", range(6))
async def test_any_order_and_duplicates_give_the_same_satisfaction(seed: int) -> None:
    events = history()
    shuffled = events + random.Random(seed).sample(events, 4)
    random.Random(seed).shuffle(shuffled)
    database = FakeDatabase()
    await project(database, shuffled, batch=3)
    service = Reporting(database)
    try:
        a = service.get(f"/partners/{PA}").json()["satisfaction"]
        assert (a["responses"], a["promoters"], a["detractors"], a["nps"], a["average"]) == (
            3,
            2,
            1,
            "33.3",
            "7.33",
        ), "the correction stands, the answer older than 12 months is left out"
        b = service.get(f"/partners/{PB}").json()["satisfaction"]
        assert (b["responses"], b["nps"]) == (2, "-100.0")
        c = service.get(f"/partners/{PC}").json()["satisfaction"]
        assert (c["responses"], c["nps"]) == (0, None)
        quarters = service.get(f"/partners/{PA}/satisfaction").json()
        assert sum(q["responses"] for q in quarters["quarters"]) == 4, "every quarter kept"
        assert quarters["last_12_months"]["nps"] == "33.3"
    finally:
        service.client.close()


async def test_the_leaderboard_by_nps_and_the_programme_summary() -> None:
    database = FakeDatabase()
    await project(database, history())
    service = Reporting(database)
    period = f"{NOW.year}" if NOW.month > 1 else f"{NOW.year - 1}"
    try:
        board = service.get("/leaderboard", period=period, by="nps")
        assert board.status_code == 200, board.text
        entries = board.json()["entries"]
        within = [(e["partner_id"], e["value"], e["responses"]) for e in entries]
        assert within[-1] == (PB, "-100.0", 2), "worst last; no answer: not ranked"
        assert PC not in {e["partner_id"] for e in entries}
        assert all(e["currency"] is None for e in entries)
        everything = service.get("/programme/summary").json()["satisfaction"]
        assert (everything["responses"], everything["detractors"]) == (6, 4)
        assert everything["nps"] == str((Decimal(100 * (2 - 4)) / 6).quantize(Decimal("0.1"))), (
            "every answer ever, the correction standing"
        )
    finally:
        service.client.close()


async def test_a_partner_at_risk_because_of_its_customers() -> None:
    database = FakeDatabase()
    await project(database, history())
    service = Reporting(database)
    try:
        b = service.get(f"/partners/{PB}/health").json()
        c = service.get(f"/partners/{PC}/health").json()
    finally:
        service.client.close()
    factor = b["factors"]["satisfaction"]
    assert (factor["responses"], factor["nps"], factor["points"], factor["others_scale"]) == (
        2,
        "-100.0",
        "0.0",
        "0.80",
    )
    assert c["factors"]["satisfaction"]["points"] is None, "no answer: not counted"
    assert Decimal(b["score"]) < Decimal(c["score"]), "the same partner but for its customers"


# --------------------------------------------------------------------------- capabilities


async def test_capabilities_are_in_the_view_and_filter_the_partners() -> None:
    applied = envelope(
        "PartnerApplied",
        {
            **DATA["PartnerApplied"],
            "partner_id": "P-cap",
            "application_id": "A-cap",
            "capabilities": ["logistics", "after_sales"],
        },
        id="cap/applied",
    )
    database = FakeDatabase()
    await project(database, [applied, signed(PA)])
    service = Reporting(database)
    try:
        view = service.get("/partners/P-cap").json()
        assert view["capabilities"] == ["logistics", "after_sales"]
        found = service.get("/partners", capability="logistics").json()["items"]
        assert [p["partner_id"] for p in found] == ["P-cap"]
        assert service.get("/partners", capability="consulting").json()["items"] == []
        bad = service.get("/partners", capability="juggling")
        assert bad.status_code == 422
        assert [e["loc"] for e in bad.json()["detail"]] == [["query", "capability"]]
    finally:
        service.client.close()


@pytest.mark.parametrize("score", [11, -1, 7.5, "7", True, None])
def test_a_score_that_is_not_an_integer_from_0_to_10_names_the_field(score: Any) -> None:
    bad = survey(PA, "S-bad", 5, 1)
    bad["data"]["score"] = score
    with pytest.raises(InvalidEvent) as refused:
        parse_event(json.dumps(bad))
    assert refused.value.reason.value == "invalid_data"
    assert "data.score" in str(refused.value)
