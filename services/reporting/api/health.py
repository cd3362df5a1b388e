"""Health (docs/rules/health-score.md): ``/partners/at-risk``, the active partners at risk
across the programme; ``/partners/{partner_id}/health``, one partner's score.

``/partners/at-risk`` must be matched before ``/partners/{partner_id}`` (which would
take ``at-risk`` for a partner id): ``ROUTERS`` includes this router before the
partners' one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from services.reporting.api.dependencies import Queries
from services.reporting.views import HealthView, PartnersAtRiskView
from shared import access
from shared.routes import refusals

router = APIRouter(tags=["partners"])

AsOf = Annotated[
    datetime | None, Query(description="the instant to score at (UTC when it has no offset)")
]


def scoring_moment(as_of: datetime | None) -> datetime:
    """The instant a score is computed at, in UTC: ``as_of`` (UTC when it has no offset),
    else now."""
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    return (as_of or datetime.now(UTC)).astimezone(UTC)


@router.get(
    "/partners/at-risk",
    summary="The active partners at risk, lowest health score first (docs/rules/health-score.md)",
    dependencies=[access.StaffAccess],
)
async def partners_at_risk(
    queries: Queries,
    as_of: AsOf = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> PartnersAtRiskView:
    moment = scoring_moment(as_of)
    return PartnersAtRiskView.of(moment, await queries.partners_at_risk(moment, limit))


@router.get(
    "/partners/{partner_id}/health",
    summary="Partner health score with its factors (docs/rules/health-score.md)",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def partner_health(partner_id: str, queries: Queries, as_of: AsOf = None) -> HealthView:
    moment = scoring_moment(as_of)
    return HealthView.of(partner_id, moment, await queries.health(partner_id, moment))
