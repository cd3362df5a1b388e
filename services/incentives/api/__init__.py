"""Incentives' HTTP API: one router per resource (commissions, registrations,
settlements, simulations), each answering with its pydantic response models.

Routes are given what ``create_app`` wired (:func:`provide`): the store's reads
(:data:`Reads`) and the settlements (:data:`Settling`). What the routers share
besides: how money and instants appear in a response, and the refusal of a
partner nobody knows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import Field

from services.incentives.settlements import Settlements
from services.incentives.store import ReadStore
from shared.commands import NotFound
from shared.routes import wired


def provide(app: FastAPI, reads: ReadStore, settlements: Settlements) -> None:
    """Make ``reads`` and ``settlements`` what :data:`Reads` and :data:`Settling` give."""
    app.state.reads = reads
    app.state.settlements = settlements


#: A route parameter of this type reads incentives' store.
Reads = Annotated[ReadStore, Depends(wired("reads"))]
#: A route parameter of this type settles periods.
Settling = Annotated[Settlements, Depends(wired("settlements"))]

#: Money in a response: a decimal string, e.g. ``"1234.50"``.
MoneyText = Annotated[str, Field(description='a decimal amount as a string, e.g. "1234.50"')]
#: An instant in a response: ISO 8601 with its UTC offset.
InstantText = Annotated[str, Field(description="ISO 8601 instant, e.g. 2026-11-10T12:00:00+00:00")]


class NoCommissionData(NotFound):
    """Nothing is known of the partner's commissions (HTTP 404)."""

    def __init__(self, partner_id: str) -> None:
        super().__init__(f"no commission data for partner {partner_id}")
