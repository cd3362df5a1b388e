"""Incentives' HTTP API: one router per resource (commissions, registrations,
settlements, simulations), each answering with its pydantic response models.

Routes are given what ``create_app`` wired (:func:`provide`): the store's reads
(:data:`Reads`) and the settlements (:data:`Settling`). What the routers share
besides: how money and instants appear in a response, the body of a refusal,
and the refusal of a partner nobody knows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel, Field

from services.incentives.settlements import Settlements
from services.incentives.store import ReadStore
from shared import access
from shared.commands import NotFound


def provide(app: FastAPI, reads: ReadStore, settlements: Settlements) -> None:
    """Make ``reads`` and ``settlements`` what :data:`Reads` and :data:`Settling` give."""
    app.state.reads = reads
    app.state.settlements = settlements


def _reads(request: Request) -> ReadStore:
    reads: ReadStore = request.app.state.reads
    return reads


def _settlements(request: Request) -> Settlements:
    settlements: Settlements = request.app.state.settlements
    return settlements


#: A route parameter of this type reads incentives' store.
Reads = Annotated[ReadStore, Depends(_reads)]
#: A route parameter of this type settles periods.
Settling = Annotated[Settlements, Depends(_settlements)]

#: Money in a response: a decimal string, e.g. ``"1234.50"``.
MoneyText = Annotated[str, Field(description='a decimal amount as a string, e.g. "1234.50"')]
#: An instant in a response: ISO 8601 with its UTC offset.
InstantText = Annotated[str, Field(description="ISO 8601 instant, e.g. 2026-11-10T12:00:00+00:00")]


class Detail(BaseModel):
    """A refusal: what was not found, or why not."""

    detail: str


class NoCommissionData(NotFound):
    """Nothing is known of the partner's commissions (HTTP 404)."""

    def __init__(self, partner_id: str) -> None:
        super().__init__(f"no commission data for partner {partner_id}")


def forbidden(principal: access.Principal) -> HTTPException:
    """403 for a partner key asking for another partner's data."""
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"this key reads only partner {principal.partner_id}'s data",
    )
