"""Commission inquiries and adjustments in the portal, on a fake of incentives and reporting
(tests/support/portal.py): a partner user asks about a statement line; the inquiry's page
for the partner and for the channel manager, who resolves it, explained or adjusted; the
list of inquiries (the manager's work queue); the manager's adjustment of a period from
its statement; the statement's adjustments, totals and inquiries (docs/portal.md,
docs/rules/inquiries.md)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.reporting.views import StatementView
from tests.support.portal import (
    FakeServices,
    adjustment_item,
    answer_of,
    assert_hardened,
    hidden,
    inquiries,
    inquiry,
    money_without,
    partner_360,
    statement,
)

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"
STATEMENT = "/partners/P-A/statements/2026-Q2"
ASK = f"{STATEMENT}/inquiries/new?deal_id=D-P-A-1"


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


def fields_of_form(client: TestClient, page: str, form_id: str) -> dict[str, str]:
    """The CSRF token and submission id of the form ``form_id`` on ``page``."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    form = section(shown.text, form_id)
    return {"csrf": hidden(form, "csrf"), "submission": hidden(form, "submission")}


def posts(services: FakeServices) -> list[tuple[str, str | None, str | None, Any]]:
    """Each POST that reached a service: its path, Authorization, Idempotency-Key, body."""
    return [
        (c.path, c.authorization, c.idempotency_key, c.body)
        for c in services.calls
        if c.method == "POST"
    ]


def problem(html: str) -> str:
    return unescape(section(html, "problem"))


def adjusted_statement(**changes: Any) -> dict[str, Any]:
    """Reporting's statement of P-A's 2026-Q2 with two adjustments: +800.00 EUR resolving
    inquiry I-1, and a goodwill -150.00 EUR on the period as a whole (and one in USD, not
    counted in the EUR totals)."""
    base = statement("P-A", "2026-Q2")
    adjustments = [
        {
            "adjustment_id": "ADJ-1",
            "deal_id": "D-P-A-1",
            "amount": "800.00",
            "currency": "EUR",
            "reason": "registered-deal bonus",
            "adjusted_at": "2026-06-03T09:00:00+00:00",
            "inquiry_id": "I-1",
            "actor": {"kind": "person", "id": "maria"},
        },
        {
            "adjustment_id": "ADJ-2",
            "deal_id": None,
            "amount": "-150.00",
            "currency": "EUR",
            "reason": "goodwill <correction>",
            "adjusted_at": "2026-06-04T09:00:00+00:00",
            "inquiry_id": None,
            "actor": {"kind": "person", "id": "maria"},
        },
    ]
    return answer_of(
        StatementView,
        {
            **base,
            "adjustments": adjustments,
            "adjustment_total": "650.00",
            "payout_total": "10400.00",
            **changes,
        },
    )


def statement_of(services: FakeServices, found: dict[str, Any] | None = None) -> None:
    """What P-A's 2026-Q2 statement page reads: reporting's statement and partner, and
    incentives' inquiries of P-A (one of 2026-Q2 open, one resolved, one of 2026-Q1)."""
    services.on("GET", "reporting", STATEMENT, found or adjusted_statement())
    services.on("GET", "reporting", "/partners/P-A", partner_360("P-A", "Alpha"))
    services.on(
        "GET",
        "incentives",
        "/inquiries",
        inquiries(
            inquiry("I-0", period="2026-Q1", message="About the first quarter"),
            inquiry("I-1", status="resolved", age_days=2),
            inquiry("I-2", message="And the <bonus>?", age_days=0),
        ),
    )


def reads(services: FakeServices, path: str) -> list[tuple[str, str | None, dict[str, str]]]:
    """Each GET of ``path``: its service, Authorization and query."""
    return [
        (c.service, c.authorization, c.params)
        for c in services.calls
        if c.method == "GET" and c.path == path
    ]


# --------------------------------------------------------------------------- the statement


def test_the_statement_shows_the_adjustments_the_totals_and_the_periods_inquiries(
    as_pat: TestClient, services: FakeServices
) -> None:
    statement_of(services)
    answer = as_pat.get(STATEMENT)
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    html = answer.text
    assert "650.00 EUR" in section(html, "adjustment-total")
    assert "10,400.00 EUR" in section(html, "payout-total")
    first = section(html, "adjustment-ADJ-1")
    for shown in ("2026-06-03", "D-P-A-1", "800.00 EUR", "registered-deal bonus", "maria"):
        assert shown in first
    assert 'href="/inquiries/I-1"' in first
    goodwill = section(html, "adjustment-ADJ-2")
    assert "the period as a whole" in goodwill
    assert "-150.00 EUR" in goodwill
    assert "goodwill &lt;correction&gt;" in goodwill, "escaped"
    assert money_without(html, "EUR") == []

    line = section(html, "line-D-P-A-1")
    assert f'href="{ASK}"' in line
    assert ">Ask about this</a>" in line

    listed = section(html, "statement-inquiries")
    assert 'id="inquiry-I-0"' not in listed, "another period's"
    assert "About the first quarter" not in listed
    resolved = section(listed, "inquiry-I-1")
    assert 'href="/inquiries/I-1"' in resolved
    assert "resolved" in resolved
    assert "2 days" in resolved
    assert "explained" in resolved
    asked = section(listed, "inquiry-I-2")
    assert "And the &lt;bonus&gt;?" in asked
    assert "open" in asked
    assert "less than a day" in asked
    assert listed.index('id="inquiry-I-1"') < listed.index('id="inquiry-I-2"'), "oldest first"

    assert 'id="adjustment-form"' not in html, "for the channel manager only"
    assert "/adjustments" not in html
    assert reads(services, "/inquiries") == [("incentives", PAT, {"partner_id": "P-A"})]
    assert {c.authorization for c in services.calls} == {PAT}


def test_a_statement_without_adjustments_from_reporting_shows_none(
    as_pat: TestClient, services: FakeServices
) -> None:
    older = {
        k: v
        for k, v in adjusted_statement().items()
        if k not in ("adjustments", "adjustment_total")
    }
    statement_of(services, older)
    html = as_pat.get(STATEMENT).text
    assert 'id="adjustment-total"' not in html
    assert 'id="statement-adjustments"' not in html
    assert 'id="payout-total">10,400.00 EUR' in html


def test_the_statement_is_shown_when_incentives_cannot_list_the_inquiries(
    as_pat: TestClient, services: FakeServices
) -> None:
    statement_of(services)
    services.down.add("incentives")
    answer = as_pat.get(STATEMENT)
    assert answer.status_code == 200
    assert "the incentives service cannot be reached" in section(answer.text, "inquiries-unlisted")
    assert "D-P-A-1" in section(answer.text, "statement-lines")


def test_the_manager_sees_the_adjustment_form_with_the_periods_deals(
    as_maria: TestClient, services: FakeServices
) -> None:
    statement_of(services)
    html = as_maria.get(STATEMENT).text
    form = section(html, "adjustment-form")
    assert f'action="{STATEMENT}/adjustments"' in form
    assert 'name="csrf" value="csrf-of-maria"' in form
    assert '<option value="" selected>the period as a whole</option>' in form
    assert '<option value="D-P-A-1" >D-P-A-1</option>' in form
    assert 'value="EUR"' in opening_tag(form, "adjustment-currency"), "the statement's currency"
    assert f'href="{ASK}"' in html, "staff may ask too"
    assert reads(services, "/inquiries") == [("incentives", MARIA, {"partner_id": "P-A"})]


# --------------------------------------------------------------------------- asking


def test_a_partner_user_asks_about_a_statement_line(
    as_pat: TestClient, services: FakeServices
) -> None:
    statement_of(services)
    shown = as_pat.get(ASK)
    assert shown.status_code == 200, shown.text
    assert_hardened(shown)
    html = shown.text
    asked_line = section(html, "asked-line")
    assert "9,750.00 EUR" in asked_line, "the commission asked about"
    assert "81,250.00 EUR" in asked_line
    assert f'href="{STATEMENT}"' in section(html, "statement-link")
    form = section(html, "inquiry-form")
    assert f'action="{STATEMENT}/inquiries"' in form
    assert 'name="deal_id" value="D-P-A-1"' in form
    assert 'name="csrf" value="csrf-of-pat"' in form

    opened = inquiry("I-9", message="The uplift is missing.", age_days=0)
    services.on("POST", "incentives", "/commissions/D-P-A-1/inquiries", opened, status=201)
    services.calls.clear()
    fields = {"csrf": hidden(form, "csrf"), "submission": hidden(form, "submission")}
    answer = as_pat.post(
        f"{STATEMENT}/inquiries",
        data={**fields, "deal_id": "D-P-A-1", "message": "  The uplift is missing.  "},
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/inquiries/I-9?done=asked")
    assert_hardened(answer)
    assert posts(services) == [
        (
            "/commissions/D-P-A-1/inquiries",
            PAT,
            fields["submission"],
            {"message": "The uplift is missing."},
        )
    ], "as Pat, trimmed, the form's submission as the Idempotency-Key"

    services.on("GET", "incentives", "/inquiries/I-9", opened)
    page = as_pat.get(answer.headers["location"]).text
    assert "Your question is sent: a channel manager answers it here." in section(page, "notice")
    assert "The uplift is missing." in section(page, "inquiry-message")
    assert section(page, "inquiry-status").endswith(">open")


@pytest.mark.parametrize(
    ("status", "refusal", "shown"),
    [
        (
            422,
            {
                "detail": [
                    {
                        "type": "string_too_short",
                        "loc": ["body", "message"],
                        "msg": "String should have at least 1 character",
                    }
                ]
            },
            "message: String should have at least 1 character",
        ),
        (404, {"detail": "no commission for deal D-P-A-1"}, "no commission for deal D-P-A-1"),
        (
            422,
            {
                "detail": [
                    {
                        "type": "value_error",
                        "loc": ["header", "Idempotency-Key"],
                        "msg": "this key was already used for a different request",
                    }
                ]
            },
            "header.Idempotency-Key: this key was already used for a different request",
        ),
    ],
    ids=["no message", "no commission", "key reused"],
)
def test_a_refused_question_is_shown_on_its_form_with_what_was_typed(
    as_pat: TestClient,
    services: FakeServices,
    status: int,
    refusal: dict[str, Any],
    shown: str,
) -> None:
    statement_of(services)
    form = fields_of_form(as_pat, ASK, "inquiry-form")
    services.on("POST", "incentives", "/commissions/D-P-A-1/inquiries", refusal, status=status)
    typed = "   " if "message" in shown else "Why <so> little?"
    answer = as_pat.post(
        f"{STATEMENT}/inquiries", data={**form, "deal_id": "D-P-A-1", "message": typed}
    )
    assert answer.status_code == status
    assert_hardened(answer)
    html = answer.text
    assert shown in problem(html)
    kept = section(html, "inquiry-form")
    if typed.strip():
        assert "Why &lt;so&gt; little?</textarea>" in kept
    assert 'name="deal_id" value="D-P-A-1"' in kept
    assert hidden(kept, "submission") != form["submission"], "a corrected form is new"
    assert html.index('id="problem"') < html.index('id="inquiry-form"')
    assert posts(services)[0][1:] == (PAT, form["submission"], {"message": typed.strip()})


def test_a_partner_user_cannot_ask_on_another_partners_statement(
    as_pat: TestClient, services: FakeServices
) -> None:
    shown = as_pat.get("/partners/P-B/statements/2026-Q2/inquiries/new?deal_id=D-P-B-1")
    assert shown.status_code == 403
    sent = as_pat.post(
        "/partners/P-B/statements/2026-Q2/inquiries",
        data={"csrf": "csrf-of-pat", "submission": "s-1", "deal_id": "D-P-B-1", "message": "?"},
    )
    assert sent.status_code == 403
    assert "your own partner" in sent.text
    assert services.calls == [], "refused before asking any service"


def test_asking_about_another_partners_deal_shows_incentives_refusal(
    as_pat: TestClient, services: FakeServices
) -> None:
    statement_of(services)
    form = fields_of_form(as_pat, ASK, "inquiry-form")
    services.on(
        "POST",
        "incentives",
        "/commissions/D-P-B-1/inquiries",
        {"detail": "this deal is not your partner's"},
        status=403,
    )
    answer = as_pat.post(
        f"{STATEMENT}/inquiries", data={**form, "deal_id": "D-P-B-1", "message": "mine?"}
    )
    assert answer.status_code == 403
    assert "this deal is not your partner's" in problem(answer.text)
    assert posts(services)[0][:2] == ("/commissions/D-P-B-1/inquiries", PAT)


@pytest.mark.parametrize(
    ("page", "status"),
    [
        ("/partners/P-A/statements/2026-Q5/inquiries/new?deal_id=D-1", 404),
        (f"{STATEMENT}/inquiries/new?deal_id=+", 422),
        (f"{STATEMENT}/inquiries/new", 422),
    ],
    ids=["no period", "no deal", "deal left out"],
)
def test_asking_about_no_period_or_no_deal_asks_nothing(
    as_pat: TestClient, services: FakeServices, page: str, status: int
) -> None:
    answer = as_pat.get(page)
    assert answer.status_code == status
    assert_hardened(answer)
    assert services.calls == []
    sent = as_pat.post(
        f"{STATEMENT}/inquiries",
        data={"csrf": "csrf-of-pat", "submission": "s-1", "deal_id": " ", "message": "?"},
    )
    assert sent.status_code == 422
    assert "Name the deal you ask about" in sent.text
    assert services.calls == []


# --------------------------------------------------------------------------- the inquiry's page


def test_a_partner_user_sees_their_open_inquiry_without_the_managers_form(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/inquiries/I-1", inquiry("I-1", message="Why <so> low?"))
    answer = as_pat.get("/inquiries/I-1")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    html = answer.text
    assert "Why &lt;so&gt; low?" in section(html, "inquiry-message")
    assert 'class="badge status-open">open</span>' in html
    assert "4 days" in section(html, "inquiry-age")
    assert "2026-06-01 09:00 UTC by pat" in section(html, "inquiry-opened")
    deal = section(html, "inquiry-deal")
    assert "D-P-A-1" in deal
    assert f'href="{STATEMENT}"' in deal
    assert "has not answered yet" in section(html, "inquiry-waiting")
    assert 'id="resolve-form"' not in html
    assert "/resolve" not in html
    assert [(c.method, c.path, c.authorization) for c in services.calls] == [
        ("GET", "/inquiries/I-1", PAT)
    ]


def test_a_partner_user_sees_the_answer_and_the_adjustment(
    as_pat: TestClient, services: FakeServices
) -> None:
    answered = inquiry(
        "I-1",
        status="resolved",
        resolution="adjusted",
        note="The registration was approved late by mistake.",
        adjustment=adjustment_item("ADJ-1", inquiry_id="I-1"),
    )
    services.on("GET", "incentives", "/inquiries/I-1", answered)
    html = as_pat.get("/inquiries/I-1").text
    assert 'class="badge status-resolved">resolved</span>' in html
    assert "adjusted" in section(html, "inquiry-resolution")
    assert "approved late by mistake" in section(html, "inquiry-note")
    assert "2026-06-05 10:00 UTC by maria" in section(html, "inquiry-resolved")
    assert "Answered after" in html
    adjustment = section(html, "inquiry-adjustment")
    assert "800.00 EUR" in adjustment
    assert "registered-deal bonus" in adjustment
    assert "2026-Q2" in adjustment
    assert money_without(html, "EUR") == []
    assert 'id="resolve-form"' not in html


def test_the_manager_sees_the_resolve_form_on_an_open_inquiry(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/inquiries/I-1", inquiry("I-1"))
    html = as_maria.get("/inquiries/I-1").text
    form = section(html, "resolve-form")
    assert 'action="/inquiries/I-1/resolve"' in form
    assert 'name="csrf" value="csrf-of-maria"' in form
    assert re.search(
        r'name="resolution" value="explained" id="resolution-explained" required', form
    )
    assert 'name="resolution" value="adjusted"' in form
    for name in ("note", "amount", "reason"):
        assert f'name="{name}"' in form
    assert 'href="/partners/P-A"' in html, "staff reach the partner"
    assert 'id="inquiry-waiting"' not in html

    services.on("GET", "incentives", "/inquiries/I-1", inquiry("I-1", status="resolved"))
    assert 'id="resolve-form"' not in as_maria.get("/inquiries/I-1").text, "answered once"


def test_a_partner_user_opening_another_partners_inquiry_gets_incentives_403(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET",
        "incentives",
        "/inquiries/I-B",
        {"detail": "this inquiry is not your partner's"},
        status=403,
    )
    answer = as_pat.get("/inquiries/I-B")
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "Not yours to see" in answer.text
    assert "this inquiry is not your partner&#39;s" in answer.text
    assert "P-B" not in answer.text


def test_an_unknown_inquiry_is_a_404_page(as_maria: TestClient, services: FakeServices) -> None:
    services.on("GET", "incentives", "/inquiries/I-0", {"detail": "no inquiry I-0"}, status=404)
    answer = as_maria.get("/inquiries/I-0")
    assert answer.status_code == 404
    assert "no inquiry I-0" in answer.text


# --------------------------------------------------------------------------- resolving


def test_the_manager_explains_and_no_adjustment_is_sent(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/inquiries/I-1", inquiry("I-1"))
    explained = inquiry("I-1", status="resolved", note="The certification came later.")
    services.on("POST", "incentives", "/inquiries/I-1/resolve", explained)
    form = fields_of_form(as_maria, "/inquiries/I-1", "resolve-form")
    typed = {
        "resolution": "explained",
        "note": " The certification came later. ",
        "amount": "800.00",  # typed, then explained instead: not sent
        "reason": "bonus",
    }
    answer = as_maria.post("/inquiries/I-1/resolve", data={**form, **typed})
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/inquiries/I-1?done=resolved",
    )
    assert_hardened(answer)
    assert posts(services) == [
        (
            "/inquiries/I-1/resolve",
            MARIA,
            form["submission"],
            {
                "resolution": "explained",
                "note": "The certification came later.",
                "adjustment": None,
            },
        )
    ]

    services.on("GET", "incentives", "/inquiries/I-1", explained)
    shown = as_maria.get(answer.headers["location"]).text
    assert "Resolved" in section(shown, "notice")
    assert "explained" in section(shown, "inquiry-resolution")
    assert "The certification came later." in section(shown, "inquiry-note")
    assert 'id="resolve-form"' not in shown
    assert 'id="inquiry-adjustment"' not in shown


def test_the_manager_resolves_with_an_adjustment(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/inquiries/I-1", inquiry("I-1"))
    adjusted = inquiry(
        "I-1",
        status="resolved",
        resolution="adjusted",
        note="Approved late by mistake.",
        adjustment=adjustment_item("ADJ-1", inquiry_id="I-1"),
    )
    services.on("POST", "incentives", "/inquiries/I-1/resolve", adjusted)
    form = fields_of_form(as_maria, "/inquiries/I-1", "resolve-form")
    typed = {
        "resolution": "adjusted",
        "note": "Approved late by mistake.",
        "amount": " 800.00 ",
        "reason": " registered-deal bonus ",
    }
    answer = as_maria.post("/inquiries/I-1/resolve", data={**form, **typed})
    assert answer.headers["location"] == "/inquiries/I-1?done=resolved"
    assert posts(services) == [
        (
            "/inquiries/I-1/resolve",
            MARIA,
            form["submission"],
            {
                "resolution": "adjusted",
                "note": "Approved late by mistake.",
                "adjustment": {"amount": "800.00", "reason": "registered-deal bonus"},
            },
        )
    ], "the amount as typed (a decimal string), never a float"

    services.on("GET", "incentives", "/inquiries/I-1", adjusted)
    shown = as_maria.get(answer.headers["location"]).text
    assert "800.00 EUR" in section(shown, "inquiry-adjustment")


@pytest.mark.parametrize(
    ("typed", "status", "refusal", "shown", "kept"),
    [
        (
            {"resolution": "adjusted", "note": "late", "amount": "0", "reason": "nothing"},
            422,
            {
                "detail": [
                    {
                        "type": "value_error",
                        "loc": ["body", "adjustment", "amount"],
                        "msg": "an adjustment of zero changes nothing",
                    }
                ]
            },
            "adjustment.amount: an adjustment of zero changes nothing",
            ('value="adjusted" id="resolution-adjusted" checked', 'value="0"', 'value="nothing"'),
        ),
        (
            {"resolution": "adjusted", "note": "late", "amount": "", "reason": ""},
            422,
            {
                "detail": [
                    {
                        "type": "value_error",
                        "loc": ["body", "adjustment", "amount"],
                        "msg": 'money must be a plain decimal such as "1234.50"',
                    },
                    {
                        "type": "string_too_short",
                        "loc": ["body", "adjustment", "reason"],
                        "msg": "String should have at least 1 character",
                    },
                ]
            },
            "adjustment.amount: money must be a plain decimal",
            ("late</textarea>",),
        ),
        (
            {"resolution": "explained", "note": "it <is> right", "amount": "", "reason": ""},
            409,
            {"detail": "inquiry I-1 was already resolved (adjusted) at 2026-06-05T10:00:00"},
            "inquiry I-1 was already resolved (adjusted)",
            ('value="explained" id="resolution-explained" required checked', "it &lt;is&gt; right"),
        ),
    ],
    ids=["zero", "no adjustment typed", "already resolved"],
)
def test_a_refused_resolution_is_shown_on_its_form_with_what_was_typed(
    as_maria: TestClient,
    services: FakeServices,
    typed: dict[str, str],
    status: int,
    refusal: dict[str, Any],
    shown: str,
    kept: tuple[str, ...],
) -> None:
    services.on("GET", "incentives", "/inquiries/I-1", inquiry("I-1"))
    form = fields_of_form(as_maria, "/inquiries/I-1", "resolve-form")
    services.on("POST", "incentives", "/inquiries/I-1/resolve", refusal, status=status)
    # Meanwhile another manager resolved it: the page shows the answer, and the form refused.
    services.on("GET", "incentives", "/inquiries/I-1", inquiry("I-1", status="resolved"))
    answer = as_maria.post("/inquiries/I-1/resolve", data={**form, **typed})
    assert answer.status_code == status
    assert_hardened(answer)
    html = answer.text
    assert shown in problem(html)
    form_shown = section(html, "resolve-form")
    for text in kept:
        assert text in form_shown
    assert hidden(form_shown, "submission") != form["submission"]
    assert html.index('id="problem"') < html.index('id="resolve-form"')
    assert 'id="inquiry-answer"' in html, "the inquiry as incentives has it now"
    [(_, token, key, body)] = posts(services)
    assert (token, key) == (MARIA, form["submission"])
    if typed["resolution"] == "adjusted":
        assert body["adjustment"] == {"amount": typed["amount"], "reason": typed["reason"]}
    else:
        assert body["adjustment"] is None


@pytest.mark.parametrize("done", ["asked", "resolved"])
def test_only_the_outcomes_the_page_knows_are_said(
    as_pat: TestClient, services: FakeServices, done: str
) -> None:
    services.on("GET", "incentives", "/inquiries/I-1", inquiry("I-1"))
    assert 'id="notice"' in as_pat.get(f"/inquiries/I-1?done={done}").text
    assert 'id="notice"' not in as_pat.get("/inquiries/I-1?done=<b>paid</b>").text


# --------------------------------------------------------------------------- the list


def test_a_partner_user_lists_their_own_inquiries(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on(
        "GET",
        "incentives",
        "/inquiries",
        inquiries(inquiry("I-1", status="resolved"), inquiry("I-2", age_days=1)),
    )
    answer = as_pat.get("/inquiries")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    html = answer.text
    assert 'href="/inquiries" id="nav-inquiries">Inquiries</a>' in html
    rows = section(html, "inquiries")
    assert "<th>Partner</th>" not in rows
    assert rows.index('id="inquiry-I-1"') < rows.index('id="inquiry-I-2"'), "oldest first"
    first = section(rows, "inquiry-I-1")
    assert 'href="/inquiries/I-1"' in first
    assert f'href="{STATEMENT}"' in first
    assert "explained" in first
    assert "1 day<" in section(rows, "inquiry-I-2")
    assert "<strong>All</strong>" in section(html, "inquiry-tabs")
    assert 'id="inquiry-filter"' not in html, "the manager's partner filter"
    assert reads(services, "/inquiries") == [("incentives", PAT, {"partner_id": "P-A"})]

    as_pat.get("/inquiries?status=open")
    assert reads(services, "/inquiries")[-1] == (
        "incentives",
        PAT,
        {"partner_id": "P-A", "status": "open"},
    )


def test_a_partner_user_naming_another_partner_is_refused(
    as_pat: TestClient, services: FakeServices
) -> None:
    answer = as_pat.get("/inquiries?partner_id=P-B")
    assert answer.status_code == 403
    assert services.calls == []


def test_the_managers_work_queue_is_every_partners_open_inquiries_oldest_first(
    as_maria: TestClient, services: FakeServices
) -> None:
    queue = inquiries(inquiry("I-B", "P-B", age_days=9), inquiry("I-A", "P-A", age_days=3))
    services.on("GET", "incentives", "/inquiries", queue)
    answer = as_maria.get("/inquiries")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert 'id="nav-inquiries"' in html
    assert "<strong>Open</strong>" in section(html, "inquiry-tabs")
    assert 'href="/inquiries?status=resolved"' in html
    assert 'href="/inquiries?status=all"' in html
    rows = section(html, "inquiries")
    assert "<th>Partner</th>" in rows
    oldest = section(rows, "inquiry-I-B")
    assert 'href="/partners/P-B"' in oldest
    assert 'href="/inquiries/I-B"' in oldest
    assert "9 days" in oldest
    assert rows.index('id="inquiry-I-B"') < rows.index('id="inquiry-I-A"')
    assert reads(services, "/inquiries") == [("incentives", MARIA, {"status": "open"})]


@pytest.mark.parametrize(
    ("query", "sent", "tab"),
    [
        ("status=resolved", {"status": "resolved"}, "Resolved"),
        ("status=all", {}, "All"),
        ("status=closed", {"status": "open"}, "Open"),
        ("status=all&partner_id=+P-B+", {"partner_id": "P-B"}, "All"),
    ],
    ids=["resolved", "all", "unknown status", "one partner"],
)
def test_the_managers_status_filter(
    as_maria: TestClient, services: FakeServices, query: str, sent: dict[str, str], tab: str
) -> None:
    services.on("GET", "incentives", "/inquiries", inquiries())
    html = as_maria.get(f"/inquiries?{query}").text
    assert f"<strong>{tab}</strong>" in section(html, "inquiry-tabs")
    assert reads(services, "/inquiries") == [("incentives", MARIA, sent)]
    if "partner_id" in sent:
        assert 'href="/inquiries?partner_id=P-B&amp;status=open"' in section(html, "inquiry-tabs")
        assert 'value="P-B"' in section(html, "inquiry-filter")
    empty = "No inquiry is waiting for an answer." if tab == "Open" else "No inquiry."
    assert empty in section(html, "inquiries")


# --------------------------------------------------------------------------- adjusting


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        (
            {"deal_id": "", "amount": " -150.00 ", "currency": "EUR", "reason": " goodwill "},
            {"deal_id": None, "currency": "EUR", "amount": "-150.00", "reason": "goodwill"},
        ),
        (
            {"deal_id": "D-P-A-1", "amount": "800.00", "currency": "", "reason": "bonus"},
            {"deal_id": "D-P-A-1", "currency": None, "amount": "800.00", "reason": "bonus"},
        ),
    ],
    ids=["the period", "a deal"],
)
def test_the_manager_adjusts_a_period_from_its_statement(
    as_maria: TestClient, services: FakeServices, typed: dict[str, str], sent: dict[str, Any]
) -> None:
    statement_of(services)
    form = fields_of_form(as_maria, STATEMENT, "adjustment-form")
    made = adjustment_item("ADJ-9", amount=sent["amount"], deal_id=sent["deal_id"])
    services.on("POST", "incentives", "/adjustments", made, status=201)
    answer = as_maria.post(f"{STATEMENT}/adjustments", data={**form, **typed})
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        f"{STATEMENT}?done=adjusted",
    )
    assert_hardened(answer)
    assert posts(services) == [
        (
            "/adjustments",
            MARIA,
            form["submission"],
            {"partner_id": "P-A", "period": "2026-Q2", **sent},
        )
    ]
    shown = as_maria.get(answer.headers["location"]).text
    assert "Adjustment recorded" in section(shown, "notice")


@pytest.mark.parametrize(
    ("typed", "status", "refusal", "shown"),
    [
        (
            {"deal_id": "", "amount": "1.000,00", "currency": "EUR", "reason": "goodwill"},
            422,
            {
                "detail": [
                    {
                        "type": "value_error",
                        "loc": ["body", "amount"],
                        "msg": 'money must be a plain decimal such as "1234.50"',
                    }
                ]
            },
            "amount: money must be a plain decimal",
        ),
        (
            {"deal_id": "", "amount": "50.00", "currency": "", "reason": "goodwill"},
            422,
            {
                "detail": [
                    {
                        "type": "value_error",
                        "loc": ["body", "currency"],
                        "msg": "the partner has no contract: name it",
                    }
                ]
            },
            "currency: the partner has no contract: name it",
        ),
        (
            {"deal_id": "D-P-A-1", "amount": "50.00", "currency": "EUR", "reason": "x"},
            404,
            {"detail": "no commission data for partner P-A"},
            "no commission data for partner P-A",
        ),
    ],
    ids=["amount", "currency", "unknown partner"],
)
def test_a_refused_adjustment_is_shown_on_the_statements_form_with_what_was_typed(
    as_maria: TestClient,
    services: FakeServices,
    typed: dict[str, str],
    status: int,
    refusal: dict[str, Any],
    shown: str,
) -> None:
    statement_of(services)
    form = fields_of_form(as_maria, STATEMENT, "adjustment-form")
    services.on("POST", "incentives", "/adjustments", refusal, status=status)
    answer = as_maria.post(f"{STATEMENT}/adjustments", data={**form, **typed})
    assert answer.status_code == status
    assert_hardened(answer)
    html = answer.text
    assert shown in problem(html)
    form_shown = section(html, "adjustment-form")
    assert f'value="{typed["amount"]}"' in form_shown
    assert f'value="{typed["reason"]}"' in form_shown
    assert f'value="{typed["currency"]}"' in opening_tag(form_shown, "adjustment-currency")
    if typed["deal_id"]:
        assert f'<option value="{typed["deal_id"]}" selected>' in form_shown
    assert hidden(form_shown, "submission") != form["submission"]
    assert html.index("Adjust this period</h2>") < html.index('id="problem"')
    assert html.index('id="problem"') < html.index('id="adjustment-form"')
    assert "D-P-A-1" in section(html, "statement-lines"), "the statement as it is"


# --------------------------------------------------------------------------- who may


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/inquiries/I-1/resolve", {"resolution": "explained", "note": "fine"}),
        (f"{STATEMENT}/adjustments", {"amount": "800.00", "reason": "mine"}),
    ],
    ids=["resolve", "adjust"],
)
def test_a_partner_user_cannot_send_the_managers_forms(
    as_pat: TestClient, services: FakeServices, path: str, fields: dict[str, str]
) -> None:
    answer = as_pat.post(path, data={"csrf": "csrf-of-pat", "submission": "s-1", **fields})
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "This page is for channel managers." in answer.text
    assert services.calls == [], "refused before asking incentives"


def test_a_question_without_this_sessions_csrf_token_sends_nothing(
    as_pat: TestClient, services: FakeServices
) -> None:
    answer = as_pat.post(
        f"{STATEMENT}/inquiries",
        data={"csrf": "csrf-of-maria", "submission": "s-1", "deal_id": "D-P-A-1", "message": "?"},
    )
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    assert services.calls == []


@pytest.mark.parametrize("page", ["/inquiries", "/inquiries/I-1", ASK])
def test_the_inquiry_pages_need_signing_in(
    portal: TestClient, services: FakeServices, page: str
) -> None:
    answer = portal.get(page)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
    assert services.calls == []
