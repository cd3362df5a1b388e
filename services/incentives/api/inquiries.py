"""Inquiries and adjustments: a partner asks about a deal's commission, a channel
manager resolves it (explained, or adjusted), and adjusts periods without one
(``docs/rules/inquiries.md``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.incentives.api.dependencies import Commands, Queries
from services.incentives.inquiries import AdjustmentBody, InquiryBody, ResolutionBody
from services.incentives.views import AdjustmentItem, InquiriesView, InquiryView
from shared import access
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(tags=["inquiries"])


@router.post(
    "/commissions/{deal_id}/inquiries",
    status_code=201,
    response_model=InquiryView,
    summary="Ask about a deal's commission (CommissionInquiryOpened): a partner for its own "
    "deals, staff for any",
    responses=refusals(not_found="no commission for the deal"),
)
async def open_inquiry(
    deal_id: str,
    body: InquiryBody,
    key: IdempotentCommand,
    caller: access.SelfService,
    queries: Queries,
    commands: Commands,
) -> JSONResponse:
    found = await queries.deal_commission(deal_id)
    access.ensure_may_read(caller, found.partner_id)
    answer = await commands.open_inquiry(deal_id, found.partner_id, body, key, actor=caller.actor)
    return respond(answer)


@router.get(
    "/inquiries",
    summary="Inquiries, oldest first, with their age: a partner its own, staff any partner's "
    "or every partner's",
)
async def inquiries(
    principal: access.Authenticated,
    queries: Queries,
    partner_id: str | None = Query(
        default=None, description="the partner's only; a partner's own when left out"
    ),
    status: Literal["open", "resolved"] | None = Query(default=None),
) -> InquiriesView:
    """A partner caller naming another partner is refused (403)."""
    return await queries.inquiries(access.scoped_partner(principal, partner_id), status)


@router.get(
    "/inquiries/{inquiry_id}",
    summary="An inquiry and its answer",
    responses=refusals(not_found="no such inquiry"),
)
async def inquiry(
    inquiry_id: str, principal: access.Authenticated, queries: Queries
) -> InquiryView:
    found = await queries.inquiry(inquiry_id)
    access.ensure_may_read(principal, found.partner_id)
    return found


@router.post(
    "/inquiries/{inquiry_id}/resolve",
    dependencies=[access.StaffAccess],
    response_model=InquiryView,
    summary="Resolve an inquiry (CommissionInquiryResolved): explained, or adjusted "
    "(CommissionAdjusted)",
    responses=refusals(not_found="no such inquiry", conflict="already resolved otherwise"),
)
async def resolve(
    inquiry_id: str,
    body: ResolutionBody,
    key: IdempotentCommand,
    actor: access.CallerActor,
    commands: Commands,
) -> JSONResponse:
    return respond(await commands.resolve_inquiry(inquiry_id, body, key, actor=actor))


@router.post(
    "/adjustments",
    status_code=201,
    dependencies=[access.StaffAccess],
    response_model=AdjustmentItem,
    summary="Adjust a partner's period without an inquiry (CommissionAdjusted)",
    responses=refusals(not_found="no commission data for the partner"),
)
async def adjust(
    body: AdjustmentBody, key: IdempotentCommand, actor: access.CallerActor, commands: Commands
) -> JSONResponse:
    return respond(await commands.adjust(body, key, actor=actor))
