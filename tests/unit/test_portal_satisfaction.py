"""Customer satisfaction in the portal (docs/rules/satisfaction.md, docs/portal.md): the
dashboard's card and the partner's capabilities, the programme's card, the leaderboard
by NPS, the satisfaction factor of the partners at risk, and the partner list's
capability filter, on a fake of the services (tests/support/portal.py)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from services.reporting.views import LeaderboardView
from tests.support.portal import (
    FakeServices,
    answer_of,
    dashboard_of,
    health,
    money_without,
    partner_360,
    partners_at_risk,
    partners_page,
    programme,
    satisfaction,
)

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"
HOSTILE = "<script>alert(1)</script>"


def part(html: str, marker: str, end: str) -> str:
    """``html`` after the tag holding ``marker`` up to the first ``end`` after it."""
    start = html.index(">", html.index(marker)) + 1
    return html[start:].split(end, 1)[0]


def text(html: str) -> str:
    """What a person reads of ``html``: its text, tags dropped, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def card(html: str) -> str:
    """The text of the page's customer satisfaction card."""
    return text(part(html, 'id="satisfaction"', "</div>"))


# --------------------------------------------------------------------------- the dashboard


def test_the_dashboard_shows_the_partners_customer_satisfaction_and_capabilities(
    as_pat: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert card(html) == (
        "Customer satisfaction NPS 40.0 5 answers in the last 12 months "
        "average 8.60 out of 10 3 promoters · 1 passive · 1 detractor"
    )
    assert "No survey answers" not in html
    capabilities = part(html, 'id="capabilities"', "</p>")
    assert re.findall(r'<span class="badge capability">(.*?)</span>', capabilities) == [
        "technical support",
        "after sales",
    ]
    assert money_without(html, "EUR") == [], "every amount carries its currency"
    [read] = [c for c in services.calls if c.path == "/partners/P-A"]
    assert (read.service, read.authorization) == ("reporting", PAT)
    assert not [c for c in services.calls if c.path.endswith("/satisfaction")], (
        "the partner 360 carries the figures"
    )


@pytest.mark.parametrize(
    "figures", [satisfaction(), None], ids=["no-answers", "reporting-without-them"]
)
def test_a_dashboard_without_survey_answers_says_so(
    as_pat: TestClient, services: FakeServices, figures: dict[str, object] | None
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    services.on(
        "GET",
        "reporting",
        "/partners/P-A",
        partner_360("P-A", "Alpha", satisfaction=figures, capabilities=[]),
    )
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert card(html) == "Customer satisfaction No survey answers in the last 12 months"
    assert 'class="nps"' not in html
    assert text(part(html, 'id="capabilities"', "</p>")) == "Capabilities: none stated"


def test_the_dashboards_satisfaction_and_capabilities_are_escaped(
    as_pat: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    hostile = satisfaction(promoters=1, average="<b>9</b>", nps=HOSTILE)
    services.on(
        "GET",
        "reporting",
        "/partners/P-A",
        partner_360("P-A", "Alpha", satisfaction=hostile, capabilities=["<i>logistics</i>"]),
    )
    html = as_pat.get("/partners/P-A").text
    assert HOSTILE not in html
    assert "<b>9</b>" not in html
    assert "<i>logistics</i>" not in html
    assert '<span class="nps">&lt;script&gt;alert(1)&lt;/script&gt;</span>' in html
    assert "average &lt;b&gt;9&lt;/b&gt; out of 10" in html
    assert '<span class="badge capability">&lt;i&gt;logistics&lt;/i&gt;</span>' in html


# --------------------------------------------------------------------------- the programme


def test_the_programme_shows_the_periods_customer_satisfaction(
    as_maria: TestClient, services: FakeServices
) -> None:
    summary, board = programme("2026-Q2")
    services.on("GET", "reporting", "/programme/summary", summary)
    services.on("GET", "reporting", "/leaderboard", board)
    answer = as_maria.get("/?period=2026-Q2")
    assert answer.status_code == 200, answer.text
    assert card(answer.text) == (
        "Customer satisfaction NPS 25.0 12 answers in 2026-Q2 average 7.92 out of 10 "
        "6 promoters · 3 passives · 3 detractors"
    )
    assert money_without(answer.text, "EUR", "USD") == [], "every amount carries its currency"


@pytest.mark.parametrize(
    "figures", [satisfaction(), None], ids=["no-answers", "reporting-without-them"]
)
def test_a_programme_period_without_survey_answers_says_so(
    as_maria: TestClient, services: FakeServices, figures: dict[str, object] | None
) -> None:
    summary, board = programme("2026-Q3")
    services.on("GET", "reporting", "/programme/summary", {**summary, "satisfaction": figures})
    services.on("GET", "reporting", "/leaderboard", board)
    answer = as_maria.get("/?period=2026-Q3")
    assert answer.status_code == 200, answer.text
    assert card(answer.text) == "Customer satisfaction No survey answers in 2026-Q3"


def test_the_programmes_satisfaction_is_escaped(
    as_maria: TestClient, services: FakeServices
) -> None:
    summary, board = programme("2026-Q2")
    hostile = satisfaction(detractors=2, average="<b>1</b>", nps=HOSTILE)
    services.on("GET", "reporting", "/programme/summary", {**summary, "satisfaction": hostile})
    services.on("GET", "reporting", "/leaderboard", board)
    html = as_maria.get("/?period=2026-Q2").text
    assert HOSTILE not in html
    assert "<b>1</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --------------------------------------------------------------------------- the leaderboard


def nps_board(period: str, *entries: tuple[str, str, str, int]) -> dict[str, object]:
    """Reporting's leaderboard by NPS: each ``(partner_id, name, nps, answers)``."""
    return answer_of(
        LeaderboardView,
        {
            "period": period,
            "by": "nps",
            "entries": [
                {
                    "rank": rank,
                    "partner_id": partner_id,
                    "name": name,
                    "value": nps,
                    "currency": None,
                    "responses": answers,
                }
                for rank, (partner_id, name, nps, answers) in enumerate(entries, 1)
            ],
        },
    )


def rows(html: str) -> list[list[str]]:
    """The cells' text of each row of the leaderboard's body."""
    body = part(part(html, 'id="leaderboard"', "</table>"), "<tbody>", "</tbody>")
    return [
        [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_the_leaderboard_by_nps_asks_reporting_by_nps_and_shows_nps_and_answers(
    as_maria: TestClient, services: FakeServices
) -> None:
    board = nps_board("2026-Q2", ("P-A", "Alpha & Co", "100.0", 3), ("P-B", HOSTILE, "-33.3", 12))
    services.on("GET", "reporting", "/leaderboard", board)
    answer = as_maria.get("/leaderboard?period=2026-Q2&by=nps")
    assert answer.status_code == 200, answer.text
    html = answer.text
    [asked] = services.calls
    assert (asked.service, asked.path, asked.authorization) == ("reporting", "/leaderboard", MARIA)
    assert asked.params == {"period": "2026-Q2", "by": "nps", "limit": "50"}
    head = text(part(html, 'id="leaderboard"', "</thead>"))
    assert head.split() == ["Rank", "Partner", "NPS", "Answers"]
    assert rows(html) == [["1", "Alpha & Co", "100.0", "3"], ["2", HOSTILE, "-33.3", "12"]]
    assert HOSTILE not in html, "escaped"
    assert "%" not in part(html, "<tbody>", "</tbody>"), "an NPS is no percentage of target"
    assert not re.search(r"\b(EUR|USD)\b", part(html, 'id="leaderboard"', "</table>"))
    assert '<option value="nps" selected>NPS</option>' in html


def test_the_leaderboard_offers_each_ranking_and_keeps_money_with_its_currency(
    as_maria: TestClient, services: FakeServices
) -> None:
    _, board = programme("2026-Q2")
    services.on("GET", "reporting", "/leaderboard", board)
    answer = as_maria.get("/leaderboard?period=2026-Q2&by=nps-or-not")
    assert answer.status_code == 200, answer.text
    assert services.calls[0].params["by"] == "revenue", "an unknown ranking is revenue"
    select = part(answer.text, '<select name="by">', "</select>")
    assert re.findall(r'<option value="([^"]+)"', select) == [
        "revenue",
        "commission",
        "attainment",
        "nps",
    ]
    assert re.findall(r">([^<]+)</option>", select) == [
        "revenue",
        "commission",
        "attainment",
        "NPS",
    ]
    assert rows(answer.text) == [["1", "Alpha", "900,000.00 EUR"], ["2", "Bravo", "250,000.50 USD"]]


def test_a_period_without_survey_answers_ranks_no_one_by_nps(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "reporting", "/leaderboard", nps_board("2026-Q3"))
    answer = as_maria.get("/leaderboard?period=2026-Q3&by=nps")
    assert answer.status_code == 200, answer.text
    assert rows(answer.text) == [["No partner has survey answers in 2026-Q3."]]
    assert 'colspan="4"' in answer.text


# --------------------------------------------------------------------------- partners at risk


def test_each_partner_at_risk_shows_its_satisfaction_factor(
    as_maria: TestClient, services: FakeServices
) -> None:
    found = partners_at_risk(("P-L", "Lagging"), ("P-S", "Surveyed"), surveyed=["P-S"])
    services.on("GET", "reporting", "/partners/at-risk", found)
    answer = as_maria.get("/partners/at-risk")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert '<th class="num">Customer satisfaction</th>' in html
    lagging, surveyed = part(html, "<tbody>", "</tbody>").split("<tr>")[1:]
    cell = r'<td class="num satisfaction">(.*?)</td>'
    assert text(re.findall(cell, lagging, re.S)[0]) == "not counted no answers"
    assert text(re.findall(cell, surveyed, re.S)[0]) == (
        "5.0 / 20 NPS -50.0 from 4 answers; the other factors count for 80.0 %"
    )
    assert "27.0" in surveyed
    assert "rated 2.00 of 5" in lagging, "beside the other factors"


def test_the_satisfaction_factor_of_a_partner_at_risk_is_escaped(
    as_maria: TestClient, services: FakeServices
) -> None:
    found = partners_at_risk(("P-L", "Lagging"), ("P-S", "Surveyed"), surveyed=["P-S"])
    found["partners"][1]["factors"]["satisfaction"]["nps"] = HOSTILE
    services.on("GET", "reporting", "/partners/at-risk", found)
    html = as_maria.get("/partners/at-risk").text
    assert HOSTILE not in html
    assert "NPS &lt;script&gt;alert(1)&lt;/script&gt; from 4 answers" in html


# --------------------------------------------------------------------------- the partner list


def test_the_partner_list_passes_the_capability_chosen_to_reporting(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET",
        "reporting",
        "/partners",
        partners_page(partner_360("P-A", "Alpha", capabilities=["logistics"]), next_cursor="c2"),
    )
    services.on("GET", "reporting", "/partners/P-A/health", health("P-A", "2026-Q2"))
    answer = as_maria.get("/partners?capability=logistics&tier=gold")
    assert answer.status_code == 200, answer.text
    html = answer.text
    listed = services.calls[0]
    assert (listed.path, listed.authorization) == ("/partners", MARIA)
    assert listed.params == {"capability": "logistics", "tier": "gold", "limit": "25"}
    select = part(html, '<select name="capability"', "</select>")
    assert re.findall(r'<option value="([^"]*)"', select) == [
        "",
        "technical_support",
        "implementation",
        "logistics",
        "after_sales",
        "consulting",
        "training",
    ]
    assert '<option value="logistics" selected>logistics</option>' in select
    assert select.count("selected") == 1
    [next_page] = re.findall(r'<a href="([^"]+)" id="next-page">', html)
    assert unescape(next_page) == "/partners?tier=gold&capability=logistics&cursor=c2", (
        "the next page keeps the filters"
    )


def test_the_partner_list_without_a_capability_asks_for_every_partner(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "reporting", "/partners", partners_page())
    answer = as_maria.get("/partners?capability=", headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    assert services.calls[0].params == {"limit": "25"}
    assert "No partner matches." in answer.text


def test_a_capability_reporting_refuses_is_its_422_in_its_words(
    as_maria: TestClient, services: FakeServices
) -> None:
    refusal = {
        "detail": [
            {
                "type": "enum",
                "loc": ["query", "capability"],
                "msg": "Input should be 'technical_support', 'implementation', 'logistics', "
                "'after_sales', 'consulting' or 'training'",
                "input": "juggling",
            }
        ]
    }
    services.on("GET", "reporting", "/partners", refusal, status=422)
    answer = as_maria.get("/partners?capability=juggling")
    assert answer.status_code == 422
    assert services.calls[0].params["capability"] == "juggling"
    problem = unescape(part(answer.text, 'id="problem"', "</p>"))
    assert problem.startswith("query.capability: Input should be 'technical_support'")
