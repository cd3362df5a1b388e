"""Commands (shared.commands, shared.routes): Idempotency-Keys remembered and replayed,
refusals answered, optimistic writes retried.

The digests and fingerprints below are stored in existing documents: they must
not change, or retries of commands answered before an upgrade would be
executed again.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from shared import access
from shared.commands import (
    LOST,
    Answer,
    CommandKey,
    Conflict,
    InvalidField,
    KeptLosing,
    Lost,
    NotFound,
    retry_on_conflict,
    retry_until_written,
)
from shared.routes import IdempotentCommand, install_error_handlers, respond
from shared.settings import Settings

PATH = "/partners/P-1/contracts"
#: The keys of the test apps: commands need a caller, as in every service.
STAFF_KEY, PARTNER_KEY, OTHER_PARTNER_KEY = "k-staff", "k-p1", "k-p2"


class Bracket(BaseModel):
    """A body with a field whose wire name is not its Python name."""

    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int


def key(idempotency_key: str | None = "retry-1", body: BaseModel | None = None) -> CommandKey:
    made = CommandKey.of(idempotency_key, PATH, Bracket(from_=0, to=100) if body is None else body)
    assert made is not None
    return made


def test_no_header_no_key() -> None:
    assert CommandKey.of(None, PATH, Bracket(from_=0, to=100)) is None


def test_the_digest_and_fingerprint_stay_what_stored_data_holds() -> None:
    remembered = key()
    assert remembered.digest == "6a394ed3b477f3c8df662ea4376c4a16469153f4e04d309c01d68b47795ce265"
    # the body as sent (aliases), as JSON with sorted keys: {"from": 0, "to": 100}
    assert remembered.fingerprint == (
        "8a7243657ed1c72dbd48637fb02d4c6c68499fb5689070b14a0fa237514d9789"
    )
    assert remembered.derived_id == "852f35af-39cc-5acc-897f-34af9958f405"
    without_body = CommandKey.of("retry-1", PATH, None)
    assert without_body is not None
    assert without_body.fingerprint == (
        "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"
    )


def test_a_key_is_per_path_and_does_not_reveal_itself() -> None:
    first = key()
    assert first == key()
    other_path = CommandKey.of("retry-1", "/partners/P-2/contracts", Bracket(from_=0, to=100))
    assert other_path is not None
    assert other_path.digest != first.digest
    assert other_path.derived_id != first.derived_id
    assert other_path.fingerprint == first.fingerprint
    assert "retry-1" not in first.digest
    assert uuid.UUID(first.derived_id).version == 5


def test_a_partner_callers_key_is_its_partners_own() -> None:
    """Two partners sending one key send two commands; staff keys stay as stored."""
    body = Bracket(from_=0, to=100)
    mine = CommandKey.of("retry-1", PATH, body, partner_id="P-1")
    theirs = CommandKey.of("retry-1", PATH, body, partner_id="P-2")
    assert mine is not None
    assert theirs is not None
    assert len({mine.digest, theirs.digest, key().digest}) == 3
    assert len({mine.derived_id, theirs.derived_id, key().derived_id}) == 3
    assert mine == CommandKey.of("retry-1", PATH, body, partner_id="P-1")
    assert mine.fingerprint == theirs.fingerprint == key().fingerprint
    assert CommandKey.of("retry-1", PATH, body, partner_id=None) == key()


def test_over_http_partners_keys_never_meet() -> None:
    app = authenticated_app()

    @app.post("/things")
    async def digest(command: IdempotentCommand) -> dict[str, str | None]:
        return {"digest": None if command is None else command.digest}

    sent = {"Idempotency-Key": "k"}
    digests = {
        caller: client_of(app, caller).post("/things", json={}, headers=sent).json()["digest"]
        for caller in (STAFF_KEY, PARTNER_KEY, OTHER_PARTNER_KEY)
    }
    staff = CommandKey.of("k", "/things", {})
    assert staff is not None
    assert digests[STAFF_KEY] == staff.digest, "staff keys stay what stored answers hold"
    assert len(set(digests.values())) == 3


def test_the_fingerprint_follows_the_body() -> None:
    assert key(body=Bracket.model_validate({"to": 100, "from": 0})).fingerprint == key().fingerprint
    assert key(body=Bracket(from_=0, to=101)).fingerprint != key().fingerprint


def test_answers_are_remembered_by_digest() -> None:
    answers: dict[str, Any] = {}
    key("other").remember(answers, Answer(200, {}))
    key().remember(answers, Answer(201, {"contract_id": "C-1"}))
    assert answers[key().digest] == {
        "fingerprint": key().fingerprint,
        "status": 201,
        "body": {"contract_id": "C-1"},
    }
    assert key().find(answers) == Answer(201, {"contract_id": "C-1"}, replayed=True)
    assert key("never-sent").find(answers) is None
    assert key().find({}) is None


def test_a_replayed_body_is_a_copy() -> None:
    answers: dict[str, Any] = {}
    key().remember(answers, Answer(201, {"n": 1}))
    replayed = key().find(answers)
    assert replayed is not None
    replayed.body["n"] = 2
    assert answers[key().digest]["body"] == {"n": 1}


def test_a_key_reused_with_another_body_is_refused() -> None:
    answers: dict[str, Any] = {}
    key().remember(answers, Answer(201, {}))
    with pytest.raises(InvalidField) as refused:
        key(body=Bracket(from_=1, to=100)).find(answers)
    assert refused.value.location == ("header", "Idempotency-Key")
    assert refused.value.message == "this key was already used for a different request"


def test_a_model_and_its_json_have_one_fingerprint() -> None:
    as_json = CommandKey.of("retry-1", PATH, {"to": 100, "from": 0})
    assert as_json == key()


def test_a_service_can_extend_the_key() -> None:
    class ServiceKey(CommandKey):
        __slots__ = ()

        def suffix(self) -> str:
            return self.digest[:4]

    made = ServiceKey.of("retry-1", PATH, None)
    assert isinstance(made, ServiceKey)
    assert made.suffix() == made.digest[:4]


# ----------------------------------------------------------------- over HTTP


class Thing(BaseModel):
    name: str = Field(min_length=1)


class Gone(NotFound):
    pass


def authenticated_app() -> FastAPI:
    """An app with the access control of every service and the keys above."""
    app = FastAPI()
    keys = f"{STAFF_KEY}=admin,{PARTNER_KEY}=partner:P-1,{OTHER_PARTNER_KEY}=partner:P-2"
    access.install(app, Settings(api_keys=keys))  # type: ignore[arg-type]
    return app


def client_of(app: FastAPI, key: str = STAFF_KEY) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {key}"})


def command_app() -> FastAPI:
    """A service with one command that remembers its answers in a dict, as a document would."""
    app = authenticated_app()
    install_error_handlers(app)
    answers: dict[str, Any] = {}
    writes: list[str] = []

    @app.post("/things", status_code=201)
    async def add(body: Thing, command: IdempotentCommand) -> JSONResponse:
        if command is not None and (replayed := command.find(answers)) is not None:
            return respond(replayed)
        if body.name == "taken":
            raise Conflict("thing taken exists already")
        if body.name == "missing":
            raise Gone("no such shelf")
        if body.name == "bad":
            raise InvalidField(("body", "name"), "must not be bad")
        writes.append(body.name)
        answer = Answer(201, {"name": body.name, "write": len(writes)})
        if command is not None:
            command.remember(answers, answer)
        return respond(answer)

    return app


def test_a_retried_command_answers_the_first_answer_once_written() -> None:
    client = client_of(command_app())
    first = client.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "k"})
    again = client.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "k"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == {"name": "a", "write": 1}
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    without_key = client.post("/things", json={"name": "a"})
    assert without_key.json() == {"name": "a", "write": 2}


def test_a_key_reused_for_another_body_answers_422_naming_the_header() -> None:
    client = client_of(command_app())
    client.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "k"})
    reused = client.post("/things", json={"name": "b"}, headers={"Idempotency-Key": "k"})
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


@pytest.mark.parametrize(
    ("name", "status", "detail"),
    [
        ("taken", 409, "thing taken exists already"),
        ("missing", 404, "no such shelf"),
        ("bad", 422, [{"loc": ["body", "name"], "msg": "must not be bad", "type": "value_error"}]),
    ],
)
def test_refusals_answer_their_status(name: str, status: int, detail: Any) -> None:
    refused = client_of(command_app()).post("/things", json={"name": name})
    assert refused.status_code == status
    assert refused.json() == {"detail": detail}


def test_an_empty_key_is_refused_naming_the_header() -> None:
    refused = client_of(command_app()).post(
        "/things", json={"name": "a"}, headers={"Idempotency-Key": ""}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


# ----------------------------------------------------------------- optimistic writes


async def test_retry_on_conflict_tries_until_the_write_wins() -> None:
    outcomes: list[str | Lost] = [LOST, LOST, "written"]

    async def attempt() -> str | Lost:
        return outcomes.pop(0)

    assert await retry_on_conflict(attempt, what="thing T-1") == "written"
    assert outcomes == []


async def test_retry_on_conflict_gives_up_naming_what_kept_changing() -> None:
    calls = 0

    async def attempt() -> str | Lost:
        nonlocal calls
        calls += 1
        return LOST

    with pytest.raises(KeptLosing, match="thing T-1 kept changing"):
        await retry_on_conflict(attempt, what="thing T-1", attempts=3)
    assert calls == 3


async def test_an_attempt_may_answer_none() -> None:
    async def attempt() -> int | Lost | None:
        return None

    assert await retry_on_conflict(attempt, what="thing T-1") is None


async def test_retry_until_written_writes_again_only_what_lost() -> None:
    """Each round writes what the last one lost: documents won once are not written again."""
    given: list[set[str]] = []
    losing = {"B": 2, "C": 1}  # how many more times each key's write loses

    async def write(keys: set[str]) -> set[str]:
        given.append(set(keys))
        lost = {k for k in keys if losing.get(k, 0) > 0}
        for k in lost:
            losing[k] -= 1
        return lost

    await retry_until_written(["A", "B", "C", "A"], write, what="the batch's documents")
    assert given == [{"A", "B", "C"}, {"B", "C"}, {"B"}]


async def test_retry_until_written_writes_nothing_for_no_keys() -> None:
    async def write(keys: set[str]) -> set[str]:
        raise AssertionError("nothing to write")

    await retry_until_written(set(), write, what="nothing")


async def test_retry_until_written_gives_up_naming_what_kept_changing() -> None:
    rounds = 0

    async def write(keys: set[int]) -> set[int]:
        nonlocal rounds
        rounds += 1
        return {1}

    with pytest.raises(KeptLosing, match="the ledgers of P-1 kept changing"):
        await retry_until_written({1, 2}, write, what="the ledgers of P-1", attempts=4)
    assert rounds == 4


def test_a_key_with_a_body_that_is_not_json_is_still_a_key() -> None:
    app = authenticated_app()

    @app.post("/things/{thing_id}/approve")
    async def approve(thing_id: str, command: IdempotentCommand) -> dict[str, str | None]:
        return {"digest": None if command is None else command.digest}

    client = client_of(app)
    sent = {"Idempotency-Key": "k", "Content-Type": "text/plain"}
    first = client.post("/things/T-1/approve", content=b"not json", headers=sent)
    again = client.post("/things/T-1/approve", content=b"not json", headers=sent)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["digest"] is not None
