"""``/commissions/{deal_id}`` and ``/partners/{partner_id}/commissions``: commission lines
with their breakdown (``docs/rules/commissions.md``)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.incentives.api.dependencies import Queries
from services.incentives.views import DealCommissionView, PartnerCommissionsView
from shared import access
from shared.events import PERIOD_PATTERN
from shared.routes import refusals

router = APIRouter(tags=["commissions"])


@router.get(
    "/commissions/{deal_id}",
    summary="A deal's commission with its breakdown and revisions",
    responses=refusals(not_found="no commission for the deal"),
)
async def commission(
    deal_id: str, principal: access.Authenticated, queries: Queries
) -> DealCommissionView:
    found = await queries.deal_commission(deal_id)
    access.ensure_may_read(principal, found.partner_id)
    return found


@router.get(
    "/partners/{partner_id}/commissions",
    summary="A partner's current commission lines, optionally for one period",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no commission data for the partner"),
)
async def partner_commissions(
    partner_id: str,
    queries: Queries,
    period: str | None = Query(default=None, pattern=PERIOD_PATTERN),
) -> PartnerCommissionsView:
    return await queries.partner_commissions(partner_id, period)
