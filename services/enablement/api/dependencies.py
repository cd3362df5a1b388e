"""What the routes are given: the command side and the reads, as ``create_app`` wired them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from services.enablement.commands import EnablementCommands
from services.enablement.queries import EnablementQueries
from shared.routes import wired


def provide(app: FastAPI, commands: EnablementCommands, queries: EnablementQueries) -> None:
    """Make ``commands`` and ``queries`` what :data:`Commands` and :data:`Queries` give."""
    app.state.commands = commands
    app.state.queries = queries


#: A route parameter of this type is enablement's command side.
Commands = Annotated[EnablementCommands, Depends(wired("commands"))]
#: A route parameter of this type is enablement's reads.
Queries = Annotated[EnablementQueries, Depends(wired("queries"))]
