"""What incentives answers over HTTP: every response body as a pydantic model.

The routes declare these as their response models, so the OpenAPI document
describes each answer; the queries (``queries.py``) and the settlement route
build each answer with the model's ``of``. A resource is a ``…View``, a
command's answer an ``…Answer``. Money is a decimal string (``str(amount)``);
instants are ISO 8601 text with their UTC offset (``instant.isoformat()``).
The rules behind the figures are in ``docs/rules/commissions.md``,
``docs/rules/deal-registration.md`` and ``docs/rules/settlement.md``.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from services.incentives.domain import DealResult, Registration, pending_by_currency, totals
from services.incentives.settlements import PartnerOutcome, SettlementRefused, SettlementRun
from services.incentives.store import DecisionRecord, PartnerLedger
from shared.events import CommissionStatus
from shared.routes import AdjustmentView, InstantText, MoneyText
from shared.settlement import Settlement, to_document

# --------------------------------------------------------------------------- commissions


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


class DealCommissionView(CommissionLine):
    """A deal's current commission, its partner, and every revision published."""

    partner_id: str
    revision: int = Field(description="the latest revision published")
    history: list[RevisionRecord]

    @classmethod
    def of_ledger(cls, ledger: PartnerLedger, deal_id: str) -> Self:
        """The deal's commission as ``ledger`` (which published it) holds it."""
        revision = ledger.published[deal_id]
        return cls.of(
            ledger.book.result(deal_id) or revision.result,
            partner_id=ledger.partner_id,
            revision=revision.revision,
            history=ledger.history.get(deal_id, []),
        )


class PartnerLine(CommissionLine):
    revision: int | None = Field(description="the latest revision published; null: none yet")


class PartnerCommissionsView(LineTotals):
    """A partner's current commission lines (optionally of one period) and their totals."""

    partner_id: str
    period: str | None
    lines: list[PartnerLine]

    @classmethod
    def of_ledger(cls, ledger: PartnerLedger, period: str | None) -> Self:
        """The lines of ``period`` (None: every period) as ``ledger`` holds them."""
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
        return cls(
            partner_id=ledger.partner_id,
            period=period,
            lines=lines,
            **LineTotals.of(results).model_dump(),
        )


# --------------------------------------------------------------------------- registrations

#: A registration's state: ``pending`` until incentives decides it, then its decision.
RegistrationStatus = Literal["pending", "approved", "rejected"]


class RegistrationView(BaseModel):
    """A registration as the partner sent it, and what was decided."""

    registration_id: str
    deal_id: str
    partner_id: str
    customer: str
    product_line: str
    registered_at: InstantText
    status: RegistrationStatus
    reason: str | None = Field(description="why it was rejected, e.g. channel_conflict")
    decided_at: InstantText | None = Field(description="when incentives decided; null: pending")

    @classmethod
    def of(cls, registered: Registration, decision: DecisionRecord | None) -> Self:
        return cls(
            registration_id=registered.registration_id,
            deal_id=registered.deal_id,
            partner_id=registered.partner_id,
            customer=registered.customer,
            product_line=registered.product_line,
            registered_at=registered.registered_at.isoformat(),
            status="pending"
            if decision is None
            else ("approved" if decision.approved else "rejected"),
            reason=None if decision is None else decision.reason,
            decided_at=None if decision is None else decision.decided_at.isoformat(),
        )


class RegistrationsView(BaseModel):
    """Deal registrations, decided or pending, newest first (``registered_at``, then
    ``registration_id``, both descending); ``next_cursor`` asks for the next page."""

    registrations: list[RegistrationView]
    next_cursor: str | None = Field(description="the next page's cursor; null on the last")


class RegistrationAnswer(BaseModel):
    """A registration accepted through ``POST /registrations``: pending until incentives
    decides it, at ``url``."""

    registration_id: str
    status: Literal["pending"] = "pending"
    url: str = Field(description="where the registration and its decision are read")

    @classmethod
    def of(cls, registration_id: str) -> Self:
        return cls(registration_id=registration_id, url=f"/registrations/{registration_id}")


# --------------------------------------------------------------------------- settlements


class SettlementView(BaseModel):
    """One partner's share of a settlement, as its PayoutSettled says."""

    settlement_id: str
    period: str
    currency: str
    amount_paid: MoneyText
    period_amount: MoneyText = Field(description="the part of the period's own total paid")
    carried_adjustments: list[AdjustmentView] = Field(
        description="changes to earlier settled periods paid with this settlement"
    )
    unrecovered: list[AdjustmentView] = Field(description="clawbacks left pending, by period")
    settled_at: InstantText
    rerun: bool

    @classmethod
    def of(cls, settlement: Settlement) -> Self:
        return cls.model_validate(to_document(settlement))


class PartnerPayout(SettlementView):
    """What a settlement run paid (or would pay) one partner."""

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


class SettlementRunAnswer(BaseModel):
    """What a settlement run paid (or, in a dry run, would pay)."""

    settlement_id: str
    period: str
    settled_at: InstantText
    dry_run: bool
    payouts: list[PartnerPayout]
    skipped: list[Skipped]
    totals: dict[str, MoneyText] = Field(description="what the run pays, by currency")

    @classmethod
    def of(cls, run: SettlementRun) -> Self:
        return cls(
            settlement_id=run.settlement_id,
            period=run.period,
            settled_at=run.settled_at.isoformat(),
            dry_run=run.dry_run,
            payouts=[PartnerPayout.of_outcome(o) for o in run.payouts],
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


class PartnerSettlementsView(BaseModel):
    """A partner's settlements, oldest first, and what is pending against settled periods."""

    partner_id: str
    settlements: list[SettlementView]
    pending_adjustments: list[PendingAdjustment]

    @classmethod
    def of(cls, ledger: PartnerLedger) -> Self:
        return cls(
            partner_id=ledger.partner_id,
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


# --------------------------------------------------------------------------- simulations


class Lines(LineTotals):
    lines: list[CommissionLine]

    @classmethod
    def of(cls, results: list[DealResult]) -> Self:
        return cls(
            lines=[CommissionLine.of(r) for r in results], **LineTotals.of(results).model_dump()
        )


class PartnerSimulation(BaseModel):
    partner_id: str
    actual: Lines = Field(description="the period's lines as they are")
    simulated: Lines = Field(description="the same deals' lines under the draft plan")


class NoPartnerData(BaseModel):
    partner_id: str
    error: str = Field(description="why the partner could not be simulated")


class SimulationView(BaseModel):
    """What a draft plan would have paid each partner, beside what was paid."""

    period: str
    partners: list[PartnerSimulation | NoPartnerData]
