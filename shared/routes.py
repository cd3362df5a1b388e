"""What every service's routes share: the Idempotency-Key, answers, refusals, wiring,
and how money and instants appear in a response body.

A command route takes the key with :data:`IdempotentCommand` and answers the
command's :class:`~shared.commands.Answer` with :func:`respond`::

    @router.post("/things", status_code=201, response_model=ThingView)
    async def add(body: ThingBody, key: IdempotentCommand, commands: Commands) -> JSONResponse:
        return respond(await commands.add(body, key))

``Commands`` (and ``Queries``) is what the service's wiring put on the app
(:func:`wired`), declared in the service's ``api/dependencies.py``::

    Commands = Annotated[ThingCommands, Depends(wired("commands"))]
    app.state.commands = ThingCommands(...)   # provide(app, ...), called by create_app

:func:`install_error_handlers` (called by :func:`shared.service.service_app`)
answers the refusals of :mod:`shared.commands` the same way in every service.

A response model (a service's ``views.py``) types money as :data:`MoneyText` and
instants as :data:`InstantText`: the view builds the text (``str(amount)``,
``instant.isoformat()``), and these types document it in the OpenAPI document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared import access
from shared.commands import Answer, CommandKey, Conflict, Forbidden, InvalidField, NotFound
from shared.events import DECIMAL_PATTERN

#: Money in a response body: a decimal string, never a JSON number. The pattern documents
#: the text; the view formats it (``str(amount)``; reporting: two decimals).
MoneyText = Annotated[
    str,
    Field(
        description='a decimal amount as a string, e.g. "1234.50"',
        json_schema_extra={"pattern": DECIMAL_PATTERN},
    ),
]

#: An instant in a response body: ISO 8601 text with its UTC offset (or ``Z``).
InstantText = Annotated[
    str,
    Field(
        description="an ISO 8601 instant with its UTC offset, e.g. 2026-11-10T12:00:00+00:00",
        json_schema_extra={"format": "date-time"},
    ),
]


class AdjustmentView(BaseModel):
    """An amount carried to, or left pending against, one settled period."""

    period: str
    amount: MoneyText


class Refusal(BaseModel):
    """The body of a 404 or 409: what was not found, or why the command was refused."""

    detail: str


def refusals(
    *, not_found: str | None = None, conflict: str | None = None
) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses`` for OpenAPI: each refusal it may answer, with what it means."""
    described = {404: not_found, 409: conflict}
    return {
        code: {"model": Refusal, "description": description}
        for code, description in described.items()
        if description is not None
    }


def respond(answer: Answer) -> JSONResponse:
    """``answer`` as the HTTP response, marked ``Idempotent-Replayed`` when remembered."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


def unprocessable(location: tuple[str, ...], message: str) -> JSONResponse:
    """A 422 in FastAPI's own shape, so clients read one error format."""
    detail = [{"loc": list(location), "msg": message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _invalid_field(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidField)
    return unprocessable(exc.location, exc.message)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=403)


def install_error_handlers(app: FastAPI) -> None:
    """Answer :class:`InvalidField`, :class:`NotFound`, :class:`Conflict` and
    :class:`Forbidden` (and their subclasses) with 422, 404, 409 and 403."""
    app.add_exception_handler(InvalidField, _invalid_field)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(Forbidden, _forbidden)


async def command_key(
    request: Request,
    principal: access.Authenticated,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="a retried command with the same key returns the first answer",
        ),
    ] = None,
) -> CommandKey | None:
    """The request's :class:`CommandKey` (FastAPI dependency); ``None`` without the header.

    The body is fingerprinted as the JSON value it holds, so the same value sent
    with other spacing or key order is the same command; a body that is not JSON
    (which a route without a body ignores) is fingerprinted as its text. A partner
    caller's key is scoped to its partner, so one partner's key never replays another's
    answer nor meets another's document."""
    if idempotency_key is None:
        return None
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("latin-1")
    return CommandKey.of(idempotency_key, request.url.path, body, partner_id=principal.partner_id)


#: A route parameter of this type is the command's Idempotency-Key, if it was sent.
IdempotentCommand = Annotated[CommandKey | None, Depends(command_key)]


def wired(name: str) -> Callable[[Request], Any]:
    """A dependency giving ``app.state.<name>``: what the service's ``create_app`` wired
    there (its commands, its reads), so routes never build their own."""

    def from_app(request: Request) -> Any:
        return getattr(request.app.state, name)

    from_app.__name__ = f"wired_{name}"
    return from_app
