"""``/registrations``: registering a deal (self-service), the registrations a page at a
time, a registration with its decision, extending its protection (asked for by the
partner, answered by a channel manager) and deciding it by hand
(``docs/rules/deal-registration.md``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.incentives.api.dependencies import Commands, Queries
from services.incentives.commands import (
    DecisionBody,
    ExtensionBody,
    ExtensionGrantBody,
    ExtensionRefusalBody,
    RegistrationBody,
)
from services.incentives.views import (
    ExtensionAnswerView,
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
    extension: Literal["requested"] | None = Query(
        default=None, description="requested: only those with an extension request waiting"
    ),
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = Query(default=None, description="next_cursor of the previous page"),
) -> RegistrationsView:
    """A partner caller naming another partner is refused (403)."""
    partner_id = access.scoped_partner(principal, partner_id)
    return await queries.registrations(
        partner_id, status, limit, cursor, extension_waiting=extension == "requested"
    )


@router.get(
    "/registrations/{registration_id}",
    summary="A deal registration: its decision, how long it protects, its extensions",
    responses=refusals(not_found="no such registration"),
)
async def registration(
    registration_id: str, principal: access.Authenticated, queries: Queries
) -> RegistrationView:
    found = await queries.registration(registration_id)
    access.ensure_may_read(principal, found.partner_id)
    return found


@router.post(
    "/registrations/{registration_id}/extension",
    status_code=202,
    response_model=ExtensionAnswerView,
    summary="Ask for a registration's protection to last longer "
    "(DealRegistrationExtensionRequested): a partner for its own, staff for any",
    responses=refusals(
        not_found="no such registration",
        conflict="not approved, expired, extended twice already, or a request waits",
    ),
)
async def request_extension(
    registration_id: str,
    body: ExtensionBody,
    key: IdempotentCommand,
    caller: access.SelfService,
    queries: Queries,
    commands: Commands,
) -> JSONResponse:
    found = await queries.registration(registration_id)
    access.ensure_may_read(caller, found.partner_id)
    return respond(await commands.request_extension(registration_id, body, key, actor=caller.actor))


@router.post(
    "/registrations/{registration_id}/extension/approve",
    dependencies=[access.StaffAccess],
    response_model=RegistrationView,
    summary="Grant the extension request that waits (DealRegistrationExtended)",
    responses=refusals(not_found="no such registration", conflict="no request waits"),
)
async def approve_extension(
    registration_id: str,
    body: ExtensionGrantBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.answer_extension(registration_id, body, key, actor=actor))


@router.post(
    "/registrations/{registration_id}/extension/reject",
    dependencies=[access.StaffAccess],
    response_model=RegistrationView,
    summary="Refuse the extension request that waits (DealRegistrationExtensionRejected)",
    responses=refusals(not_found="no such registration", conflict="no request waits"),
)
async def reject_extension(
    registration_id: str,
    body: ExtensionRefusalBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.answer_extension(registration_id, body, key, actor=actor))


@router.post(
    "/registrations/{registration_id}/decision",
    dependencies=[access.StaffAccess],
    response_model=RegistrationView,
    summary="Decide a registration by hand, over the automatic rule "
    "(DealRegistrationApproved / DealRegistrationRejected naming who decided)",
    responses=refusals(not_found="no such registration", conflict="not decided yet"),
)
async def decide(
    registration_id: str,
    body: DecisionBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.decide_by_hand(registration_id, body, key, actor=actor))
