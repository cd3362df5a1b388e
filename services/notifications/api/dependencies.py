"""What the routes are given: the command side and the reads, as ``create_app`` wired them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from services.notifications.commands import NotificationsCommands
from services.notifications.queries import NotificationsQueries
from shared.routes import wired


def provide(app: FastAPI, commands: NotificationsCommands, queries: NotificationsQueries) -> None:
    """Make ``commands`` and ``queries`` what :data:`Commands` and :data:`Queries` give."""
    app.state.commands = commands
    app.state.queries = queries


#: A route parameter of this type is notifications' command side.
Commands = Annotated[NotificationsCommands, Depends(wired("commands"))]
#: A route parameter of this type is notifications' reads.
Queries = Annotated[NotificationsQueries, Depends(wired("queries"))]
