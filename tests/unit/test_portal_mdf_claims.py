"""MDF claims in the portal, on a fake of enablement (tests/support/portal.py): a partner
user sees each approved request's claims and claims against it with evidence; the
channel manager's "Claims waiting" lists every partner's claims waiting, each with its
evidence, and approves all or part of one, or rejects it; enablement's refusals are shown
on the form refused in words, with what was typed kept (docs/portal.md,
docs/rules/enablement.md, "Claims")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.enablement.views import MdfRequestsView
from tests.support.portal import (
    FakeServices,
    answer_of,
    assert_hardened,
    evidence_digest,
    hidden,
    mdf_claim,
    mdf_claims,
    mdf_requests,
    money_without,
)
from tests.unit.test_portal_registration_lifecycle import fields_of_form, posts, section

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"
DIGEST = "ab" * 32
OTHER_DIGEST = "cd" * 32


def requests_of_pat() -> dict[str, Any]:
    """P-A's requests: M-A-1 approved (2 500.00 EUR), M-A-2 waiting for a decision."""
    approved = mdf_requests("P-A")["requests"][0]
    return answer_of(
        MdfRequestsView,
        {
            **mdf_requests("P-A"),
            "requests": [
                {**approved, "request_id": "M-A-1", "campaign": "Spring <webinar>"},
                {
                    **approved,
                    "request_id": "M-A-2",
                    "campaign": "Autumn roadshow",
                    "status": "requested",
                    "decided_at": None,
                    "claims_close": None,
                },
            ],
        },
    )


#: P-A's claims against M-A-1: part approved, rejected, waiting.
CLAIMS_OF_PAT = mdf_claims(
    mdf_claim("MC-1", "M-A-1", status="approved", approved_amount="500.00"),
    mdf_claim("MC-2", "M-A-1", amount="300.00", status="rejected", reason="no <attendee> list"),
    mdf_claim("MC-3", "M-A-1", amount="150.00"),
    partner_id="P-A",
)


@pytest.fixture
def pats_mdf(services: FakeServices) -> FakeServices:
    services.on("GET", "enablement", "/mdf-requests", requests_of_pat())
    services.on("GET", "enablement", "/mdf-claims", CLAIMS_OF_PAT)
    return services


def claim_typed(**changes: str) -> dict[str, str]:
    """A claim form filled in: an amount, the activity's end, evidence in rows 1 and 3."""
    return {
        "amount": " 600.00 ",
        "activity_end": "2026-05-15",
        "evidence-1-kind": " invoice ",
        "evidence-1-url": "https://files.example.com/venue.pdf",
        "evidence-1-sha256": f" {DIGEST} ",
        "evidence-2-kind": "",
        "evidence-2-url": "",
        "evidence-2-sha256": "",
        "evidence-3-kind": "photo",
        "evidence-3-url": "https://files.example.com/booth.jpg",
        "evidence-3-sha256": OTHER_DIGEST.upper(),
        **changes,
    }


def problem(html: str) -> str:
    """The problem shown in ``html``, as read."""
    return unescape(re.sub(r"<[^>]+>", "", section(html, "problem")))


def refusal(loc: list[object], msg: str) -> dict[str, Any]:
    """Enablement's 422, FastAPI's shape."""
    return {"detail": [{"type": "value_error", "loc": loc, "msg": msg}]}


# --------------------------------------------------------------------------- a partner's claims


def test_a_partner_user_sees_each_approved_requests_claims_and_a_form_to_claim(
    as_pat: TestClient, pats_mdf: FakeServices
) -> None:
    answer = as_pat.get("/mdf")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    assert sorted((c.method, c.path, c.authorization) for c in pats_mdf.calls) == [
        ("GET", "/mdf-claims", PAT),
        ("GET", "/mdf-requests", PAT),
    ]
    read = {c.path: c.params for c in pats_mdf.calls}
    assert read["/mdf-claims"] == {"partner_id": "P-A", "limit": "1000"}, "one claim book"
    html = answer.text
    assert money_without(html, "EUR") == [], "every amount carries its currency"

    claims = section(html, "claims-M-A-1")
    assert "Spring &lt;webinar&gt;" in claims, "escaped"
    assert "approved 2,500.00 EUR" in claims
    part = section(claims, "claim-row-MC-1")
    for shown in ("2026-05-20", "600.00 EUR", "2026-05-15", "approved", "500.00 EUR"):
        assert shown in part, shown
    assert 'href="https://files.example.com/MC-1/invoice.pdf"' in part
    assert 'rel="noopener noreferrer nofollow"' in part
    assert ">invoice</a>" in part
    assert ">photo</a>" in part
    assert f"{evidence_digest('MC-1/invoice.pdf')[:12]}…" in part, "the start of each digest"
    rejected = section(claims, "claim-row-MC-2")
    assert "rejected" in rejected
    assert "no &lt;attendee&gt; list" in rejected
    assert "submitted" in section(claims, "claim-row-MC-3")

    form = section(html, "claim-form-M-A-1")
    assert 'action="/mdf-requests/M-A-1/claims"' in html
    assert 'name="csrf" value="csrf-of-pat"' in form
    for name in ("amount", "activity_end", "evidence-1-kind", "evidence-3-sha256"):
        assert f'name="{name}"' in form, name
    assert 'name="evidence-4-kind"' not in form, "three rows of evidence at most"
    assert 'type="date" name="activity_end" required' in form
    assert 'name="evidence-1-sha256" pattern="[0-9a-fA-F]{64}" maxlength="64" required' in form
    assert 'name="evidence-2-sha256" pattern="[0-9a-fA-F]{64}" maxlength="64" value' in form, (
        "only the first row is required"
    )
    assert 'id="claims-M-A-2"' not in html, "a request waiting for a decision is not claimed"
    assert 'id="claim-form-M-A-2"' not in html
    assert "/claims/MC-3/approve" not in html, "no manager's form"


def test_a_request_whose_claims_closed_shows_no_form(
    as_pat: TestClient, services: FakeServices
) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    answers = requests_of_pat()
    answers["requests"][0]["claims_close"] = yesterday
    services.on("GET", "enablement", "/mdf-requests", answers)
    services.on("GET", "enablement", "/mdf-claims", mdf_claims(partner_id="P-A"))
    html = as_pat.get("/mdf").text
    claims = section(html, "claims-M-A-1")
    assert f"claims close {yesterday}" in claims
    assert 'id="claim-form-M-A-1"' not in html, "no claim after the close"
    closed = section(html, "claims-closed-M-A-1")
    assert f"Claims closed on {yesterday}" in closed
    assert "went back to the budget" in closed


def test_a_partner_user_claims_with_evidence_as_themselves(
    as_pat: TestClient, pats_mdf: FakeServices
) -> None:
    made = mdf_claim("MC-4", "M-A-1")
    pats_mdf.on("POST", "enablement", "/mdf-requests/M-A-1/claims", made, status=201)
    form = fields_of_form(as_pat, "/mdf", "claim-form-M-A-1")
    answer = as_pat.post("/mdf-requests/M-A-1/claims", data={**form, **claim_typed()})
    assert (answer.status_code, answer.headers["location"]) == (303, "/mdf?done=claimed")
    assert_hardened(answer)
    assert posts(pats_mdf) == [
        (
            "/mdf-requests/M-A-1/claims",
            PAT,
            form["submission"],
            {
                "amount": "600.00",
                "activity_end": "2026-05-15",
                "evidence": [
                    {
                        "kind": "invoice",
                        "url": "https://files.example.com/venue.pdf",
                        "sha256": DIGEST,
                    },
                    {
                        "kind": "photo",
                        "url": "https://files.example.com/booth.jpg",
                        "sha256": OTHER_DIGEST.upper(),
                    },
                ],
            },
        )
    ], "the rows filled in, trimmed, in order; no currency (the request's); no partner"
    shown = as_pat.get(answer.headers["location"]).text
    assert "Claim sent: a channel manager decides it." in section(shown, "notice")


@pytest.mark.parametrize(
    ("loc", "msg", "said"),
    [
        (
            ["body", "amount"],
            "over_approved_amount: 600.00 EUR claimed but only 450.00 EUR of the 2500.00 "
            "EUR approved is left to claim",
            "Amount: over the approved amount (600.00 EUR claimed but only 450.00 EUR of the "
            "2500.00 EUR approved is left to claim).",
        ),
        (
            ["body", "evidence", 1, "sha256"],
            f"evidence_reused: evidence {OTHER_DIGEST} was already used by claim MC-1",
            "Evidence 3, its SHA-256: this evidence was already used "
            f"(evidence {OTHER_DIGEST} was already used by claim MC-1).",
        ),
        (
            ["body", "activity_end"],
            "claim_window_closed: an activity that ended on 2026-05-15 could be claimed until "
            "2026-07-14 (60 days)",
            "Activity end date: too late, the claim window of this activity has closed",
        ),
        (
            ["body", "evidence", 0, "url"],
            "URL scheme should be 'http' or 'https'",
            "Evidence 1, its URL: URL scheme should be 'http' or 'https'.",
        ),
        (
            ["body", "evidence"],
            "no_evidence: a claim needs evidence",
            "Evidence: at least one piece of evidence is needed (a claim needs evidence).",
        ),
    ],
    ids=["over the approved amount", "evidence reused", "too late", "a bad url", "no evidence"],
)
def test_a_refused_claim_is_shown_on_its_form_in_words_with_what_was_typed(
    as_pat: TestClient, pats_mdf: FakeServices, loc: list[object], msg: str, said: str
) -> None:
    pats_mdf.on("POST", "enablement", "/mdf-requests/M-A-1/claims", refusal(loc, msg), status=422)
    form = fields_of_form(as_pat, "/mdf", "claim-form-M-A-1")
    answer = as_pat.post("/mdf-requests/M-A-1/claims", data={**form, **claim_typed()})
    assert answer.status_code == 422
    assert_hardened(answer)
    html = answer.text
    form_shown = section(html, "claim-form-M-A-1")
    assert said in problem(form_shown), problem(form_shown)
    assert html.count('id="problem"') == 1, "on the form refused only"
    assert 'value="600.00"' in form_shown, "what was typed, trimmed"
    assert 'value="2026-05-15"' in form_shown
    assert f'value="{DIGEST}"' in form_shown
    assert f'value="{OTHER_DIGEST.upper()}"' in form_shown
    assert 'value="https://files.example.com/booth.jpg"' in form_shown
    assert hidden(form_shown, "submission") != form["submission"], "a corrected form is new"
    assert 'value="600.00"' not in section(html, "mdf-form"), "the request form is not filled"


def test_a_refusal_about_the_request_itself_is_shown_above_the_page(
    as_pat: TestClient, pats_mdf: FakeServices
) -> None:
    said = "not_approved: MDF request M-A-2 is requested: only an approved request is claimed"
    pats_mdf.on(
        "POST",
        "enablement",
        "/mdf-requests/M-A-2/claims",
        refusal(["path", "request_id"], said),
        status=422,
    )
    answer = as_pat.post(
        "/mdf-requests/M-A-2/claims",
        data={"csrf": "csrf-of-pat", "submission": "s-1", **claim_typed()},
    )
    assert answer.status_code == 422
    assert problem(answer.text).startswith(
        "This request: only an approved request can be claimed against (MDF request M-A-2"
    )
    assert answer.text.index('id="problem"') < answer.text.index('id="mdf-requests"')


def test_a_claim_against_another_partners_request_is_the_portals_403(
    as_pat: TestClient, pats_mdf: FakeServices
) -> None:
    detail = {"detail": "MDF request M-B-1 is not your partner's"}
    pats_mdf.on("POST", "enablement", "/mdf-requests/M-B-1/claims", detail, status=403)
    answer = as_pat.post(
        "/mdf-requests/M-B-1/claims",
        data={"csrf": "csrf-of-pat", "submission": "s-1", **claim_typed()},
    )
    assert answer.status_code == 403
    assert "not your partner&#39;s" in answer.text
    assert 'id="claim-form-M-A-1"' not in answer.text
    assert [c.path for c in pats_mdf.calls] == ["/mdf-requests/M-B-1/claims"]


# --------------------------------------------------------------------------- the manager's queue

WAITING = mdf_claims(
    mdf_claim("MC-1", "M-A-1"),
    mdf_claim(
        "MC-7",
        "M-B-3",
        partner_id="P-B",
        amount="1200.50",
        currency="USD",
        evidence=[{"kind": "script", "url": "javascript:alert(1)", "sha256": DIGEST}],
    ),
    status="submitted",
)


def test_the_manager_sees_every_partners_claims_waiting_with_their_evidence(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "enablement", "/mdf-claims", WAITING)
    answer = as_maria.get("/mdf/claims")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    assert [(c.method, c.path, c.params, c.authorization) for c in services.calls] == [
        ("GET", "/mdf-claims", {"status": "submitted", "limit": "100"}, MARIA)
    ]
    html = answer.text
    first = section(html, "claim-MC-1")
    for shown in ('href="/partners/P-A"', "M-A-1", "600.00 EUR", "2026-05-15", "2026-05-20"):
        assert shown in first, shown
    assert 'href="https://files.example.com/MC-1/invoice.pdf"' in first
    assert f'title="SHA-256 {evidence_digest("MC-1/booth.jpg")}"' in first, "the whole digest"
    assert 'action="/mdf-requests/M-A-1/claims/MC-1/approve"' in first
    assert 'action="/mdf-requests/M-A-1/claims/MC-1/reject"' in first
    assert 'name="approved_amount"' in section(html, "approve-MC-1")
    assert 'name="reason" required' in section(html, "reject-MC-1")
    assert 'name="csrf" value="csrf-of-maria"' in section(html, "approve-MC-1")
    other = section(html, "claim-MC-7")
    assert "1,200.50 USD" in other
    assert 'href="/partners/P-B"' in other
    assert "javascript:" not in other.split("<code", 1)[0], "only http(s) evidence is a link"
    assert "script" in other
    assert money_without(html, "EUR", "USD") == []
    nav = html[html.index("<nav") : html.index("</nav>")]
    assert 'href="/mdf/claims" id="nav-claims"' in nav


def test_no_claim_waiting_says_so(as_maria: TestClient, services: FakeServices) -> None:
    services.on("GET", "enablement", "/mdf-claims", mdf_claims(status="submitted"))
    assert "No claim is waiting." in as_maria.get("/mdf/claims").text


def test_the_managers_mdf_page_links_the_claims_waiting(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "enablement", "/mdf-requests", mdf_requests("P-A"))
    html = as_maria.get("/mdf").text
    assert 'href="/mdf/claims" id="claims-waiting-link"' in html
    assert [c.path for c in services.calls] == ["/mdf-requests"], "no claims read for it"


@pytest.mark.parametrize(
    ("typed", "sent"),
    [(" 450.00 ", {"approved_amount": "450.00"}), ("  ", None)],
    ids=["part of it", "all of it"],
)
def test_the_manager_approves_a_claim_all_or_part(
    as_maria: TestClient, services: FakeServices, typed: str, sent: dict[str, str] | None
) -> None:
    services.on("GET", "enablement", "/mdf-claims", WAITING)
    decided = mdf_claim("MC-1", "M-A-1", status="approved", approved_amount="450.00")
    services.on("POST", "enablement", "/mdf-requests/M-A-1/claims/MC-1/approve", decided)
    form = fields_of_form(as_maria, "/mdf/claims", "approve-MC-1")
    answer = as_maria.post(
        "/mdf-requests/M-A-1/claims/MC-1/approve", data={**form, "approved_amount": typed}
    )
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/mdf/claims?done=claim-approved",
    )
    assert posts(services) == [
        ("/mdf-requests/M-A-1/claims/MC-1/approve", MARIA, form["submission"], sent)
    ]
    shown = as_maria.get(answer.headers["location"]).text
    assert "Claim approved: it is paid with the partner&#39;s next settlement." in section(
        shown, "notice"
    )


@pytest.mark.parametrize(
    ("typed", "sent"),
    [(" the invoice is for another event ", {"reason": "the invoice is for another event"})],
)
def test_the_manager_rejects_a_claim_saying_why(
    as_maria: TestClient, services: FakeServices, typed: str, sent: dict[str, str]
) -> None:
    services.on("GET", "enablement", "/mdf-claims", WAITING)
    decided = mdf_claim("MC-1", "M-A-1", status="rejected", reason=sent["reason"])
    services.on("POST", "enablement", "/mdf-requests/M-A-1/claims/MC-1/reject", decided)
    form = fields_of_form(as_maria, "/mdf/claims", "reject-MC-1")
    answer = as_maria.post("/mdf-requests/M-A-1/claims/MC-1/reject", data={**form, "reason": typed})
    assert answer.headers["location"] == "/mdf/claims?done=claim-rejected"
    assert posts(services) == [
        ("/mdf-requests/M-A-1/claims/MC-1/reject", MARIA, form["submission"], sent)
    ]
    assert "Claim rejected." in section(as_maria.get(answer.headers["location"]).text, "notice")


def test_approving_more_than_claimed_is_shown_on_the_approve_form(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "enablement", "/mdf-claims", WAITING)
    said = "more_than_claimed: 600.01 EUR is more than the 600.00 EUR claim MC-1 asks for"
    services.on(
        "POST",
        "enablement",
        "/mdf-requests/M-A-1/claims/MC-1/approve",
        refusal(["body", "approved_amount"], said),
        status=422,
    )
    form = fields_of_form(as_maria, "/mdf/claims", "approve-MC-1")
    answer = as_maria.post(
        "/mdf-requests/M-A-1/claims/MC-1/approve", data={**form, "approved_amount": "600.01"}
    )
    assert answer.status_code == 422
    row = section(answer.text, "claim-MC-1")
    assert problem(row) == (
        "Claim MC-1: Amount approved: more than the claim asks for (600.01 EUR is more than "
        "the 600.00 EUR claim MC-1 asks for)."
    )
    assert 'value="600.01"' in section(answer.text, "approve-MC-1"), "what was typed"
    assert 'value=""' in section(answer.text, "reject-MC-1")
    assert answer.text.count('id="problem"') == 1


def test_a_claim_decided_meanwhile_is_said_above_the_queue(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "enablement", "/mdf-claims", WAITING)
    form = fields_of_form(as_maria, "/mdf/claims", "reject-MC-1")
    detail = {"detail": "MDF claim MC-1 is already approved"}
    services.on("POST", "enablement", "/mdf-requests/M-A-1/claims/MC-1/reject", detail, status=409)
    services.on("GET", "enablement", "/mdf-claims", mdf_claims(status="submitted"))
    answer = as_maria.post("/mdf-requests/M-A-1/claims/MC-1/reject", data={**form, "reason": "x"})
    assert answer.status_code == 409
    assert problem(answer.text) == "Claim MC-1: MDF claim MC-1 is already approved"
    assert "No claim is waiting." in answer.text


# --------------------------------------------------------------------------- partner users


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("GET", "/mdf/claims", {}),
        ("POST", "/mdf-requests/M-A-1/claims/MC-1/approve", {"approved_amount": "1.00"}),
        ("POST", "/mdf-requests/M-A-1/claims/MC-1/reject", {"reason": "mine"}),
    ],
    ids=["the queue", "approve", "reject"],
)
def test_a_partner_user_gets_the_portals_403_on_the_managers_claims(
    as_pat: TestClient, services: FakeServices, method: str, path: str, fields: dict[str, str]
) -> None:
    data = {"csrf": "csrf-of-pat", "submission": "s-1", **fields}
    answer = as_pat.request(method, path, data=data if method == "POST" else None)
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "This page is for channel managers." in answer.text
    assert services.calls == [], "refused before asking enablement"


def test_a_partner_users_navigation_has_no_claims_queue(
    as_pat: TestClient, pats_mdf: FakeServices
) -> None:
    html = as_pat.get("/mdf").text
    nav = html[html.index("<nav") : html.index("</nav>")]
    assert "/mdf/claims" not in nav
    assert 'id="claims-waiting-link"' not in html
