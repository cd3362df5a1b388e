"""People's access tokens (shared.tokens, shared.access) through a real FastAPI app.

The issuer here is a stand-in (:class:`tests.support.tokens.Issuer`): a local HTTP
server publishing a discovery document and a JWKS of keys made for the test, so
each refusal can be provoked. The real
OpenID Connect provider of the local platform signs in people end to end in the
integration tests.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared import access
from shared.settings import Settings
from shared.tokens import Claims, TokenForbidden, claims_of, looks_like_jwt
from tests.support.tokens import AUDIENCE, Issuer

KEY = "k-manager-key"


def app(settings: Settings) -> FastAPI:
    made = FastAPI()
    access.install(made, settings)

    @made.post("/commands", dependencies=[access.StaffAccess])
    async def command() -> dict[str, str]:
        return {"ok": "command"}

    @made.get("/partners/{partner_id}", dependencies=[access.PartnerReadAccess])
    async def partner(partner_id: str) -> dict[str, str]:
        return {"partner_id": partner_id}

    @made.get("/me")
    async def me(principal: access.Authenticated) -> dict[str, str | None]:
        return {
            "role": principal.role,
            "partner_id": principal.partner_id,
            "person": principal.person,
        }

    return made


@pytest.fixture
def client(issuer: Issuer) -> TestClient:
    settings = Settings(
        api_keys=f"{KEY}=channel_manager",  # type: ignore[arg-type]
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_jwks_cooldown_seconds=0,
    )
    return TestClient(app(settings))


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def test_a_manager_and_a_partner_sign_in_with_their_tokens(
    issuer: Issuer, client: TestClient
) -> None:
    manager = issuer.token(partnerhub_role="channel_manager", sub="maria")
    assert client.post("/commands", headers=bearer(manager)).status_code == 200
    assert client.get("/me", headers=bearer(manager)).json() == {
        "role": "channel_manager",
        "partner_id": None,
        "person": "maria",
    }
    partner = issuer.token(partnerhub_role="partner", partner_id="P-1", sub="pat")
    assert client.get("/partners/P-1", headers=bearer(partner)).status_code == 200
    other = client.get("/partners/P-2", headers=bearer(partner))
    assert (other.status_code, other.json()["detail"]) == (
        403,
        "this key reads only partner P-1's data",
    )
    assert client.post("/commands", headers=bearer(partner)).status_code == 403
    assert client.get("/me", headers=bearer(partner)).json()["person"] == "pat"


def test_api_keys_still_work_beside_tokens(client: TestClient) -> None:
    assert client.post("/commands", headers=bearer(KEY)).status_code == 200
    assert client.post("/commands", headers=bearer("k-unknown")).json() == {
        "detail": "unknown API key"
    }


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": int(time.time()) - 120}, "the token has expired"),
        ({"iss": "http://127.0.0.1:1/other"}, "the token is not from the issuer"),
        ({"aud": "someone-else"}, "the token is not for this audience (partnerhub)"),
        ({"sub": None}, "the token lacks the sub claim"),
    ],
)
def test_a_token_that_is_not_for_us_answers_401_saying_why(
    issuer: Issuer, client: TestClient, claims: dict[str, Any], detail: str
) -> None:
    token = issuer.token(partnerhub_role="channel_manager", **claims)
    refused = client.post("/commands", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith(detail)
    assert refused.headers["WWW-Authenticate"] == "Bearer"


def test_a_tampered_token_answers_401(issuer: Issuer, client: TestClient) -> None:
    header, payload, signature = issuer.token(partnerhub_role="partner", partner_id="P-1").split(
        "."
    )
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["partner_id"] = "P-2"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    refused = client.get("/partners/P-2", headers=bearer(f"{header}.{forged}.{signature}"))
    assert (refused.status_code, refused.json()["detail"]) == (
        401,
        "the token's signature does not verify",
    )


def test_a_key_rotated_in_is_fetched_and_an_unpublished_one_refused(
    issuer: Issuer, client: TestClient
) -> None:
    assert (
        client.post("/commands", headers=bearer(issuer.token(partnerhub_role="admin"))).status_code
        == 200
    )
    fetches = issuer.jwks_fetches
    issuer.add_key("k2")  # the issuer rotates a key in
    rotated = issuer.token("k2", partnerhub_role="admin")
    assert client.post("/commands", headers=bearer(rotated)).status_code == 200
    assert issuer.jwks_fetches == fetches + 1, "the set was fetched again for the new kid"
    assert client.post("/commands", headers=bearer(rotated)).status_code == 200
    assert issuer.jwks_fetches == fetches + 1, "and is cached since"

    issuer.add_key("k-rogue", publish=False)
    refused = client.post(
        "/commands", headers=bearer(issuer.token("k-rogue", partnerhub_role="admin"))
    )
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith(
        "the token is not signed by a key the issuer publishes"
    )


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({}, "the token's partnerhub_role must be one of admin, channel_manager, partner"),
        ({"partnerhub_role": "owner"}, "the token's partnerhub_role must be one of"),
        ({"partnerhub_role": "partner"}, "a partner's token must carry its partner_id"),
    ],
)
def test_a_token_without_a_role_here_answers_403(
    issuer: Issuer, client: TestClient, claims: dict[str, Any], detail: str
) -> None:
    refused = client.get("/partners/P-1", headers=bearer(issuer.token(**claims)))
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(detail)


def test_a_token_where_no_issuer_is_configured_is_refused(issuer: Issuer) -> None:
    keys_only = TestClient(app(Settings(api_keys=f"{KEY}=admin")))  # type: ignore[arg-type]
    refused = keys_only.post("/commands", headers=bearer(issuer.token(partnerhub_role="admin")))
    assert (refused.status_code, refused.json()["detail"]) == (
        401,
        "a token was given, but this service accepts API keys only",
    )


def test_an_issuer_that_does_not_answer_is_a_503_not_a_refusal() -> None:
    gone = Issuer()
    gone.add_key("k1")
    token = gone.token(partnerhub_role="admin")
    settings = Settings(oidc_issuer=gone.url, oidc_jwks_cooldown_seconds=0)
    gone.close()
    refused = TestClient(app(settings)).post("/commands", headers=bearer(token))
    assert refused.status_code == 503
    assert "discovery document" in refused.json()["detail"]


def test_claims_map_to_role_and_partner() -> None:
    assert claims_of({"sub": "s", "partnerhub_role": "partner", "partner_id": "P-9"}) == Claims(
        "s", "partner", "P-9"
    )
    assert claims_of({"sub": "s", "partnerhub_role": "admin", "partner_id": "P-9"}) == Claims(
        "s", "admin", None
    ), "only a partner acts for a partner"
    with pytest.raises(TokenForbidden):
        claims_of({"sub": "s", "partnerhub_role": "partner", "partner_id": ""})


def test_an_api_key_never_looks_like_a_token(tmp_path: Path) -> None:
    assert looks_like_jwt("aaa.bbb.ccc")
    key, _ = access.ensure_env_file(tmp_path / ".env")
    assert not looks_like_jwt(key)


def test_an_empty_issuer_setting_means_keys_only() -> None:
    assert Settings(oidc_issuer="  ").oidc_issuer is None
