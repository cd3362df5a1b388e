"""Signing in to the portal with OpenID Connect (services/portal/signin.py and
pages/auth.py) against the stand-in issuer (tests/support/tokens.py): the
authorization-code flow with PKCE, the checks on what the issuer answers, renewing
the access token, and signing out."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from starlette.responses import Response as StarletteResponse

from services.portal.sessions import SESSION_COOKIE, SIGN_IN_COOKIE, Session, SessionCodec, SignIn
from services.portal.settings import PortalSettings
from services.portal.signin import pkce_challenge
from tests.support.portal import (
    FakeServices,
    assert_hardened,
    cookies_set,
    dashboard_of,
    is_deleted,
    partner_user,
    portal_settings,
    running_portal,
    sign_in,
)
from tests.support.tokens import Issuer

CLIENT_ID = "partnerhub-portal"
CALLBACK = "http://127.0.0.1:8000/auth/callback"


@pytest.fixture
def services(issuer: Issuer) -> FakeServices:
    return FakeServices(issuer)


@pytest.fixture
def settings(issuer: Issuer) -> PortalSettings:
    return portal_settings(oidc_issuer=issuer.url, oidc_jwks_cooldown_seconds=0)


@pytest.fixture
def portal(settings: PortalSettings, services: FakeServices) -> Iterator[TestClient]:
    with running_portal(settings, services) as client:
        yield client


def codec_of(client: TestClient) -> SessionCodec:
    codec: SessionCodec = client.app.state.portal.codec  # type: ignore[attr-defined]
    return codec


def set_by(answer: Response) -> dict[str, Any]:
    return cookies_set(answer.headers.get_list("set-cookie"))


def begin(client: TestClient, next_path: str = "/x") -> tuple[Response, SignIn]:
    """``/login``: the answer, and the sign-in its cookie carries."""
    answer = client.get("/login", params={"next": next_path})
    assert answer.status_code == 303, answer.text
    found = codec_of(client).sign_in(set_by(answer)[SIGN_IN_COOKIE].value)
    assert found is not None
    return answer, found


def token_answer(
    issuer: Issuer,
    sign_in: SignIn,
    *,
    id_token: dict[str, Any] | None = None,
    access: dict[str, Any] | None = None,
    id_kid: str = "k1",
) -> dict[str, Any]:
    """What the token endpoint answers for Pat of partner P-A, with claims changed."""
    claims = {"sub": "pat", "aud": CLIENT_ID, "nonce": sign_in.nonce, "name": "Pat Partner"}
    return {
        "access_token": issuer.token(
            **{"sub": "pat", "partnerhub_role": "partner", "partner_id": "P-A", **(access or {})}
        ),
        "id_token": issuer.token(id_kid, **{**claims, **(id_token or {})}),
        "refresh_token": "refresh-1",
        "expires_in": 300,
        "token_type": "Bearer",
    }


def callback(client: TestClient, sign_in: SignIn, code: str = "the-code") -> Response:
    return client.get("/auth/callback", params={"code": code, "state": sign_in.state})


# --------------------------------------------------------------------------- /login


def test_login_sends_to_the_issuer_with_state_nonce_and_a_pkce_challenge(
    portal: TestClient, issuer: Issuer
) -> None:
    answer, started = begin(portal, "/x")
    assert_hardened(answer, issuer.url)
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{issuer.url}/authorize"
    query = {name: values[0] for name, values in parse_qs(target.query).items()}
    assert query == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email offline_access",
        "state": started.state,
        "nonce": started.nonce,
        "code_challenge": pkce_challenge(started.verifier),
        "code_challenge_method": "S256",
    }
    assert started.next_path == "/x"
    assert 43 <= len(started.verifier) <= 128, "RFC 7636: a verifier of 43 to 128 characters"
    assert re.fullmatch(r"[A-Za-z0-9\-._~]+", started.verifier)
    cookie = set_by(answer)[SIGN_IN_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert int(cookie["max-age"]) == 600
    assert not cookie["secure"], "plain http on this machine"


def test_the_pkce_challenge_is_the_unpadded_base64url_sha256_of_the_verifier() -> None:
    verifier = "dBjftJeZ4CVP-mJ0kzc6HuJ3mqXqC7o3vz2RwCLHfY-abc"
    digest = hashlib.sha256(verifier.encode()).digest()
    assert pkce_challenge(verifier) == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert "=" not in pkce_challenge(verifier)


def test_each_sign_in_has_its_own_state_nonce_and_verifier(portal: TestClient) -> None:
    _, first = begin(portal)
    _, second = begin(portal)
    assert first.state != second.state
    assert first.nonce != second.nonce
    assert first.verifier != second.verifier


@pytest.mark.parametrize("next_path", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_login_never_returns_to_another_site(portal: TestClient, next_path: str) -> None:
    _, started = begin(portal, next_path)
    assert started.next_path == "/"


def test_on_https_the_sign_in_cookie_is_secure_and_the_callback_is_https(
    issuer: Issuer, services: FakeServices
) -> None:
    settings = portal_settings(oidc_issuer=issuer.url, portal_url="https://portal.example.com")
    with running_portal(settings, services) as client:
        answer = client.get("/login")
    assert set_by(answer)[SIGN_IN_COOKIE]["secure"] is True
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["redirect_uri"] == ["https://portal.example.com/auth/callback"]


def test_an_issuer_that_cannot_be_reached_is_a_503_page(
    portal: TestClient, services: FakeServices, issuer: Issuer
) -> None:
    services.down.add("issuer")
    answer = portal.get("/login")
    assert answer.status_code == 503
    assert_hardened(answer, issuer.url)
    assert "cannot be reached" in answer.text
    assert SIGN_IN_COOKIE not in set_by(answer) or is_deleted(set_by(answer)[SIGN_IN_COOKIE])


def test_without_an_issuer_sign_in_is_not_configured() -> None:
    with running_portal(portal_settings(), FakeServices()) as client:
        answer = client.get("/login")
    assert answer.status_code == 503
    assert "OIDC_ISSUER" in answer.text
    assert_hardened(answer)


# --------------------------------------------------------------------------- /auth/callback


def test_a_good_callback_makes_the_session_and_returns_to_the_page(
    portal: TestClient, issuer: Issuer, services: FakeServices
) -> None:
    _, started = begin(portal, "/partners/P-A")
    tokens = token_answer(issuer, started)
    issuer.token_answers.append((200, tokens))
    answer = callback(portal, started)
    assert (answer.status_code, answer.headers["location"]) == (303, "/partners/P-A")
    assert_hardened(answer, issuer.url)
    assert issuer.token_requests == [
        {
            "grant_type": "authorization_code",
            "code": "the-code",
            "redirect_uri": CALLBACK,
            "code_verifier": started.verifier,
            "client_id": CLIENT_ID,
        }
    ]
    cookies = set_by(answer)
    assert is_deleted(cookies[SIGN_IN_COOKIE]), "the sign-in is used up"
    cookie = cookies[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert not cookie["secure"]
    session = codec_of(portal).session(cookie.value, time.time())
    assert session is not None
    assert (session.subject, session.name, session.role, session.partner_id) == (
        "pat",
        "Pat Partner",
        "partner",
        "P-A",
    )
    assert (session.access_token, session.refresh_token) == (tokens["access_token"], "refresh-1")
    assert session.access_expires_at == pytest.approx(time.time() + 300, abs=5)
    assert len(session.csrf) >= 24

    dashboard_of(services, "P-A", "Alpha")
    shown = portal.get("/partners/P-A")
    assert shown.status_code == 200
    assert {call.authorization for call in services.calls} == {f"Bearer {tokens['access_token']}"}

    again = callback(portal, started)
    assert again.status_code == 400, "a sign-in is finished once"
    assert len(issuer.token_requests) == 1


@pytest.mark.parametrize(
    "query",
    [
        {"code": "the-code", "state": "not-the-state"},
        {"code": "the-code"},
        {"state": "<the state>"},
    ],
    ids=["wrong-state", "no-state", "no-code"],
)
def test_a_callback_that_is_not_this_sign_ins_sets_no_session(
    portal: TestClient, issuer: Issuer, query: dict[str, str]
) -> None:
    _, started = begin(portal)
    issuer.token_answers.append((200, token_answer(issuer, started)))
    params = {k: started.state if v == "<the state>" else v for k, v in query.items()}
    answer = portal.get("/auth/callback", params=params)
    assert answer.status_code == 400
    assert_hardened(answer, issuer.url)
    assert "sign in again" in answer.text
    assert SESSION_COOKIE not in set_by(answer)
    assert issuer.token_requests == [], "no code was exchanged"


def test_a_callback_without_a_sign_in_cookie_sets_no_session(
    portal: TestClient, issuer: Issuer
) -> None:
    _, started = begin(portal)
    portal.cookies.clear()
    answer = callback(portal, started)
    assert answer.status_code == 400
    assert "sign in again" in answer.text
    assert SESSION_COOKIE not in set_by(answer)


def test_a_sign_in_cookie_of_another_portal_is_not_this_sign_in(
    portal: TestClient, issuer: Issuer
) -> None:
    _, started = begin(portal)
    other = SessionCodec("another portal's secret", 3600, secure=False)
    made = StarletteResponse()
    other.keep_sign_in(made, started)
    portal.cookies.set(
        SIGN_IN_COOKIE, cookies_set(made.headers.getlist("set-cookie"))[SIGN_IN_COOKIE].value
    )
    answer = callback(portal, started)
    assert answer.status_code == 400
    assert SESSION_COOKIE not in set_by(answer)


def test_the_issuers_error_is_shown(portal: TestClient, issuer: Issuer) -> None:
    begin(portal)
    answer = portal.get(
        "/auth/callback",
        params={"error": "access_denied", "error_description": "the person said no"},
    )
    assert answer.status_code == 400
    assert "the person said no" in answer.text
    assert SESSION_COOKIE not in set_by(answer)


@pytest.mark.parametrize(
    ("id_token", "id_kid", "reason"),
    [
        ({"nonce": "another-sign-ins-nonce"}, "k1", "nonce"),
        ({"nonce": None}, "k1", "nonce"),
        ({"aud": "another-client"}, "k1", "ID token is not valid"),
        ({"iss": "http://127.0.0.1:1/other"}, "k1", "ID token is not valid"),
        ({"exp": int(time.time()) - 600}, "k1", "ID token is not valid"),
        ({}, "k-rogue", "ID token is not valid"),
    ],
    ids=["wrong-nonce", "no-nonce", "wrong-audience", "wrong-issuer", "expired", "unpublished-key"],
)
def test_an_id_token_that_is_not_for_this_sign_in_is_refused(
    portal: TestClient, issuer: Issuer, id_token: dict[str, Any], id_kid: str, reason: str
) -> None:
    issuer.add_key("k-rogue", publish=False)
    _, started = begin(portal)
    issuer.token_answers.append(
        (200, token_answer(issuer, started, id_token=id_token, id_kid=id_kid))
    )
    answer = callback(portal, started)
    assert answer.status_code == 400
    assert reason in answer.text
    assert SESSION_COOKIE not in set_by(answer)


@pytest.mark.parametrize(
    "access",
    [
        {"partnerhub_role": None},
        {"aud": "another-api"},
        {"partnerhub_role": "partner", "partner_id": None},
    ],
    ids=["no-role", "wrong-audience", "partner-without-partner"],
)
def test_an_access_token_the_services_would_refuse_makes_no_session(
    portal: TestClient, issuer: Issuer, access: dict[str, Any]
) -> None:
    _, started = begin(portal)
    issuer.token_answers.append((200, token_answer(issuer, started, access=access)))
    answer = callback(portal, started)
    assert answer.status_code == 400
    assert "access token is not accepted" in answer.text
    assert SESSION_COOKIE not in set_by(answer)


def test_a_token_endpoint_that_refuses_the_code_makes_no_session(
    portal: TestClient, issuer: Issuer
) -> None:
    _, started = begin(portal)
    issuer.token_answers.append((400, {"error": "invalid_grant", "error_description": "code used"}))
    answer = callback(portal, started)
    assert answer.status_code == 400
    assert "code used" in answer.text
    assert SESSION_COOKIE not in set_by(answer)


# --------------------------------------------------------------------------- renewing


def expiring(**changes: Any) -> Session:
    return partner_user(access_token="old-access", access_expires_at=time.time() + 20, **changes)


def test_an_access_token_about_to_expire_is_renewed_and_the_new_cookie_set(
    portal: TestClient, issuer: Issuer, services: FakeServices
) -> None:
    session = expiring()
    sign_in(portal, session)
    renewed = issuer.token(sub="pat", partnerhub_role="partner", partner_id="P-A")
    issuer.token_answers.append((200, {"access_token": renewed, "expires_in": 300}))
    dashboard_of(services, "P-A", "Alpha")
    answer = portal.get("/partners/P-A")
    assert answer.status_code == 200, answer.text
    assert issuer.token_requests == [
        {
            "grant_type": "refresh_token",
            "refresh_token": "refresh-token-of-pat",
            "client_id": CLIENT_ID,
        }
    ]
    assert {call.authorization for call in services.calls} == {f"Bearer {renewed}"}
    kept = codec_of(portal).session(set_by(answer)[SESSION_COOKIE].value, time.time())
    assert kept is not None
    assert kept.access_token == renewed
    assert kept.refresh_token == "refresh-token-of-pat", "kept when the issuer sends none"
    assert kept.access_expires_at == pytest.approx(time.time() + 300, abs=5)
    assert (kept.started_at, kept.csrf, kept.subject) == (
        session.started_at,
        session.csrf,
        session.subject,
    )


def test_a_token_with_time_left_is_not_renewed(
    portal: TestClient, issuer: Issuer, services: FakeServices
) -> None:
    sign_in(portal, partner_user())
    dashboard_of(services, "P-A", "Alpha")
    answer = portal.get("/partners/P-A")
    assert answer.status_code == 200
    assert issuer.token_requests == []
    assert SESSION_COOKIE not in set_by(answer)


@pytest.mark.parametrize("refusal", ["refused", "rogue-token", "no-refresh-token", "issuer-down"])
def test_a_refused_renewal_sends_to_sign_in_again(
    portal: TestClient, issuer: Issuer, services: FakeServices, refusal: str
) -> None:
    issuer.add_key("k-rogue", publish=False)
    sign_in(portal, expiring(refresh_token=None) if refusal == "no-refresh-token" else expiring())
    if refusal == "refused":
        issuer.token_answers.append((400, {"error": "invalid_grant"}))
    elif refusal == "rogue-token":
        rogue = issuer.token("k-rogue", sub="pat", partnerhub_role="partner", partner_id="P-A")
        issuer.token_answers.append((200, {"access_token": rogue, "expires_in": 300}))
    elif refusal == "issuer-down":
        services.down.add("issuer")
    dashboard_of(services, "P-A", "Alpha")
    answer = portal.get("/partners/P-A")
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "/login?next=%2Fpartners%2FP-A",
    )
    assert services.calls == [], "the old token was not used"
    assert SESSION_COOKIE not in set_by(answer)


# --------------------------------------------------------------------------- signing out


def logout_target(issuer: Issuer) -> str:
    return (
        f"{issuer.url}/logout?client_id={CLIENT_ID}"
        "&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2F"
    )


def test_signing_out_ends_the_session_here_and_at_the_issuer(
    portal: TestClient, issuer: Issuer
) -> None:
    sign_in(portal, partner_user())
    confirm = portal.get("/logout")
    assert confirm.status_code == 200
    assert 'name="csrf" value="csrf-of-pat"' in confirm.text
    answer = portal.post("/logout", data={"csrf": "csrf-of-pat"})
    assert (answer.status_code, answer.headers["location"]) == (303, logout_target(issuer))
    assert_hardened(answer, issuer.url)
    assert is_deleted(set_by(answer)[SESSION_COOKIE])
    assert portal.get("/partners/P-A").status_code == 303, "signed out"


@pytest.mark.parametrize("renewal", ["granted", "refused"])
def test_signing_out_with_an_expiring_token_still_ends_the_session(
    portal: TestClient, issuer: Issuer, renewal: str
) -> None:
    sign_in(portal, expiring())
    if renewal == "granted":
        renewed = issuer.token(sub="pat", partnerhub_role="partner", partner_id="P-A")
        issuer.token_answers.append((200, {"access_token": renewed, "expires_in": 300}))
    else:
        issuer.token_answers.append((400, {"error": "invalid_grant"}))
    answer = portal.post("/logout", data={"csrf": "csrf-of-pat"})
    assert (answer.status_code, answer.headers["location"]) == (303, logout_target(issuer))
    sessions = [h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    assert len(sessions) == 1, sessions
    assert is_deleted(cookies_set(sessions)[SESSION_COOKIE])


def test_signing_out_without_the_csrf_token_is_refused(portal: TestClient, issuer: Issuer) -> None:
    sign_in(portal, partner_user())
    answer = portal.post("/logout", data={"csrf": "forged"})
    assert answer.status_code == 403
    assert SESSION_COOKIE not in set_by(answer)
    assert portal.get("/logout").status_code == 200, "still signed in"
