"""What the routes are given: the command side and the reads, as ``create_app`` wired them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status

from services.enablement.commands import EnablementCommands
from services.enablement.queries import EnablementQueries
from services.enablement.views import Refusal
from shared import access


def provide(app: FastAPI, commands: EnablementCommands, queries: EnablementQueries) -> None:
    """Make ``commands`` and ``queries`` what :data:`Commands` and :data:`Queries` give."""
    app.state.commands = commands
    app.state.queries = queries


def _commands(request: Request) -> EnablementCommands:
    commands: EnablementCommands = request.app.state.commands
    return commands


def _queries(request: Request) -> EnablementQueries:
    queries: EnablementQueries = request.app.state.queries
    return queries


#: A route parameter of this type is enablement's command side.
Commands = Annotated[EnablementCommands, Depends(_commands)]
#: A route parameter of this type is enablement's reads.
Queries = Annotated[EnablementQueries, Depends(_queries)]


def forbidden(principal: access.Principal) -> HTTPException:
    """403 for a partner key asking for what is not its own partner's."""
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"this key reads only partner {principal.partner_id}'s data",
    )


def refusals(
    *, not_found: str | None = None, conflict: str | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route's refusals, each with what it means."""
    described = {404: not_found, 409: conflict}
    return {
        code: {"model": Refusal, "description": description}
        for code, description in described.items()
        if description is not None
    }
