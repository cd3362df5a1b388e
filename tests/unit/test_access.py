"""HTTP access control (docs/rules/events.md, "HTTP access"), through a real FastAPI app:
roles, the acting partner of a self-service command, and who an event names as its actor."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from shared import access
from shared.events import Actor, ActorKind
from shared.settings import Settings

ADMIN, MANAGER, PARTNER = "k-admin", "k-manager", "k-p100"


def _app(settings: Settings) -> FastAPI:
    app = FastAPI()
    access.install(app, settings)

    @app.post("/commands", dependencies=[access.StaffAccess])
    async def command() -> dict[str, str]:
        return {"ok": "command"}

    @app.get("/partners", dependencies=[access.StaffAccess])
    async def every_partner() -> dict[str, str]:
        return {"ok": "list"}

    @app.get("/partners/{partner_id}", dependencies=[access.PartnerReadAccess])
    async def one_partner(partner_id: str) -> dict[str, str]:
        return {"partner_id": partner_id}

    @app.post("/self-service")
    async def self_service(body: SelfServiceBody, caller: access.SelfService) -> dict[str, str]:
        acting = access.acting_partner(caller, body.partner_id)
        return {"partner_id": acting, "actor": caller.actor.id}

    return app


class SelfServiceBody(BaseModel):
    partner_id: str | None = None


@pytest.fixture
def client() -> TestClient:
    keys = f"{ADMIN}=admin, {MANAGER}=channel_manager,{PARTNER}=partner:P-100"
    return TestClient(_app(Settings(api_keys=keys)))  # type: ignore[arg-type]


def _get(client: TestClient, method: str, path: str, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.request(method, path, headers=headers).status_code


@pytest.mark.parametrize(
    ("method", "path", "key", "expected"),
    [
        ("POST", "/commands", None, 401),
        ("POST", "/commands", "wrong", 401),
        ("POST", "/commands", ADMIN, 200),
        ("POST", "/commands", MANAGER, 200),
        ("POST", "/commands", PARTNER, 403),
        ("GET", "/partners", PARTNER, 403),
        ("GET", "/partners", MANAGER, 200),
        ("GET", "/partners/P-100", PARTNER, 200),
        ("GET", "/partners/P-200", PARTNER, 403),
        ("GET", "/partners/P-200", MANAGER, 200),
        ("GET", "/partners/P-200", None, 401),
    ],
)
def test_roles(client: TestClient, method: str, path: str, key: str | None, expected: int) -> None:
    assert _get(client, method, path, key) == expected


def test_401_says_what_is_wrong(client: TestClient) -> None:
    response = client.post("/commands", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_keys_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "api-keys"
    secret.write_text(
        "# mounted from a Kubernetes Secret\nk-file=channel_manager\n\nk-p7=partner:P-7\n"
    )
    client = TestClient(_app(Settings(api_keys_file=secret)))
    assert _get(client, "POST", "/commands", "k-file") == 200
    assert _get(client, "GET", "/partners/P-7", "k-p7") == 200
    assert _get(client, "GET", "/partners/P-8", "k-p7") == 403


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1=admin,k2", "API_KEYS entry 2: expected key=role"),
        ("k1=root", "API_KEYS entry 1: unknown role 'root'"),
        ("k1=partner:", "API_KEYS entry 1: unknown role"),
        ("=admin", "API_KEYS entry 1: expected key=role"),
    ],
)
def test_bad_key_entries_name_the_entry_but_not_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        access.load_api_keys(Settings(api_keys=text))  # type: ignore[arg-type]
    assert "k1" not in str(caught.value)


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="API_KEYS_FILE"):
        access.load_api_keys(Settings(api_keys_file=tmp_path / "absent"))


def test_env_file_gets_one_admin_key_on_first_use(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("OTHER=1\n")
    key, created = access.ensure_env_file(env)
    assert created
    assert len(key) >= 32
    assert access.ensure_env_file(env) == (key, False)
    assert env.read_text() == f"OTHER=1\nPARTNERHUB_ADMIN_KEY={key}\n"
    assert env.stat().st_mode & 0o077 == 0


def test_the_admin_key_is_read_from_an_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    assert access.read_admin_key(env) is None, "no file"
    env.write_text("OTHER=1\nPARTNERHUB_ADMIN_KEY=\n")
    assert access.read_admin_key(env) is None, "an empty value is no key"
    env.write_text("OTHER=1\n PARTNERHUB_ADMIN_KEY = k1 \nPARTNERHUB_ADMIN_KEY=k2\n")
    assert access.read_admin_key(env) == "k1"
    assert access.ensure_env_file(env) == ("k1", False)


def test_a_partner_reads_only_its_own_partner() -> None:
    partner, staff = access.Principal("partner:P-1", partner_id="P-1"), access.Principal("admin")
    access.ensure_may_read(partner, "P-1")
    access.ensure_may_read(staff, "P-2")
    with pytest.raises(HTTPException) as refused:
        access.ensure_may_read(partner, "P-2")
    assert (refused.value.status_code, refused.value.detail) == (
        403,
        "this key reads only partner P-1's data",
    )
    assert access.scoped_partner(partner, None) == "P-1", "a listing is scoped to its own"
    assert access.scoped_partner(partner, "P-1") == "P-1"
    assert access.scoped_partner(staff, None) is None
    assert access.scoped_partner(staff, "P-2") == "P-2"
    with pytest.raises(HTTPException):
        access.scoped_partner(partner, "P-2")


# ----------------------------------------------------------------- self-service commands

STAFF = access.Principal("admin", key_id="0123456789ab")
ids = st.sampled_from(["P-1", "P-2", "P-100", "p-1", "P-1 "])


@given(caller=st.one_of(st.none(), ids), named=st.one_of(st.none(), ids))
def test_the_acting_partner_rule(caller: str | None, named: str | None) -> None:
    """A partner acts for itself only (naming itself or no one); staff for whom they name."""
    principal = (
        STAFF if caller is None else access.Principal(f"partner:{caller}", partner_id=caller)
    )
    if caller is not None and named not in (None, caller):
        with pytest.raises(HTTPException) as refused:
            access.acting_partner(principal, named)
        assert refused.value.status_code == 403
        assert "a partner may act only for itself" in refused.value.detail
        assert f"body.partner_id is {named}" in refused.value.detail
    elif caller is None and named is None:
        with pytest.raises(RequestValidationError) as missing:
            access.acting_partner(principal, named)
        assert [e["loc"] for e in missing.value.errors()] == [("body", "partner_id")]
    else:
        assert access.acting_partner(principal, named) == (caller or named)


@pytest.mark.parametrize(
    ("key", "body", "status", "answer"),
    [
        (PARTNER, {}, 200, "P-100"),
        (PARTNER, {"partner_id": "P-100"}, 200, "P-100"),
        (PARTNER, {"partner_id": "P-200"}, 403, "a partner may act only for itself"),
        (MANAGER, {"partner_id": "P-200"}, 200, "P-200"),
        (ADMIN, {"partner_id": "P-100"}, 200, "P-100"),
        (MANAGER, {}, 422, "partner_id"),
        (None, {}, 401, "Bearer"),
    ],
)
def test_a_self_service_command_acts_for_whom_the_caller_may(
    client: TestClient, key: str | None, body: dict[str, str], status: int, answer: str
) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = client.post("/self-service", json=body, headers=headers)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == {"partner_id": answer, "actor": access.key_id(key or "")}
    elif status == 422:
        assert [e["loc"] for e in response.json()["detail"]] == [["body", answer]]
    else:
        assert answer in response.json()["detail"]


def test_staff_only_commands_still_refuse_partners(client: TestClient) -> None:
    refused = client.post("/commands", headers={"Authorization": f"Bearer {PARTNER}"})
    assert refused.status_code == 403
    assert "self-service" in refused.json()["detail"]


def test_an_event_names_a_key_by_an_identifier_that_is_not_the_key() -> None:
    keys = access.parse_api_keys([f"{ADMIN}=admin", f"{PARTNER}=partner:P-100"], "API_KEYS")
    for key, principal in ((ADMIN, keys[_digest(ADMIN)]), (PARTNER, keys[_digest(PARTNER)])):
        actor = principal.actor
        assert actor == Actor(kind=ActorKind.KEY, id=access.key_id(key))
        assert actor.id == _digest(key)[:12], "stable: the start of the digest held anyway"
        assert key not in actor.id
    assert access.key_id(ADMIN) != access.key_id(MANAGER)


def test_an_event_names_a_person_by_their_subject() -> None:
    person = access.Principal("partner:P-1", partner_id="P-1", person="pat")
    assert person.actor == Actor(kind=ActorKind.PERSON, id="pat")
    with pytest.raises(ValueError, match="neither a person nor a key"):
        _ = access.Principal("admin").actor


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
