"""What the routes are given: the command side and the reads, as ``create_app`` wired them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from services.incentives.commands import IncentivesCommands
from services.incentives.queries import IncentivesQueries
from shared.routes import wired


def provide(app: FastAPI, commands: IncentivesCommands, queries: IncentivesQueries) -> None:
    """Make ``commands`` and ``queries`` what :data:`Commands` and :data:`Queries` give."""
    app.state.commands = commands
    app.state.queries = queries


#: A route parameter of this type is incentives' command side: registering deals, settling
#: periods.
Commands = Annotated[IncentivesCommands, Depends(wired("commands"))]
#: A route parameter of this type is incentives' reads.
Queries = Annotated[IncentivesQueries, Depends(wired("queries"))]
