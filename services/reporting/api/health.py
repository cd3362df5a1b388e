"""``/partners/{partner_id}/health``: a partner's health score (docs/rules/health-score.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from services.reporting.api.dependencies import Queries
from services.reporting.views import HealthView
from shared import access
from shared.routes import refusals

router = APIRouter(tags=["partners"])


@router.get(
    "/partners/{partner_id}/health",
    summary="Partner health score with its factors (docs/rules/health-score.md)",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def partner_health(
    partner_id: str,
    queries: Queries,
    as_of: Annotated[
        datetime | None, Query(description="the instant to score at (UTC when it has no offset)")
    ] = None,
) -> HealthView:
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    return HealthView.of(partner_id, moment, await queries.health(partner_id, moment))
