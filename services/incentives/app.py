"""Incentives wiring: the Kafka subscriber, the HTTP routes, start-up and shutdown."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.incentives.domain import DealResult, PartnerBook, plan_terms, to_cents, with_plan
from services.incentives.handlers import LEDGER_CACHE_DEALS, Incentives
from services.incentives.payouts import (
    Refused,
    Settlements,
    UnknownPartners,
    period_totals,
)
from services.incentives.store import IncentivesStore, PartnerLedger, encode_result
from shared import access, topics
from shared.consuming import batch_subscription, consume
from shared.events import PERIOD_PATTERN, CommissionPlan, PeriodLabel
from shared.lag import report_lag
from shared.messaging import make_broker
from shared.mongo import make_mongo_client, service_database
from shared.service import service_app
from shared.settings import Settings
from shared.settlement import pending_adjustments, to_document

log = logging.getLogger("partnerhub.incentives")


class SimulationRequest(BaseModel):
    plan: CommissionPlan = Field(description="the draft commission plan, as in a contract")
    partner_ids: list[str] = Field(min_length=1, max_length=1000)
    period: PeriodLabel


class SettlementSettings(BaseSettings):
    """How settlements pay (from the environment)."""

    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore")

    allow_negative: bool = Field(
        default=False,
        description="pay negative amounts when clawbacks exceed what is payable; "
        "by default the rest carries forward to the next settlement",
    )


class CacheSettings(BaseSettings):
    """How much of the partners' ledgers stays in memory (from the environment)."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_CACHE_", extra="ignore")

    deals: int = Field(
        default=LEDGER_CACHE_DEALS,
        ge=0,
        description="deals whose partners' ledgers stay in memory between batches "
        "(about 4.5 KB each; 0: read every ledger from MongoDB each time)",
    )


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


def _line(result: DealResult) -> dict[str, Any]:
    return {
        **encode_result(result),
        "cum_before": str(result.cum_before),
        "portions": [
            {
                "from": str(p.start),
                "to": None if p.end is None else str(p.end),
                "amount": str(p.amount),
                "rate": str(p.rate),
            }
            for p in result.portions
        ],
        "uplift_reasons": list(result.uplift_reasons),
        "cap_reduction": str(result.cap_reduction),
    }


def _totals(results: list[DealResult]) -> dict[str, str]:
    commissionable = [r for r in results if r.status.value == "commissionable"]
    return {
        "revenue": str(to_cents(sum((r.amount for r in commissionable), Decimal(0)))),
        "commission": str(to_cents(sum((r.commission for r in results), Decimal(0)))),
        "target_bonus": str(to_cents(sum((r.target_bonus for r in results), Decimal(0)))),
    }


def _period_results(book: PartnerBook, period: str) -> list[DealResult]:
    return sorted(
        (r for r in book.results().values() if r.period == period),
        key=lambda r: (r.closed_at, r.deal_id),
    )


def create_app(settings: Settings) -> FastAPI:
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    store = IncentivesStore(service_database(mongo, settings))
    incentives = Incentives(store, broker, settings.service_name, cache_deals=CacheSettings().deals)
    settlements = Settlements(
        store,
        incentives.outbox,
        allow_negative=SettlementSettings().allow_negative,
        service=settings.service_name,
    )

    @broker.subscriber(
        *topics.CONSUMED["incentives"],
        **batch_subscription(settings),
        # Partition k of every topic lands on the same replica (same partition
        # counts, same key hashing), so one partner's events meet in one place.
        partition_assignment_strategy=(RangePartitionAssignor,),
        title="incentives-events",
        description="Contracts, deals, cancellations, registrations and certifications in; "
        "CommissionCalculated and registration decisions out.",
    )
    async def on_events(message: KafkaMessage) -> None:
        await consume(
            message.raw_message,
            broker=broker,
            service=settings.service_name,
            handle=incentives.handle,
        )

    # For the AsyncAPI document: what incentives publishes.
    broker.publisher(
        topics.INCENTIVES,
        title="CommissionCalculated",
        description="One revision of one deal's commission",
    )
    broker.publisher(
        topics.INCENTIVES,
        title="PayoutSettled",
        description="One partner's payout for a settled period, with carried adjustments",
    )
    broker.publisher(
        topics.DEALS,
        title="DealRegistrationDecision",
        description="DealRegistrationApproved / DealRegistrationRejected",
    )

    async def startup() -> None:
        await store.create_indexes()
        await incentives.outbox.publish_pending()

    group = settings.consumer_group or settings.service_name
    consumed = topics.CONSUMED["incentives"]

    app = service_app(
        settings,
        title="partnerhub incentives",
        description="Deal registration and the commission engine (SPEC §5, §6).",
        broker=broker,
        mongo=mongo,
        on_startup=startup,
        on_shutdown=incentives.remove_all_published,
        background=[
            lambda: report_lag(settings, group, consumed),
            incentives.keep_removing_published,
        ],
    )

    async def _ledger_for(partner_id: str) -> PartnerLedger:
        ledger = await store.load_ledger(partner_id)
        if ledger is None:
            raise HTTPException(404, detail=f"no commission data for partner {partner_id}")
        return ledger

    @app.get(
        "/commissions/{deal_id}",
        tags=["commissions"],
        summary="A deal's commission with its breakdown and revisions",
    )
    async def commission(deal_id: str, principal: access.Authenticated) -> dict[str, Any]:
        ledger = await store.ledger_of_deal(deal_id)
        if ledger is None:
            raise HTTPException(404, detail=f"no commission for deal {deal_id}")
        if not principal.may_read_partner(ledger.partner_id):
            raise HTTPException(
                403, detail=f"this key reads only partner {principal.partner_id}'s data"
            )
        result = ledger.book.result(deal_id)
        revision = ledger.published[deal_id]
        return {
            "partner_id": ledger.partner_id,
            **_line(result if result is not None else revision.result),
            "revision": revision.revision,
            "history": ledger.history.get(deal_id, []),
        }

    @app.get(
        "/partners/{partner_id}/commissions",
        tags=["commissions"],
        summary="A partner's current commission lines, optionally for one period",
        dependencies=[access.PartnerReadAccess],
    )
    async def partner_commissions(
        partner_id: str,
        period: str | None = Query(default=None, pattern=PERIOD_PATTERN),
    ) -> dict[str, Any]:
        ledger = await _ledger_for(partner_id)
        results = sorted(
            (r for r in ledger.book.results().values() if period is None or r.period == period),
            key=lambda r: (r.period, r.closed_at, r.deal_id),
        )
        return {
            "partner_id": partner_id,
            "period": period,
            "lines": [
                {
                    **_line(r),
                    "revision": ledger.published[r.deal_id].revision
                    if r.deal_id in ledger.published
                    else None,
                }
                for r in results
            ],
            **_totals(results),
        }

    @app.get(
        "/registrations/{registration_id}",
        tags=["registrations"],
        summary="A deal registration and its decision",
    )
    async def registration(registration_id: str, principal: access.Authenticated) -> dict[str, Any]:
        found = await store.registration(registration_id)
        if found is None:
            raise HTTPException(404, detail=f"no registration {registration_id}")
        registered, decision = found
        if not principal.may_read_partner(registered["partner_id"]):
            raise HTTPException(
                403, detail=f"this key reads only partner {principal.partner_id}'s data"
            )
        return {
            **registered,
            "status": "pending"
            if decision is None
            else ("approved" if decision["approved"] else "rejected"),
            "reason": None if decision is None else decision.get("reason"),
            "decided_at": None if decision is None else decision.get("decided_at"),
        }

    @app.post(
        "/settlements",
        tags=["settlements"],
        summary="Settle a period: pay each partner what is payable now, carry later changes",
        dependencies=[access.StaffAccess],
        status_code=201,
        responses={
            200: {"description": "a dry run, or nothing new to record"},
            404: {"description": "an unknown partner id"},
            409: {"description": "the period is already settled for a partner (nothing settled)"},
        },
    )
    async def settle_period(request: SettlementRequest) -> Any:
        try:
            settlement_id, settled_at, outcomes = await settlements.run(
                request.period,
                request.partner_ids,
                settlement_id=request.settlement_id,
                rerun=request.rerun,
                dry_run=request.dry_run,
            )
        except UnknownPartners as unknown:
            raise HTTPException(404, detail=str(unknown)) from unknown
        except Refused as refused:
            return JSONResponse(
                status_code=409,
                content={
                    "detail": str(refused),
                    "refused": [
                        {
                            "partner_id": pid,
                            "period": r.period,
                            "settled_by": r.settlement_ids,
                        }
                        for pid, r in sorted(refused.refusals.items())
                    ],
                },
            )
        finally:
            # The settlement wrote these partners' ledgers: the consumer reads them again
            # (its next write would otherwise lose to the settlement's, and be retried).
            if request.partner_ids is None:
                incentives.ledgers.clear()
            else:
                incentives.ledgers.forget(request.partner_ids)
        paid = [o for o in outcomes if o.settlement is not None]
        new = [o for o in paid if not o.replayed]
        total: dict[str, Decimal] = {}
        for o in paid:
            assert o.settlement is not None
            total[o.settlement.currency] = (
                total.get(o.settlement.currency, Decimal("0.00")) + o.settlement.amount_paid
            )
        body = {
            "settlement_id": settlement_id,
            "period": request.period,
            "settled_at": settled_at.isoformat(),
            "dry_run": request.dry_run,
            "payouts": [o.as_json() for o in paid],
            "skipped": [o.as_json() for o in outcomes if o.settlement is None],
            "totals": {currency: str(amount) for currency, amount in sorted(total.items())},
        }
        return JSONResponse(status_code=201 if new and not request.dry_run else 200, content=body)

    @app.get(
        "/partners/{partner_id}/settlements",
        tags=["settlements"],
        summary="A partner's settlements and what is pending against settled periods",
        dependencies=[access.PartnerReadAccess],
    )
    async def partner_settlements(partner_id: str) -> dict[str, Any]:
        ledger = await _ledger_for(partner_id)
        currencies = sorted({s.currency for s in ledger.settlements})
        return {
            "partner_id": partner_id,
            "settlements": [
                to_document(s)
                for s in sorted(ledger.settlements, key=lambda s: (s.settled_at, s.settlement_id))
            ],
            "pending_adjustments": [
                {"period": p, "currency": c, "amount": str(a)}
                for c in currencies
                for p, a in pending_adjustments(
                    period_totals(ledger, c), ledger.settlements, c
                ).items()
            ],
        }

    @app.post(
        "/simulations",
        tags=["commissions"],
        summary="What a draft plan would have paid, beside what was paid (publishes nothing)",
        dependencies=[access.StaffAccess],
    )
    async def simulate(request: SimulationRequest) -> dict[str, Any]:
        draft = plan_terms(request.plan)
        partners: list[dict[str, Any]] = []
        for partner_id in request.partner_ids:
            ledger = await store.load_ledger(partner_id)
            if ledger is None:
                partners.append(
                    {"partner_id": partner_id, "error": "no commission data for this partner"}
                )
                continue
            actual = _period_results(ledger.book, request.period)
            in_period = {r.deal_id for r in actual}
            simulated = sorted(
                (
                    r
                    for r in with_plan(ledger.book, draft).results().values()
                    if r.deal_id in in_period
                ),
                key=lambda r: (r.closed_at, r.deal_id),
            )
            partners.append(
                {
                    "partner_id": partner_id,
                    "actual": {"lines": [_line(r) for r in actual], **_totals(actual)},
                    "simulated": {"lines": [_line(r) for r in simulated], **_totals(simulated)},
                }
            )
        return {"period": request.period, "partners": partners}

    return app
