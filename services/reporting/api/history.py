"""``/partners/{partner_id}/history``: every event about a partner, with who caused it, in
the order reporting received it, a window of days at a time (docs/rules/events.md, "A
partner's history")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from services.reporting.api.dependencies import Queries
from services.reporting.history import DEFAULT_DAYS, MAX_DAYS
from services.reporting.views import HistoryView
from shared import access
from shared.commands import InvalidField
from shared.routes import refusals

router = APIRouter(tags=["history"])


@router.get(
    "/partners/{partner_id}/history",
    summary="A partner's history: every event about it, with who caused it, in the order "
    "received, over a window of days",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def history(
    partner_id: str,
    queries: Queries,
    since: Annotated[
        AwareDatetime | None,
        Query(description=f"from this instant (default: {DEFAULT_DAYS} days before until)"),
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="before this instant (default: now)")
    ] = None,
) -> HistoryView:
    """At most 366 days at a time (422 naming ``query.since`` beyond)."""
    end = until or datetime.now(UTC)
    start = since or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InvalidField(("query", "since"), "must be before until")
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidField(("query", "since"), f"at most {MAX_DAYS} days before until")
    return HistoryView.of(partner_id, start, end, await queries.history(partner_id, start, end))
