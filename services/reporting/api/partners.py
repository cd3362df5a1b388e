"""``/partners``: the partner 360 of one partner, and of many a page at a time."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Query

from services.reporting.api.dependencies import Reads
from services.reporting.views import PartnersPage, PartnerStatus, PartnerView, TierName
from shared import access
from shared.commands import InvalidField
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
async def partner(partner_id: str, reads: Reads) -> PartnerView:
    return PartnerView.model_validate(await reads.partner(partner_id))


@router.get(
    "/partners",
    summary="Partners, filtered, a page at a time",
    dependencies=[access.StaffAccess],
)
async def partners(
    reads: Reads,
    status: PartnerStatus | None = None,
    tier: TierName | None = None,
    region: str | None = None,
    industry: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = None,
) -> PartnersPage:
    filters = {"status": status, "tier": tier, "region": region, "industry": industry}
    items, more = await reads.partners(filters, limit, partner_after(cursor))
    return PartnersPage(
        items=[PartnerView.model_validate(item) for item in items],
        next_cursor=cursor_after(items[-1]["partner_id"]) if more else None,
    )
