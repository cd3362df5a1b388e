"""The portal's pages of notifications on a fake of the services (tests/support/portal.py):
signing in makes the person known to notifications (best effort), the person's email
preferences, the unsubscribe link of every email (no sign-in, its token the proof, the
RFC 8058 one-click POST too) and the channel manager's webhooks with their deliveries."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from services.notifications.domain import NoticeKind
from services.notifications.views import (
    DeliveriesView,
    PreferencesView,
    ReplayView,
    UnsubscribedView,
    WebhookCreatedView,
    WebhooksView,
    WebhookView,
)
from services.portal.pages.notifications import KIND_TITLES
from services.portal.sessions import SESSION_COOKIE, SIGN_IN_COOKIE
from shared.events import PAYLOADS
from tests.support.portal import (
    FakeServices,
    answer_of,
    assert_hardened,
    cookies_set,
    form_of,
    hidden,
    portal_settings,
    running_portal,
)
from tests.support.tokens import Issuer

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"
TOKEN = "ab" * 32
LINK = {"address": "pat@example.com", "kind": "payout_settled", "token": TOKEN}


# --------------------------------------------------------------------------- canned answers


def preferences(*unsubscribed: str, address: str = "pat@example.com") -> dict[str, Any]:
    """Notifications' ``GET /me/notifications`` for a partner user: the partner's kinds,
    each subscribed but those ``unsubscribed``."""
    kinds = [kind for kind in NoticeKind if kind.audience.value == "partner"]
    return answer_of(
        PreferencesView,
        {
            "address": address,
            "kinds": [
                {"kind": k, "title": k.label, "subscribed": k.value not in unsubscribed}
                for k in kinds
            ],
        },
    )


def webhook(webhook_id: str, status: str = "active", **changes: Any) -> dict[str, Any]:
    return answer_of(
        WebhookView,
        {
            "webhook_id": webhook_id,
            "url": f"https://erp.example.com/hooks/{webhook_id}",
            "event_types": ["DealClosed", "PayoutSettled"],
            "partner_id": None,
            "status": status,
            "created_at": "2026-06-01T09:00:00.000000Z",
            **changes,
        },
    )


def attempt(status_code: int | None, error: str | None, at: str) -> dict[str, Any]:
    return {
        "at": at,
        "status_code": status_code,
        "duration_ms": 123.4,
        "response": "" if status_code is None else "<html>busy</html>",
        "error": error,
    }


def delivery(delivery_id: str, status: str, *attempts: dict[str, Any]) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "event_id": f"E-{delivery_id}",
        "event_type": "PayoutSettled",
        "partner_id": "P-A",
        "status": status,
        "created_at": "2026-06-02T09:00:00.000000Z",
        "next_attempt_at": "2026-06-02T09:10:00.000000Z" if status == "pending" else None,
        "delivered_at": "2026-06-02T09:00:05.000000Z" if status == "delivered" else None,
        "parked_at": "2026-06-03T09:00:00.000000Z" if status == "parked" else None,
        "attempts": list(attempts),
    }


def deliveries(*entries: dict[str, Any], next_cursor: str | None = None) -> dict[str, Any]:
    return answer_of(
        DeliveriesView,
        {"webhook_id": "W-1", "deliveries": list(entries), "next_cursor": next_cursor},
    )


def refusal(*problems: tuple[list[str], str]) -> dict[str, Any]:
    """A FastAPI 422 naming fields."""
    return {"detail": [{"type": "value_error", "loc": loc, "msg": msg} for loc, msg in problems]}


def shown(html: str) -> str:
    """The page's text, tags out and entities read, spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


# --------------------------------------------------------------------------- signing in


CLIENT_ID = "partnerhub-portal"


@pytest.fixture
def with_issuer(issuer: Issuer) -> Iterator[tuple[TestClient, FakeServices]]:
    services = FakeServices(issuer)
    settings = portal_settings(oidc_issuer=issuer.url, oidc_jwks_cooldown_seconds=0)
    with running_portal(settings, services) as client:
        yield client, services


def signed_in_through_the_issuer(client: TestClient, issuer: Issuer) -> tuple[Any, str]:
    """``/login`` then ``/auth/callback`` for Pat: the callback's answer and the token."""
    started = client.get("/login", params={"next": "/partners/P-A"})
    assert started.status_code == 303
    codec = client.app.state.portal.codec  # type: ignore[attr-defined]
    sign_in = codec.sign_in(
        cookies_set(started.headers.get_list("set-cookie"))[SIGN_IN_COOKIE].value
    )
    access = issuer.token(sub="pat", partnerhub_role="partner", partner_id="P-A")
    issuer.token_answers.append(
        (
            200,
            {
                "access_token": access,
                "id_token": issuer.token(
                    "k1", sub="pat", aud=CLIENT_ID, nonce=sign_in.nonce, name="Pat Partner"
                ),
                "refresh_token": "refresh-1",
                "expires_in": 300,
                "token_type": "Bearer",
            },
        )
    )
    answer = client.get("/auth/callback", params={"code": "the-code", "state": sign_in.state})
    return answer, access


def test_signing_in_makes_the_person_known_to_notifications(
    with_issuer: tuple[TestClient, FakeServices], issuer: Issuer
) -> None:
    client, services = with_issuer
    answer, access = signed_in_through_the_issuer(client, issuer)
    assert (answer.status_code, answer.headers["location"]) == (303, "/partners/P-A")
    assert SESSION_COOKIE in cookies_set(answer.headers.get_list("set-cookie"))
    [known] = services.calls
    assert (known.method, known.service, known.path) == ("PUT", "notifications", "/me")
    assert known.authorization == f"Bearer {access}", "as the person, with their own token"


@pytest.mark.parametrize("failure", ["down", 403, 500], ids=["unreachable", "refused", "broken"])
def test_notifications_failing_does_not_stop_the_sign_in(
    with_issuer: tuple[TestClient, FakeServices],
    issuer: Issuer,
    failure: str | int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, services = with_issuer
    if failure == "down":
        services.down.add("notifications")
    else:
        assert isinstance(failure, int)
        services.on("PUT", "notifications", "/me", {"detail": "no email address"}, failure)
    with caplog.at_level(logging.WARNING, logger="partnerhub.portal"):
        answer, _ = signed_in_through_the_issuer(client, issuer)
    assert (answer.status_code, answer.headers["location"]) == (303, "/partners/P-A")
    cookie = cookies_set(answer.headers.get_list("set-cookie"))[SESSION_COOKIE]
    assert cookie.value, "the session is made all the same"
    warnings = [r for r in caplog.records if r.name == "partnerhub.portal"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "pat" in warnings[0].getMessage()


# --------------------------------------------------------------------------- preferences


def test_the_preferences_page_shows_the_address_and_each_kind(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/me/notifications", preferences("payout_settled"))
    answer = as_pat.get("/notifications")
    assert answer.status_code == 200
    assert_hardened(answer)
    assert "pat@example.com" in answer.text
    for kind in ("registration_decided", "mdf_claim_decided", "certification_expiring"):
        assert re.search(rf'value="{kind}" id="kind-{kind}" checked>', answer.text)
    assert re.search(r'value="payout_settled" id="kind-payout_settled">', answer.text)
    assert "A payout is settled" in answer.text
    [read] = services.calls
    assert (read.method, read.path, read.authorization) == ("GET", "/me/notifications", PAT)
    assert 'id="nav-notifications"' in answer.text


def test_saving_sends_the_kinds_left_unchecked(as_pat: TestClient, services: FakeServices) -> None:
    services.on("GET", "notifications", "/me/notifications", preferences())
    saved = preferences("registration_expiring", "mdf_request_decided")
    services.on("PUT", "notifications", "/me/notifications", saved)
    form = form_of(as_pat, "/notifications")
    checked = [
        "registration_decided",
        "mdf_claim_decided",
        "payout_settled",
        "certification_expiring",
        "made_up",
    ]
    services.calls.clear()
    answer = as_pat.post("/notifications", data={**form, "subscribed": checked})
    assert answer.status_code == 200
    assert_hardened(answer)
    put = services.calls[-1]
    assert (put.method, put.service, put.path, put.authorization) == (
        "PUT",
        "notifications",
        "/me/notifications",
        PAT,
    )
    assert put.body == {"unsubscribed": ["registration_expiring", "mdf_request_decided"]}
    assert put.idempotency_key == form["submission"]
    text = shown(answer.text)
    assert "Saved: you receive “A deal registration is decided”" in text
    assert (
        "; not “A deal registration's protection ends within 7 days”, “An MDF request is decided”."
        in text
    )
    assert not re.search(
        r'value="registration_expiring" id="kind-registration_expiring" checked', answer.text
    )


def test_unchecking_everything_unsubscribes_from_every_kind(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/me/notifications", preferences())
    services.on(
        "PUT",
        "notifications",
        "/me/notifications",
        preferences(*NoticeKind),
    )
    form = form_of(as_pat, "/notifications")
    answer = as_pat.post("/notifications", data=form)
    kinds = [k.value for k in NoticeKind if k.audience.value == "partner"]
    assert services.calls[-1].body == {"unsubscribed": kinds}
    assert "Saved: you receive no email." in shown(answer.text)


def test_preferences_without_this_sessions_csrf_token_send_nothing(
    as_pat: TestClient, services: FakeServices
) -> None:
    answer = as_pat.post("/notifications", data={"csrf": "forged", "subscribed": "payout_settled"})
    assert answer.status_code == 403
    assert services.calls == []


def test_a_sign_in_without_an_email_address_is_said_on_the_page(
    as_maria: TestClient, services: FakeServices
) -> None:
    detail = {"detail": "the sign-in token carries no email address for this person"}
    services.on("GET", "notifications", "/me/notifications", detail, 403)
    answer = as_maria.get("/notifications")
    assert answer.status_code == 403
    assert "carries no email address" in answer.text
    assert 'id="preferences-form"' not in answer.text


def test_the_preferences_need_a_sign_in(portal: TestClient, services: FakeServices) -> None:
    answer = portal.get("/notifications")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
    assert services.calls == []


def test_the_portal_names_each_kind_as_notifications_does() -> None:
    assert {kind.value: kind.label for kind in NoticeKind} == KIND_TITLES


# --------------------------------------------------------------------------- unsubscribe


def unsubscribed(address: str = "pat@example.com", kind: str = "payout_settled") -> dict[str, Any]:
    return answer_of(
        UnsubscribedView, {"address": address, "kind": kind, "title": NoticeKind(kind).label}
    )


def test_the_link_of_an_email_asks_first_without_a_sign_in(
    portal: TestClient, services: FakeServices
) -> None:
    answer = portal.get("/unsubscribe", params=LINK)
    assert answer.status_code == 200, "no sign-in asked for"
    assert_hardened(answer)
    assert "Stop emails of kind “A payout is settled” to pat@example.com?" in shown(answer.text)
    assert (
        hidden(answer.text, "address"),
        hidden(answer.text, "kind"),
        hidden(answer.text, "token"),
    ) == (
        "pat@example.com",
        "payout_settled",
        TOKEN,
    )
    assert 'name="csrf"' not in answer.text
    assert services.calls == [], "opening the link changes nothing"


def test_confirming_forwards_the_token_without_any_authorization(
    portal: TestClient, services: FakeServices
) -> None:
    services.on("POST", "notifications", "/unsubscribe", unsubscribed())
    answer = portal.post("/unsubscribe", data=LINK)
    assert answer.status_code == 200
    assert_hardened(answer)
    assert "You will no longer receive “A payout is settled” emails at pat@example.com." in shown(
        answer.text
    )
    [sent] = services.calls
    assert (sent.method, sent.service, sent.path) == ("POST", "notifications", "/unsubscribe")
    assert sent.body == LINK
    assert sent.authorization is None


def test_a_signed_in_person_confirming_sends_no_token_of_theirs(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("POST", "notifications", "/unsubscribe", unsubscribed())
    answer = as_pat.post("/unsubscribe", data=LINK)
    assert answer.status_code == 200
    assert services.calls[-1].authorization is None
    assert SESSION_COOKIE not in cookies_set(answer.headers.get_list("set-cookie"))


def test_the_one_click_post_of_a_mail_client_unsubscribes(
    portal: TestClient, services: FakeServices
) -> None:
    services.on("POST", "notifications", "/unsubscribe", unsubscribed())
    answer = portal.post("/unsubscribe", params=LINK, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert "You will no longer receive" in answer.text
    [sent] = services.calls
    assert sent.body == LINK
    assert sent.authorization is None


def test_a_link_whose_token_does_not_match_is_refused(
    portal: TestClient, services: FakeServices
) -> None:
    detail = {"detail": "this unsubscribe link is not valid for that address and kind"}
    services.on("POST", "notifications", "/unsubscribe", detail, 403)
    answer = portal.post("/unsubscribe", data={**LINK, "address": "someone.else@example.com"})
    assert answer.status_code == 403
    assert_hardened(answer)
    assert "This link is not valid" in answer.text
    assert "You will no longer receive" not in answer.text
    assert services.calls[-1].body["address"] == "someone.else@example.com"


@pytest.mark.parametrize(
    "link",
    [
        {**LINK, "token": ""},
        {**LINK, "token": "ab" * 31},
        {**LINK, "token": "zz" * 32},
        {"address": "pat@example.com", "token": TOKEN},
        {"kind": "payout_settled", "token": TOKEN},
    ],
    ids=["no-token", "short-token", "not-hex", "no-kind", "no-address"],
)
def test_an_incomplete_link_is_not_sent(
    portal: TestClient, services: FakeServices, link: dict[str, str]
) -> None:
    assert portal.get("/unsubscribe", params=link).status_code == 400
    answer = portal.post("/unsubscribe", data=link)
    assert answer.status_code == 400
    assert "This link is not valid" in answer.text
    assert services.calls == []


def test_what_a_link_carries_is_shown_escaped(portal: TestClient, services: FakeServices) -> None:
    evil = '"><script>alert(1)</script>@example.com'
    answer = portal.get("/unsubscribe", params={**LINK, "address": evil})
    assert "<script>alert(1)" not in answer.text
    assert "&lt;script&gt;" in answer.text
    services.on("POST", "notifications", "/unsubscribe", unsubscribed(address=evil))
    done = portal.post("/unsubscribe", data={**LINK, "address": evil})
    assert "<script>alert(1)" not in done.text


def test_notifications_unreachable_leaves_the_link_to_try_again(
    portal: TestClient, services: FakeServices
) -> None:
    services.down.add("notifications")
    answer = portal.post("/unsubscribe", data=LINK)
    assert answer.status_code == 503
    assert "not possible right now" in answer.text
    assert hidden(answer.text, "token") == TOKEN


# --------------------------------------------------------------------------- webhooks


def test_the_webhooks_are_listed_with_their_actions(
    as_maria: TestClient, services: FakeServices
) -> None:
    listed = answer_of(
        WebhooksView,
        {
            "webhooks": [
                webhook("W-1"),
                webhook("W-2", "paused", partner_id="P-B", event_types=["MdfApproved"]),
            ]
        },
    )
    services.on("GET", "notifications", "/webhooks", listed)
    answer = as_maria.get("/webhooks")
    assert answer.status_code == 200
    assert_hardened(answer)
    [read] = services.calls
    assert (read.method, read.service, read.path, read.authorization) == (
        "GET",
        "notifications",
        "/webhooks",
        MARIA,
    )
    row_1 = answer.text.split('id="webhook-W-1"')[1].split("</tr>")[0]
    row_2 = answer.text.split('id="webhook-W-2"')[1].split("</tr>")[0]
    assert "https://erp.example.com/hooks/W-1" in row_1
    assert "DealClosed, PayoutSettled" in row_1
    assert "every partner" in row_1
    assert 'action="/webhooks/W-1/pause"' in row_1
    assert 'action="/webhooks/W-1/resume"' not in row_1
    assert "P-B" in row_2
    assert "MdfApproved" in row_2
    assert "paused" in row_2
    assert 'action="/webhooks/W-2/resume"' in row_2
    for action in ("replay", "delete"):
        assert f'action="/webhooks/W-1/{action}"' in row_1
    assert row_1.count('name="csrf" value="csrf-of-maria"') == 3
    assert 'id="nav-webhooks"' in answer.text


def test_the_form_offers_the_contracts_event_types_sorted(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": []}))
    answer = as_maria.get("/webhooks")
    offered = re.findall(r'<option value="([A-Za-z]+)"', answer.text)
    assert offered == sorted(PAYLOADS)
    assert "No webhook yet." in answer.text


def test_adding_a_webhook_shows_its_secret_once(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": []}))
    secret = "whsec_<b>c2VjcmV0</b>+/="
    created = answer_of(
        WebhookCreatedView,
        {
            **webhook("W-3", partner_id="P-A", event_types=["DealClosed", "PayoutSettled"]),
            "secret": secret,
        },
    )
    services.on("POST", "notifications", "/webhooks", created, 201)
    form = form_of(as_maria, "/webhooks")
    typed = {
        "url": " https://erp.example.com/hooks/W-3 ",
        "event_types": ["PayoutSettled", "DealClosed"],
        "partner_id": " P-A ",
    }
    answer = as_maria.post("/webhooks", data={**form, **typed})
    assert answer.status_code == 201
    assert_hardened(answer)
    sent = services.calls[-1]
    assert (sent.method, sent.path, sent.authorization) == ("POST", "/webhooks", MARIA)
    assert sent.body == {
        "url": "https://erp.example.com/hooks/W-3",
        "event_types": ["PayoutSettled", "DealClosed"],
        "partner_id": "P-A",
    }
    assert sent.idempotency_key == form["submission"]
    assert "whsec_&lt;b&gt;c2VjcmV0&lt;/b&gt;+/=" in answer.text, "shown, escaped"
    assert "<b>c2VjcmV0" not in answer.text
    assert "Copy it now; it is not shown again." in answer.text
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert f"<code>{header}</code>" in answer.text
    assert "Standard Webhooks" in answer.text

    services.on(
        "GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": [webhook("W-3")]})
    )
    assert "c2VjcmV0" not in as_maria.get("/webhooks").text, "the list never shows it"


def test_a_webhook_for_every_partner_names_none(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": []}))
    created = answer_of(WebhookCreatedView, {**webhook("W-4"), "secret": "whsec_abc"})
    services.on("POST", "notifications", "/webhooks", created, 201)
    form = form_of(as_maria, "/webhooks")
    data = {**form, "url": "https://x.example.com/", "event_types": "DealClosed", "partner_id": " "}
    as_maria.post("/webhooks", data=data)
    assert services.calls[-1].body == {
        "url": "https://x.example.com/",
        "event_types": ["DealClosed"],
    }


def test_a_refused_url_is_shown_on_the_form_naming_the_field(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": []}))
    why = "the webhook URL resolves to a private address (10.0.0.5)"
    services.on("POST", "notifications", "/webhooks", refusal((["body", "url"], why)), 422)
    form = form_of(as_maria, "/webhooks")
    typed = {
        "url": "https://intranet.example.com/",
        "event_types": ["DealClosed", "MdfApproved"],
        "partner_id": "P-B",
    }
    answer = as_maria.post("/webhooks", data={**form, **typed})
    assert answer.status_code == 422
    assert_hardened(answer)
    assert f"URL: {why}" in shown(answer.text)
    assert 'id="url-problem">URL: ' in answer.text, "said beside the field"
    assert 'aria-invalid="true" aria-describedby="url-problem"' in answer.text
    assert 'value="https://intranet.example.com/"' in answer.text, "what was typed is kept"
    assert 'value="P-B"' in answer.text
    selected = re.findall(r'<option value="(\w+)" selected>', answer.text)
    assert selected == ["DealClosed", "MdfApproved"]


def test_a_refused_event_type_is_named(as_maria: TestClient, services: FakeServices) -> None:
    services.on("GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": []}))
    services.on(
        "POST",
        "notifications",
        "/webhooks",
        refusal((["body", "event_types", "1"], "'Nope' is not an event type of the contract")),
        422,
    )
    form = form_of(as_maria, "/webhooks")
    data = {**form, "url": "https://x.example.com/", "event_types": ["DealClosed", "Nope"]}
    answer = as_maria.post("/webhooks", data=data)
    assert answer.status_code == 422
    assert "Event types: Nope: 'Nope' is not an event type of the contract" in shown(answer.text)


def test_a_refusal_naming_no_field_is_shown_above_the_form(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": []}))
    services.on("POST", "notifications", "/webhooks", {"detail": "not now"}, 409)
    form = form_of(as_maria, "/webhooks")
    data = {**form, "url": "https://x.example.com/", "event_types": "DealClosed"}
    answer = as_maria.post("/webhooks", data=data)
    assert answer.status_code == 409
    assert 'id="webhook-problem">not now</p>' in answer.text


def test_an_outcome_names_only_a_webhook_id(as_maria: TestClient, services: FakeServices) -> None:
    services.on("GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": []}))
    answer = as_maria.get(
        "/webhooks", params={"done": "deleted", "webhook_id": "W-1 was hacked, call +1 555"}
    )
    assert answer.status_code == 200
    assert 'id="notice"' not in answer.text
    assert "Webhook W-1 deleted" in shown(
        as_maria.get("/webhooks", params={"done": "deleted", "webhook_id": "W-1"}).text
    )


@pytest.mark.parametrize(
    ("action", "method", "path", "body", "notice"),
    [
        ("pause", "POST", "/webhooks/W-1/pause", webhook("W-1", "paused"), "Webhook W-1 paused"),
        ("resume", "POST", "/webhooks/W-1/resume", webhook("W-1"), "Webhook W-1 resumed"),
        (
            "replay",
            "POST",
            "/webhooks/W-1/replay",
            answer_of(ReplayView, {"webhook_id": "W-1", "replayed": 3}),
            "Webhook W-1: 3 parked deliveries queued again.",
        ),
        ("delete", "DELETE", "/webhooks/W-1", None, "Webhook W-1 deleted"),
    ],
    ids=["pause", "resume", "replay", "delete"],
)
def test_each_action_is_sent_as_the_person(
    as_maria: TestClient,
    services: FakeServices,
    action: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    notice: str,
) -> None:
    services.on(
        "GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": [webhook("W-1")]})
    )
    services.on(method, "notifications", path, body, 204 if method == "DELETE" else 200)
    form = form_of(as_maria, "/webhooks")
    services.calls.clear()
    answer = as_maria.post(f"/webhooks/W-1/{action}", data=form)
    assert answer.status_code == 303
    [sent] = services.calls
    assert (sent.method, sent.service, sent.path, sent.authorization) == (
        method,
        "notifications",
        path,
        MARIA,
    )
    assert sent.idempotency_key == form["submission"]
    target = urlsplit(answer.headers["location"])
    assert target.path == "/webhooks"
    back = as_maria.get(answer.headers["location"])
    assert notice in shown(back.text)


def test_an_action_from_the_webhooks_page_returns_there(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on(
        "POST",
        "notifications",
        "/webhooks/W-1/replay",
        answer_of(ReplayView, {"webhook_id": "W-1", "replayed": 0}),
    )
    answer = as_maria.post(
        "/webhooks/W-1/replay",
        data={"csrf": "csrf-of-maria", "submission": "s-1", "back": "detail"},
    )
    target = urlsplit(answer.headers["location"])
    assert target.path == "/webhooks/W-1"
    assert parse_qs(target.query) == {
        "done": ["replayed"],
        "webhook_id": ["W-1"],
        "replayed": ["0"],
    }


def test_an_action_refused_is_shown_above_the_list(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks", answer_of(WebhooksView, {"webhooks": []}))
    services.on("POST", "notifications", "/webhooks/W-9/pause", {"detail": "no webhook W-9"}, 404)
    answer = as_maria.post("/webhooks/W-9/pause", data={"csrf": "csrf-of-maria", "submission": "s"})
    assert answer.status_code == 404
    assert "Webhook W-9: no webhook W-9" in answer.text


def test_a_webhooks_deliveries_with_their_attempts_and_pages(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks/W-1", webhook("W-1"))
    page = deliveries(
        delivery(
            "D-2",
            "parked",
            attempt(503, "the receiver answered 503", "2026-06-02T09:00:00.000000Z"),
            attempt(None, "timed out after 10 s", "2026-06-02T09:00:05.000000Z"),
        ),
        delivery("D-1", "delivered", attempt(204, None, "2026-06-01T09:00:00.000000Z")),
        next_cursor="c-2",
    )
    services.on("GET", "notifications", "/webhooks/W-1/deliveries", page)
    answer = as_maria.get("/webhooks/W-1", params={"status": "parked", "cursor": "c-1"})
    assert answer.status_code == 200
    assert_hardened(answer)
    read = services.calls[-1]
    assert read.path == "/webhooks/W-1/deliveries"
    assert read.params == {"status": "parked", "cursor": "c-1", "limit": "25"}
    assert read.authorization == MARIA
    text = shown(answer.text)
    assert text.index("D-2") < text.index("D-1"), "newest first, as notifications answers"
    parked = shown(answer.text.split('id="delivery-D-2"')[1].split("</tr>")[0])
    assert "2026-06-02 09:00 UTC: 503, the receiver answered 503, 123 ms" in parked
    assert "no answer, timed out after 10 s" in parked
    assert "&lt;html&gt;busy" in answer.text, "a receiver's answer is shown escaped"
    done = shown(answer.text.split('id="delivery-D-1"')[1].split("</tr>")[0])
    assert "204, acknowledged" in done
    next_page = re.search(r'href="([^"]+)" id="next-page"', answer.text)
    assert next_page
    assert unescape(next_page[1]) == "/webhooks/W-1?status=parked&cursor=c-2"
    assert 'href="/webhooks/W-1?status=parked" id="first-page"' in answer.text
    assert re.search(r'<option value="parked" selected>', answer.text)
    assert 'action="/webhooks/W-1/pause"' in answer.text


def test_the_first_page_of_deliveries_has_no_cursor(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks/W-1", webhook("W-1"))
    services.on("GET", "notifications", "/webhooks/W-1/deliveries", deliveries())
    answer = as_maria.get("/webhooks/W-1")
    assert services.calls[-1].params == {"limit": "25"}
    assert "No delivery." in shown(answer.text)
    assert 'id="next-page"' not in answer.text


def test_a_status_that_is_none_is_said_and_not_asked(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks/W-1", webhook("W-1"))
    answer = as_maria.get("/webhooks/W-1", params={"status": "lost"})
    assert answer.status_code == 422
    assert "Status: 'lost' is none of pending, delivered, parked" in shown(answer.text)
    assert [c.path for c in services.calls] == ["/webhooks/W-1"]


def test_an_unknown_webhook_is_notifications_404(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/webhooks/W-0", {"detail": "no webhook of that id"}, 404)
    answer = as_maria.get("/webhooks/W-0")
    assert answer.status_code == 404
    assert "no webhook of that id" in answer.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/webhooks"),
        ("GET", "/webhooks/W-1"),
        ("POST", "/webhooks"),
        ("POST", "/webhooks/W-1/pause"),
        ("POST", "/webhooks/W-1/resume"),
        ("POST", "/webhooks/W-1/replay"),
        ("POST", "/webhooks/W-1/delete"),
    ],
)
def test_a_partner_user_gets_403_on_the_webhooks(
    as_pat: TestClient, services: FakeServices, method: str, path: str
) -> None:
    data = {"csrf": "csrf-of-pat", "submission": "s-1", "url": "https://x.example.com/"}
    answer = as_pat.request(method, path, data=data if method == "POST" else None)
    assert answer.status_code == 403
    assert_hardened(answer)
    assert services.calls == []
    assert 'id="nav-webhooks"' not in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks",
        "/webhooks/W-1/pause",
        "/webhooks/W-1/resume",
        "/webhooks/W-1/replay",
        "/webhooks/W-1/delete",
    ],
)
@pytest.mark.parametrize(
    "csrf", [None, "forged", "csrf-of-pat"], ids=["none", "forged", "another-session"]
)
def test_a_webhook_form_without_this_sessions_csrf_token_sends_nothing(
    as_maria: TestClient, services: FakeServices, path: str, csrf: str | None
) -> None:
    data = {"submission": "s-1", "url": "https://x.example.com/"} | (
        {} if csrf is None else {"csrf": csrf}
    )
    answer = as_maria.post(path, data=data)
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    assert services.calls == []


def test_the_webhooks_pages_ask_for_a_sign_in(portal: TestClient, services: FakeServices) -> None:
    answer = portal.get("/webhooks/W-1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fwebhooks%2FW-1"
    assert services.calls == []


def test_the_email_link_is_in_everyones_navigation(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("GET", "notifications", "/me/notifications", preferences())
    page = as_pat.get("/notifications").text
    assert 'href="/notifications" id="nav-notifications"' in page
    assert 'href="/webhooks"' not in page
