"""``/partners``: the partner 360 of one partner, and of many a page at a time."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query

from services.reporting.api.dependencies import Queries
from services.reporting.views import Partner360View, PartnersView
from shared import access
from shared.commands import InvalidField
from shared.events import Capability, PartnerStatus, Tier
from shared.routes import refusals

router = APIRouter(tags=["partners"])


def cursor_after(partner_id: str) -> str:
    """The cursor of the page after the partner ``partner_id``."""
    return base64.urlsafe_b64encode(partner_id.encode()).decode()


def partner_after(cursor: str | None) -> str | None:
    """The partner id a cursor continues after; :class:`InvalidField` if it is none."""
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidField(("query", "cursor"), "not a cursor this API returned") from None


@router.get(
    "/partners/{partner_id}",
    summary="Partner 360",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no such partner"),
)
async def partner(partner_id: str, queries: Queries) -> Partner360View:
    return Partner360View.model_validate(await queries.partner(partner_id))


@router.get(
    "/partners",
    summary="Partners, filtered, a page at a time",
    dependencies=[access.StaffAccess],
)
async def partners(
    queries: Queries,
    status: PartnerStatus | None = None,
    tier: Tier | None = None,
    region: str | None = None,
    industry: str | None = None,
    capability: Annotated[
        Capability | None,
        Query(description="only partners that said they can do this when they applied"),
    ] = None,
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = None,
) -> PartnersView:
    filters = {
        "status": None if status is None else status.value,
        "tier": None if tier is None else tier.value,
        "region": region,
        "industry": industry,
        "capabilities": None if capability is None else capability.value,
    }
    items, more = await queries.partners(filters, limit, partner_after(cursor))
    return PartnersView(
        items=[Partner360View.model_validate(item) for item in items],
        next_cursor=cursor_after(items[-1]["partner_id"]) if more else None,
    )
