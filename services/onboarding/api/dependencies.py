"""What the routes are given: the command side and the reads, as ``create_app`` wired them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from services.onboarding.commands import OnboardingCommands
from services.onboarding.queries import OnboardingQueries
from shared.routes import wired


def provide(app: FastAPI, commands: OnboardingCommands, queries: OnboardingQueries) -> None:
    """Make ``commands`` and ``queries`` what :data:`Commands` and :data:`Queries` give."""
    app.state.commands = commands
    app.state.queries = queries


#: A route parameter of this type is onboarding's command side.
Commands = Annotated[OnboardingCommands, Depends(wired("commands"))]
#: A route parameter of this type is onboarding's reads.
Queries = Annotated[OnboardingQueries, Depends(wired("queries"))]
