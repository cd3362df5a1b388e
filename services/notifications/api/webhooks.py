"""``/webhooks``: staff subscribe other systems to events, signed per Standard Webhooks
(docs/rules/notifications.md, "Webhooks"); see each delivery's attempts, pause, resume,
replay what was parked, delete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from services.notifications.api.dependencies import Commands, Queries
from services.notifications.views import (
    DeliveriesView,
    ReplayView,
    WebhookBody,
    WebhookCreatedView,
    WebhooksView,
    WebhookView,
)
from shared import access
from shared.routes import IdempotentCommand, refusals

router = APIRouter(prefix="/webhooks", tags=["webhooks"], dependencies=[access.StaffAccess])

WebhookId = Annotated[str, Path(min_length=1, max_length=64)]
NO_WEBHOOK = refusals(not_found="no webhook of that id")


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreatedView,
    summary="Subscribe a URL to event types (optionally one partner's); the secret is "
    "shown only in this answer (and to a retry with the same Idempotency-Key)",
    responses=refusals(conflict="the Idempotency-Key was sent before with another body"),
)
async def add_webhook(
    body: WebhookBody, principal: access.Authenticated, key: IdempotentCommand, commands: Commands
) -> WebhookCreatedView:
    return await commands.add_webhook(body, principal, key)


@router.get("", response_model=WebhooksView, summary="Every subscription (secrets never shown)")
async def list_webhooks(queries: Queries) -> WebhooksView:
    return await queries.webhooks()


@router.get("/{webhook_id}", response_model=WebhookView, responses=NO_WEBHOOK)
async def get_webhook(webhook_id: WebhookId, queries: Queries) -> WebhookView:
    return await queries.webhook(webhook_id)


@router.post(
    "/{webhook_id}/pause",
    response_model=WebhookView,
    responses=NO_WEBHOOK,
    summary="Stop delivering; events keep being queued and go out on resume",
)
async def pause_webhook(webhook_id: WebhookId, commands: Commands) -> WebhookView:
    return await commands.set_status(webhook_id, "paused")


@router.post("/{webhook_id}/resume", response_model=WebhookView, responses=NO_WEBHOOK)
async def resume_webhook(webhook_id: WebhookId, commands: Commands) -> WebhookView:
    return await commands.set_status(webhook_id, "active")


@router.delete(
    "/{webhook_id}",
    status_code=204,
    response_class=Response,
    responses=NO_WEBHOOK,
    summary="Delete the subscription with its queued and past deliveries",
)
async def delete_webhook(webhook_id: WebhookId, commands: Commands) -> Response:
    await commands.delete(webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveriesView,
    responses=NO_WEBHOOK,
    summary="The subscription's deliveries, newest first, each with its attempts and answers",
)
async def list_deliveries(
    webhook_id: WebhookId,
    queries: Queries,
    status: Annotated[Literal["pending", "delivered", "parked"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> DeliveriesView:
    return await queries.deliveries(webhook_id, status, limit, cursor)


@router.post(
    "/{webhook_id}/replay",
    response_model=ReplayView,
    responses=NO_WEBHOOK,
    summary="Queue the parked deliveries again, with a new retry budget",
)
async def replay_parked(webhook_id: WebhookId, commands: Commands) -> ReplayView:
    return await commands.replay(webhook_id)
