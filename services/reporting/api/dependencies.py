"""What the routes are given: the reads, as ``create_app`` wired them (reporting has no
commands)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from services.reporting.queries import ReportingQueries
from shared.routes import wired


def provide(app: FastAPI, queries: ReportingQueries) -> None:
    """Make ``queries`` what :data:`Queries` gives."""
    app.state.queries = queries


#: A route parameter of this type is reporting's reads.
Queries = Annotated[ReportingQueries, Depends(wired("queries"))]
