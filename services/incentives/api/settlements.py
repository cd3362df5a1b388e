"""``/settlements`` and ``/partners/{partner_id}/settlements``: settling a period, and a
partner's settlements with what is pending (``docs/rules/settlement.md``)."""

from __future__ import annotations

from typing import Self

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.incentives.api import InstantText, MoneyText, NoCommissionData, Reads, Settling
from services.incentives.domain import pending_by_currency
from services.incentives.settlements import PartnerOutcome, SettlementRefused, SettlementRun
from shared import access
from shared.events import PeriodLabel
from shared.routes import Refusal, refusals
from shared.settlement import Settlement, to_document


class SettlementRequest(BaseModel):
    period: PeriodLabel = Field(description="the period to settle, e.g. 2026-Q4 or 2026-11")
    partner_ids: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="the partners to settle; null: every partner not yet settled for the period",
    )
    settlement_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{1,100}$",
        description="give one to make the request safe to retry: partners already settled "
        "under it answer what was recorded and are not paid twice",
    )
    rerun: bool = Field(
        default=False, description="settle an already settled period again, paying the difference"
    )
    dry_run: bool = Field(default=False, description="compute what would be paid; record nothing")


class Adjustment(BaseModel):
    period: str
    amount: MoneyText


class SettlementView(BaseModel):
    """One partner's share of a settlement, as its PayoutSettled says."""

    settlement_id: str
    period: str
    currency: str
    amount_paid: MoneyText
    period_amount: MoneyText = Field(description="the part of the period's own total paid")
    carried_adjustments: list[Adjustment] = Field(
        description="changes to earlier settled periods paid with this settlement"
    )
    unrecovered: list[Adjustment] = Field(description="clawbacks left pending, by period")
    settled_at: InstantText
    rerun: bool

    @classmethod
    def of(cls, settlement: Settlement) -> Self:
        return cls.model_validate(to_document(settlement))


class Payout(SettlementView):
    partner_id: str
    event_id: str | None = Field(description="the PayoutSettled's CloudEvent id")
    replayed: bool = Field(description="recorded by an earlier request with this settlement_id")
    pending_after: dict[str, MoneyText] = Field(
        description="what stays pending against settled periods afterwards, by period"
    )

    @classmethod
    def of_outcome(cls, outcome: PartnerOutcome) -> Self:
        assert outcome.settlement is not None
        return cls.model_validate(
            {
                "partner_id": outcome.partner_id,
                **to_document(outcome.settlement),
                "event_id": outcome.event_id,
                "replayed": outcome.replayed,
                "pending_after": {p: str(a) for p, a in outcome.pending_after.items()},
            }
        )


class Skipped(BaseModel):
    partner_id: str
    skipped: str | None = Field(description="why nothing was settled for the partner")


class SettlementRunView(BaseModel):
    """What a settlement run paid (or, in a dry run, would pay)."""

    settlement_id: str
    period: str
    settled_at: InstantText
    dry_run: bool
    payouts: list[Payout]
    skipped: list[Skipped]
    totals: dict[str, MoneyText] = Field(description="what the run pays, by currency")

    @classmethod
    def of(cls, run: SettlementRun) -> Self:
        return cls(
            settlement_id=run.settlement_id,
            period=run.period,
            settled_at=run.settled_at.isoformat(),
            dry_run=run.dry_run,
            payouts=[Payout.of_outcome(o) for o in run.payouts],
            skipped=[Skipped(partner_id=o.partner_id, skipped=o.skipped) for o in run.skipped],
            totals={currency: str(amount) for currency, amount in sorted(run.totals().items())},
        )


class RefusedPartner(BaseModel):
    partner_id: str
    period: str
    settled_by: list[str] = Field(description="the settlements that settled the period")


class SettlementRefusal(BaseModel):
    """Nothing was settled: the period is already settled for these partners."""

    detail: str
    refused: list[RefusedPartner]

    @classmethod
    def of(cls, refused: SettlementRefused) -> Self:
        return cls(
            detail=str(refused),
            refused=[
                RefusedPartner(partner_id=pid, period=r.period, settled_by=r.settlement_ids)
                for pid, r in sorted(refused.refusals.items())
            ],
        )


class PendingAdjustment(BaseModel):
    period: str
    currency: str
    amount: MoneyText


class PartnerSettlements(BaseModel):
    """A partner's settlements, oldest first, and what is pending against settled periods."""

    partner_id: str
    settlements: list[SettlementView]
    pending_adjustments: list[PendingAdjustment]


router = APIRouter(tags=["settlements"])


@router.post(
    "/settlements",
    summary="Settle a period: pay each partner what is payable now, carry later changes",
    dependencies=[access.StaffAccess],
    status_code=201,
    response_model=SettlementRunView,
    responses={
        200: {"model": SettlementRunView, "description": "a dry run, or nothing new to record"},
        404: {"model": Refusal, "description": "an unknown partner id"},
        409: {
            "model": SettlementRefusal,
            "description": "the period is already settled for a partner (nothing settled)",
        },
    },
)
async def settle_period(
    request: SettlementRequest, response: Response, settlements: Settling
) -> SettlementRunView | JSONResponse:
    try:
        run = await settlements.run(
            request.period,
            request.partner_ids,
            settlement_id=request.settlement_id,
            rerun=request.rerun,
            dry_run=request.dry_run,
        )
    except SettlementRefused as refused:
        body = SettlementRefusal.of(refused).model_dump(mode="json")
        return JSONResponse(status_code=409, content=body)
    response.status_code = 201 if run.recorded else 200
    return SettlementRunView.of(run)


@router.get(
    "/partners/{partner_id}/settlements",
    summary="A partner's settlements and what is pending against settled periods",
    dependencies=[access.PartnerReadAccess],
    responses=refusals(not_found="no commission data for the partner"),
)
async def partner_settlements(partner_id: str, reads: Reads) -> PartnerSettlements:
    ledger = await reads.load_ledger(partner_id)
    if ledger is None:
        raise NoCommissionData(partner_id)
    return PartnerSettlements(
        partner_id=partner_id,
        settlements=[
            SettlementView.of(s)
            for s in sorted(ledger.settlements, key=lambda s: (s.settled_at, s.settlement_id))
        ],
        pending_adjustments=[
            PendingAdjustment(period=period, currency=currency, amount=str(amount))
            for period, currency, amount in pending_by_currency(
                ledger.published.values(), ledger.settlements
            )
        ],
    )
