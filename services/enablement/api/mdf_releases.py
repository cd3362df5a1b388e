"""``/mdf-releases``: release now what approved MDF requests left unclaimed once their
claims closed (docs/rules/enablement.md, "Unclaimed funds"). The service also does it by
itself every ``MDF_RELEASE_INTERVAL_SECONDS``; staff run it at once, for example after
deciding the last claims of a quarter."""

from __future__ import annotations

from fastapi import APIRouter

from services.enablement.api.dependencies import Commands
from services.enablement.views import MdfReleasesView
from shared import access

router = APIRouter(prefix="/mdf-releases", tags=["mdf"])


@router.post(
    "",
    response_model=MdfReleasesView,
    summary="Release unclaimed MDF funds now (MdfFundsReleased for each request that "
    "releases more); idempotent",
    dependencies=[access.StaffAccess],
)
async def release_unclaimed_funds(commands: Commands) -> MdfReleasesView:
    return await commands.release_unclaimed_funds()
