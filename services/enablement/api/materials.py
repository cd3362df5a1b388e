"""``/materials``: sales materials, by product line and tier."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.enablement.api.dependencies import Commands, Queries
from services.enablement.commands import MaterialBody
from services.enablement.domain import TierMismatch
from services.enablement.views import MaterialsView, MaterialView
from shared import access
from shared.commands import InvalidField
from shared.events import Tier
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(tags=["materials"])


@router.post(
    "/materials",
    status_code=201,
    response_model=MaterialView,
    summary="Add a sales material for the tiers allowed to see it",
    dependencies=[access.StaffAccess],
)
async def add_material(
    body: MaterialBody, key: IdempotentCommand, commands: Commands
) -> JSONResponse:
    return respond(await commands.add_material(body, key))


@router.get(
    "/materials",
    response_model=MaterialsView,
    responses=refusals(not_found="the partner is not known", conflict="the partner may not act"),
    summary="Sales materials by product line and tier, or those a partner's tier may see",
)
async def materials(
    principal: access.Authenticated,
    queries: Queries,
    product_line: str | None = None,
    tier: Tier | None = None,
    partner_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> MaterialsView:
    """A partner key sees its own partner's tier's materials only."""
    partner_id = access.scoped_partner(principal, partner_id)
    try:
        return await queries.materials(product_line, tier, partner_id, limit)
    except TierMismatch as mismatch:
        if principal.is_partner:
            raise access.forbidden(principal) from None
        raise InvalidField(("query", "tier"), mismatch.reason) from None
