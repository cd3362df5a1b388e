"""``/registrations/{registration_id}``: a deal registration and its decision
(``docs/rules/deal-registration.md``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.incentives.api import InstantText, Reads
from shared import access
from shared.commands import NotFound
from shared.routes import refusals


class RegistrationView(BaseModel):
    """A registration as the partner sent it, and what was decided."""

    registration_id: str
    deal_id: str
    partner_id: str
    customer: str
    product_line: str
    registered_at: InstantText
    status: Literal["pending", "approved", "rejected"]
    reason: str | None = Field(description="why it was rejected, e.g. channel_conflict")
    decided_at: InstantText | None = Field(description="when incentives decided; null: pending")


router = APIRouter(tags=["registrations"])


@router.get(
    "/registrations/{registration_id}",
    summary="A deal registration and its decision",
    responses=refusals(not_found="no such registration"),
)
async def registration(
    registration_id: str, principal: access.Authenticated, reads: Reads
) -> RegistrationView:
    found = await reads.registration(registration_id)
    if found is None:
        raise NotFound(f"no registration {registration_id}")
    registered, decision = found
    if not principal.may_read_partner(registered.partner_id):
        raise access.forbidden(principal)
    return RegistrationView(
        registration_id=registered.registration_id,
        deal_id=registered.deal_id,
        partner_id=registered.partner_id,
        customer=registered.customer,
        product_line=registered.product_line,
        registered_at=registered.registered_at.isoformat(),
        status="pending" if decision is None else ("approved" if decision.approved else "rejected"),
        reason=None if decision is None else decision.reason,
        decided_at=None if decision is None else decision.decided_at.isoformat(),
    )
