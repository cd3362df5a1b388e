"""``/partners/{partner_id}/mdf``: a partner's MDF position per quarter
(docs/rules/enablement.md, "The partner's MDF position")."""

from __future__ import annotations

from fastapi import APIRouter

from services.reporting.api.dependencies import Queries
from services.reporting.views import MdfPositionView
from shared import access
from shared.routes import refusals

router = APIRouter(tags=["mdf"])


@router.get(
    "/partners/{partner_id}/mdf",
    summary="A partner's MDF position: per quarter and currency, requested, approved, "
    "claimed, approved in claims, reimbursed and released unclaimed",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def mdf_position(partner_id: str, queries: Queries) -> MdfPositionView:
    return MdfPositionView.of(partner_id, await queries.mdf(partner_id))
