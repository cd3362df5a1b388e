"""``/mdf-claims``: the claims against MDF requests, across requests and partners: a
partner reads its own, staff any partner's or every partner's (the channel manager's
queue of claims waiting for a decision is ``?status=submitted``). A claim is made and
decided under its request (:mod:`services.enablement.api.mdf`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.enablement.api.dependencies import Queries
from services.enablement.domain import MdfClaimStatus
from services.enablement.views import MdfClaimsView
from shared import access

router = APIRouter(prefix="/mdf-claims", tags=["mdf"])


@router.get(
    "",
    response_model=MdfClaimsView,
    summary="MDF claims across requests, oldest first, by status: a partner its own, "
    "staff any partner's or every partner's",
)
async def mdf_claims(
    principal: access.Authenticated,
    queries: Queries,
    partner_id: str | None = Query(
        default=None, description="the partner's only; a partner's own when left out"
    ),
    status: Annotated[MdfClaimStatus | None, Query(description="only these; left out: any")] = None,
    limit: int = Query(default=100, ge=1, le=1000, description="at most this many, oldest first"),
) -> MdfClaimsView:
    """A partner caller naming another partner is refused (403)."""
    partner_id = access.scoped_partner(principal, partner_id)
    return await queries.mdf_claims(partner_id, status, limit)
