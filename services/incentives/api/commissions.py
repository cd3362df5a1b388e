"""``/commissions/{deal_id}`` and ``/partners/{partner_id}/commissions``: commission lines
with their breakdown (``docs/rules/commissions.md``)."""

from __future__ import annotations

from typing import Any, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from services.incentives.api import InstantText, MoneyText, NoCommissionData, Reads
from services.incentives.domain import DealResult, totals
from shared import access
from shared.commands import NotFound
from shared.events import PERIOD_PATTERN, CommissionStatus
from shared.routes import refusals


class Portion(BaseModel):
    """The part of a deal's amount that fell in one bracket, and its rate."""

    model_config = ConfigDict(populate_by_name=True)

    from_: MoneyText = Field(alias="from", description="where the bracket starts")
    to: MoneyText | None = Field(description="where the bracket ends; null: no end")
    amount: MoneyText
    rate: str = Field(description='the bracket\'s rate, e.g. "0.12"')


class CommissionLine(BaseModel):
    """One deal's commission with what explains it."""

    deal_id: str
    period: str
    currency: str
    amount: MoneyText
    closed_at: InstantText
    status: CommissionStatus
    reason: str
    contract_id: str | None = Field(description="the governing contract; null: none")
    base: MoneyText
    uplift: MoneyText
    commission: MoneyText
    target_bonus: MoneyText
    cum_before: MoneyText = Field(description="the period's revenue before this deal")
    portions: list[Portion] = Field(description="how the base splits across the brackets")
    uplift_reasons: list[str]
    cap_reduction: MoneyText = Field(description="what the period cap took off")

    @classmethod
    def of(cls, result: DealResult, **extra: Any) -> Self:
        return cls(
            deal_id=result.deal_id,
            period=result.period,
            currency=result.currency,
            amount=str(result.amount),
            closed_at=result.closed_at.isoformat(),
            status=result.status,
            reason=result.reason,
            contract_id=result.contract_id,
            base=str(result.base),
            uplift=str(result.uplift),
            commission=str(result.commission),
            target_bonus=str(result.target_bonus),
            cum_before=str(result.cum_before),
            portions=[
                Portion(
                    from_=str(p.start),
                    to=None if p.end is None else str(p.end),
                    amount=str(p.amount),
                    rate=str(p.rate),
                )
                for p in result.portions
            ],
            uplift_reasons=list(result.uplift_reasons),
            cap_reduction=str(result.cap_reduction),
            **extra,
        )


class LineTotals(BaseModel):
    """What the lines add up to; revenue counts commissionable deals only."""

    revenue: MoneyText
    commission: MoneyText
    target_bonus: MoneyText

    @classmethod
    def of(cls, results: list[DealResult]) -> Self:
        sums = totals(results)
        return cls(
            revenue=str(sums.revenue),
            commission=str(sums.commission),
            target_bonus=str(sums.target_bonus),
        )


class RevisionRecord(BaseModel):
    """One published revision of a deal's commission."""

    revision: int
    status: CommissionStatus
    commission: MoneyText
    target_bonus: MoneyText
    delta: MoneyText = Field(description="the change in commission + target bonus")
    event_id: str = Field(description="the CommissionCalculated's CloudEvent id")
    calculated_at: InstantText


class DealCommission(CommissionLine):
    """A deal's current commission, its partner, and every revision published."""

    partner_id: str
    revision: int = Field(description="the latest revision published")
    history: list[RevisionRecord]


class PartnerLine(CommissionLine):
    revision: int | None = Field(description="the latest revision published; null: none yet")


class PartnerCommissions(LineTotals):
    """A partner's current commission lines (optionally of one period) and their totals."""

    partner_id: str
    period: str | None
    lines: list[PartnerLine]


router = APIRouter(tags=["commissions"])


@router.get(
    "/commissions/{deal_id}",
    summary="A deal's commission with its breakdown and revisions",
    responses=refusals(not_found="no commission for the deal"),
)
async def commission(deal_id: str, principal: access.Authenticated, reads: Reads) -> DealCommission:
    ledger = await reads.ledger_of_deal(deal_id)
    if ledger is None:
        raise NotFound(f"no commission for deal {deal_id}")
    if not principal.may_read_partner(ledger.partner_id):
        raise access.forbidden(principal)
    revision = ledger.published[deal_id]
    return DealCommission.of(
        ledger.book.result(deal_id) or revision.result,
        partner_id=ledger.partner_id,
        revision=revision.revision,
        history=ledger.history.get(deal_id, []),
    )


@router.get(
    "/partners/{partner_id}/commissions",
    summary="A partner's current commission lines, optionally for one period",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no commission data for the partner"),
)
async def partner_commissions(
    partner_id: str, reads: Reads, period: str | None = Query(default=None, pattern=PERIOD_PATTERN)
) -> PartnerCommissions:
    ledger = await reads.load_ledger(partner_id)
    if ledger is None:
        raise NoCommissionData(partner_id)
    results = sorted(
        (r for r in ledger.book.results().values() if period is None or r.period == period),
        key=lambda r: (r.period, r.closed_at, r.deal_id),
    )
    published = ledger.published
    lines = [
        PartnerLine.of(
            r, revision=published[r.deal_id].revision if r.deal_id in published else None
        )
        for r in results
    ]
    return PartnerCommissions(
        partner_id=partner_id, period=period, lines=lines, **LineTotals.of(results).model_dump()
    )
