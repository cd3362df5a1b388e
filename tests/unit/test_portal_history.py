"""A partner's history and the statement's explanations in the portal, on a fake of
reporting (tests/support/portal.py): the history page for a partner user and for the
channel manager, the window passed through, who caused each entry, the link to the
window before, a window that cannot be read; "What changed since…" on the statement and
the statement as it was at a day (docs/portal.md, "A partner's history" and "Explaining
a statement")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.support.portal import (
    Call,
    FakeServices,
    assert_hardened,
    dashboard_of,
    health,
    history,
    history_entry,
    inquiries,
    inquiry,
    money_without,
    partner_360,
    statement,
    statement_changes,
)

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"
SINCE = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
UNTIL = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STATEMENT = "/partners/P-A/statements/2026-Q2"
CHANGES = f"{STATEMENT}/changes"
PANEL = {"HX-Request": "true", "HX-Target": "changes-panel"}


def section(html: str, element_id: str) -> str:
    """The element ``id="element_id"`` of ``html``, from its opening tag to the first
    closing tag of its kind (none of these pages nests an element in one of its kind)."""
    start = html.rindex("<", 0, html.index(f'id="{element_id}"'))
    tag = re.match(r"<(\w+)", html[start:])
    assert tag, html[start:]
    return html[start : html.index(f"</{tag[1]}>", start)]


def opening_tag(html: str, element_id: str) -> str:
    """The opening tag of the element ``id="element_id"`` (an ``<input>`` has no other)."""
    start = html.rindex("<", 0, html.index(f'id="{element_id}"'))
    return html[start : html.index(">", start) + 1]


def text_of(html: str) -> str:
    """What the person reads: inline tags left out, other tags (cells, paragraphs) as
    spaces, entities unescaped, spaces collapsed."""
    inline = re.sub(r"</?(?:a|strong|span|time|em)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def href(html: str, element_id: str) -> str:
    found = re.search(r'href="([^"]*)"', section(html, element_id))
    assert found, element_id
    return unescape(found[1])


def reads(services: FakeServices, path: str) -> list[Call]:
    return [c for c in services.calls if c.method == "GET" and c.path == path]


def p_a_history(*entries: dict[str, Any], partner_id: str = "P-A") -> dict[str, Any]:
    return history(partner_id, SINCE, UNTIL, *entries)


def history_of(services: FakeServices, found: dict[str, Any], partner_id: str = "P-A") -> None:
    """What a partner's history page reads: reporting's history and partner."""
    base = f"/partners/{partner_id}"
    services.on("GET", "reporting", f"{base}/history", found)
    services.on("GET", "reporting", base, partner_360(partner_id, f"Partner {partner_id}"))


#: Four entries, one per kind of actor (and none), in the order received.
ENTRIES = (
    history_entry(
        "E-1",
        "DealClosed",
        "Deal D-1 closed: 80,000.00 USD (Initech, cloud)",
        None,
        received_at="2026-05-03T10:15:00.000000Z",
        source="/crm/emea",
    ),
    history_entry(
        "E-2",
        "DealRegistered",
        "Deal D-4 registered as R-4 for Globex <&> Sons, security",
        {"kind": "key", "id": "K-crm"},
        received_at="2026-05-10T08:00:00.000000Z",
    ),
    history_entry(
        "E-3",
        "DealRegistrationApproved",
        "Registration R-4 approved",
        {"kind": "system", "id": "incentives"},
        received_at="2026-05-10T08:00:01.000000Z",
    ),
    history_entry(
        "E-4",
        "CommissionInquiryOpened",
        "Inquiry I-1 on the commission of D-1 opened: the bonus is missing",
        {"kind": "person", "id": "pat"},
        received_at="2026-05-20T16:45:00.000000Z",
    ),
)


# --------------------------------------------------------------------------- the history


def test_a_partner_user_reads_their_own_history_oldest_first_with_who_caused_each(
    as_pat: TestClient, services: FakeServices
) -> None:
    history_of(services, p_a_history(*ENTRIES))
    answer = as_pat.get("/partners/P-A/history")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    html = answer.text

    asked = reads(services, "/partners/P-A/history")
    assert [(c.service, c.authorization, c.params) for c in asked] == [("reporting", PAT, {})], (
        "as Pat, reporting's default window (the last 30 days)"
    )
    assert {c.authorization for c in services.calls} == {PAT}
    assert "History of Partner P-A" in html

    assert text_of(section(html, "history-window")) == (
        "From 2026-05-02 to 2026-06-01 (the last 30 days)"
    )
    rows = [
        text_of(section(html, f"entry-{event_id}")) for event_id in ("E-1", "E-2", "E-3", "E-4")
    ]
    assert rows == [
        "2026-05-03 10:15 UTC Deal D-1 closed: 80,000.00 USD (Initech, cloud) "
        "DealClosed /crm/emea —",
        "2026-05-10 08:00 UTC Deal D-4 registered as R-4 for Globex <&> Sons, security "
        "DealRegistered /partnerhub/incentives an API key: K-crm",
        "2026-05-10 08:00 UTC Registration R-4 approved "
        "DealRegistrationApproved /partnerhub/incentives incentives (automatic)",
        "2026-05-20 16:45 UTC Inquiry I-1 on the commission of D-1 opened: the bonus is missing "
        "CommissionInquiryOpened /partnerhub/incentives a person: pat",
    ]
    table = section(html, "history")
    assert [table.index(f'id="entry-E-{n}"') for n in (1, 2, 3, 4)] == sorted(
        table.index(f'id="entry-E-{n}"') for n in (1, 2, 3, 4)
    ), "in the order received: the newest last"
    assert "Globex &lt;&amp;&gt; Sons" in table, "escaped"
    assert 'id="history-empty"' not in html
    assert 'id="history-latest"' not in html, "the last 30 days are shown already"
    assert href(html, "dashboard-link") == "/partners/P-A"


def test_the_channel_manager_reads_any_partners_history_for_the_window_asked(
    as_maria: TestClient, services: FakeServices
) -> None:
    history_of(services, p_a_history(ENTRIES[0], partner_id="P-B"), "P-B")
    window = {"since": "2026-05-02T14:00:00+02:00", "until": "2026-06-01T12:00:00Z"}
    answer = as_maria.get("/partners/P-B/history", params=window)
    assert answer.status_code == 200, answer.text
    [asked] = reads(services, "/partners/P-B/history")
    assert (asked.authorization, asked.params) == (MARIA, window), "passed through as given"
    assert "Deal D-1 closed" in section(answer.text, "entry-E-1")
    assert href(answer.text, "history-latest") == "/partners/P-B/history"


def test_earlier_asks_reporting_for_the_window_before(
    as_pat: TestClient, services: FakeServices
) -> None:
    history_of(services, p_a_history(*ENTRIES))
    first = as_pat.get("/partners/P-A/history").text
    earlier = href(first, "history-earlier")
    assert urlsplit(earlier).path == "/partners/P-A/history"
    assert parse_qs(urlsplit(earlier).query) == {
        "since": ["2026-04-02T12:00:00.000000Z"],
        "until": ["2026-05-02T12:00:00.000000Z"],
    }, "reporting's earlier: the same 30 days just before"

    before = history("P-A", SINCE - timedelta(days=30), SINCE)
    history_of(services, before)
    services.calls.clear()
    answer = as_pat.get(earlier)
    assert answer.status_code == 200, answer.text
    [asked] = reads(services, "/partners/P-A/history")
    assert asked.params == {
        "since": "2026-04-02T12:00:00.000000Z",
        "until": "2026-05-02T12:00:00.000000Z",
    }
    html = answer.text
    assert text_of(section(html, "history-window")) == "From 2026-04-02 to 2026-05-02"
    assert text_of(section(html, "history-empty")) == (
        "Nothing was received about this partner from 2026-04-02 12:00 UTC "
        "to 2026-05-02 12:00 UTC. Try earlier."
    )
    assert parse_qs(urlsplit(href(html, "history-earlier")).query)["until"] == [
        "2026-04-02T12:00:00.000000Z"
    ]
    assert href(html, "history-latest") == "/partners/P-A/history"


def test_another_partners_history_is_the_portals_403_page(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET", "reporting", "/partners/P-B/history", {"detail": "not your partner"}, status=403
    )
    answer = as_pat.get("/partners/P-B/history")
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "Not yours to see" in answer.text
    assert "your own partner" in answer.text
    assert services.calls == [], "refused before reporting is asked"


def test_reportings_403_is_the_portals_403_page(as_pat: TestClient, services: FakeServices) -> None:
    refusal = {"detail": "this token may read partner P-Z only"}
    services.on("GET", "reporting", "/partners/P-A/history", refusal, status=403)
    services.on("GET", "reporting", "/partners/P-A", refusal, status=403)
    answer = as_pat.get("/partners/P-A/history?since=2026-05-01T00:00:00Z")
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "Not yours to see" in answer.text
    assert "this token may read partner P-Z only" in section(answer.text, "problem")
    assert 'id="history"' not in answer.text
    [asked] = reads(services, "/partners/P-A/history")
    assert (asked.authorization, asked.params) == (PAT, {"since": "2026-05-01T00:00:00Z"})


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("since=yesterday", "since: 'yesterday' is not an instant with its offset"),
        ("since=2026-05-01", "since: '2026-05-01' is not an instant with its offset"),
        (
            "since=2026-05-01T00:00:00&until=2026-06-01T00:00:00Z",
            "since: '2026-05-01T00:00:00' is not an instant with its offset",
        ),
        ("until=2026-06-31T00:00:00Z", "until: '2026-06-31T00:00:00Z' is not an instant"),
    ],
    ids=["words", "a day", "no offset", "no such day"],
)
def test_a_window_that_is_no_instant_is_shown_to_correct_and_asks_nothing(
    as_pat: TestClient, services: FakeServices, query: str, shown: str
) -> None:
    answer = as_pat.get(f"/partners/P-A/history?{query}")
    assert answer.status_code == 422
    assert_hardened(answer)
    problem = text_of(section(answer.text, "problem"))
    assert shown in problem
    assert "such as 2026-12-01T00:00:00Z" in problem
    assert href(answer.text, "history-default") == "/partners/P-A/history"
    assert "History of P-A" in answer.text
    assert services.calls == []


def test_a_window_reporting_refuses_is_shown_in_its_words(
    as_maria: TestClient, services: FakeServices
) -> None:
    too_long = {
        "detail": [
            {
                "loc": ["query", "since"],
                "msg": "at most 366 days before until",
                "type": "value_error",
            }
        ]
    }
    services.on("GET", "reporting", "/partners/P-A/history", too_long, status=422)
    services.on("GET", "reporting", "/partners/P-A", partner_360("P-A", "Alpha"))
    answer = as_maria.get("/partners/P-A/history?since=2020-01-01T00:00:00Z")
    assert answer.status_code == 422
    assert "query.since: at most 366 days before until" in section(answer.text, "problem")
    assert href(answer.text, "history-default") == "/partners/P-A/history"
    assert reads(services, "/partners/P-A/history")[0].params == {"since": "2020-01-01T00:00:00Z"}


def test_the_dashboard_and_the_managers_partner_list_link_the_history(
    as_maria: TestClient, services: FakeServices
) -> None:
    dashboard_of(services, "P-A", "Alpha")
    assert href(as_maria.get("/partners/P-A").text, "history-link") == "/partners/P-A/history"
    services.on(
        "GET",
        "reporting",
        "/partners",
        {"items": [partner_360("P-A", "Alpha"), partner_360("P-B", "Bravo")], "next_cursor": None},
    )
    services.on("GET", "reporting", "/partners/P-B/health", health("P-B", "2026-Q2"))
    listed = section(as_maria.get("/partners").text, "partners")
    assert re.findall(r'href="(/partners/[^"]*/history)" class="history"', listed) == [
        "/partners/P-A/history",
        "/partners/P-B/history",
    ]


# --------------------------------------------------------------------------- what changed


def the_statement(services: FakeServices) -> None:
    """What P-A's 2026-Q2 statement page reads (the statement now, the partner, the
    period's inquiries) and reporting's changes since 2026-06-01: +800.00 EUR on D-P-A-1
    and -150.00 EUR on the period, 9,750.00 EUR then, 10,400.00 EUR now."""
    services.on("GET", "reporting", STATEMENT, statement("P-A", "2026-Q2"))
    services.on("GET", "reporting", "/partners/P-A", partner_360("P-A", "Alpha"))
    services.on("GET", "incentives", "/inquiries", inquiries(inquiry("I-1")))
    services.on(
        "GET",
        "reporting",
        CHANGES,
        statement_changes(
            "P-A",
            "2026-Q2",
            "2026-06-01T00:00:00.000000Z",
            "9750.00",
            "10400.00",
            {
                "event_id": "E-7",
                "type": "CommissionAdjusted",
                "received_at": "2026-06-03T09:00:00.000000Z",
                "deal_id": "D-P-A-1",
                "delta": "800.00",
                "explanation": "adjusted by 800.00 EUR: registered-deal <bonus>",
            },
            {
                "event_id": "E-8",
                "type": "CommissionAdjusted",
                "received_at": "2026-06-04T09:30:00.000000Z",
                "deal_id": None,
                "delta": "-150.00",
                "explanation": "adjusted by -150.00 EUR: goodwill correction",
            },
        ),
    )


def test_what_changed_since_a_day_shows_then_now_and_each_change_adding_up(
    as_pat: TestClient, services: FakeServices
) -> None:
    the_statement(services)
    answer = as_pat.get(f"{STATEMENT}?since=2026-06-01")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    [asked] = reads(services, CHANGES)
    assert (asked.service, asked.authorization, asked.params) == (
        "reporting",
        PAT,
        {"since": "2026-06-01T00:00:00Z"},
    ), "the day's start, in UTC"
    assert reads(services, STATEMENT)[0].params == {}, "the statement now"

    panel = section(answer.text, "changes-panel")
    assert text_of(section(panel, "changes-summary")) == (
        "Payout at the start of 2026-06-01 (00:00 UTC): 9,750.00 EUR → now: 10,400.00 EUR; "
        "the change: +650.00 EUR."
    )
    assert text_of(section(panel, "change-1")) == (
        "2026-06-03 09:00 UTC D-P-A-1 +800.00 EUR "
        "adjusted by 800.00 EUR: registered-deal <bonus> CommissionAdjusted"
    )
    assert "registered-deal &lt;bonus&gt;" in panel, "escaped"
    assert text_of(section(panel, "change-2")) == (
        "2026-06-04 09:30 UTC — -150.00 EUR adjusted by -150.00 EUR: goodwill correction "
        "CommissionAdjusted"
    )
    assert text_of(section(panel, "changes-add-up")) == (
        "These 2 changes, in the order received, add up to the change: +650.00 EUR."
    )
    assert 'value="2026-06-01"' in opening_tag(panel, "changes-since"), "the day chosen, kept"
    assert money_without(panel, "EUR") == []
    assert "D-P-A-1" in section(answer.text, "statement-lines"), "the statement is shown too"


def test_the_changes_form_offers_a_week_ago_and_loads_nothing_until_sent(
    as_pat: TestClient, services: FakeServices
) -> None:
    the_statement(services)
    before = datetime.now(UTC).date()
    html = as_pat.get(STATEMENT).text
    after = datetime.now(UTC).date()
    form = section(html, "changes-form")
    assert f'action="{STATEMENT}#changes-panel"' in form, "a GET form: works without htmx"
    assert 'method="get"' in form
    assert f'hx-get="{STATEMENT}"' in form
    assert 'hx-target="#changes-panel"' in form
    offered = re.search(r'name="since"[^>]*value="([^"]*)"', form)
    assert offered
    assert offered[1] in {(d - timedelta(days=7)).isoformat() for d in (before, after)}
    assert 'id="changes-hint"' in html
    assert reads(services, CHANGES) == []


def test_htmx_aiming_at_the_panel_gets_the_panel_alone(
    as_pat: TestClient, services: FakeServices
) -> None:
    the_statement(services)
    answer = as_pat.get(f"{STATEMENT}?since=2026-06-01", headers=PANEL)
    assert answer.status_code == 200, answer.text
    html = answer.text.strip()
    assert html.startswith('<section id="changes-panel"')
    assert html.endswith("</section>")
    assert "<html" not in html
    assert "+650.00 EUR" in section(html, "changes-change")
    assert [(c.service, c.path, c.params) for c in services.calls] == [
        ("reporting", CHANGES, {"since": "2026-06-01T00:00:00Z"})
    ], "only the changes are read"


@pytest.mark.parametrize(("headers", "status"), [({}, 422), (PANEL, 200)], ids=["page", "htmx"])
def test_a_since_that_is_no_day_is_shown_on_the_panel(
    as_pat: TestClient, services: FakeServices, headers: dict[str, str], status: int
) -> None:
    the_statement(services)
    answer = as_pat.get(f"{STATEMENT}?since=2026-06-31", headers=headers)
    assert answer.status_code == status
    problem = text_of(section(answer.text, "changes-problem"))
    assert problem == (
        "since: '2026-06-31' is not a day such as 2026-12-01 (or an instant with its offset)."
    )
    assert reads(services, CHANGES) == [], "reporting is not asked"


def test_the_changes_panel_says_when_reporting_cannot_answer(
    as_pat: TestClient, services: FakeServices
) -> None:
    the_statement(services)
    services.on("GET", "reporting", CHANGES, {"detail": "no such partner"}, status=404)
    answer = as_pat.get(f"{STATEMENT}?since=2026-06-01")
    assert answer.status_code == 200
    assert text_of(section(answer.text, "changes-problem")) == (
        "What changed cannot be shown now: no such partner"
    )
    assert "D-P-A-1" in section(answer.text, "statement-lines")


def test_the_panel_never_says_the_deltas_add_up_when_they_do_not(
    as_pat: TestClient, services: FakeServices
) -> None:
    the_statement(services)
    answer = statement_changes(
        "P-A",
        "2026-Q2",
        "2026-06-01T00:00:00.000000Z",
        "9750.00",
        "10400.00",
        {
            "event_id": "E-7",
            "type": "CommissionAdjusted",
            "received_at": "2026-06-03T09:00:00.000000Z",
            "deal_id": "D-P-A-1",
            "delta": "800.00",
            "explanation": "adjusted by 800.00 EUR",
        },
    )
    services.on("GET", "reporting", CHANGES, answer)
    html = as_pat.get(f"{STATEMENT}?since=2026-06-01", headers=PANEL).text
    assert text_of(section(html, "changes-add-up")) == (
        "These changes add up to 800.00 EUR, not to the change of +650.00 EUR: "
        "reporting's figures disagree; tell the platform team."
    )


# --------------------------------------------------------------------------- as it was


def test_the_statement_as_it_was_at_a_day_is_a_labelled_past_view(
    as_maria: TestClient, services: FakeServices
) -> None:
    then = {**statement("P-A", "2026-Q2"), "payout_total": "9000.00"}
    services.on("GET", "reporting", STATEMENT, then)
    services.on("GET", "reporting", "/partners/P-A", partner_360("P-A", "Alpha"))
    answer = as_maria.get(f"{STATEMENT}?as_of=2026-06-01")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    [asked] = reads(services, STATEMENT)
    assert (asked.authorization, asked.params) == (MARIA, {"as_of": "2026-06-01T00:00:00Z"})
    assert {c.service for c in services.calls} == {"reporting"}, "no inquiries: they are now's"

    html = answer.text
    assert "<title>Statement 2026-Q2, as it was on 2026-06-01 · partnerhub</title>" in html
    label = section(html, "as-of-label")
    assert text_of(label).startswith(
        "A past view: the statement as the platform knew it at the start of 2026-06-01 "
        "(00:00 UTC); what it received later is left out."
    )
    assert href(html, "statement-now") == STATEMENT
    since_then = urlsplit(href(html, "changes-since-then"))
    assert (since_then.path, since_then.fragment) == (STATEMENT, "changes-panel")
    assert parse_qs(since_then.query) == {"since": ["2026-06-01T00:00:00Z"]}, "the same instant"
    assert "9,000.00 EUR" in section(html, "payout-total")
    assert 'value="2026-06-01"' in opening_tag(html, "as-of-date")
    for absent in ('id="adjustment-form"', "Ask about this", 'id="changes-form"'):
        assert absent not in html, absent


def test_an_as_of_that_is_no_day_shows_the_statement_now_with_the_problem(
    as_pat: TestClient, services: FakeServices
) -> None:
    the_statement(services)
    answer = as_pat.get(f"{STATEMENT}?as_of=last+week")
    assert answer.status_code == 422
    assert text_of(section(answer.text, "as-of-problem")) == (
        "as_of: 'last week' is not a day such as 2026-12-01 (or an instant with its offset). "
        "The statement below is as it is now."
    )
    assert 'id="as-of-label"' not in answer.text
    assert reads(services, STATEMENT)[0].params == {}, "the statement now"
