"""The portal's registrations and settlements on a fake of the four services
(tests/support/portal.py): the open registrations on a partner's dashboard, the list of
registrations (a partner user's own, the channel manager's of every partner), and the
channel manager's settlements with the form that settles a period."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.support.portal import (
    FakeServices,
    assert_hardened,
    dashboard_of,
    form_of,
    hidden,
    manager,
    mdf_reimbursement,
    money_without,
    partner_360,
    partner_settlements,
    partner_user,
    partners_page,
    registration,
    registrations,
    settlement_run,
    sign_in,
)

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"


def next_page(html: str) -> str:
    found = re.search(r'id="next-page" href="([^"]*)"|href="([^"]*)" id="next-page"', html)
    assert found, "no Next page link"
    return unescape(found[1] or found[2])


def asked(services: FakeServices, service: str, path: str) -> list[dict[str, list[str]]]:
    """The query of each call to ``service`` ``path``, every parameter with its values."""
    return [
        {name: call.values(name) for name, _ in call.query}
        for call in services.calls
        if (call.service, call.path) == (service, path)
    ]


CONFLICT = registration("R-B-3", "P-B", "rejected", "channel_conflict")
LISTED = registrations(
    registration("R-A-1", "P-A"),
    registration("R-A-2", "P-A", "approved"),
    CONFLICT,
    next_cursor="c-2",
)


# --------------------------------------------------------------------------- signed in or not


@pytest.mark.parametrize(
    "page", ["/registrations", "/registrations?status=rejected", "/settlements"]
)
def test_the_new_pages_without_a_session_send_to_sign_in(
    portal: TestClient, services: FakeServices, page: str
) -> None:
    answer = portal.get(page)
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        f"/login?next={quote(page, safe='')}",
    )
    assert services.calls == []


@pytest.mark.parametrize(
    ("person", "links"),
    [
        (partner_user(), ['href="/registrations"']),
        (manager(), ['href="/registrations"', 'href="/settlements"']),
    ],
    ids=["partner user", "manager"],
)
def test_the_navigation_links_the_new_pages(
    portal: TestClient, services: FakeServices, person: object, links: list[str]
) -> None:
    sign_in(portal, person)  # type: ignore[arg-type]
    services.on("GET", "incentives", "/registrations", registrations())
    html = portal.get("/registrations").text
    nav = html[html.index("<nav") : html.index("</nav>")]
    for link in links:
        assert link in nav
    assert ('href="/settlements"' in nav) is (len(links) == 2)
    assert ('href="/partners/at-risk"' in nav) is (len(links) == 2)


# --------------------------------------------------------------------------- the dashboard


def test_the_dashboard_shows_the_partners_open_registrations(
    as_pat: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    services.on(
        "GET",
        "incentives",
        "/registrations",
        registrations(
            registration("R-A-1", "P-A"),
            registration("R-A-2", "P-A", "approved"),
            next_cursor="c-2",
        ),
    )
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    html = answer.text
    section = html[html.index("Open registrations") : html.index("<h2>Certifications")]
    assert 'href="/registrations/R-A-1"' in section
    assert 'href="/registrations/R-A-2"' in section
    assert "pending" in section
    assert "approved" in section
    assert (
        'href="/registrations?partner_id=P-A&amp;status=pending&amp;status=approved&amp;cursor=c-2"'
        in section
    ), "more of the open ones, from where the dashboard stopped"
    [query] = asked(services, "incentives", "/registrations")
    assert query == {"partner_id": ["P-A"], "status": ["pending", "approved"], "limit": ["25"]}
    assert {c.authorization for c in services.calls} == {PAT}
    assert money_without(html, "EUR") == []


def test_the_managers_view_of_a_dashboard_asks_for_that_partners_registrations(
    as_maria: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-B", "Bravo", "USD")
    answer = as_maria.get("/partners/P-B")
    assert answer.status_code == 200, answer.text
    assert 'href="/registrations/R-P-B-1"' in answer.text
    [query] = asked(services, "incentives", "/registrations")
    assert query["partner_id"] == ["P-B"]
    assert services.calls[-1].authorization == MARIA


# --------------------------------------------------------------------------- the registrations


def test_a_partner_users_registrations_are_asked_for_its_own_partner_only(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET",
        "incentives",
        "/registrations",
        registrations(registration("R-A-1", "P-A"), registration("R-A-2", "P-A", "approved")),
    )
    answer = as_pat.get("/registrations")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    assert 'href="/registrations/R-A-1"' in answer.text
    assert "<th>Partner</th>" not in answer.text, "a partner user's are all its own"
    assert 'name="partner_id"' not in answer.text
    assert 'id="next-page"' not in answer.text

    as_pat.get("/registrations?partner_id=P-A&status=rejected&status=closed")
    assert asked(services, "incentives", "/registrations") == [
        {"partner_id": ["P-A"], "limit": ["25"]},
        {"partner_id": ["P-A"], "status": ["rejected"], "limit": ["25"]},
    ]
    assert {c.authorization for c in services.calls} == {PAT}


def test_a_partner_user_naming_another_partner_is_refused_before_asking(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations", LISTED)
    answer = as_pat.get("/registrations?partner_id=P-B")
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "your own partner" in answer.text
    assert services.calls == []


def test_the_manager_sees_every_partners_registrations_with_the_reason_of_a_rejection(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations", LISTED)
    answer = as_maria.get("/registrations")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "<th>Partner</th>" in html
    row = html[html.index('id="registration-R-B-3"') :]
    row = row[: row.index("</tr>")]
    assert "P-B" in row
    assert "rejected" in row
    assert "channel conflict: another partner holds an approved registration" in row
    assert "channel conflict" not in html[: html.index('id="registration-R-B-3"')]
    assert asked(services, "incentives", "/registrations") == [{"limit": ["25"]}]

    link = next_page(html)
    assert link == "/registrations?cursor=c-2"
    as_maria.get(link)
    assert asked(services, "incentives", "/registrations")[-1] == {
        "cursor": ["c-2"],
        "limit": ["25"],
    }


def test_the_managers_filters_are_sent_and_kept_on_the_next_page(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations", registrations(CONFLICT, next_cursor="c-9"))
    answer = as_maria.get("/registrations?partner_id=+P-B+&status=rejected&status=pending")
    assert answer.status_code == 200, answer.text
    assert asked(services, "incentives", "/registrations") == [
        {"partner_id": ["P-B"], "status": ["pending", "rejected"], "limit": ["25"]}
    ]
    assert 'value="P-B"' in answer.text
    assert re.search(r'value="rejected"\s+checked', answer.text)
    assert not re.search(r'value="approved"\s+checked', answer.text)
    link = next_page(answer.text)
    assert link == "/registrations?partner_id=P-B&status=pending&status=rejected&cursor=c-9"
    as_maria.get(link)
    assert asked(services, "incentives", "/registrations")[-1] == {
        "partner_id": ["P-B"],
        "status": ["pending", "rejected"],
        "cursor": ["c-9"],
        "limit": ["25"],
    }


def test_a_refused_listing_is_shown_in_the_services_words(
    as_maria: TestClient, services: FakeServices
) -> None:
    problem = {"detail": [{"loc": ["query", "cursor"], "msg": "not a cursor from an earlier page"}]}
    services.on("GET", "incentives", "/registrations", problem, status=422)
    answer = as_maria.get("/registrations?cursor=forged")
    assert answer.status_code == 422
    assert "not a cursor from an earlier page" in answer.text


# --------------------------------------------------------------------------- settlements


def settlements_of_two(services: FakeServices) -> None:
    """Reporting's partners P-A (settled once, in EUR) and P-B (no commission yet)."""
    services.on(
        "GET",
        "reporting",
        "/partners",
        partners_page(partner_360("P-A", "Alpha"), partner_360("P-B", "Bravo"), next_cursor="c2"),
    )
    services.on("GET", "incentives", "/partners/P-A/settlements", partner_settlements("P-A"))
    services.on(
        "GET",
        "incentives",
        "/partners/P-B/settlements",
        {"detail": "no commission data for partner P-B"},
        status=404,
    )


def test_the_settlements_so_far_partner_by_partner_with_their_currency(
    as_maria: TestClient, services: FakeServices
) -> None:
    settlements_of_two(services)
    answer = as_maria.get("/settlements")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    html = answer.text
    table = html[html.index('id="settlements"') :]
    assert "S-P-A-Q1" in table
    assert "12,000.00 EUR" in table
    assert "2026-Q1: -250.00 EUR" in table, "what is pending against a settled period"
    assert "Bravo" in table
    assert "No commission yet." in table
    assert money_without(html, "EUR") == []
    assert next_page(html) == "/settlements?cursor=c2"
    assert [(c.service, c.path, c.params) for c in services.calls] == [
        ("reporting", "/partners", {"limit": "25"}),
        ("incentives", "/partners/P-A/settlements", {}),
        ("incentives", "/partners/P-B/settlements", {}),
    ]
    assert {c.authorization for c in services.calls} == {MARIA}
    form = html[html.index('id="settlement-form"') :]
    assert 'name="csrf" value="csrf-of-maria"' in form
    assert 'name="submission"' in form

    as_maria.get("/settlements?cursor=c2")
    assert services.calls[-3].params == {"cursor": "c2", "limit": "25"}


def test_one_partners_settlements(as_maria: TestClient, services: FakeServices) -> None:
    services.on("GET", "incentives", "/partners/P-A/settlements", partner_settlements("P-A"))
    answer = as_maria.get("/settlements?partner_id=P-A")
    assert answer.status_code == 200, answer.text
    assert "S-P-A-Q1" in answer.text
    assert [(c.service, c.path) for c in services.calls] == [
        ("incentives", "/partners/P-A/settlements")
    ]
    assert 'id="next-page"' not in answer.text


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell of each body row of the table ``table_id``."""
    table = html[html.index(f'id="{table_id}"') :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_each_settlement_says_the_mdf_it_reimbursed_in_each_currency(
    as_maria: TestClient, services: FakeServices
) -> None:
    others = [
        mdf_reimbursement("GBP", "80.50", "MC-7"),
        mdf_reimbursement("USD", "1200.00", "MC-8", "MC-9"),
    ]
    found = partner_settlements("P-A", mdf_reimbursed="1500.00", mdf_other_currencies=others)
    services.on("GET", "incentives", "/partners/P-A/settlements", found)
    answer = as_maria.get("/settlements?partner_id=P-A")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert '<th class="num">MDF reimbursed</th>' in html
    [row, _pending] = cells(html, "settlements")
    assert row[1] == "S-P-A-Q1"
    assert row[5] == "1,500.00 EUR + 80.50 GBP + 1,200.00 USD"
    assert money_without(html, "EUR", "GBP", "USD") == []


def test_a_settlement_without_mdf_in_other_currencies_shows_its_own(
    as_maria: TestClient, services: FakeServices
) -> None:
    """Also when incentives says nothing of other currencies (an answer without the field)."""
    found = partner_settlements("P-A", mdf_reimbursed="300.00")
    for settled in found["settlements"]:
        settled.pop("mdf_other_currencies", None)
    services.on("GET", "incentives", "/partners/P-A/settlements", found)
    answer = as_maria.get("/settlements?partner_id=P-A")
    assert answer.status_code == 200, answer.text
    assert cells(answer.text, "settlements")[0][5] == "300.00 EUR"


def test_the_settlement_runs_payouts_say_the_mdf_they_reimburse(
    as_maria: TestClient, services: FakeServices
) -> None:
    settlements_of_two(services)
    run = settlement_run(
        "S-2",
        "2026-Q2",
        dry_run=True,
        mdf_reimbursed="650.00",
        mdf_other_currencies=[mdf_reimbursement("USD", "99.99", "MC-3")],
    )
    services.on("POST", "incentives", "/settlements", run)
    form = form_of(as_maria, "/settlements")
    answer = as_maria.post("/settlements", data={**form, "period": "2026-Q2", "dry_run": "on"})
    assert answer.status_code == 200, answer.text
    html = answer.text
    [paid] = cells(html, "payouts")
    assert paid[:4] == ["P-A", "9,500.00 EUR", "9,750.00 EUR", "650.00 EUR + 99.99 USD"]
    assert money_without(html, "EUR", "USD") == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_settlements_are_403_for_a_partner_user(
    as_pat: TestClient, services: FakeServices, method: str
) -> None:
    data = {"csrf": "csrf-of-pat", "submission": "s-1", "period": "2026-Q2"}
    answer = as_pat.request(method, "/settlements", data=data if method == "POST" else None)
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "channel managers" in answer.text
    assert services.calls == []


def test_settling_posts_to_incentives_as_the_manager_once_per_form(
    as_maria: TestClient, services: FakeServices
) -> None:
    settlements_of_two(services)
    services.on(
        "POST", "incentives", "/settlements", settlement_run("S-1", "2026-Q2", dry_run=True)
    )
    form = form_of(as_maria, "/settlements")
    typed = {"period": " 2026-Q2 ", "partner_ids": "P-A, P-B  P-C", "dry_run": "on"}
    answer = as_maria.post("/settlements", data={**form, **typed})
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    [sent] = [c for c in services.calls if c.method == "POST"]
    assert (sent.service, sent.path, sent.authorization) == ("incentives", "/settlements", MARIA)
    assert sent.idempotency_key == form["submission"]
    assert sent.body == {
        "period": "2026-Q2",
        "partner_ids": ["P-A", "P-B", "P-C"],
        "dry_run": True,
        "rerun": False,
        "settlement_id": form["submission"],
    }, "the submission is the settlement id: a form sent twice pays once"
    html = answer.text
    outcome = html[html.index('id="outcome"') : html.index("</section>")]
    assert "Dry run of 2026-Q2" in outcome
    assert "9,500.00 EUR" in outcome
    assert "2026-Q1: -250.00 EUR" in outcome, "carried from a settled period"
    assert "P-B (nothing earned and nothing pending)" in outcome
    assert money_without(html, "EUR") == []
    assert hidden(html, "submission") != form["submission"], "the next form is a new one"
    assert 'value="2026-Q2"' not in html, "a form that went through is shown empty"


def test_a_recorded_settlement_says_so(as_maria: TestClient, services: FakeServices) -> None:
    settlements_of_two(services)
    services.on("POST", "incentives", "/settlements", settlement_run("S-7", "2026-Q2"), status=201)
    form = form_of(as_maria, "/settlements")
    answer = as_maria.post("/settlements", data={**form, "period": "2026-Q2"})
    assert answer.status_code == 200, answer.text
    assert "Settlement S-7 of 2026-Q2 recorded." in answer.text
    sent = [c for c in services.calls if c.method == "POST"][-1]
    assert sent.body["partner_ids"] is None, "no partner named: every partner not yet settled"
    assert (sent.body["dry_run"], sent.body["rerun"]) == (False, False)


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (
            409,
            {
                "detail": "partner P-A: 2026-Q2 is already settled (S-1)",
                "refused": [{"partner_id": "P-A", "period": "2026-Q2", "settled_by": ["S-1"]}],
            },
            "partner P-A: 2026-Q2 is already settled (S-1)",
        ),
        (404, {"detail": "no commission data for partner(s) P-Z"}, "partner(s) P-Z"),
        (
            422,
            {"detail": [{"loc": ["body", "period"], "msg": "String should match pattern"}]},
            "period: String should match pattern",
        ),
    ],
    ids=["already settled", "unknown partner", "bad period"],
)
def test_a_refused_settlement_is_shown_on_the_form_with_what_was_typed(
    as_maria: TestClient, services: FakeServices, status: int, body: object, shown: str
) -> None:
    settlements_of_two(services)
    services.on("POST", "incentives", "/settlements", body, status=status)
    form = form_of(as_maria, "/settlements")
    typed = {"period": "2026-Q2", "partner_ids": "P-A <b>", "rerun": "on"}
    answer = as_maria.post("/settlements", data={**form, **typed})
    assert answer.status_code == status
    assert_hardened(answer)
    html = answer.text
    problem = html[html.index('id="problem"') :]
    assert shown in unescape(problem[: problem.index("</p>")])
    assert 'id="outcome"' not in html
    form_shown = html[html.index('id="settlement-form"') :]
    assert 'value="2026-Q2"' in form_shown
    assert 'value="P-A &lt;b&gt;"' in form_shown
    assert re.search(r'name="rerun"\s+checked', form_shown)
    assert not re.search(r'name="dry_run"\s+checked', form_shown)
    assert "S-P-A-Q1" in html, "the settlements so far are still listed"


def test_a_settlement_form_without_this_sessions_csrf_token_sends_nothing(
    as_maria: TestClient, services: FakeServices
) -> None:
    answer = as_maria.post(
        "/settlements", data={"csrf": "csrf-of-pat", "submission": "s-1", "period": "2026-Q2"}
    )
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    assert services.calls == []


def test_incentives_unreachable_is_a_503_page(as_maria: TestClient, services: FakeServices) -> None:
    settlements_of_two(services)
    form = form_of(as_maria, "/settlements")
    services.down.add("incentives")
    answer = as_maria.post("/settlements", data={**form, "period": "2026-Q2"})
    assert answer.status_code == 503
    assert "the incentives service cannot be reached" in answer.text


def test_a_settlement_recorded_is_shown_even_when_the_list_cannot_be_read_after_it(
    as_maria: TestClient, services: FakeServices
) -> None:
    settlements_of_two(services)
    services.on("POST", "incentives", "/settlements", settlement_run("S-8", "2026-Q2"), status=201)
    form = form_of(as_maria, "/settlements")
    services.down.add("reporting")
    answer = as_maria.post("/settlements", data={**form, "period": "2026-Q2"})
    assert answer.status_code == 200, answer.text
    assert "Settlement S-8 of 2026-Q2 recorded." in answer.text
    assert "the reporting service cannot be reached" in answer.text
