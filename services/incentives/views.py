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

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from services.incentives.domain import (
    MAX_EXTENSIONS,
    Adjustment,
    DealResult,
    Inquiry,
    pending_by_currency,
    totals,
)
from services.incentives.settlements import PartnerOutcome, SettlementRefused, SettlementRun
from services.incentives.store import PartnerLedger, RegistrationState
from shared.events import Actor, CommissionStatus
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

#: A registration's state: ``pending`` until incentives decides it, then its decision;
#: an approved one is ``expired`` once its protection has ended.
RegistrationStatus = Literal["pending", "approved", "rejected", "expired"]
ExtensionStatus = Literal["requested", "granted", "rejected"]


class ExtensionView(BaseModel):
    """A request to extend a registration's protection, and its answer."""

    extension_id: str
    days: int
    reason: str | None = Field(description="why it was asked for")
    status: ExtensionStatus
    requested_at: InstantText | None
    answered_at: InstantText | None
    answer: str | None = Field(description="the channel manager's note or refusal reason")


def _extensions(state: RegistrationState) -> list[ExtensionView]:
    views = [
        ExtensionView(
            extension_id=request.extension_id,
            days=request.days,
            reason=request.reason,
            status="requested",
            requested_at=request.requested_at.isoformat(),
            answered_at=None,
            answer=None,
        )
        for request in state.requests
    ]
    known = {v.extension_id: i for i, v in enumerate(views)}
    for answer in sorted(state.answers.values(), key=lambda a: a.version):
        answered = {
            "status": "granted" if answer.granted else "rejected",
            "answered_at": answer.answered_at.isoformat(),
            "answer": answer.note,
        }
        if answer.extension_id in known:
            index = known[answer.extension_id]
            views[index] = views[index].model_copy(update=answered)
            if answer.granted:
                views[index] = views[index].model_copy(update={"days": answer.days})
        else:
            known[answer.extension_id] = len(views)
            views.append(
                ExtensionView(
                    extension_id=answer.extension_id,
                    days=answer.days,
                    reason=None,
                    requested_at=None,
                    **answered,
                )
            )
    return views


class RegistrationView(BaseModel):
    """A registration as the partner sent it, what was decided, and how long it
    protects (docs/rules/deal-registration.md)."""

    registration_id: str
    deal_id: str
    partner_id: str
    customer: str
    product_line: str
    registered_at: InstantText
    status: RegistrationStatus
    reason: str | None = Field(
        description="why it was rejected (channel_conflict), or the channel manager's reason "
        "for a decision by hand"
    )
    decided_at: InstantText | None = Field(description="when incentives decided; null: pending")
    expires_at: InstantText | None = Field(
        description="when its protection ends, extensions included; null: pending or rejected"
    )
    conflicting_registration_id: str | None = Field(
        description="the other partner's protecting registration it conflicts with"
    )
    decided_by_hand: bool = Field(description="decided by a channel manager, over the rule")
    decided_by: Actor | None = Field(description="who decided; null: pending")
    extensions: list[ExtensionView]
    extension_waiting: bool = Field(description="an extension request waits for an answer")
    may_request_extension: bool = Field(
        description="approved, not expired, extended fewer than twice and none waiting"
    )

    @classmethod
    def of(cls, state: RegistrationState, now: datetime) -> Self:
        registered = state.registration
        decision = state.decision
        status: RegistrationStatus = "pending"
        if decision is not None:
            status = "approved" if decision.approved else "rejected"
            if decision.approved and decision.expires_at is not None and now > decision.expires_at:
                status = "expired"
        return cls(
            registration_id=registered.registration_id,
            deal_id=registered.deal_id,
            partner_id=registered.partner_id,
            customer=registered.customer,
            product_line=registered.product_line,
            registered_at=registered.registered_at.isoformat(),
            status=status,
            reason=None if decision is None else decision.reason,
            decided_at=None if decision is None else decision.decided_at.isoformat(),
            expires_at=None
            if decision is None or not decision.approved or decision.expires_at is None
            else decision.expires_at.isoformat(),
            conflicting_registration_id=None
            if decision is None
            else decision.conflicting_registration_id,
            decided_by_hand=decision is not None and decision.by_hand,
            decided_by=None if decision is None else decision.decided_by,
            extensions=_extensions(state),
            extension_waiting=state.waiting is not None,
            may_request_extension=status == "approved"
            and state.granted < MAX_EXTENSIONS
            and state.waiting is None,
        )


class RegistrationsView(BaseModel):
    """Deal registrations, decided or pending, newest first (``registered_at``, then
    ``registration_id``, both descending); ``next_cursor`` asks for the next page."""

    registrations: list[RegistrationView]
    next_cursor: str | None = Field(description="the next page's cursor; null on the last")


class ExtensionAnswerView(BaseModel):
    """An extension request accepted: a channel manager answers it."""

    registration_id: str
    extension_id: str
    status: Literal["requested"] = "requested"
    url: str = Field(description="where the registration and its extensions are read")


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


class MdfReimbursementView(BaseModel):
    """Approved MDF claims in one currency paid apart from the payout's currency."""

    currency: str
    amount: MoneyText
    claims: list[str] = Field(description="the ids of the claims it pays")


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
    mdf_reimbursed: MoneyText = Field(
        description="approved MDF claims paid beside the commissions (not in amount_paid)"
    )
    mdf_claims: list[str] = Field(description="the MDF claims mdf_reimbursed pays")
    mdf_other_currencies: list[MdfReimbursementView] = Field(
        description="approved MDF claims in other currencies, paid apart, by currency"
    )

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
                    ledger.published.values(), ledger.settlements, list(ledger.adjustments.values())
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


# --------------------------------------------------------------------------- inquiries


class AdjustmentItem(BaseModel):
    """An adjustment of a partner's period: signed money, counted in the period's total."""

    adjustment_id: str
    partner_id: str
    deal_id: str | None
    period: str
    currency: str
    amount: MoneyText
    reason: str
    adjusted_at: InstantText
    actor: Actor | None
    inquiry_id: str | None

    @classmethod
    def of(cls, partner_id: str, a: Adjustment) -> Self:
        return cls(
            adjustment_id=a.adjustment_id,
            partner_id=partner_id,
            deal_id=a.deal_id,
            period=a.period,
            currency=a.currency,
            amount=str(a.amount),
            reason=a.reason,
            adjusted_at=a.adjusted_at.isoformat(),
            actor=a.actor,
            inquiry_id=a.inquiry_id,
        )


class InquiryView(BaseModel):
    """An inquiry about a deal's commission, and its answer once resolved."""

    inquiry_id: str
    partner_id: str
    deal_id: str
    period: str
    message: str
    status: Literal["open", "resolved"]
    opened_at: InstantText
    opened_by: Actor | None
    age_days: int = Field(description="whole days since it was opened (until resolved)")
    resolution: Literal["explained", "adjusted"] | None
    note: str | None
    resolved_at: InstantText | None
    resolved_by: Actor | None
    adjustment: AdjustmentItem | None

    @classmethod
    def of(cls, partner_id: str, i: Inquiry, adjustment: Adjustment | None, now: datetime) -> Self:
        until = i.resolved_at or now
        return cls(
            inquiry_id=i.inquiry_id,
            partner_id=partner_id,
            deal_id=i.deal_id,
            period=i.period,
            message=i.message,
            status="open" if i.open else "resolved",
            opened_at=i.opened_at.isoformat(),
            opened_by=i.opened_by,
            age_days=max(0, (until - i.opened_at).days),
            resolution="adjusted"
            if i.resolution == "adjusted"
            else ("explained" if i.resolution == "explained" else None),
            note=i.note,
            resolved_at=None if i.resolved_at is None else i.resolved_at.isoformat(),
            resolved_by=i.resolved_by,
            adjustment=None if adjustment is None else AdjustmentItem.of(partner_id, adjustment),
        )


class InquiriesView(BaseModel):
    """Inquiries, oldest first."""

    inquiries: list[InquiryView]


# --------------------------------------------------------------------------- exchange rates


class RateView(BaseModel):
    """A rate as it stands for its pair and day (the greatest version of its
    ExchangeRateSet events)."""

    base: str
    quote: str
    valid_from: str = Field(json_schema_extra={"format": "date"})
    rate: str = Field(description="one unit of base in quote, a decimal string")
    source: str
    event_id: str = Field(description="the ExchangeRateSet that stands")
    time: InstantText = Field(description="its CloudEvent time")
    versions: int = Field(description="how many ExchangeRateSet events gave this day's rate")


class RatesView(BaseModel):
    """The exchange rates known (docs/rules/fx.md), by pair then day."""

    base: str | None
    quote: str | None
    rates: list[RateView]
