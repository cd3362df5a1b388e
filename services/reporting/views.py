"""What reporting answers over HTTP: every response body as a pydantic model.

The routes declare these as their response models, so the OpenAPI document
describes each answer, and build each answer from what the queries found
(``queries.py``) with the model's ``of``. A resource is a ``…View``. Money is
a decimal string with two decimals (``domain.money``); instants are the read
models' fixed-width UTC text (``2026-10-05T12:00:00.000000Z``), but ``as_of``
of a health score, which is ISO 8601 with its offset.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.reporting.domain import (
    ACTIVITY_POINTS,
    ATTAINMENT_POINTS,
    CERTIFICATION_POINTS,
    FEEDBACK_POINTS,
    ZERO,
    Adjustment,
    Health,
    Inquiry,
    Line,
    MdfFigures,
    PeriodPayment,
    Statement,
    money,
    pending_by_currency,
    utc_text,
)
from services.reporting.queries import (
    PartnerHealth,
    PartnerPayouts,
    PartnersAtRisk,
    ProgrammeFigures,
    Ranking,
    ScoredPartner,
    SettlementRow,
    StatementChanges,
)
from shared.events import Actor, Contract, InquiryResolution, PartnerStatus, Tier
from shared.routes import AdjustmentView, InstantText, MoneyText
from shared.spreadsheet import csv_cell


def _by_currency(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    return {currency: money(amount) for currency, amount in sorted(amounts.items())}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --------------------------------------------------------------------------- partners


class Certification(BaseModel):
    learner_id: str
    certification_id: str
    product_line: str
    awarded_at: InstantText
    expires_at: InstantText
    valid: bool = Field(description="awarded_at ≤ now < expires_at")


class OpenInquiry(BaseModel):
    """An inquiry about a deal's commission, opened and not resolved yet."""

    inquiry_id: str
    deal_id: str
    period: str = Field(description="the statement it is about")
    message: str
    opened_at: InstantText
    actor: Actor | None = Field(description="who opened it")


class MdfSummary(BaseModel):
    """A partner's MDF figures in one currency over every quarter: its MDF position
    (``/partners/{partner_id}/mdf``) summed."""

    currency: str
    requested: MoneyText
    approved: MoneyText
    claimed: MoneyText
    claims_approved: MoneyText
    reimbursed: MoneyText
    released: MoneyText


class SatisfactionView(BaseModel):
    """Customers' survey answers summed up (docs/rules/satisfaction.md)."""

    responses: int
    promoters: int = Field(description="answers of 9 or 10")
    passives: int = Field(description="answers of 7 or 8")
    detractors: int = Field(description="answers of 0 to 6")
    average: str | None = Field(description="the average answer, two decimals; null: none")
    nps: str | None = Field(
        description="% of promoters − % of detractors, one decimal, -100 to 100; null: none"
    )


class QuarterSatisfaction(SatisfactionView):
    period: str = Field(description="the calendar quarter the answers were completed in")


class PartnerSatisfactionView(BaseModel):
    """A partner's customer satisfaction over the 12 months up to now and per quarter."""

    partner_id: str
    last_12_months: SatisfactionView
    quarters: list[QuarterSatisfaction] = Field(description="newest first")


class Partner360View(BaseModel):
    """The partner 360: a partner's profile, status, tier and latest contract, its
    enablement, its totals over every period, its open commission inquiries and its MDF
    figures."""

    # Fields with a default are in every answer all the same: the schema says required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    partner_id: str
    name: str | None
    status: PartnerStatus | None
    partner_type: str | None
    region: str | None
    industry: str | None
    tier: Tier | None
    contract: Contract | None = Field(description="the contract with the latest start date")
    certifications: list[Certification] = Field(description="oldest award first")
    trainings_completed: int
    deals_closed: int = Field(description="deals with a commission line")
    revenue_total: MoneyText
    commission_total: MoneyText
    bonus_total: MoneyText
    open_inquiries: list[OpenInquiry] = Field(
        default_factory=list, description="oldest first, of every period"
    )
    mdf: list[MdfSummary] = Field(
        default_factory=list,
        description="MDF requested, approved, claimed, reimbursed and released over every "
        "quarter, per currency (by currency); the quarters are in /partners/{partner_id}/mdf",
    )
    capabilities: list[str] = Field(
        default_factory=list, description="what the partner said it can do when it applied"
    )
    satisfaction: SatisfactionView | None = Field(
        default=None,
        description="its customers' survey answers over the 12 months up to now; the "
        "quarters are in /partners/{partner_id}/satisfaction",
    )


class PartnersView(BaseModel):
    """Partner 360s, a page at a time."""

    items: list[Partner360View]
    next_cursor: str | None = Field(description="the next page's cursor; null on the last")


# --------------------------------------------------------------------------- statements


def _absent(value: object) -> bool:
    return value is None


def _optional(description: str) -> Any:
    """An optional field, left out of the answer when absent."""
    return Field(default=None, exclude_if=_absent, description=description)


class StatementLine(BaseModel):
    """A deal's current commission line: its highest revision. Its figures are in the
    statement's currency, but where the line names a ``currency`` of its own; a deal
    converted from another currency states its own amount, currency and the rate used."""

    deal_id: str
    closed_at: InstantText | None
    amount: MoneyText = Field(
        description="the deal's amount; converted into the contract's currency for a deal "
        "in another currency (original_amount is then its own amount)"
    )
    status: str = Field(
        description="commissionable, clawed_back, no_contract, terminated, fx_pending (no "
        "exchange rate for the deal's currency yet: it earns nothing until one arrives), or "
        "currency_mismatch (the deal's currency is not the contract's: older events only)"
    )
    base: MoneyText
    uplift: MoneyText
    commission: MoneyText
    target_bonus: MoneyText
    revision: int
    currency: str | None = _optional(
        "the line's own currency, given only where it is not the statement's (a deal "
        "waiting for an exchange rate is in the deal's own currency): its figures are in it"
    )
    original_amount: MoneyText | None = _optional(
        "a converted deal's amount in its own currency; absent for a deal not converted"
    )
    original_currency: str | None = _optional("a converted deal's own currency")
    fx_rate: str | None = _optional(
        "the rate the deal was converted at: one unit of original_currency in the "
        "line's currency, a decimal string such as 1.0860"
    )

    @classmethod
    def of(cls, line: Line, currency: str | None = None) -> StatementLine:
        """The line of a statement in ``currency``."""
        return cls(
            deal_id=line.deal_id,
            closed_at=line.closed_at,
            amount=money(line.amount),
            status=line.status,
            base=money(line.base),
            uplift=money(line.uplift),
            commission=money(line.commission),
            target_bonus=money(line.target_bonus),
            revision=line.revision,
            currency=None if line.currency == currency else line.currency,
            original_amount=money(line.original_amount),
            original_currency=line.original_currency,
            fx_rate=_text(line.fx_rate),
        )


class StatementAdjustment(BaseModel):
    """A channel manager's adjustment of the period: signed money."""

    adjustment_id: str
    deal_id: str | None = Field(description="the deal it is about; null: the period as a whole")
    amount: MoneyText = Field(description="signed: negative takes money back")
    currency: str
    reason: str
    adjusted_at: InstantText
    inquiry_id: str | None = Field(description="the inquiry it resolved, if any")
    actor: Actor | None = Field(description="who made it")

    @classmethod
    def of(cls, adjustment: Adjustment) -> StatementAdjustment:
        return cls(
            adjustment_id=adjustment.adjustment_id,
            deal_id=adjustment.deal_id,
            amount=money(adjustment.amount),
            currency=adjustment.currency,
            reason=adjustment.reason,
            adjusted_at=adjustment.adjusted_at,
            inquiry_id=adjustment.inquiry_id,
            actor=None if adjustment.actor is None else Actor.model_validate(adjustment.actor),
        )


class StatementInquiry(BaseModel):
    """An inquiry about one of the period's commissions, open or resolved. One resolved
    before its opening reached reporting has a null message, opened_at and actor until
    the opening arrives."""

    inquiry_id: str
    deal_id: str
    period: str
    message: str | None
    opened_at: InstantText | None
    actor: Actor | None = Field(description="who opened it")
    status: Literal["open", "resolved"]
    resolution: InquiryResolution | None = Field(description="null while open")
    note: str | None = Field(description="the channel manager's answer; null while open")
    resolved_at: InstantText | None
    resolved_by: Actor | None
    adjustment_id: str | None = Field(description="the adjustment it made, when adjusted")

    @classmethod
    def of(cls, inquiry: Inquiry) -> StatementInquiry:
        return cls.model_validate(
            {
                "inquiry_id": inquiry.inquiry_id,
                "deal_id": inquiry.deal_id,
                "period": inquiry.period,
                "message": inquiry.message,
                "opened_at": inquiry.opened_at,
                "actor": inquiry.actor,
                "status": inquiry.status,
                "resolution": inquiry.resolution,
                "note": inquiry.note,
                "resolved_at": inquiry.resolved_at,
                "resolved_by": inquiry.resolved_by,
                "adjustment_id": inquiry.adjustment_id,
            }
        )


class StatementView(BaseModel):
    """A partner's commission statement for one period (docs/rules/commissions.md, "The
    statement"), its adjustments and inquiries, and what settlements paid for it
    (docs/rules/settlement.md)."""

    # Fields with a default are in every answer all the same: the schema says required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    partner_id: str
    period: str
    currency: str | None
    lines: list[StatementLine] = Field(description="by closing, then deal id")
    revenue: MoneyText = Field(
        description="of the commissionable deals, in the statement's currency (a deal in "
        "another currency by its converted amount)"
    )
    commission_total: MoneyText
    bonus_total: MoneyText
    adjustments: list[StatementAdjustment] = Field(
        default_factory=list,
        description="the period's adjustments, of any currency, by adjusted_at then id",
    )
    adjustment_total: MoneyText = Field(
        default="0.00", description="the adjustments in the statement's currency"
    )
    payout_total: MoneyText = Field(description="commission_total + bonus_total + adjustment_total")
    target: MoneyText | None
    attainment: str | None = Field(description="revenue ÷ target, four decimals")
    settled: bool
    paid: MoneyText
    pending_adjustment: MoneyText = Field(description="payout_total − paid, once settled")
    inquiries: list[StatementInquiry] = Field(
        default_factory=list, description="the period's inquiries, open and resolved, oldest first"
    )

    @classmethod
    def of(cls, statement: Statement) -> StatementView:
        totals, payment = statement.totals, statement.payment
        return cls(
            partner_id=statement.partner_id,
            period=statement.period,
            currency=statement.currency,
            lines=[StatementLine.of(line, statement.currency) for line in statement.lines],
            revenue=money(totals.revenue),
            commission_total=money(totals.commission),
            bonus_total=money(totals.bonus),
            adjustments=[StatementAdjustment.of(a) for a in statement.adjustments],
            adjustment_total=money(statement.adjustment_total),
            payout_total=money(statement.payout_total),
            target=money(totals.target),
            attainment=_text(totals.attainment),
            settled=payment is not None and payment.settled,
            paid=money(payment.paid if payment else ZERO),
            pending_adjustment=money(payment.pending_adjustment if payment else ZERO),
            inquiries=[StatementInquiry.of(i) for i in statement.inquiries],
        )


class ChangeView(BaseModel):
    """An event that changed a statement's payout total, its delta, and why."""

    event_id: str | None
    type: str
    time: str | None = Field(description="the event's own time")
    received_at: str | None = Field(description="when reporting received it (Kafka timestamp)")
    deal_id: str | None
    delta: MoneyText = Field(description="what it changed payout_total by")
    explanation: str


class StatementChangesView(BaseModel):
    """What changed a statement since an instant: each change with its delta, adding up
    exactly to ``change`` (docs/rules/commissions.md, "Explaining a number")."""

    partner_id: str
    period: str
    currency: str | None
    since: str
    payout_total_then: MoneyText = Field(description="the statement's payout total at since")
    payout_total_now: MoneyText
    change: MoneyText = Field(description="payout_total_now − payout_total_then")
    changes: list[ChangeView] = Field(description="in the order received")

    @classmethod
    def of(cls, since: datetime, found: StatementChanges) -> StatementChangesView:
        then, now = found.then, found.now
        return cls(
            partner_id=now.partner_id,
            period=now.period,
            currency=now.currency,
            since=utc_text(since),
            payout_total_then=money(then.payout_total),
            payout_total_now=money(now.payout_total),
            change=money(now.payout_total - then.payout_total),
            changes=[
                ChangeView(
                    event_id=c.event_id,
                    type=c.type,
                    time=c.time,
                    received_at=c.received_at,
                    deal_id=c.deal_id,
                    delta=money(c.delta),
                    explanation=c.explanation,
                )
                for c in found.changes
            ],
        )


# --------------------------------------------------------------------------- MDF


class MdfQuarterView(BaseModel):
    """A partner's MDF figures of one quarter in one currency (docs/rules/enablement.md,
    "The partner's MDF position")."""

    quarter: str = Field(description="of the requests' requested_at (UTC), e.g. 2026-Q4")
    currency: str
    requested: MoneyText = Field(description="what the quarter's requests asked, any status")
    approved: MoneyText = Field(description="what was approved of them")
    claimed: MoneyText = Field(
        description="what the claims against them ask, whatever their decision"
    )
    claims_approved: MoneyText = Field(description="what was approved of those claims")
    reimbursed: MoneyText = Field(
        description="the approved amounts of the claims a settlement paid (each claim once)"
    )
    released: MoneyText = Field(
        description="unclaimed funds returned to the budget after the request's claim window "
        "closed (MdfFundsReleased)"
    )

    @classmethod
    def of(cls, figures: MdfFigures) -> MdfQuarterView:
        return cls(
            quarter=figures.quarter or "",
            currency=figures.currency,
            requested=money(figures.requested),
            approved=money(figures.approved),
            claimed=money(figures.claimed),
            claims_approved=money(figures.claims_approved),
            reimbursed=money(figures.reimbursed),
            released=money(figures.released),
        )


class MdfPositionView(BaseModel):
    """A partner's MDF position: per quarter (of its requests) and currency, what it
    requested, was approved, claimed, had approved in claims, was reimbursed and left
    unclaimed (released)."""

    partner_id: str
    quarters: list[MdfQuarterView] = Field(description="in quarter order, then by currency")

    @classmethod
    def of(cls, partner_id: str, found: list[MdfFigures]) -> MdfPositionView:
        return cls(partner_id=partner_id, quarters=[MdfQuarterView.of(f) for f in found])


# --------------------------------------------------------------------------- history


class HistoryEntry(BaseModel):
    """One event of a partner's history (docs/rules/events.md, "A partner's history")."""

    event_id: str = Field(description="the CloudEvent id")
    type: str = Field(description="the event type, e.g. DealClosed")
    time: InstantText = Field(description="the CloudEvent's own time")
    received_at: InstantText = Field(description="when reporting received it (Kafka timestamp)")
    source: str = Field(description="the CloudEvent's source: who published it")
    actor: Actor | None = Field(
        description="who caused it, as it names them: a person, an API key or a system; "
        "null when it names no one (a service deciding from other events, an outside "
        "system that left it out)"
    )
    summary: str = Field(description="what happened, in one plain sentence")


class HistoryView(BaseModel):
    """A partner's history over a window: every event received about it, in the order
    received; ``earlier`` asks for the window before."""

    partner_id: str
    since: InstantText
    until: InstantText
    entries: list[HistoryEntry]
    earlier: str = Field(description="the path of the same span of days before this one")

    @classmethod
    def of(
        cls, partner_id: str, since: datetime, until: datetime, entries: Sequence[Mapping[str, Any]]
    ) -> HistoryView:
        span = until - since
        before = f"since={utc_text(since - span)}&until={utc_text(since)}"
        return cls(
            partner_id=partner_id,
            since=utc_text(since),
            until=utc_text(until),
            entries=[
                HistoryEntry(
                    event_id=e["id"],
                    type=e["type"],
                    time=e["time"],
                    received_at=e["at"],
                    source=e["source"],
                    actor=e["actor"],
                    summary=e["summary"],
                )
                for e in entries
            ],
            earlier=f"/partners/{partner_id}/history?{before}",
        )


# --------------------------------------------------------------------------- payouts


class PayoutView(BaseModel):
    """What one settlement paid the partner."""

    settlement_id: str
    partner_id: str
    period: str
    currency: str
    amount_paid: MoneyText
    period_amount: MoneyText = Field(
        description="the part of amount_paid from the period's own total"
    )
    carried_adjustments: list[AdjustmentView] = Field(
        description="earlier periods' differences paid"
    )
    unrecovered: list[AdjustmentView] = Field(description="negative adjustments left pending")
    settled_at: InstantText
    rerun: bool
    mdf_reimbursed: MoneyText = Field(
        description="approved MDF claims paid beside the commissions (not in amount_paid)"
    )
    mdf_claims: list[str] = Field(description="the MDF claims mdf_reimbursed pays")
    mdf_other_currencies: list[MdfReimbursementView] = Field(
        default_factory=list,
        description="approved MDF claims in other currencies, paid apart, by currency",
    )


class MdfReimbursementView(BaseModel):
    """Approved MDF claims in one currency paid apart from the payout's currency."""

    currency: str
    amount: MoneyText
    claims: list[str] = Field(description="the ids of the claims it pays")


class PeriodPaymentView(BaseModel):
    period: str
    currency: str
    current_total: MoneyText = Field(description="commission, target bonus and adjustments now")
    paid: MoneyText
    settled: bool
    pending_adjustment: MoneyText = Field(description="what the next settlement pays for it")

    @classmethod
    def of(cls, payment: PeriodPayment) -> PeriodPaymentView:
        return cls(
            period=payment.period,
            currency=payment.currency,
            current_total=money(payment.current_total),
            paid=money(payment.paid),
            settled=payment.settled,
            pending_adjustment=money(payment.pending_adjustment),
        )


class PayoutsView(BaseModel):
    """A partner's settlements, and per period its current total, paid and pending."""

    partner_id: str
    payouts: list[PayoutView] = Field(description="oldest first")
    periods: list[PeriodPaymentView] = Field(description="in period order")
    pending_adjustments: dict[str, MoneyText] = Field(description="by currency")

    @classmethod
    def of(cls, partner_id: str, found: PartnerPayouts) -> PayoutsView:
        return cls(
            partner_id=partner_id,
            payouts=[PayoutView.model_validate(p) for p in found.settlements],
            periods=[PeriodPaymentView.of(p) for p in found.periods],
            pending_adjustments=_by_currency(pending_by_currency(found.periods)),
        )


#: The finance export's columns; money with two decimals, a point, no grouping.
CSV_COLUMNS = (
    "settlement_id",
    "partner_id",
    "partner_name",
    "period",
    "currency",
    "period_amount",
    "carried_adjustments",
    "carried_total",
    "amount_paid",
    "unrecovered",
    "settled_at",
    "mdf_reimbursed",
)


def _adjustments(adjustments: list[dict[str, Any]]) -> str:
    return "; ".join(f"{a['period']} {a['amount']}" for a in adjustments)


def finance_csv(rows: list[SettlementRow]) -> str:
    """A settlement's export for finance: one CSV row per partner, and one more for each
    other currency its MDF claims are paid in (commission columns 0.00, blank lists; CRLF
    line ends); a partner's name formula-safe (:func:`shared.spreadsheet.csv_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for payout, name in rows:
        carried = payout["carried_adjustments"]
        writer.writerow(
            [
                payout["settlement_id"],
                payout["partner_id"],
                csv_cell(name or ""),
                payout["period"],
                payout["currency"],
                payout["period_amount"],
                _adjustments(carried),
                money(sum((Decimal(a["amount"]) for a in carried), ZERO)),
                payout["amount_paid"],
                _adjustments(payout["unrecovered"]),
                payout["settled_at"],
                payout["mdf_reimbursed"],
            ]
        )
        for other in payout.get("mdf_other_currencies", []):
            writer.writerow(
                [
                    payout["settlement_id"],
                    payout["partner_id"],
                    csv_cell(name or ""),
                    payout["period"],
                    other["currency"],
                    "0.00",
                    "",
                    "0.00",
                    "0.00",
                    "",
                    payout["settled_at"],
                    other["amount"],
                ]
            )
    return out.getvalue()


# --------------------------------------------------------------------------- leaderboard


class LeaderboardEntry(BaseModel):
    rank: int
    partner_id: str
    name: str | None
    value: str = Field(
        description="the revenue or commission (two decimals), the attainment, or the NPS"
    )
    currency: str | None = Field(description="null when ranked by attainment or NPS")
    responses: int | None = Field(
        default=None, description="by NPS: the survey answers of the period; else null"
    )


class LeaderboardView(BaseModel):
    period: str
    by: Ranking
    entries: list[LeaderboardEntry] = Field(description="best first; ties by partner id")

    @classmethod
    def of(cls, period: str, by: Ranking, totals: list[dict[str, Any]]) -> LeaderboardView:
        """The ranking of the period totals found, best first."""
        entries = [
            LeaderboardEntry(
                rank=rank,
                partner_id=doc["partner_id"],
                name=doc.get("name"),
                value=doc[by],
                currency=None if by in ("attainment", "nps") else doc.get("currency"),
                responses=doc.get("responses") if by == "nps" else None,
            )
            for rank, doc in enumerate(totals, 1)
        ]
        return cls(period=period, by=by, entries=entries)


# --------------------------------------------------------------------------- health


class AttainmentFactor(BaseModel):
    value: str | None
    points: str
    max: int


class ActivityFactor(BaseModel):
    days_since_last_deal: int | None
    points: str
    max: int


class CertificationsFactor(BaseModel):
    valid: int
    points: str
    max: int


class FeedbackFactor(BaseModel):
    average_rating: str | None
    points: str
    max: int


class SatisfactionFactor(BaseModel):
    responses: int = Field(description="survey answers of the 12 months up to as_of")
    nps: str | None
    points: str | None = Field(description="null without answers: the factor does not count")
    max: int = Field(description="the factor's weight (HEALTH_SATISFACTION_WEIGHT)")
    others_scale: str = Field(
        description="what the four other factors' sum is multiplied by: "
        "(100 − weight) / 100 with answers, 1 without"
    )


def _points(points: Decimal) -> str:
    """A factor's points as shown: to one decimal."""
    return str(points.quantize(Decimal("0.1")))


class HealthFactors(BaseModel):
    attainment: AttainmentFactor
    activity: ActivityFactor
    certifications: CertificationsFactor
    feedback: FeedbackFactor
    satisfaction: SatisfactionFactor

    @classmethod
    def of(cls, health: Health) -> HealthFactors:
        return cls(
            satisfaction=SatisfactionFactor(
                responses=health.satisfaction.responses,
                nps=_text(health.satisfaction.nps),
                points=None
                if health.satisfaction_points is None
                else _points(health.satisfaction_points),
                max=health.satisfaction_weight,
                others_scale=str(health.others_scale.quantize(Decimal("0.01"))),
            ),
            attainment=AttainmentFactor(
                value=_text(health.attainment),
                points=_points(health.attainment_points),
                max=ATTAINMENT_POINTS,
            ),
            activity=ActivityFactor(
                days_since_last_deal=health.days_since_last_deal,
                points=_points(health.activity_points),
                max=ACTIVITY_POINTS,
            ),
            certifications=CertificationsFactor(
                valid=health.valid_certifications,
                points=_points(health.certification_points),
                max=CERTIFICATION_POINTS,
            ),
            feedback=FeedbackFactor(
                average_rating=_text(health.average_rating),
                points=_points(health.feedback_points),
                max=FEEDBACK_POINTS,
            ),
        )


class HealthView(BaseModel):
    """A partner's health score with its factors (docs/rules/health-score.md)."""

    partner_id: str
    as_of: InstantText
    period: str = Field(description="the current period of the partner's plan")
    score: str
    at_risk: bool
    factors: HealthFactors

    @classmethod
    def of(cls, partner_id: str, moment: datetime, found: PartnerHealth) -> HealthView:
        return cls(
            partner_id=partner_id,
            as_of=moment.isoformat(),
            period=found.period,
            score=str(found.health.score),
            at_risk=found.health.at_risk,
            factors=HealthFactors.of(found.health),
        )


class PartnerAtRisk(BaseModel):
    """A partner at risk: who it is and its health score with its factors."""

    partner_id: str
    name: str | None
    tier: Tier | None
    region: str | None
    period: str = Field(description="the current period of the partner's plan")
    score: str
    factors: HealthFactors

    @classmethod
    def of(cls, found: ScoredPartner) -> PartnerAtRisk:
        return cls(
            partner_id=found.partner_id,
            name=found.view.get("name"),
            tier=found.view.get("tier"),
            region=found.view.get("region"),
            period=found.health.period,
            score=str(found.health.health.score),
            factors=HealthFactors.of(found.health.health),
        )


class PartnersAtRiskView(BaseModel):
    """The active partners at risk as of an instant (docs/rules/health-score.md)."""

    as_of: InstantText
    scored: int = Field(description="how many active partners were scored")
    partners: list[PartnerAtRisk] = Field(
        description="at most `limit`, the lowest score first; ties by partner id"
    )

    @classmethod
    def of(cls, moment: datetime, found: PartnersAtRisk) -> PartnersAtRiskView:
        return cls(
            as_of=moment.isoformat(),
            scored=found.scored,
            partners=[PartnerAtRisk.of(partner) for partner in found.partners],
        )


# --------------------------------------------------------------------------- programme


class PartnerCounts(BaseModel):
    total: int
    by_status: dict[str, int]
    by_tier: dict[str, int]


class OpenMdf(BaseModel):
    requests: int
    amount: dict[str, MoneyText] = Field(description="by currency")


class ProgrammeSummaryView(BaseModel):
    """The programme at a glance, for a period or (``period`` null) all time."""

    # Fields with a default are in every answer all the same: the schema says required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    period: str | None
    partners: PartnerCounts
    revenue: dict[str, MoneyText] = Field(description="by currency")
    commission: dict[str, MoneyText] = Field(description="by currency")
    bonus: dict[str, MoneyText] = Field(description="by currency")
    training_completions: int
    certifications_awarded: int
    open_mdf: OpenMdf
    mdf_claimed: dict[str, MoneyText] = Field(
        default_factory=dict,
        description="by currency: what the claims against the MDF requests made in the "
        "period ask, whatever their decision",
    )
    mdf_reimbursed: dict[str, MoneyText] = Field(
        default_factory=dict,
        description="by currency: what settlements reimbursed for the claims against the "
        "MDF requests made in the period",
    )
    mdf_released: dict[str, MoneyText] = Field(
        default_factory=dict,
        description="by currency: the unclaimed funds of the MDF requests made in the period "
        "returned to the budget after their claim window closed (MdfFundsReleased)",
    )
    average_feedback_rating: str | None
    satisfaction: SatisfactionView | None = Field(
        default=None,
        description="customers' survey answers completed in the period (all time: every one)",
    )

    @classmethod
    def of(cls, period: str | None, figures: ProgrammeFigures) -> ProgrammeSummaryView:
        return cls(
            period=period,
            partners=PartnerCounts(
                total=sum(figures.by_status.values()),
                by_status=dict(figures.by_status),
                by_tier=dict(figures.by_tier),
            ),
            revenue=_by_currency(figures.revenue),
            commission=_by_currency(figures.commission),
            bonus=_by_currency(figures.bonus),
            training_completions=figures.training_completions,
            certifications_awarded=figures.certifications_awarded,
            open_mdf=OpenMdf(
                requests=figures.open_mdf_requests, amount=_by_currency(figures.open_mdf)
            ),
            mdf_claimed=_by_currency(figures.mdf_claimed),
            mdf_reimbursed=_by_currency(figures.mdf_reimbursed),
            mdf_released=_by_currency(figures.mdf_released),
            average_feedback_rating=_text(figures.average_rating),
            satisfaction=SatisfactionView(
                responses=figures.satisfaction.responses,
                promoters=figures.satisfaction.promoters,
                passives=figures.satisfaction.passives,
                detractors=figures.satisfaction.detractors,
                average=_text(figures.satisfaction.average),
                nps=_text(figures.satisfaction.nps),
            ),
        )
