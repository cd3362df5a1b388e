"""HTTP commands sent with an ``Idempotency-Key``: the answer, and remembering it for a retry.

The producer-side half of exactly-once effect (the consumer-side half is
:mod:`shared.idempotency`). A command changes one document; with a key, that
same write also remembers the answer given. A retry with the same key finds
the answer there and gets it back unchanged (``replayed``), without writing or
publishing anything. Only successful answers are remembered: a refused command
changed nothing and may be retried.

A key is remembered as :class:`CommandKey`: the SHA-256 of (request path, key)
and a fingerprint of the body (the SHA-256 of its JSON with sorted keys). The
same key with a different body is refused with :class:`InvalidField` (422).
What a command creates can take its id from the key (:attr:`CommandKey.derived_id`),
so two concurrent deliveries of one command meet on the same document.

Stored data uses two layouts, both kept: a list of answers each naming its
key (:meth:`CommandKey.remember`, :meth:`CommandKey.find`), or a map from the
key's digest to the answer (:meth:`CommandKey.remember_by_digest`,
:meth:`CommandKey.find_by_digest`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Answer:
    """What a command answers: HTTP status and JSON body; ``replayed`` when remembered."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class InvalidField(Exception):
    """A request the rules refuse because of one field (HTTP 422, naming the field)."""

    def __init__(self, location: tuple[str, ...], message: str) -> None:
        super().__init__(f"{'.'.join(location)}: {message}")
        self.location = location
        self.message = message


@dataclass(frozen=True, slots=True)
class CommandKey:
    """An Idempotency-Key as remembered: a digest of (path, key) and the body's fingerprint."""

    digest: str
    fingerprint: str

    @classmethod
    def of(cls, key: str | None, path: str, body: BaseModel | None) -> Self | None:
        """The key of a command to ``path``; ``None`` when it was sent without one."""
        if key is None:
            return None
        canonical = json.dumps(
            None if body is None else body.model_dump(mode="json", by_alias=True), sort_keys=True
        )
        return cls(
            digest=hashlib.sha256(f"{path}\n{key}".encode()).hexdigest(),
            fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        )

    @property
    def derived_id(self) -> str:
        """The id of what the command creates: the same for every delivery of the command."""
        return str(uuid.uuid5(uuid.NAMESPACE_OID, self.digest))

    def remember(self, answer: Answer) -> dict[str, Any]:
        """``answer`` as an entry of a list of remembered answers (it names its key)."""
        return {"key": self.digest, **self.remember_by_digest(answer)}

    def find(self, answers: Iterable[Mapping[str, Any]]) -> Answer | None:
        """The first answer to this key in a list of entries, if one was given."""
        for remembered in answers:
            if remembered["key"] == self.digest:
                return self.replay(remembered)
        return None

    def remember_by_digest(self, answer: Answer) -> dict[str, Any]:
        """``answer`` as remembered in a map under this key's :attr:`digest`."""
        return {"fingerprint": self.fingerprint, "status": answer.status, "body": answer.body}

    def find_by_digest(self, answers: Mapping[str, Mapping[str, Any]]) -> Answer | None:
        """The first answer to this key in a map from digests, if one was given."""
        remembered = answers.get(self.digest)
        return None if remembered is None else self.replay(remembered)

    def replay(self, remembered: Mapping[str, Any]) -> Answer:
        """The remembered answer, again; :class:`InvalidField` if it was for another body."""
        if remembered["fingerprint"] != self.fingerprint:
            raise InvalidField(
                ("header", "Idempotency-Key"), "this key was already used for a different request"
            )
        return Answer(int(remembered["status"]), dict(remembered["body"]), replayed=True)
