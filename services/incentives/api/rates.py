"""``/rates``: the exchange rates incentives knows from ``rates.v1`` (docs/rules/fx.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.incentives.api.dependencies import Queries
from services.incentives.views import RatesView
from shared import access
from shared.events import Currency

router = APIRouter(tags=["rates"])


@router.get(
    "/rates",
    response_model=RatesView,
    summary="The exchange rates known, each pair and day as it stands (corrections applied)",
    dependencies=[access.SharedReadAccess],
)
async def rates(
    queries: Queries,
    base: Annotated[Currency | None, Query(description="only rates from this currency")] = None,
    quote: Annotated[Currency | None, Query(description="only rates into this currency")] = None,
) -> RatesView:
    """Any signed-in caller: rates are about no partner."""
    return await queries.rates(base, quote)
