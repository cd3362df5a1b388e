"""Commands, the same way in every service: idempotency, answers, refusals, retries.

A command changes one document. With an ``Idempotency-Key`` header, that same
write also remembers the answer given; a retry with the same key finds the
answer there and gets it back unchanged (``Idempotent-Replayed: true``),
without writing or publishing anything. Only successful answers are
remembered: a refused command changed nothing and may be retried. The rule is
written out in ``docs/architecture.md`` ("Commands").

How routes take the key and answer is :mod:`shared.routes`; this module has no
HTTP in it, so a ``domain.py`` may raise its refusals.

A key is remembered as :class:`CommandKey`: the SHA-256 of (request path, key,
and for a partner caller its partner: partners' keys never meet) and a
fingerprint of the body (the SHA-256 of its JSON with sorted keys). The same
key with a different body is refused with :class:`InvalidField` (422).
What a command creates can take its id from the key (:attr:`CommandKey.derived_id`),
so two concurrent deliveries of one command meet on the same document.
Remembered answers live in a map from the key's digest to the answer, inside
the document the command changed (:meth:`CommandKey.remember`,
:meth:`CommandKey.find`).

Refusals are exceptions that every service answers the same way
(:func:`shared.routes.install_error_handlers`, called by
:func:`shared.service.service_app`): :class:`InvalidField` 422 naming the field,
:class:`NotFound` 404, :class:`Conflict` 409. A service's own refusals subclass these.

Writes are optimistic: read, change, write if unchanged. :func:`retry_on_conflict`
runs such an attempt again while another writer got there first;
:func:`retry_until_written` does it for many documents written together (a
consumer's batch, a settlement run), writing again only those whose write lost.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Final, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

# ----------------------------------------------------------------- bodies

#: An id a command body names (a deal's, a partner's, …).
Identifier = Annotated[str, Field(min_length=1, max_length=200)]
#: A short text a person writes (a reason, a note, a name).
Text = Annotated[str, Field(min_length=1, max_length=500)]
#: A longer text a person writes (a question, an answer).
Message = Annotated[str, Field(min_length=1, max_length=2000)]


class CommandBody(BaseModel):
    """A command's JSON body: fields it does not know are ignored, text is stripped (a
    text of blanks is empty, and refused where one is required)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


# ----------------------------------------------------------------- answers and refusals


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


class NotFound(Exception):
    """What the command names does not exist (HTTP 404); the message says what."""


class Conflict(Exception):
    """The command contradicts the current state (HTTP 409); the message says why."""


class Forbidden(Exception):
    """The caller may not do this, whatever its role (HTTP 403); the message says why."""


# ----------------------------------------------------------------- the Idempotency-Key


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CommandKey:
    """An Idempotency-Key as remembered: a digest of (path, key) and the body's fingerprint."""

    digest: str
    fingerprint: str

    @classmethod
    def of(
        cls,
        key: str | None,
        path: str,
        body: BaseModel | Any | None,
        *,
        partner_id: str | None = None,
    ) -> Self | None:
        """The key of a command to ``path`` with ``body`` (a model or its JSON value);
        ``None`` when it was sent without one. A partner caller's key is its partner's
        own (``partner_id``): two partners sending the same key send two commands."""
        if key is None:
            return None
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json", by_alias=True)
        scope = "" if partner_id is None else f"\n{partner_id}"
        return cls(
            digest=hashlib.sha256(f"{path}\n{key}{scope}".encode()).hexdigest(),
            fingerprint=_fingerprint(body),
        )

    @property
    def derived_id(self) -> str:
        """The id of what the command creates: the same for every delivery of the command."""
        return str(uuid.uuid5(uuid.NAMESPACE_OID, self.digest))

    def remember(self, answers: MutableMapping[str, Any], answer: Answer) -> None:
        """Remember ``answer`` in ``answers``, a document's map from digests to answers."""
        answers[self.digest] = {
            "fingerprint": self.fingerprint,
            "status": answer.status,
            "body": answer.body,
        }

    def find(self, answers: Mapping[str, Mapping[str, Any]]) -> Answer | None:
        """The answer remembered for this key in ``answers``, if one was given;
        :class:`InvalidField` if it was given to a different body."""
        remembered = answers.get(self.digest)
        if remembered is None:
            return None
        if remembered["fingerprint"] != self.fingerprint:
            raise InvalidField(
                ("header", "Idempotency-Key"), "this key was already used for a different request"
            )
        return Answer(int(remembered["status"]), dict(remembered["body"]), replayed=True)


# ----------------------------------------------------------------- optimistic writes


class _Lost(Enum):
    LOST = "lost"


#: What an attempt of :func:`retry_on_conflict` returns when another writer got there first.
LOST: Final = _Lost.LOST
Lost = Literal[_Lost.LOST]

#: How many times a write is tried before giving up.
MAX_WRITE_ATTEMPTS = 20

T = TypeVar("T")
K = TypeVar("K")


class KeptLosing(RuntimeError):
    """Every attempt of a write lost to another writer: a fault, not a refusal (HTTP 500)."""


async def retry_on_conflict(
    attempt: Callable[[], Awaitable[T | Lost]],
    *,
    what: str,
    attempts: int = MAX_WRITE_ATTEMPTS,
) -> T:
    """Run ``attempt`` (read, decide, write if unchanged) until it does not return
    :data:`LOST`; after ``attempts`` losses raise :class:`KeptLosing` naming ``what``."""
    for _ in range(attempts):
        result = await attempt()
        if result is not LOST:
            return result
    raise KeptLosing(f"{what} kept changing under this write ({attempts} attempts)")


async def retry_until_written(
    keys: Iterable[K],
    write: Callable[[set[K]], Awaitable[set[K]]],
    *,
    what: str,
    attempts: int = MAX_WRITE_ATTEMPTS,
) -> None:
    """Write the documents of ``keys`` until none is lost: ``write`` reads, decides and
    writes (each if unchanged) the documents of the keys it is given and returns those
    whose write lost, which it is given again. Nothing to write: returns at once. After
    ``attempts`` writes that each lost some, :class:`KeptLosing` naming ``what``."""
    pending = set(keys)

    async def attempt() -> Lost | None:
        nonlocal pending
        pending = await write(pending)
        return LOST if pending else None

    if pending:
        await retry_on_conflict(attempt, what=what, attempts=attempts)
