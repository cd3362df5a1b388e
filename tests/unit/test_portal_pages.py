"""The portal's pages on a fake of the four services (tests/support/portal.py): who may
see what, what each form sends and as whom, what a service's refusal becomes, and the
headers and cookies every answer carries."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response

from services.portal.sessions import SESSION_COOKIE, SessionCodec
from tests.support.portal import (
    FakeServices,
    application,
    applications,
    approval,
    assert_hardened,
    cookies_set,
    dashboard_of,
    form_of,
    health,
    hidden,
    inquiries,
    is_deleted,
    manager,
    mdf_claims,
    mdf_quarter,
    mdf_requests,
    money_without,
    partner_360,
    partner_user,
    partners_at_risk,
    portal_settings,
    programme,
    registration,
    registration_answer,
    running_portal,
    session_cookie,
    sign_in,
    statement,
)

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"
OTHER = "Bravo Hidden Systems"
DEAL = {
    "deal_id": "D-7",
    "customer": "Globex & Sons",
    "product_line": "cloud",
    "expected_amount": "80000.00",
}


# --------------------------------------------------------------------------- signed in or not


@pytest.mark.parametrize(
    "page",
    [
        "/partners/P-A",
        "/partners/P-A/statements/2026-Q2",
        "/partners?tier=gold&region=EMEA",
        "/applications",
        "/leaderboard",
        "/mdf",
        "/registrations/new",
        "/registrations/R-1",
        "/feedback/new",
        "/logout",
    ],
)
def test_a_page_without_a_session_sends_to_sign_in_and_back(
    portal: TestClient, services: FakeServices, page: str
) -> None:
    answer = portal.get(page)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={quote(page, safe='')}"
    assert_hardened(answer)
    assert services.calls == []


def test_htmx_is_told_where_to_sign_in(portal: TestClient, services: FakeServices) -> None:
    answer = portal.get("/partners?tier=gold", headers={"HX-Request": "true"})
    assert answer.status_code == 204
    assert answer.headers["HX-Redirect"] == "/login?next=%2Fpartners%3Ftier%3Dgold"
    assert services.calls == []


FOREIGN = session_cookie(SessionCodec("another portal's secret", 3600, secure=False), manager())


@pytest.mark.parametrize("cookie", ["garbage", FOREIGN], ids=["garbage", "foreign"])
def test_a_cookie_the_portal_did_not_make_is_no_session(
    portal: TestClient, services: FakeServices, cookie: str
) -> None:
    portal.cookies.set(SESSION_COOKIE, cookie)
    assert portal.get("/applications").headers["location"] == "/login?next=%2Fapplications"
    welcome = portal.get("/")
    assert welcome.status_code == 200
    assert 'id="welcome-sign-in"' in welcome.text
    assert services.calls == []


def test_the_welcome_page_is_for_people_not_signed_in(portal: TestClient) -> None:
    answer = portal.get("/")
    assert answer.status_code == 200
    assert 'href="/login"' in answer.text
    assert "Sign out" not in answer.text
    assert_hardened(answer)


def test_a_session_past_its_hours_sends_to_sign_in(
    portal: TestClient, services: FakeServices
) -> None:
    started = time.time() - 9 * 3600  # PORTAL_SESSION_HOURS is 8
    sign_in(portal, partner_user(started_at=started))
    assert portal.get("/partners/P-A").headers["location"] == "/login?next=%2Fpartners%2FP-A"
    assert services.calls == []


def test_an_expiring_token_without_an_issuer_to_renew_it_sends_to_sign_in(
    portal: TestClient, services: FakeServices
) -> None:
    sign_in(portal, partner_user(access_expires_at=time.time() + 5))
    assert portal.get("/partners/P-A").headers["location"] == "/login?next=%2Fpartners%2FP-A"
    assert services.calls == []


# --------------------------------------------------------------------------- a partner's own pages


def test_the_partners_dashboard_shows_its_money_with_its_currency_and_the_chart(
    as_pat: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha <b>Networks</b> & Co", "EUR")
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert_hardened(answer)
    assert "Alpha &lt;b&gt;Networks&lt;/b&gt; &amp; Co" in html, "names are escaped"
    assert "<b>Networks" not in html
    assert "1,234,567.80 EUR" in html  # revenue over every period
    assert "9,750.00 EUR" in html  # this period's payout
    assert "81.2 %" in html  # attainment
    assert money_without(html, "EUR") == [], "every amount carries its currency"
    assert "currency unknown" not in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in svg
    assert svg.index("2026-Q1: 12,000.00 EUR") < svg.index("2026-Q2: 9,750.00 EUR")
    assert {(c.service, c.path) for c in services.calls} == {
        ("reporting", "/partners/P-A"),
        ("reporting", "/partners/P-A/payouts"),
        ("reporting", "/partners/P-A/health"),
        ("reporting", "/partners/P-A/mdf"),
        ("reporting", "/partners/P-A/statements/2026-Q2"),
        ("enablement", "/mdf-requests"),
        ("incentives", "/registrations"),
    }
    assert {c.authorization for c in services.calls} == {PAT}
    assert {c.method for c in services.calls} == {"GET"}
    mdf = [c for c in services.calls if c.service == "enablement"]
    assert mdf[0].params == {"partner_id": "P-A"}


def test_a_dashboard_without_a_known_currency_says_so(
    as_pat: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    services.on("GET", "reporting", "/partners/P-A", partner_360("P-A", "Alpha", contract=None))
    services.on(
        "GET",
        "reporting",
        "/partners/P-A/payouts",
        {"partner_id": "P-A", "payouts": [], "periods": [], "pending_adjustments": {}},
    )
    services.on(
        "GET",
        "reporting",
        "/partners/P-A/statements/2026-Q2",
        {**statement("P-A", "2026-Q2"), "currency": None},
    )
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    assert "1,234,567.80 (currency unknown)" in answer.text
    assert "No commission yet" in answer.text
    assert money_without(answer.text, "EUR", "(currency unknown)") == []


def test_the_partners_own_statement(as_pat: TestClient, services: FakeServices) -> None:
    dashboard_of(services, "P-A", "Alpha")
    services.on("GET", "incentives", "/inquiries", inquiries())
    answer = as_pat.get("/partners/P-A/statements/2026-Q2")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    assert 'id="payout-total">9,750.00 EUR' in answer.text
    assert "D-P-A-1" in answer.text
    assert money_without(answer.text, "EUR") == []
    assert sorted((c.service, c.path, c.authorization) for c in services.calls) == [
        ("incentives", "/inquiries", PAT),
        ("reporting", "/partners/P-A", PAT),
        ("reporting", "/partners/P-A/statements/2026-Q2", PAT),
    ]


@pytest.mark.parametrize("period", ["2026-Q5", "last-quarter", "2026-13"])
def test_a_statement_of_no_period_is_404_and_asks_nothing(
    as_pat: TestClient, services: FakeServices, period: str
) -> None:
    answer = as_pat.get(f"/partners/P-A/statements/{period}")
    assert answer.status_code == 404
    assert_hardened(answer)
    assert services.calls == []


@pytest.mark.parametrize("page", ["/partners/P-B", "/partners/P-B/statements/2026-Q2"])
def test_a_partner_user_never_sees_another_partners_pages(
    as_pat: TestClient, services: FakeServices, page: str
) -> None:
    dashboard_of(services, "P-B", OTHER, "USD")
    answer = as_pat.get(page)
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "your own partner" in answer.text
    for secret in (OTHER, "P-B", "USD", "Spring webinar"):
        assert secret not in answer.text
    assert services.calls == [], "the portal refused before asking any service"


def test_a_partner_user_never_sees_another_partners_registration(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations/R-B", registration("R-B", "P-B"))
    answer = as_pat.get("/registrations/R-B")
    assert answer.status_code == 403
    assert "Globex" not in answer.text
    assert "P-B" not in answer.text


@pytest.mark.parametrize(
    "page", ["/applications", "/partners", "/partners/at-risk", "/leaderboard"]
)
def test_staff_pages_are_403_for_a_partner_user(
    as_pat: TestClient, services: FakeServices, page: str
) -> None:
    answer = as_pat.get(page)
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "channel managers" in answer.text
    assert services.calls == []


def test_a_partner_users_home_is_its_dashboard(as_pat: TestClient, services: FakeServices) -> None:
    answer = as_pat.get("/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/partners/P-A")
    assert services.calls == []


# --------------------------------------------------------------------------- the manager's pages


def test_the_managers_home_is_the_programme_with_money_in_each_currency(
    as_maria: TestClient, services: FakeServices
) -> None:
    summary, board = programme("2026-Q2")
    services.on("GET", "reporting", "/programme/summary", summary)
    services.on("GET", "reporting", "/leaderboard", board)
    answer = as_maria.get("/?period=2026-Q2")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    for shown in ("1,500,000.00 EUR", "250,000.50 USD", "25,000.05 USD", "900,000.00 EUR"):
        assert shown in answer.text
    assert [(c.path, c.params.get("period"), c.authorization) for c in services.calls] == [
        ("/programme/summary", "2026-Q2", MARIA),
        ("/leaderboard", "2026-Q2", MARIA),
    ]
    assert 'href="/partners/at-risk"' in answer.text.split("</nav>", 1)[1]  # on the page
    nav = answer.text[answer.text.index("<nav") : answer.text.index("</nav>")]
    assert 'href="/partners/at-risk"' in nav


def test_the_managers_partner_list_shows_each_partners_health(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET",
        "reporting",
        "/partners",
        {
            "items": [partner_360("P-A", "Alpha"), partner_360("P-B", "Bravo", "USD")],
            "next_cursor": "c2",
        },
    )
    services.on("GET", "reporting", "/partners/P-A/health", health("P-A", "2026-Q2", "81.5"))
    services.on("GET", "reporting", "/partners/P-B/health", {"detail": "gone"}, status=404)
    answer = as_maria.get("/partners?tier=gold")
    assert answer.status_code == 200, answer.text
    assert "1,234,567.80 EUR" in answer.text
    assert "1,234,567.80 USD" in answer.text
    assert "81.5" in answer.text
    assert 'id="next-page"' in answer.text
    assert "tier=gold" in answer.text
    assert services.calls[0].params == {"tier": "gold", "limit": "25"}


def test_the_managers_list_of_partners_at_risk_shows_each_factor_and_links_each_dashboard(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET",
        "reporting",
        "/partners/at-risk",
        partners_at_risk(("P-L", "Lagging Ltd"), ("P-Q", "Quiet & Sons")),
    )
    answer = as_maria.get("/partners/at-risk")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    assert [(c.service, c.path, c.params, c.authorization) for c in services.calls] == [
        ("reporting", "/partners/at-risk", {"limit": "100"}, MARIA)
    ]
    html = answer.text
    assert "40 active partners scored, 2 at risk" in html
    assert "Quiet &amp; Sons" in html
    rows = html[html.index("<tbody>") : html.index("</tbody>")].split("<tr>")[1:]
    assert [re.findall(r'href="([^"]+)"', row) for row in rows] == [
        ["/partners/P-L"],
        ["/partners/P-Q"],
    ]
    lagging, quiet = rows
    for shown in ("27.5", "20.0 / 40", "no target", "no deal", "0 valid", "no feedback"):
        assert shown in quiet, shown
    for shown in ("19.8", "15.0 %", "last deal 120 days ago", "1 valid", "rated 2.00 of 5"):
        assert shown in lagging, shown
    assert "No partner is at risk" not in html


def test_the_list_of_partners_at_risk_says_when_there_is_none(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "reporting", "/partners/at-risk", partners_at_risk(scored=12))
    answer = as_maria.get("/partners/at-risk")
    assert answer.status_code == 200, answer.text
    assert "No partner is at risk." in answer.text
    assert "12 active partners scored, 0 at risk" in answer.text


def test_approving_an_application_posts_to_onboarding_and_says_which_partner(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET", "onboarding", "/applications", applications(application("A-1", "P-N", "Newco"))
    )
    services.on("POST", "onboarding", "/applications/A-1/approve", approval("A-1", "P-NEW"))
    form = form_of(as_maria, "/applications")
    answer = as_maria.post("/applications/A-1/approve", data=form)
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/applications?done=approved:P-NEW",
    )
    sent = services.calls[-1]
    assert (sent.method, sent.service, sent.path) == (
        "POST",
        "onboarding",
        "/applications/A-1/approve",
    )
    assert sent.authorization == MARIA
    assert sent.idempotency_key == form["submission"]
    shown = as_maria.get(answer.headers["location"])
    assert "Application approved: partner P-NEW." in shown.text


def test_the_applications_show_capabilities_and_each_warning_escaped(
    as_maria: TestClient, services: FakeServices
) -> None:
    lacking = {
        **application("A-1", "P-1", "Makers"),
        "industry": "<b>manufacturing</b>",
        "capabilities": ["after_sales", "training"],
        "warnings": [
            "missing_capability: logistics (<b>manufacturing</b> partners need logistics "
            "and after_sales)",
            "missing_capability: <script>alert(1)</script>",
        ],
    }
    complete = {**application("A-2", "P-2", "Helpers"), "capabilities": [], "warnings": []}
    services.on("GET", "onboarding", "/applications", applications(lacking, complete))
    answer = as_maria.get("/applications")
    assert answer.status_code == 200, answer.text
    html = answer.text
    first = html[html.index('id="application-A-1"') : html.index('id="application-A-2"')]
    second = html[html.index('id="application-A-2"') :]

    assert "<script>alert(1)</script>" not in html
    assert "<b>manufacturing</b>" not in html
    warnings = re.findall(r'<li class="warning risk">(.*?)</li>', first)
    assert [unescape(re.sub(r"<[^>]+>", "", w)) for w in warnings] == [
        "warning missing_capability: logistics (<b>manufacturing</b> partners need logistics "
        "and after_sales)",
        "warning missing_capability: <script>alert(1)</script>",
    ]
    assert "missing_capability: &lt;script&gt;alert(1)&lt;/script&gt;" in first, "escaped"
    capabilities = re.findall(r'<span class="badge capability">(.*?)</span>', first)
    assert capabilities == ["after sales", "training"]
    assert 'class="warning' not in second
    assert 'Capabilities: <span class="meta">none stated</span>' in second


def test_rejecting_an_application_sends_the_reason(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET", "onboarding", "/applications", applications(application("A-1", "P-N", "Newco"))
    )
    services.on("POST", "onboarding", "/applications/A-1/reject", {"status": "rejected"})
    form = form_of(as_maria, "/applications")
    answer = as_maria.post("/applications/A-1/reject", data={**form, "reason": " no fit "})
    assert answer.headers["location"] == "/applications?done=rejected:A-1"
    assert services.calls[-1].body == {"reason": "no fit"}
    assert services.calls[-1].idempotency_key == form["submission"]


# --------------------------------------------------------------------------- forms and CSRF

POSTS = [
    ("/registrations", DEAL),
    ("/mdf-requests", {"campaign": "Webinar", "amount": "100.00", "currency": "EUR"}),
    ("/feedback", {"topic": "support", "rating": "4", "text": "fine"}),
    ("/applications/A-1/approve", {}),
    ("/applications/A-1/reject", {"reason": "no"}),
    ("/mdf-requests/M-1/approve", {}),
    ("/mdf-requests/M-1/reject", {"reason": "no"}),
    (
        "/mdf-requests/M-1/claims",
        {
            "amount": "600.00",
            "activity_end": "2026-05-15",
            "evidence-1-kind": "invoice",
            "evidence-1-url": "https://files.example.com/i.pdf",
            "evidence-1-sha256": "0" * 64,
        },
    ),
    ("/mdf-requests/M-1/claims/MC-1/approve", {"approved_amount": "500.00"}),
    ("/mdf-requests/M-1/claims/MC-1/reject", {"reason": "no attendee list"}),
    ("/registrations/R-1/extension", {"days": "30", "reason": "the board meets in July"}),
    ("/registrations/R-1/extension/approve", {"note": "fine"}),
    ("/registrations/R-1/extension/reject", {"reason": "no"}),
    ("/registrations/R-1/decision", {"decision": "approve", "reason": "a duplicate"}),
    ("/partners/P-A/statements/2026-Q2/inquiries", {"deal_id": "D-1", "message": "why?"}),
    ("/inquiries/I-1/resolve", {"resolution": "explained", "note": "the rate is 10 %"}),
    (
        "/partners/P-A/statements/2026-Q2/adjustments",
        {"amount": "800.00", "reason": "goodwill", "deal_id": ""},
    ),
    ("/logout", {}),
]


@pytest.mark.parametrize(("path", "fields"), POSTS, ids=[p for p, _ in POSTS])
@pytest.mark.parametrize(
    "csrf",
    [None, "", "forged", "csrf-of-pat", "csrf-of-märia"],
    ids=["none", "empty", "forged", "another-session", "not-ascii"],
)
def test_a_form_without_this_sessions_csrf_token_is_403_and_sends_nothing(
    as_maria: TestClient,
    services: FakeServices,
    path: str,
    fields: dict[str, str],
    csrf: str | None,
) -> None:
    data = {**fields, "submission": "s-1"} | ({} if csrf is None else {"csrf": csrf})
    answer = as_maria.post(path, data=data)
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "reload the page" in answer.text
    assert services.calls == []
    assert SESSION_COOKIE not in cookies_set(answer.headers.get_list("set-cookie"))


@pytest.mark.parametrize(
    "path", ["/applications/A-1/approve", "/applications/A-1/reject", "/mdf-requests/M-1/approve"]
)
def test_a_partner_user_cannot_send_the_managers_decisions(
    as_pat: TestClient, services: FakeServices, path: str
) -> None:
    answer = as_pat.post(path, data={"csrf": "csrf-of-pat", "submission": "s-1"})
    assert answer.status_code == 403
    assert services.calls == []


def test_a_partner_registers_a_deal_as_itself(as_pat: TestClient, services: FakeServices) -> None:
    services.on("POST", "incentives", "/registrations", registration_answer("R-9"), status=202)
    form = form_of(as_pat, "/registrations/new")
    typed = {name: f" {value} " for name, value in DEAL.items()}
    answer = as_pat.post("/registrations", data={**form, **typed, "partner_id": "P-B"})
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/registrations/R-9?registered=1",
    )
    assert_hardened(answer)
    [sent] = services.calls
    assert (sent.method, sent.service, sent.path) == ("POST", "incentives", "/registrations")
    assert sent.authorization == PAT
    assert sent.idempotency_key == form["submission"]
    assert sent.body == DEAL, "the four fields, trimmed; a partner user names no partner"

    services.on("GET", "incentives", "/registrations/R-9", registration("R-9", "P-A"))
    shown = as_pat.get(answer.headers["location"])
    assert shown.status_code == 200
    assert 'id="registration-id">R-9' in shown.text
    assert "Registered." in shown.text


def test_each_form_shown_is_a_new_submission(as_pat: TestClient) -> None:
    first, second = form_of(as_pat, "/registrations/new"), form_of(as_pat, "/registrations/new")
    assert first["csrf"] == second["csrf"] == "csrf-of-pat"
    assert first["submission"] != second["submission"]


def test_a_manager_registers_a_deal_for_the_partner_named(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("POST", "incentives", "/registrations", registration_answer("R-10"), status=202)
    form = form_of(as_maria, "/registrations/new")
    answer = as_maria.post("/registrations", data={**form, **DEAL, "partner_id": "P-B"})
    assert answer.headers["location"] == "/registrations/R-10?registered=1"
    assert services.calls[-1].body == {**DEAL, "partner_id": "P-B"}
    assert services.calls[-1].authorization == MARIA


def test_a_refused_registration_shows_the_form_again_with_the_services_reason(
    as_pat: TestClient, services: FakeServices
) -> None:
    problem = {
        "detail": [
            {
                "type": "decimal_parsing",
                "loc": ["body", "expected_amount"],
                "msg": "Input should be a valid decimal",
                "input": "eighty <k>",
            }
        ]
    }
    services.on("POST", "incentives", "/registrations", problem, status=422)
    form = form_of(as_pat, "/registrations/new")
    typed = {**DEAL, "expected_amount": "eighty <k>"}
    answer = as_pat.post("/registrations", data={**form, **typed})
    assert answer.status_code == 422
    assert_hardened(answer)
    assert "expected_amount: Input should be a valid decimal" in answer.text
    assert 'value="D-7"' in answer.text
    assert 'value="Globex &amp; Sons"' in answer.text
    assert 'value="eighty &lt;k&gt;"' in answer.text
    assert hidden(answer.text, "submission") != form["submission"], "a corrected form is new"


def test_a_conflict_shows_the_services_words(as_pat: TestClient, services: FakeServices) -> None:
    detail = "deal D-7 is already registered"
    services.on("POST", "incentives", "/registrations", {"detail": detail}, status=409)
    answer = as_pat.post("/registrations", data={**form_of(as_pat, "/registrations/new"), **DEAL})
    assert answer.status_code == 409
    assert detail in answer.text


# --------------------------------------------------------------------------- the services' refusals


def test_a_401_from_a_service_sends_to_sign_in_again(
    as_pat: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    services.on(
        "GET", "reporting", "/partners/P-A", {"detail": "the token has expired"}, status=401
    )
    answer = as_pat.get("/partners/P-A")
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/login?next=%2Fpartners%2FP-A",
    )


def test_a_401_keeps_the_query_of_the_page_to_come_back_to(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "reporting", "/leaderboard", {"detail": "expired"}, status=401)
    answer = as_maria.get("/leaderboard?period=2026-Q1&by=commission")
    assert answer.headers["location"] == "/login?next=" + quote(
        "/leaderboard?period=2026-Q1&by=commission", safe=""
    )


@pytest.mark.parametrize(
    ("referer", "back_to"),
    [
        ("http://testserver/registrations/new", "/registrations/new"),
        ("https://evil.example/registrations/new", "/"),
        (None, "/"),
    ],
)
def test_after_a_401_on_a_form_the_person_comes_back_to_a_page_not_to_the_post(
    as_pat: TestClient, services: FakeServices, referer: str | None, back_to: str
) -> None:
    services.on("POST", "incentives", "/registrations", {"detail": "expired"}, status=401)
    headers = {"Referer": referer} if referer else {}
    answer = as_pat.post(
        "/registrations", data={"csrf": "csrf-of-pat", "submission": "s", **DEAL}, headers=headers
    )
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        f"/login?next={quote(back_to, safe='')}",
    )


def test_a_form_sent_after_the_session_ended_comes_back_to_a_page(
    portal: TestClient, services: FakeServices
) -> None:
    answer = portal.post(
        "/registrations",
        data={"csrf": "x", **DEAL},
        headers={"Referer": "http://testserver/registrations/new"},
    )
    assert answer.headers["location"] == "/login?next=%2Fregistrations%2Fnew"
    assert services.calls == []


@pytest.mark.parametrize("down", ["reporting", "enablement", "incentives"])
def test_a_service_that_cannot_be_reached_is_a_503_page(
    as_pat: TestClient, services: FakeServices, down: str
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    services.down.add(down)
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 503
    assert_hardened(answer)
    assert "Not available right now" in answer.text
    assert f"the {down} service cannot be reached" in answer.text


def test_a_service_that_cannot_be_reached_keeps_the_form(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.down.add("incentives")
    answer = as_pat.post("/registrations", data={**form_of(as_pat, "/registrations/new"), **DEAL})
    assert answer.status_code == 503
    assert "the incentives service cannot be reached" in answer.text


def test_a_404_from_a_service_is_a_404_page_in_its_words(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET", "incentives", "/registrations/R-0", {"detail": "no registration R-0"}, status=404
    )
    answer = as_pat.get("/registrations/R-0")
    assert answer.status_code == 404
    assert_hardened(answer)
    assert "no registration R-0" in answer.text


# --------------------------------------------------------------------------- cookies


@pytest.mark.parametrize(
    ("portal_url", "secure"),
    [
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000", False),
        ("http://[::1]:8000", False),
        ("https://127.0.0.1:8443", True),
        ("https://portal.example.com", True),
        ("http://portal.example.com", True),
        ("http://10.0.0.5:8000", True),
    ],
)
def test_the_session_cookie_is_httponly_lax_and_secure_but_on_plain_local_http(
    services: FakeServices, portal_url: str, secure: bool
) -> None:
    settings = portal_settings(portal_url=portal_url)
    assert settings.secure_cookies is secure
    with running_portal(settings, services) as client:
        codec: SessionCodec = client.app.state.portal.codec  # type: ignore[attr-defined]
        kept = Response()
        codec.keep_session(kept, partner_user(), time.time())
        [header] = kept.headers.getlist("set-cookie")
        made = cookies_set([header])[SESSION_COOKIE]
        assert made["httponly"] is True
        assert made["samesite"].lower() == "lax"
        assert ("; secure" in header.lower()) is secure
        client.cookies.set(SESSION_COOKIE, made.value)
        answer = client.post("/logout", data={"csrf": "csrf-of-pat"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    [header] = [h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    ended = cookies_set([header])[SESSION_COOKIE]
    assert is_deleted(ended), "signing out deletes the session cookie"
    assert ended["httponly"] is True
    assert ended["samesite"].lower() == "lax"
    assert bool(ended["secure"]) is secure
    assert ("; secure" in header.lower()) is secure


def test_every_answer_carries_the_security_headers(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations/R-0", {"detail": "none"}, status=404)
    answers = [
        as_pat.get("/registrations/new"),
        as_pat.get("/registrations/R-0"),
        as_pat.get("/partners/P-B"),
        as_pat.get("/no-such-page"),
        as_pat.get("/"),
    ]
    for answer in answers:
        assert_hardened(answer)
    static = as_pat.get("/static/portal.css")
    assert static.status_code == 200
    assert "script-src 'self'" in static.headers["Content-Security-Policy"]
    assert static.headers["X-Content-Type-Options"] == "nosniff"


# --------------------------------------------------------------------------- MDF outcomes


def mdf_answer(status: str) -> dict[str, object]:
    request = mdf_requests("P-A")["requests"][0]
    return {**request, "status": status, "decided_at": None, "reason": None, "claims_close": None}


@pytest.mark.parametrize(
    ("status", "done", "said"),
    [
        ("requested", "sent", "MDF request sent: the channel manager decides it."),
        ("rejected", "over-budget", "more than the budget left this quarter"),
    ],
)
def test_a_partners_mdf_request_says_what_became_of_it(
    as_pat: TestClient, services: FakeServices, status: str, done: str, said: str
) -> None:
    services.on("GET", "enablement", "/mdf-requests", mdf_requests("P-A"))
    services.on("GET", "enablement", "/mdf-claims", mdf_claims(partner_id="P-A"))
    services.on("POST", "enablement", "/mdf-requests", mdf_answer(status), status=201)
    form = form_of(as_pat, "/mdf")
    fields = {"campaign": "Webinar", "amount": "100.00", "currency": "EUR"}
    answer = as_pat.post("/mdf-requests", data={**form, **fields})
    assert (answer.status_code, answer.headers["location"]) == (303, f"/mdf?done={done}")
    assert said in as_pat.get(answer.headers["location"]).text


@pytest.mark.parametrize(("decision", "said"), [("approve", "approved"), ("reject", "rejected")])
def test_the_managers_mdf_decision_is_reported_in_words(
    as_maria: TestClient, services: FakeServices, decision: str, said: str
) -> None:
    services.on("GET", "enablement", "/mdf-requests", mdf_requests("P-A"))
    services.on("POST", "enablement", "/mdf-requests/M-1/" + decision, mdf_answer(said), status=200)
    form = form_of(as_maria, "/mdf")
    answer = as_maria.post(f"/mdf-requests/M-1/{decision}", data=form)
    assert answer.headers["location"] == f"/mdf?done={said}"
    assert f"MDF request {said}." in as_maria.get(answer.headers["location"]).text


# --------------------------------------------------------------------------- MDF released


def released_budget(partner_id: str) -> dict[str, object]:
    """The partner's requests, its quarter's budget having 400.00 released back."""
    found = mdf_requests(partner_id)
    budget = {**found["budget"], "released": "400.00", "remaining": "7900.00"}
    return {**found, "budget": budget}


def test_the_mdf_budget_says_what_went_unclaimed_and_was_released(
    as_pat: TestClient, services: FakeServices
) -> None:
    """On the MDF page and the dashboard, beside what was approved and what remains."""
    said = (
        "approved 2,500.00 EUR, unclaimed and released 400.00 EUR, remaining "
        "<strong>7,900.00 EUR</strong>"
    )
    services.on("GET", "enablement", "/mdf-requests", released_budget("P-A"))
    services.on("GET", "enablement", "/mdf-claims", mdf_claims(partner_id="P-A"))
    page = as_pat.get("/mdf")
    assert page.status_code == 200, page.text
    assert said in page.text
    dashboard_of(services, "P-A", "Alpha")
    services.on("GET", "enablement", "/mdf-requests", released_budget("P-A"))
    dashboard = as_pat.get("/partners/P-A")
    assert dashboard.status_code == 200, dashboard.text
    assert said.replace("<strong>", "").replace("</strong>", "") in dashboard.text
    assert money_without(dashboard.text, "EUR") == []


def test_the_programme_shows_the_mdf_released_in_each_currency(
    as_maria: TestClient, services: FakeServices
) -> None:
    summary, board = programme("2026-Q2")
    released = {"EUR": "1999.99", "USD": "500.00"}
    services.on("GET", "reporting", "/programme/summary", {**summary, "mdf_released": released})
    services.on("GET", "reporting", "/leaderboard", board)
    answer = as_maria.get("/?period=2026-Q2")
    assert answer.status_code == 200, answer.text
    card = answer.text[answer.text.index('id="mdf-released"') :].split("</div>", 1)[0]
    assert "Unclaimed MDF released" in card
    assert re.findall(r'class="figure">([^<]*)<', card) == ["1,999.99 EUR", "500.00 USD"]
    services.on("GET", "reporting", "/programme/summary", {**summary, "mdf_released": {}})
    nothing = as_maria.get("/?period=2026-Q2").text
    assert "none yet" in nothing[nothing.index('id="mdf-released"') :].split("</div>", 1)[0]


# --------------------------------------------------------------------------- the MDF position


def table_rows(html: str, table_id: str, part: str = "tbody") -> list[list[str]]:
    """The cells' text of each row of ``part`` (tbody, tfoot) of the table ``table_id``."""
    table = html[html.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    if f"<{part}>" not in table:
        return []
    section = table[table.index(f"<{part}>") : table.index(f"</{part}>")]
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)
    ]


#: Reporting's position in its own order: quarter, then currency.
POSITION = [
    mdf_quarter("2025-Q4", "EUR", "400.00", "0.00", "0.00", "0.00", "0.00", "0.00"),
    mdf_quarter("2026-Q1", "EUR", "3000.00", "2500.00", "2400.00", "2000.00", "2000.00", "500.00"),
    mdf_quarter("2026-Q2", "EUR", "1000.00", "1000.00", "800.00", "750.00", "0.00", "0.00"),
    mdf_quarter("2026-Q2", "USD", "1234.56", "1200.00", "0.00", "0.00", "0.00", "0.00"),
]


def shown(first: str, currency: str, *amounts: str) -> list[str]:
    """A row as the table shows it: its first cell, then each amount with ``currency``."""
    return [first, *(f"{amount} {currency}" for amount in amounts)]


def test_the_dashboard_shows_the_mdf_position_per_quarter_and_currency_newest_first(
    as_pat: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha", mdf=POSITION)
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    html = answer.text
    section = html[html.index('id="co-marketing-funds"') :].split("</section>", 1)[0]
    assert "<h2>Co-marketing funds</h2>" in section
    assert table_rows(html, "mdf-position", "thead") == [
        ["Quarter", "Requested", "Approved", "Claimed", "Claims approved", "Reimbursed", "Released"]
    ]
    assert table_rows(html, "mdf-position") == [
        shown("2026-Q2", "EUR", "1,000.00", "1,000.00", "800.00", "750.00", "0.00", "0.00"),
        shown("2026-Q2", "USD", "1,234.56", "1,200.00", "0.00", "0.00", "0.00", "0.00"),
        shown(
            "2026-Q1", "EUR", "3,000.00", "2,500.00", "2,400.00", "2,000.00", "2,000.00", "500.00"
        ),
        shown("2025-Q4", "EUR", "400.00", "0.00", "0.00", "0.00", "0.00", "0.00"),
    ], "newest quarter first, its currencies in alphabetical order"
    assert table_rows(html, "mdf-position", "tfoot") == [
        shown(
            "All quarters",
            "EUR",
            "4,400.00",
            "3,500.00",
            "3,200.00",
            "2,750.00",
            "2,000.00",
            "500.00",
        ),
        shown("All quarters", "USD", "1,234.56", "1,200.00", "0.00", "0.00", "0.00", "0.00"),
    ], "the partner 360's totals, per currency"
    assert '<a href="/mdf" id="mdf-link">' in section
    assert 'id="mdf-position-problem"' not in html
    assert money_without(html, "EUR", "USD") == [], "every amount carries its currency"
    [read] = [c for c in services.calls if c.path == "/partners/P-A/mdf"]
    assert (read.service, read.method, read.authorization) == ("reporting", "GET", PAT)


def test_a_manager_sees_a_partners_mdf_position_without_the_partners_mdf_link(
    as_maria: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha", mdf=POSITION[:1])
    answer = as_maria.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    assert table_rows(answer.text, "mdf-position") == [
        shown("2025-Q4", "EUR", "400.00", "0.00", "0.00", "0.00", "0.00", "0.00")
    ]
    assert 'id="mdf-link"' not in answer.text
    [read] = [c for c in services.calls if c.path == "/partners/P-A/mdf"]
    assert read.authorization == MARIA


def test_a_partner_without_mdf_is_told_so(as_pat: TestClient, services: FakeServices) -> None:
    dashboard_of(services, "P-A", "Alpha", mdf=[])
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    assert table_rows(answer.text, "mdf-position") == [["No MDF yet."]]
    assert table_rows(answer.text, "mdf-position", "tfoot") == []
    assert 'id="mdf-link"' in answer.text


def test_the_mdf_position_is_escaped(as_pat: TestClient, services: FakeServices) -> None:
    hostile = mdf_quarter("<script>alert(1)</script>", "<b>EUR</b>")
    dashboard_of(services, "P-A", "Alpha", mdf=[hostile])
    html = as_pat.get("/partners/P-A").text
    assert "<script>alert(1)</script>" not in html
    assert "<b>EUR</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "2,500.00 &lt;b&gt;EUR&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (500, "the read models are being rebuilt"),
        (503, "reporting is starting"),
    ],
)
def test_the_dashboard_is_shown_when_reporting_cannot_answer_the_mdf_position(
    as_pat: TestClient, services: FakeServices, status: int, detail: str
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    services.on("GET", "reporting", "/partners/P-A/mdf", {"detail": detail}, status=status)
    answer = as_pat.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    html = answer.text
    problem = html[html.index('id="mdf-position-problem"') :].split("</p>", 1)[0]
    assert f"The MDF per quarter cannot be shown now: {detail}" in unescape(problem)
    assert table_rows(html, "mdf-position") == [["Not available right now."]]
    assert "No MDF yet." not in html, "reporting not answering is not no MDF"
    assert table_rows(html, "mdf-position", "tfoot")[0][:2] == ["All quarters", "5,000.00 EUR"]
    assert "9,750.00 EUR" in html, "the rest of the dashboard is there"
    assert 'id="open-registrations"' in html


def test_a_401_on_the_mdf_position_sends_to_sign_in_again(
    as_pat: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    services.on("GET", "reporting", "/partners/P-A/mdf", {"detail": "expired"}, status=401)
    answer = as_pat.get("/partners/P-A")
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/login?next=%2Fpartners%2FP-A",
    )
