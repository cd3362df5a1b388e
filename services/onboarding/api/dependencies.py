"""What the routes are given: the command side and the store, as ``create_app`` wired them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from services.onboarding.commands import OnboardingCommands
from services.onboarding.store import PartnerStore
from shared.routes import wired


def provide(app: FastAPI, commands: OnboardingCommands, store: PartnerStore) -> None:
    """Make ``commands`` and ``store`` what :data:`Commands` and :data:`Partners` give."""
    app.state.commands = commands
    app.state.partners = store


#: A route parameter of this type is onboarding's command side.
Commands = Annotated[OnboardingCommands, Depends(wired("commands"))]
#: A route parameter of this type is the store of partners (for reads).
Partners = Annotated[PartnerStore, Depends(wired("partners"))]
