"""``/registrations``: registering a deal (self-service), the registrations a page at a
time, and a registration with its decision (``docs/rules/deal-registration.md``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.incentives.api.dependencies import Commands, Queries
from services.incentives.commands import RegistrationBody
from services.incentives.views import (
    RegistrationAnswer,
    RegistrationStatus,
    RegistrationsView,
    RegistrationView,
)
from shared import access
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(tags=["registrations"])


@router.post(
    "/registrations",
    status_code=202,
    response_model=RegistrationAnswer,
    summary="Register a deal (DealRegistered), decided later: a partner for itself, staff for "
    "the partner named",
)
async def register(
    body: RegistrationBody, key: IdempotentCommand, caller: access.SelfService, commands: Commands
) -> JSONResponse:
    partner_id = access.acting_partner(caller, body.partner_id)
    return respond(await commands.register(body, key, partner_id=partner_id, actor=caller.actor))


@router.get(
    "/registrations",
    summary="Deal registrations, decided or pending, newest first, a page at a time: a "
    "partner its own, staff any partner's or every partner's",
)
async def registrations(
    principal: access.Authenticated,
    queries: Queries,
    partner_id: str | None = Query(
        default=None, description="the partner's only; a partner's own when left out"
    ),
    status: Annotated[
        list[RegistrationStatus] | None,
        Query(description="only these (repeat it for several); left out: any"),
    ] = None,
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = Query(default=None, description="next_cursor of the previous page"),
) -> RegistrationsView:
    """A partner caller naming another partner is refused (403)."""
    partner_id = access.scoped_partner(principal, partner_id)
    return await queries.registrations(partner_id, status, limit, cursor)


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
