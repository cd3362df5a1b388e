"""HTTP access control (docs/rules/events.md, "HTTP access"), through a real FastAPI app."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from shared import access
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

    return app


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
