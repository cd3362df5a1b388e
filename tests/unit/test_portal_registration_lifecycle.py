"""A registration's lifecycle in the portal, on a fake of incentives
(tests/support/portal.py): its page shows how long it protects, how it was decided and
its extensions; a partner user asks for an extension; the channel manager answers the
request waiting and decides a registration by hand; the list marks the requests waiting
and the manager's tab lists only those (docs/portal.md, docs/rules/deal-registration.md).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.incentives.views import ExtensionAnswerView, RegistrationsView, RegistrationView
from services.portal.views import protection
from tests.support.portal import FakeServices, answer_of, assert_hardened, hidden

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"
REGISTERED = "2026-05-01T10:00:00+00:00"
DECIDED = "2026-05-01T10:00:05+00:00"


def iso(instant: datetime) -> str:
    return instant.isoformat()


def in_days(days: float) -> datetime:
    """An instant ``days`` from now, an hour past the whole days (so the days left shown
    do not depend on when the test runs)."""
    return datetime.now(UTC) + timedelta(days=days, hours=1)


def extension(
    extension_id: str,
    days: int,
    reason: str,
    status: str = "requested",
    answer: str | None = None,
) -> dict[str, Any]:
    answered = status != "requested"
    return {
        "extension_id": extension_id,
        "days": days,
        "reason": reason,
        "status": status,
        "requested_at": "2026-06-01T09:00:00+00:00",
        "answered_at": "2026-06-02T09:00:00+00:00" if answered else None,
        "answer": answer,
    }


def lifecycle(
    registration_id: str, partner_id: str = "P-A", status: str = "approved", **changes: Any
) -> dict[str, Any]:
    """A registration as incentives' ``GET /registrations/{id}`` answers it (through its
    response model): decided by the rule, protecting for 40 more days unless changed."""
    decided = status != "pending"
    return answer_of(
        RegistrationView,
        {
            "registration_id": registration_id,
            "deal_id": f"D-{registration_id}",
            "partner_id": partner_id,
            "customer": "Globex",
            "product_line": "cloud",
            "registered_at": REGISTERED,
            "status": status,
            "reason": "channel_conflict" if status == "rejected" else None,
            "decided_at": DECIDED if decided else None,
            "expires_at": iso(in_days(40)) if decided else None,
            "conflicting_registration_id": None,
            "decided_by_hand": False,
            "decided_by": {"kind": "system", "id": "incentives"} if decided else None,
            "extensions": [],
            "extension_waiting": False,
            "may_request_extension": status == "approved",
            **changes,
        },
    )


def waiting(registration_id: str = "R-A-1", partner_id: str = "P-A") -> dict[str, Any]:
    """An approved registration with a request of 30 days waiting for an answer."""
    return lifecycle(
        registration_id,
        partner_id,
        extensions=[extension("X-1", 30, "the customer's board meets in July")],
        extension_waiting=True,
        may_request_extension=False,
    )


WAITING = waiting()


def section(html: str, element_id: str) -> str:
    """The element ``id="element_id"`` of ``html``, from its opening tag to the first
    closing tag of its kind (none of these pages nests an element in one of its kind)."""
    start = html.rindex("<", 0, html.index(f'id="{element_id}"'))
    tag = re.match(r"<(\w+)", html[start:])
    assert tag, html[start:]
    return html[start : html.index(f"</{tag[1]}>", start)]


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
    """The problem the page shows, as read."""
    return unescape(section(html, "problem"))


# --------------------------------------------------------------------------- the page


def test_a_partner_user_sees_the_protection_how_it_was_decided_and_the_extensions(
    as_pat: TestClient, services: FakeServices
) -> None:
    ends = in_days(40)
    found = lifecycle(
        "R-A-1",
        expires_at=iso(ends),
        extensions=[
            extension("X-1", 30, "the board meets in June", "granted", "board date confirmed"),
            extension("X-2", 60, "and again in <August>", "rejected", "two months is too long"),
        ],
    )
    services.on("GET", "incentives", "/registrations/R-A-1", found)
    answer = as_pat.get("/registrations/R-A-1")
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    html = answer.text
    assert '<span id="registration-status" class="badge status-approved">approved</span>' in html
    assert 'id="decided-by-hand"' not in html
    assert f"until {ends.date().isoformat()} (40 days left)" in section(html, "protection")
    assert "2026-05-01 10:00 UTC by the automatic rule" in section(html, "decided")

    table = section(html, "extensions")
    granted = section(table, "extension-X-1")
    for shown in ("2026-06-01", "30", "the board meets in June", "granted", "2026-06-02"):
        assert shown in granted
    assert "board date confirmed" in granted
    refused = section(table, "extension-X-2")
    assert "and again in &lt;August&gt;" in refused, "escaped"
    assert "rejected" in refused
    assert "two months is too long" in refused

    form = section(html, "extension-form")
    assert 'action="/registrations/R-A-1/extension"' in html
    assert re.search(r'name="days" id="extension-days" required min="1" max="90"', form)
    assert 'value="30"' in form, "30 days unless changed"
    assert 'name="reason"' in form
    assert 'name="csrf" value="csrf-of-pat"' in form
    for managers in ("extension-approve-form", "extension-reject-form", "decision-form"):
        assert f'id="{managers}"' not in html
    assert [(c.method, c.path, c.authorization) for c in services.calls] == [
        ("GET", "/registrations/R-A-1", PAT)
    ]


def test_an_expired_registration_decided_by_hand_says_so_and_offers_no_extension(
    as_maria: TestClient, services: FakeServices
) -> None:
    ended = datetime.now(UTC) - timedelta(days=3)
    found = lifecycle(
        "R-A-1",
        status="expired",
        reason="the customer confirmed P-A leads the deal",
        expires_at=iso(ended),
        decided_by_hand=True,
        decided_by={"kind": "person", "id": "maria"},
        may_request_extension=False,
    )
    services.on("GET", "incentives", "/registrations/R-A-1", found)
    answer = as_maria.get("/registrations/R-A-1")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert 'class="badge status-expired">expired</span>' in html
    assert 'id="decided-by-hand">decided by hand</span>' in html
    assert f"ended {ended.date().isoformat()} (expired)" in section(html, "protection")
    assert "by maria" in section(html, "decided")
    reason = section(html, "registration-reason")
    assert "the customer confirmed P-A leads the deal" in reason
    assert "channel conflict" not in reason
    assert 'id="extension-form"' not in html
    assert 'id="extension-approve-form"' not in html, "no request waits"
    assert 'id="decision-form"' in html, "a decided registration can be decided again"


@pytest.mark.parametrize(
    ("fixture", "linked"), [("as_maria", True), ("as_pat", False)], ids=["manager", "partner"]
)
def test_a_rejection_says_why_and_names_the_registration_it_conflicts_with(
    request: pytest.FixtureRequest, services: FakeServices, fixture: str, linked: bool
) -> None:
    client: TestClient = request.getfixturevalue(fixture)
    found = lifecycle("R-A-3", status="rejected", conflicting_registration_id="R-B-1")
    services.on("GET", "incentives", "/registrations/R-A-3", found)
    html = client.get("/registrations/R-A-3").text
    assert "channel conflict: another partner holds an approved registration" in section(
        html, "registration-reason"
    )
    conflict = section(html, "conflicting-registration")
    assert "R-B-1" in conflict
    assert ('href="/registrations/R-B-1"' in conflict) is linked, (
        "only staff may open another partner's registration"
    )
    assert 'id="protection"' not in html, "a rejected registration protects nothing"
    assert 'id="extension-form"' not in html


def test_a_pending_registration_offers_no_form_but_refresh(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations/R-A-9", lifecycle("R-A-9", status="pending"))
    html = as_maria.get("/registrations/R-A-9").text
    assert 'id="refresh"' in html
    assert "<form" not in html[html.index("<main>") :], "nothing to ask or decide yet"


# --------------------------------------------------------------------------- asking for an extension


def test_a_partner_user_asks_for_an_extension_as_themselves(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations/R-A-1", lifecycle("R-A-1"))
    accepted = answer_of(
        ExtensionAnswerView,
        {"registration_id": "R-A-1", "extension_id": "X-9", "url": "/registrations/R-A-1"},
    )
    services.on("POST", "incentives", "/registrations/R-A-1/extension", accepted, status=202)
    form = fields_of_form(as_pat, "/registrations/R-A-1", "extension-form")
    typed = {"days": " 45 ", "reason": " the customer's board meets in July "}
    answer = as_pat.post("/registrations/R-A-1/extension", data={**form, **typed})
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/registrations/R-A-1?done=extension-requested",
    )
    assert_hardened(answer)
    assert posts(services) == [
        (
            "/registrations/R-A-1/extension",
            PAT,
            form["submission"],
            {"days": 45, "reason": "the customer's board meets in July"},
        )
    ], "days as a number, both trimmed, the form's submission as the Idempotency-Key"

    services.on("GET", "incentives", "/registrations/R-A-1", WAITING)
    shown = as_pat.get(answer.headers["location"]).text
    assert "Extension request sent: a channel manager answers it." in section(shown, "notice")
    assert 'id="extension-form"' not in shown, "one request at a time"
    assert "waiting for a channel manager's answer" in section(shown, "extension-waiting-note")
    assert "requested" in section(shown, "extension-X-1")


@pytest.mark.parametrize(
    ("days", "sent", "status", "refusal", "shown"),
    [
        (
            "30",
            30,
            409,
            {"detail": "registration R-A-1 has an extension request waiting"},
            "registration R-A-1 has an extension request waiting",
        ),
        (
            "120",
            120,
            422,
            {
                "detail": [
                    {
                        "type": "less_than_equal",
                        "loc": ["body", "days"],
                        "msg": "Input should be less than or equal to 90",
                        "input": 120,
                    }
                ]
            },
            "days: Input should be less than or equal to 90",
        ),
        (
            "a month",
            "a month",
            422,
            {
                "detail": [
                    {
                        "type": "int_parsing",
                        "loc": ["body", "days"],
                        "msg": "Input should be a valid integer",
                        "input": "a month",
                    }
                ]
            },
            "days: Input should be a valid integer",
        ),
        (
            "9" * 5000,
            "9" * 5000,
            422,
            {
                "detail": [
                    {
                        "type": "less_than_equal",
                        "loc": ["body", "days"],
                        "msg": "Input should be less than or equal to 90",
                    }
                ]
            },
            "days: Input should be less than or equal to 90",
        ),
    ],
    ids=["request waiting", "too many days", "no number", "a number too long to read"],
)
def test_a_refused_extension_request_is_shown_on_its_form_with_what_was_typed(
    as_pat: TestClient,
    services: FakeServices,
    days: str,
    sent: object,
    status: int,
    refusal: object,
    shown: str,
) -> None:
    services.on("GET", "incentives", "/registrations/R-A-1", lifecycle("R-A-1"))
    form = fields_of_form(as_pat, "/registrations/R-A-1", "extension-form")
    services.on("POST", "incentives", "/registrations/R-A-1/extension", refusal, status=status)
    # Meanwhile a request was sent from elsewhere: the page no longer offers the form.
    services.on("GET", "incentives", "/registrations/R-A-1", WAITING)
    typed = {"days": days, "reason": "board <meeting>"}
    answer = as_pat.post("/registrations/R-A-1/extension", data={**form, **typed})
    assert answer.status_code == status
    assert_hardened(answer)
    [(_, _, _, body)] = posts(services)
    assert body == {"days": sent, "reason": "board <meeting>"}, "sent as typed, to be named"
    html = answer.text
    assert shown in problem(html)
    form_shown = section(html, "extension-form")
    assert f'value="{days}"' in form_shown
    assert "board &lt;meeting&gt;</textarea>" in form_shown
    assert hidden(form_shown, "submission") != form["submission"], "a corrected form is new"
    assert html.index('id="problem"') < html.index('id="extension-form"')
    assert html.index('id="problem"') > html.index("Ask for an extension</h2>")


def test_a_partner_asking_to_extend_another_partners_registration_sees_nothing_of_it(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on(
        "POST",
        "incentives",
        "/registrations/R-B-1/extension",
        {"detail": "this registration is not your partner's"},
        status=403,
    )
    services.on("GET", "incentives", "/registrations/R-B-1", lifecycle("R-B-1", "P-B"))
    answer = as_pat.post(
        "/registrations/R-B-1/extension",
        data={"csrf": "csrf-of-pat", "submission": "s-1", "days": "30", "reason": "mine"},
    )
    assert answer.status_code == 403
    assert "your own partner" in answer.text
    assert "Globex" not in answer.text
    assert "P-B" not in answer.text


def test_an_extension_request_without_this_sessions_csrf_token_sends_nothing(
    as_pat: TestClient, services: FakeServices
) -> None:
    answer = as_pat.post(
        "/registrations/R-A-1/extension",
        data={"csrf": "csrf-of-maria", "submission": "s-1", "days": "30", "reason": "x"},
    )
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    assert services.calls == []


# --------------------------------------------------------------------------- the manager's forms


def test_a_partner_user_sees_no_managers_form(as_pat: TestClient, services: FakeServices) -> None:
    services.on("GET", "incentives", "/registrations/R-A-1", WAITING)
    html = as_pat.get("/registrations/R-A-1").text
    assert 'id="extension-waiting">extension requested</span>' in html
    for managers in ("extension-approve-form", "extension-reject-form", "decision-form"):
        assert f'id="{managers}"' not in html
    assert "/extension/approve" not in html
    assert "/decision" not in html


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/registrations/R-A-1/extension/approve", {"note": "fine"}),
        ("/registrations/R-A-1/extension/reject", {"reason": "no"}),
        ("/registrations/R-A-1/decision", {"decision": "approve", "reason": "mine"}),
    ],
    ids=["grant", "refuse", "decide"],
)
def test_a_partner_user_cannot_send_the_managers_forms(
    as_pat: TestClient, services: FakeServices, path: str, fields: dict[str, str]
) -> None:
    answer = as_pat.post(path, data={"csrf": "csrf-of-pat", "submission": "s-1", **fields})
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "This page is for channel managers." in answer.text
    assert services.calls == [], "refused before asking incentives"


def test_the_manager_sees_the_request_waiting_and_grants_it_with_a_note(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations/R-A-1", WAITING)
    html = as_maria.get("/registrations/R-A-1").text
    waiting = section(html, "waiting-extension")
    assert "30 more days" in waiting
    assert "the customer&#39;s board meets in July" in waiting
    assert 'id="extension-reject-form"' in html
    assert re.search(r'name="reason" id="extension-refusal" required', html), "refusing says why"
    assert 'id="extension-form"' not in html, "a request already waits"

    granted = lifecycle(
        "R-A-1",
        expires_at=iso(in_days(70)),
        extensions=[
            extension("X-1", 30, "the customer's board meets in July", "granted", "confirmed")
        ],
    )
    services.on("POST", "incentives", "/registrations/R-A-1/extension/approve", granted)
    form = fields_of_form(as_maria, "/registrations/R-A-1", "extension-approve-form")
    answer = as_maria.post(
        "/registrations/R-A-1/extension/approve", data={**form, "note": " confirmed "}
    )
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/registrations/R-A-1?done=extension-granted",
    )
    assert posts(services) == [
        ("/registrations/R-A-1/extension/approve", MARIA, form["submission"], {"note": "confirmed"})
    ]

    services.on("GET", "incentives", "/registrations/R-A-1", granted)
    shown = as_maria.get(answer.headers["location"]).text
    assert "Extension granted" in section(shown, "notice")
    assert "(70 days left)" in section(shown, "protection")
    assert 'id="extension-approve-form"' not in shown


def test_a_grant_without_a_note_sends_none(as_maria: TestClient, services: FakeServices) -> None:
    services.on("GET", "incentives", "/registrations/R-A-1", WAITING)
    services.on("POST", "incentives", "/registrations/R-A-1/extension/approve", WAITING)
    form = fields_of_form(as_maria, "/registrations/R-A-1", "extension-approve-form")
    as_maria.post("/registrations/R-A-1/extension/approve", data={**form, "note": "  "})
    assert posts(services)[0][3] == {"note": None}


def test_the_manager_refuses_the_request_saying_why(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations/R-A-1", WAITING)
    services.on("POST", "incentives", "/registrations/R-A-1/extension/reject", lifecycle("R-A-1"))
    form = fields_of_form(as_maria, "/registrations/R-A-1", "extension-reject-form")
    answer = as_maria.post(
        "/registrations/R-A-1/extension/reject",
        data={**form, "reason": " the deal has not moved since May "},
    )
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/registrations/R-A-1?done=extension-refused",
    )
    assert posts(services) == [
        (
            "/registrations/R-A-1/extension/reject",
            MARIA,
            form["submission"],
            {"reason": "the deal has not moved since May"},
        )
    ]


def test_the_manager_decides_a_registration_by_hand(
    as_maria: TestClient, services: FakeServices
) -> None:
    rejected = lifecycle("R-A-3", status="rejected", conflicting_registration_id="R-B-1")
    services.on("GET", "incentives", "/registrations/R-A-3", rejected)
    decided = lifecycle(
        "R-A-3",
        reason="P-B's registration was a duplicate",
        decided_by_hand=True,
        decided_by={"kind": "person", "id": "maria"},
    )
    services.on("POST", "incentives", "/registrations/R-A-3/decision", decided)
    form = fields_of_form(as_maria, "/registrations/R-A-3", "decision-form")
    typed = {"decision": "approve", "reason": " P-B's registration was a duplicate "}
    answer = as_maria.post("/registrations/R-A-3/decision", data={**form, **typed})
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/registrations/R-A-3?done=decided",
    )
    assert posts(services) == [
        (
            "/registrations/R-A-3/decision",
            MARIA,
            form["submission"],
            {"decision": "approve", "reason": "P-B's registration was a duplicate"},
        )
    ]

    services.on("GET", "incentives", "/registrations/R-A-3", decided)
    shown = as_maria.get(answer.headers["location"]).text
    assert "Decided by hand: the decision stands over the automatic rule." in shown
    assert 'id="decided-by-hand">decided by hand</span>' in shown
    assert "P-B&#39;s registration was a duplicate" in section(shown, "registration-reason")


@pytest.mark.parametrize(
    ("path", "form_id", "typed", "detail", "kept"),
    [
        (
            "/registrations/R-A-1/extension/approve",
            "extension-approve-form",
            {"note": "ok <then>"},
            "no extension request waits for registration R-A-1",
            'value="ok &lt;then&gt;"',
        ),
        (
            "/registrations/R-A-1/extension/reject",
            "extension-reject-form",
            {"reason": "too late"},
            "no extension request waits for registration R-A-1",
            'value="too late"',
        ),
        (
            "/registrations/R-A-1/decision",
            "decision-form",
            {"decision": "reject", "reason": "a duplicate"},
            "registration R-A-1 is not decided yet",
            'value="reject" checked',
        ),
    ],
    ids=["grant", "refuse", "decide"],
)
def test_a_refused_managers_form_is_shown_again_with_the_services_words(
    as_maria: TestClient,
    services: FakeServices,
    path: str,
    form_id: str,
    typed: dict[str, str],
    detail: str,
    kept: str,
) -> None:
    services.on("GET", "incentives", "/registrations/R-A-1", WAITING)
    form = fields_of_form(as_maria, "/registrations/R-A-1", form_id)
    services.on("POST", "incentives", path, {"detail": detail}, status=409)
    # Meanwhile another manager answered: no request waits, and it is shown pending to
    # the last form (the service's words say which).
    services.on("GET", "incentives", "/registrations/R-A-1", lifecycle("R-A-1", status="pending"))
    answer = as_maria.post(path, data={**form, **typed})
    assert answer.status_code == 409
    assert_hardened(answer)
    html = answer.text
    assert detail in problem(html)
    assert html.index('id="problem"') < html.index(f'id="{form_id}"'), "on the form refused"
    assert kept in section(html, form_id)
    assert hidden(section(html, form_id), "submission") != form["submission"]
    assert posts(services)[0][1:3] == (MARIA, form["submission"])


@pytest.mark.parametrize(
    "done", ["extension-requested", "extension-granted", "extension-refused", "decided"]
)
def test_only_the_outcomes_the_page_knows_are_said(
    as_pat: TestClient, services: FakeServices, done: str
) -> None:
    services.on("GET", "incentives", "/registrations/R-A-1", lifecycle("R-A-1"))
    assert 'id="notice"' in as_pat.get(f"/registrations/R-A-1?done={done}").text
    assert 'id="notice"' not in as_pat.get("/registrations/R-A-1?done=<b>paid</b>").text


# --------------------------------------------------------------------------- the list


def page_of(*entries: dict[str, Any], next_cursor: str | None = None) -> dict[str, Any]:
    """A page of incentives' ``GET /registrations``."""
    return answer_of(
        RegistrationsView, {"registrations": list(entries), "next_cursor": next_cursor}
    )


def asked(services: FakeServices) -> list[dict[str, list[str]]]:
    """The query of each call to incentives' ``/registrations``, each with its values."""
    return [
        {name: call.values(name) for name, _ in call.query}
        for call in services.calls
        if call.path == "/registrations"
    ]


def test_the_list_shows_each_protection_and_marks_the_requests_waiting(
    as_pat: TestClient, services: FakeServices
) -> None:
    ends = in_days(12)
    page = page_of(
        lifecycle("R-A-1", expires_at=iso(ends)),
        waiting("R-A-2"),
        lifecycle("R-A-3", status="expired", expires_at="2026-08-01T10:00:00+00:00"),
        lifecycle(
            "R-A-4",
            status="rejected",
            reason="a duplicate of D-R-A-1",
            decided_by_hand=True,
            decided_by={"kind": "person", "id": "maria"},
        ),
    )
    services.on("GET", "incentives", "/registrations", page)
    answer = as_pat.get("/registrations")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "<th>Protection</th>" in html
    first = section(html, "registration-R-A-1")
    assert f"until {ends.date().isoformat()} (12 days left)" in first
    assert "extension requested" not in first
    assert 'class="badge extension-requested">extension requested</span>' in section(
        html, "registration-R-A-2"
    )
    expired = section(html, "registration-R-A-3")
    assert "ended 2026-08-01 (expired)" in expired
    assert 'class="status-expired">expired</span>' in expired
    by_hand = section(html, "registration-R-A-4")
    assert 'class="badge by-hand">by hand</span>' in by_hand
    assert "a duplicate of D-R-A-1" in by_hand
    assert 'id="registration-tabs"' not in html, "the manager's tabs"
    assert asked(services) == [{"partner_id": ["P-A"], "limit": ["25"]}]


def test_the_managers_tab_lists_the_extension_requests_waiting_page_by_page(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "incentives", "/registrations", page_of(waiting("R-B-1", "P-B")))
    tabs = section(as_maria.get("/registrations").text, "registration-tabs")
    assert 'href="/registrations?extension=requested"' in tabs

    services.on(
        "GET",
        "incentives",
        "/registrations",
        page_of(waiting("R-B-1", "P-B"), next_cursor="c-2"),
    )
    answer = as_maria.get("/registrations?extension=requested&status=approved")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "<strong>Extensions waiting</strong>" in section(html, "registration-tabs")
    assert re.search(r'name="extension" value="requested"\s+checked', html)
    assert "extension requested" in section(html, "registration-R-B-1")
    assert asked(services)[-1] == {
        "status": ["approved"],
        "extension": ["requested"],
        "limit": ["25"],
    }
    link = unescape(section(html, "next-page"))
    assert 'href="/registrations?status=approved&extension=requested&cursor=c-2"' in link
    as_maria.get("/registrations?status=approved&extension=requested&cursor=c-2")
    assert asked(services)[-1]["extension"] == ["requested"]
    assert asked(services)[-1]["cursor"] == ["c-2"]


@pytest.mark.parametrize(
    ("query", "sent"),
    [
        ("extension=granted", {"limit": ["25"]}),
        ("extension=", {"limit": ["25"]}),
        ("status=expired", {"status": ["expired"], "limit": ["25"]}),
    ],
)
def test_only_the_filters_incentives_knows_are_sent(
    as_maria: TestClient, services: FakeServices, query: str, sent: dict[str, list[str]]
) -> None:
    services.on("GET", "incentives", "/registrations", page_of())
    answer = as_maria.get(f"/registrations?{query}")
    assert answer.status_code == 200, answer.text
    assert asked(services) == [sent]


def test_no_extension_waiting_says_so(as_maria: TestClient, services: FakeServices) -> None:
    services.on("GET", "incentives", "/registrations", page_of())
    html = as_maria.get("/registrations?extension=requested").text
    assert "No extension request is waiting." in section(html, "registrations")


# --------------------------------------------------------------------------- protection, in words

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "expires_at", "shown"),
    [
        ("approved", "2026-07-11T12:00:00+00:00", "until 2026-07-11 (10 days left)"),
        ("approved", "2026-07-11T11:59:00+00:00", "until 2026-07-11 (9 days left)"),
        ("approved", "2026-07-02T13:00:00+00:00", "until 2026-07-02 (1 day left)"),
        ("approved", "2026-07-01T23:00:00+00:00", "until 2026-07-01 (less than a day left)"),
        ("approved", "2026-07-02T01:00:00+02:00", "until 2026-07-01 (less than a day left)"),
        ("approved", "2026-07-01T12:00:00+00:00", "ended 2026-07-01 (expired)"),
        ("approved", "2026-06-30T12:00:00Z", "ended 2026-06-30 (expired)"),
        ("expired", "2026-07-11T12:00:00+00:00", "ended 2026-07-11 (expired)"),
        ("pending", None, ""),
        ("rejected", "2026-07-11T12:00:00+00:00", ""),
        ("approved", None, ""),
        ("approved", "soon", ""),
    ],
)
def test_protection_in_words(status: str, expires_at: str | None, shown: str) -> None:
    assert protection({"status": status, "expires_at": expires_at}, NOW) == shown
