"""``/registrations/{registration_id}``: a deal registration and its decision
(``docs/rules/deal-registration.md``)."""

from __future__ import annotations

from fastapi import APIRouter

from services.incentives.api.dependencies import Queries
from services.incentives.views import RegistrationView
from shared import access
from shared.routes import refusals

router = APIRouter(tags=["registrations"])


@router.get(
    "/registrations/{registration_id}",
    summary="A deal registration and its decision",
    responses=refusals(not_found="no such registration"),
)
async def registration(
    registration_id: str, principal: access.Authenticated, queries: Queries
) -> RegistrationView:
    found = await queries.registration(registration_id)
    access.ensure_may_read(principal, found.partner_id)
    return found
