"""People and their email (docs/rules/notifications.md, "Email"): a signed-in person
makes themself known (``PUT /me``, which the portal calls at sign-in), reads and sets
which kinds of email they receive; an unsubscribe link works without signing in (its
token is the proof); staff see the emails sent and run the time-based notices now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.notifications.api.dependencies import Commands, Queries
from services.notifications.domain import Audience, NoticeKind
from services.notifications.views import (
    EmailsView,
    NoticesView,
    PersonView,
    PreferencesBody,
    PreferencesView,
    UnsubscribeBody,
    UnsubscribedView,
)
from shared import access

router = APIRouter(tags=["email"])
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "an API key, or a person whose token carries no email address"}
}


@router.put(
    "/me",
    response_model=PersonView,
    responses=FORBIDDEN,
    summary="Make the signed-in person known as someone to email (their token's address)",
)
async def register(principal: access.SignedInPerson, commands: Commands) -> PersonView:
    return await commands.register(principal)


@router.get("/me/notifications", response_model=PreferencesView, responses=FORBIDDEN)
async def get_preferences(principal: access.SignedInPerson, commands: Commands) -> PreferencesView:
    return await commands.preferences(principal)


@router.put(
    "/me/notifications",
    response_model=PreferencesView,
    responses=FORBIDDEN,
    summary="Set the kinds of email the signed-in person does not want",
)
async def set_preferences(
    body: PreferencesBody, principal: access.SignedInPerson, commands: Commands
) -> PreferencesView:
    return await commands.set_preferences(principal, body)


@router.post(
    "/unsubscribe",
    response_model=UnsubscribedView,
    responses={403: {"description": "the token does not match the address and kind"}},
    summary="Unsubscribe an address from one kind of email, with the token of its link "
    "(no sign-in)",
    dependencies=[access.LinkAccess],
)
async def unsubscribe(body: UnsubscribeBody, commands: Commands) -> UnsubscribedView:
    return await commands.unsubscribe(body)


@router.get(
    "/emails",
    response_model=EmailsView,
    summary="The emails queued and sent, newest first; a partner's caller sees those sent "
    "to its own people only",
)
async def list_emails(
    principal: access.Authenticated,
    queries: Queries,
    partner_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    kind: Annotated[NoticeKind | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EmailsView:
    partner = access.scoped_partner(principal, partner_id)
    audience = Audience.PARTNER.value if principal.is_partner else None
    return await queries.emails(partner, kind.value if kind else None, audience, limit)


@router.post(
    "/notices",
    response_model=NoticesView,
    dependencies=[access.StaffAccess],
    summary="Queue now the notices of registrations and certifications about to end "
    "(the service also does it every NOTICE_INTERVAL_SECONDS); idempotent",
)
async def run_notices(commands: Commands) -> NoticesView:
    return await commands.run_notices()
