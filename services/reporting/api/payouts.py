"""Payouts: a partner's settlements and what is pending per period, and a settlement's
export for finance (docs/rules/settlement.md)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from services.reporting.api.dependencies import Queries
from services.reporting.views import PayoutsView, finance_csv
from shared import access
from shared.routes import Refusal, refusals

router = APIRouter(tags=["payouts"])


@router.get(
    "/partners/{partner_id}/payouts",
    summary="A partner's settlements, and per period: current total, paid, pending adjustment",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def payouts(partner_id: str, queries: Queries) -> PayoutsView:
    return PayoutsView.of(partner_id, await queries.payouts(partner_id))


@router.get(
    "/settlements/{settlement_id}/export.csv",
    summary="A settlement for finance: one CSV row per partner",
    dependencies=[access.StaffAccess],
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}},
        404: {"model": Refusal, "description": "no such settlement"},
    },
)
async def settlement_csv(settlement_id: str, queries: Queries) -> Response:
    return Response(
        finance_csv(await queries.settlement(settlement_id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="settlement-{settlement_id}.csv"'},
    )
