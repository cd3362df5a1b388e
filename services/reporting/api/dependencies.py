"""What the routes are given: the read models, as ``create_app`` wired them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from services.reporting.queries import ReadModels
from shared.routes import wired


def provide(app: FastAPI, read_models: ReadModels) -> None:
    """Make ``read_models`` what :data:`Reads` gives."""
    app.state.read_models = read_models


#: A route parameter of this type is the read models' queries.
Reads = Annotated[ReadModels, Depends(wired("read_models"))]
