"""``/partners/{partner_id}/statements/{period}``: a partner's commission statement, as it
is or as it was known at an instant, and what changed it since an instant
(docs/rules/commissions.md, "Explaining a number")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from services.reporting.api.dependencies import Queries
from services.reporting.views import StatementChangesView, StatementView
from shared import access
from shared.events import PERIOD_PATTERN
from shared.routes import refusals

router = APIRouter(tags=["statements"])


@router.get(
    "/partners/{partner_id}/statements/{period}",
    summary="A partner's commission statement for one period",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def statement(
    partner_id: str,
    queries: Queries,
    period: str = Path(pattern=PERIOD_PATTERN, description="2026-Q4, …"),
    as_of: Annotated[
        AwareDatetime | None,
        Query(
            description="the statement as the platform knew it then: events received later "
            "(by their Kafka timestamp) left out; an instant with its offset, such as "
            "2026-12-01T00:00:00Z"
        ),
    ] = None,
) -> StatementView:
    return StatementView.of(await queries.statement(partner_id, period, as_of))


@router.get(
    "/partners/{partner_id}/statements/{period}/changes",
    summary="What changed a statement since an instant: each event, its delta and why",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def changes(
    partner_id: str,
    queries: Queries,
    since: Annotated[
        AwareDatetime,
        Query(description="an instant with its offset, such as 2026-12-01T00:00:00Z"),
    ],
    period: str = Path(pattern=PERIOD_PATTERN, description="2026-Q4, …"),
) -> StatementChangesView:
    return StatementChangesView.of(since, await queries.changes(partner_id, period, since))
