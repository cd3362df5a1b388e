"""The portal's session cookie and sign-in cookie (services/portal/sessions.py): what
the codec seals it opens again, and nothing else; ``safe_next`` keeps a return path
on this site."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import asdict, replace

import pytest
from cryptography.fernet import Fernet
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.responses import Response

from services.portal.sessions import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_SECONDS,
    Session,
    SessionCodec,
    SignIn,
    safe_next,
)
from tests.support.portal import SECRET, cookies_set, manager, partner_user, session_cookie

HOURS = 8.0


def codec(
    secret: str | None = SECRET, hours: float = HOURS, *, secure: bool = False
) -> SessionCodec:
    return SessionCodec(secret, hours * 3600, secure=secure)


def sealed_at(secret: str, value: dict[str, object], at: float) -> str:
    """A cookie value sealed as the codec seals it (Fernet keyed by the secret's SHA-256),
    but at another time."""
    key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
    return Fernet(key).encrypt_at_time(json.dumps(value).encode(), int(at)).decode()


def sign_in_cookie(made: SessionCodec, sign_in: SignIn) -> str:
    response = Response()
    made.keep_sign_in(response, sign_in)
    return cookies_set(response.headers.getlist("set-cookie"))[SIGN_IN_COOKIE].value


SIGN_IN = SignIn(state="s-1", nonce="n-1", verifier="v" * 64, next_path="/partners/P-A")


@pytest.mark.parametrize("session", [partner_user(), manager()], ids=["partner", "manager"])
def test_a_session_comes_back_as_it_was_sealed(session: Session) -> None:
    cookie = session_cookie(codec(), session)
    assert codec().session(cookie, time.time()) == session
    assert session.access_token not in cookie, "the cookie is encrypted, not only signed"
    assert session.subject not in cookie


def test_any_replica_with_the_same_secret_reads_the_session() -> None:
    session = partner_user()
    first, second = codec(), codec()
    assert second.session(session_cookie(first, session), time.time()) == session


def test_a_tampered_cookie_is_no_session() -> None:
    cookie = session_cookie(codec(), partner_user())
    for position in (10, len(cookie) // 2, len(cookie) - 5):
        flipped = "A" if cookie[position] != "A" else "B"
        tampered = cookie[:position] + flipped + cookie[position + 1 :]
        assert codec().session(tampered, time.time()) is None
    assert codec().session(cookie[:-8], time.time()) is None


@pytest.mark.parametrize("cookie", [None, "", "not-a-cookie", "gAAAAA" + "x" * 80, "{}"])
def test_garbage_is_no_session(cookie: str | None) -> None:
    assert codec().session(cookie, time.time()) is None
    assert codec().sign_in(cookie) is None


def test_a_cookie_sealed_with_another_secret_is_no_session() -> None:
    foreign = session_cookie(codec("someone-else's-secret"), partner_user())
    assert codec().session(foreign, time.time()) is None
    assert codec("someone-else's-secret").session(foreign, time.time()) is not None


def test_without_a_secret_each_process_has_its_own_key() -> None:
    first, second = codec(None), codec(None)
    cookie = session_cookie(first, partner_user())
    assert first.session(cookie, time.time()) is not None
    assert second.session(cookie, time.time()) is None


def test_a_sealed_value_that_is_not_a_session_is_none() -> None:
    now = time.time()
    assert codec().session(sealed_at(SECRET, {"subject": "pat"}, now), now) is None
    assert codec().session(sealed_at(SECRET, asdict(SIGN_IN), now), now) is None
    session = partner_user()
    extra = {**asdict(session), "admin": True}
    assert codec().session(sealed_at(SECRET, extra, now), now) is None
    assert codec().session(sealed_at(SECRET, asdict(session), now), now) == session


def test_a_sign_in_cookie_is_not_a_session_and_a_session_is_not_a_sign_in() -> None:
    made = codec()
    assert made.session(sign_in_cookie(made, SIGN_IN), time.time()) is None
    assert made.sign_in(session_cookie(made, partner_user())) is None


def test_a_session_ends_its_hours_after_sign_in() -> None:
    now = time.time()
    session = partner_user(started_at=now - 3600)
    cookie = session_cookie(codec(), session, now)
    seconds = HOURS * 3600
    assert codec().session(cookie, session.started_at + seconds - 1) is not None
    assert codec().session(cookie, session.started_at + seconds) is None
    assert codec().session(cookie, session.started_at + seconds + 3600) is None


def test_a_session_started_longer_ago_than_its_hours_is_none_even_if_sealed_now() -> None:
    now = time.time()
    old = partner_user(started_at=now - HOURS * 3600 - 1)
    assert codec().session(sealed_at(SECRET, asdict(old), now), now) is None


def test_a_cookie_sealed_longer_ago_than_the_session_hours_is_none() -> None:
    now = time.time()
    sealed = sealed_at(SECRET, asdict(partner_user(started_at=now)), now - HOURS * 3600 - 5)
    assert codec().session(sealed, now) is None


def test_the_session_cookie_lives_until_the_session_ends() -> None:
    now = time.time()
    response = Response()
    codec().keep_session(response, partner_user(started_at=now - 3600), now)
    cookie = cookies_set(response.headers.getlist("set-cookie"))[SESSION_COOKIE]
    assert int(cookie["max-age"]) == int(HOURS * 3600 - 3600)
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"


@pytest.mark.parametrize("secure", [True, False])
def test_the_cookies_are_secure_as_the_codec_is_told(secure: bool) -> None:
    response = Response()
    made = codec(secure=secure)
    made.keep_session(response, partner_user(), time.time())
    made.keep_sign_in(response, SIGN_IN)
    for cookie in cookies_set(response.headers.getlist("set-cookie")).values():
        assert bool(cookie["secure"]) is secure
        assert cookie["httponly"] is True
        assert cookie["samesite"].lower() == "lax"


def test_the_sign_in_cookie_comes_back_as_it_was_sealed() -> None:
    made = codec()
    response = Response()
    made.keep_sign_in(response, SIGN_IN)
    cookie = cookies_set(response.headers.getlist("set-cookie"))[SIGN_IN_COOKIE]
    assert made.sign_in(cookie.value) == SIGN_IN
    assert int(cookie["max-age"]) == SIGN_IN_SECONDS
    assert SIGN_IN.verifier not in cookie.value
    assert codec("another-secret").sign_in(cookie.value) is None


def test_a_sign_in_older_than_ten_minutes_is_none() -> None:
    now = time.time()
    assert codec().sign_in(sealed_at(SECRET, asdict(SIGN_IN), now - 60)) == SIGN_IN
    assert codec().sign_in(sealed_at(SECRET, asdict(SIGN_IN), now - SIGN_IN_SECONDS - 5)) is None


def test_renewed_tokens_keep_the_refresh_token_when_none_comes() -> None:
    session = partner_user()
    renewed = session.with_tokens("new-access", None, 123.0)
    assert (renewed.access_token, renewed.refresh_token, renewed.access_expires_at) == (
        "new-access",
        session.refresh_token,
        123.0,
    )
    assert renewed.with_tokens("x", "new-refresh", 1.0).refresh_token == "new-refresh"
    assert replace(renewed, csrf="c").csrf_matches("c")
    assert not renewed.csrf_matches(None)
    assert not renewed.csrf_matches("")


def test_a_partner_user_may_see_its_own_partner_only() -> None:
    assert partner_user().may_see_partner("P-A")
    assert not partner_user().may_see_partner("P-B")
    assert manager().may_see_partner("P-B")
    assert manager().is_staff
    assert not manager().is_partner
    assert partner_user().is_partner
    assert not partner_user().is_staff


# --------------------------------------------------------------------------- safe_next


@given(st.one_of(st.none(), st.text()))
@example("//evil.example/x")
@example("https://evil.example/")
@example("/\\evil.example")
@example("\\\\evil.example")
@example("javascript:alert(1)")
@example("")
def test_safe_next_is_always_a_path_on_this_site(path: str | None) -> None:
    kept = safe_next(path)
    assert kept.startswith("/")
    assert not kept.startswith("//")
    assert "\\" not in kept
    assert kept in (path, "/")
    # What a browser would make of it once it drops whitespace and control characters.
    browsed = "".join(c for c in kept if c.isprintable() and not c.isspace())
    assert not browsed.startswith("//")


@pytest.mark.parametrize(
    "path", ["/\t/evil.example", "/\n/evil.example", "/ /evil.example", "/\x00/x"]
)
def test_safe_next_refuses_a_path_a_browser_would_read_as_another_host(path: str) -> None:
    assert safe_next(path) == "/"


LOCAL_PATH = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12),
    max_size=5,
).map(lambda segments: "/" + "/".join(segments))
QUERY = st.one_of(
    st.just(""),
    st.text(alphabet="abcdefghij0123456789=&-", max_size=20).map(lambda query: f"?{query}"),
)


@given(LOCAL_PATH, QUERY)
def test_safe_next_keeps_a_plain_local_path(path: str, query: str) -> None:
    assert safe_next(path + query) == path + query


@given(st.one_of(st.none(), st.text()))
@example("csrf-of-pat")
@example("csrf-of-pät")
def test_a_csrf_token_matches_only_the_sessions_own(token: str | None) -> None:
    assert partner_user().csrf_matches(token) is (token == "csrf-of-pat")
