"""``/partners/{partner_id}/health``: a partner's health score (docs/rules/health-score.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.reporting.api.dependencies import Reads
from services.reporting.views import HealthView
from shared import access
from shared.routes import refusals

router = APIRouter(tags=["partners"])


@router.get(
    "/partners/{partner_id}/health",
    summary="Partner health score with its factors (formula in the README)",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def partner_health(
    partner_id: str, reads: Reads, as_of: datetime | None = None
) -> HealthView:
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    return HealthView.of(partner_id, moment, await reads.health(partner_id, moment))
