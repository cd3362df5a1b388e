"""``/registrations``: registering a deal (self-service), and a registration with its
decision (``docs/rules/deal-registration.md``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.incentives.api.dependencies import Commands, Queries
from services.incentives.commands import RegistrationBody
from services.incentives.views import RegistrationAnswer, RegistrationView
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
