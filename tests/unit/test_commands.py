"""Idempotency-Keys of HTTP commands (shared.commands): how a key is remembered and replayed.

The digests and fingerprints below are stored in existing documents: they must
not change, or retries of commands answered before an upgrade would be
executed again.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.commands import Answer, CommandKey, InvalidField

PATH = "/partners/P-1/contracts"


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


def test_the_fingerprint_follows_the_body() -> None:
    assert key(body=Bracket.model_validate({"to": 100, "from": 0})).fingerprint == key().fingerprint
    assert key(body=Bracket(from_=0, to=101)).fingerprint != key().fingerprint


def test_answers_kept_in_a_list_name_their_key() -> None:
    answer = Answer(201, {"contract_id": "C-1"})
    entry = key().remember(answer)
    assert entry == {
        "key": key().digest,
        "fingerprint": key().fingerprint,
        "status": 201,
        "body": {"contract_id": "C-1"},
    }
    answers = [key("other").remember(Answer(200, {})), entry]
    assert key().find(answers) == Answer(201, {"contract_id": "C-1"}, replayed=True)
    assert key("never-sent").find(answers) is None
    assert key().find([]) is None


def test_answers_kept_by_digest() -> None:
    answer = Answer(200, {"tier": "gold"})
    answers: dict[str, dict[str, Any]] = {key().digest: key().remember_by_digest(answer)}
    assert answers[key().digest] == {
        "fingerprint": key().fingerprint,
        "status": 200,
        "body": {"tier": "gold"},
    }
    assert key().find_by_digest(answers) == Answer(200, {"tier": "gold"}, replayed=True)
    assert key("never-sent").find_by_digest(answers) is None


def test_a_replayed_body_is_a_copy() -> None:
    answers = [key().remember(Answer(201, {"n": 1}))]
    replayed = key().find(answers)
    assert replayed is not None
    replayed.body["n"] = 2
    assert answers[0]["body"] == {"n": 1}


def test_a_key_reused_with_another_body_is_refused_in_either_layout() -> None:
    first = key()
    reused = key(body=Bracket(from_=1, to=100))
    answer = Answer(201, {})
    with pytest.raises(InvalidField) as in_a_list:
        reused.find([first.remember(answer)])
    with pytest.raises(InvalidField) as by_digest:
        reused.find_by_digest({first.digest: first.remember_by_digest(answer)})
    for refused in (in_a_list.value, by_digest.value):
        assert refused.location == ("header", "Idempotency-Key")
        assert refused.message == "this key was already used for a different request"


def test_a_service_can_extend_the_key() -> None:
    class ServiceKey(CommandKey):
        __slots__ = ()

        def suffix(self) -> str:
            return self.digest[:4]

    made = ServiceKey.of("retry-1", PATH, None)
    assert isinstance(made, ServiceKey)
    assert made.suffix() == made.digest[:4]
