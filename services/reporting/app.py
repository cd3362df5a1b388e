"""Reporting wiring: the subscriber over every topic and the read API of SPEC §7."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import logging
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from fastapi import FastAPI, HTTPException, Path, Query
from fastapi.responses import Response
from faststream.kafka.annotations import KafkaMessage
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.reporting.domain import (
    Line,
    PeriodTotals,
    current,
    current_lines,
    governing_contract,
    health,
    money,
    parse_instant,
    partner_settlements,
    period_bounds,
    period_of,
    period_payments,
    period_totals,
    sort_lines,
    target_for,
    utc_text,
)
from services.reporting.handlers import Projector
from services.reporting.store import (
    LINES_CACHE_REVISIONS,
    Generation,
    configure_lines_cache,
    generation_state,
)
from shared import access, topics
from shared.consuming import batch_subscription, consume
from shared.events import PERIOD_PATTERN
from shared.lag import report_lag
from shared.messaging import make_broker
from shared.metrics import BUSINESS_COMMISSION, BUSINESS_REVENUE
from shared.mongo import Document, find_by_ids, make_mongo_client, service_database
from shared.periodic import every
from shared.service import service_app
from shared.settings import Settings
from shared.settlement import from_document

log = logging.getLogger("partnerhub.reporting")
PeriodQuery = Query(pattern=PERIOD_PATTERN, description="2026, 2026-Q4 or 2026-11")


#: Deals' documents looked up at once while looking for a partner's last closed deal.
LAST_DEAL_LOOKUPS = 8

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
)


def _cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, detail="cursor: not a cursor this API returned") from None


class CacheSettings(BaseSettings):
    """How much of the partners' lines stays in memory (from the environment)."""

    model_config = SettingsConfigDict(env_prefix="LINES_CACHE_", extra="ignore")

    revisions: int = Field(
        default=LINES_CACHE_REVISIONS,
        ge=0,
        description="commission revisions whose partners' lines stay in memory between "
        "batches, per generation (about 0.5 KB each), and the lines parsed from the last "
        "half that many (about 1.2 KB each); 0: read and parse every lines document each time",
    )


def create_app(settings: Settings) -> FastAPI:
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    database = service_database(mongo, settings)
    configure_lines_cache(CacheSettings().revisions)
    projector = Projector(database, settings.service_name)

    @broker.subscriber(
        *topics.CONSUMED["reporting"],
        **batch_subscription(settings),
        partition_assignment_strategy=(RangePartitionAssignor,),
        title="reporting-events",
        description="Every event of the contract, projected into the read models.",
    )
    async def on_events(message: KafkaMessage) -> None:
        await consume(
            message.raw_message,
            broker=broker,
            service=settings.service_name,
            handle=projector.handle,
        )

    async def active() -> Generation:
        return Generation(database, (await generation_state(database)).active)

    async def startup() -> None:
        for generation in await projector.generations():
            await generation.create_indexes()
            if copied := await generation.backfill_partner_payouts():
                log.info("copied %d payouts to %s partner_payouts", copied, generation.name)

    group = settings.consumer_group or settings.service_name
    consumed = topics.CONSUMED["reporting"]

    async def refresh_business_gauges() -> None:
        """Revenue and commission per currency and period, from the period totals."""
        revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        payout: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        async for t in (await active())["period_totals"].find(
            {}, {"currency": 1, "period": 1, "revenue": 1, "payout": 1}
        ):
            key = (t.get("currency") or "?", t["period"])
            revenue[key] += Decimal(t["revenue"])
            payout[key] += Decimal(t["payout"])
        for (currency, period), value in revenue.items():
            BUSINESS_REVENUE.labels(currency, period).set(float(value))
            BUSINESS_COMMISSION.labels(currency, period).set(float(payout[(currency, period)]))

    async def business_gauges() -> None:
        await every(
            30,
            refresh_business_gauges,
            what="could not refresh business gauges",
            log=log,
            immediately=True,
        )

    app = service_app(
        settings,
        title="partnerhub reporting",
        description="Read models of the partner programme: partner 360, statements, "
        "leaderboards, health and the programme summary (SPEC §7).",
        broker=broker,
        mongo=mongo,
        on_startup=startup,
        background=[lambda: report_lag(settings, group, consumed), business_gauges],
    )

    async def partner_document(generation: Generation, partner_id: str) -> Document:
        doc = await generation["partners"].find_one({"_id": partner_id})
        if doc is None:
            raise HTTPException(404, detail=f"unknown partner {partner_id}")
        return doc

    async def last_closed_deal(
        generation: Generation, partner_id: str, moment: datetime
    ) -> str | None:
        """``closed_at`` of the partner's latest deal closed by ``moment`` and not cancelled.

        The candidates are the deals of the partner's lines (one lookup by
        ``_id``; every closed deal has a line once incentives has computed it),
        latest first, each checked against its ``deals`` document, a few
        lookups by ``_id`` at a time, until one qualifies. A query of ``deals``
        by partner would make FerretDB decode every deal of every partner.
        """
        now = utc_text(moment)
        candidates = sorted(
            (
                (closed, line.deal_id)
                for line in current_lines(
                    partner_id, await generation["lines"].find_one({"_id": partner_id})
                )
                if line.closed_at and (closed := parse_instant(line.closed_at)) <= moment
            ),
            reverse=True,
        )
        for start in range(0, len(candidates), LAST_DEAL_LOOKUPS):
            chunk = [deal_id for _, deal_id in candidates[start : start + LAST_DEAL_LOOKUPS]]
            found = await find_by_ids(generation["deals"], chunk)
            closed_dates: list[str] = [
                current(deal["versions"])["closed_at"]
                for deal in map(found.get, chunk)
                if deal and deal.get("versions") and not deal.get("cancelled_at")
            ]
            if qualifying := [closed for closed in closed_dates if closed <= now]:
                return max(qualifying)
        return None

    async def totals_from_lines(
        generation: Generation, partner_ids: list[str]
    ) -> dict[str, list[PeriodTotals]]:
        """Each partner's totals per period, from its lines (one lookup by ``_id`` each),
        as ``period_totals`` holds them but for the target: a query of ``period_totals``
        by partner would make FerretDB decode every partner's every period."""
        found = await find_by_ids(generation["lines"], partner_ids)
        out: dict[str, list[PeriodTotals]] = {}
        for pid in partner_ids:
            by_period: dict[str, list[Line]] = defaultdict(list)
            for line in current_lines(pid, found.get(pid)):
                by_period[line.period].append(line)
            out[pid] = [
                period_totals(pid, period, lines, None) for period, lines in by_period.items()
            ]
        return out

    async def partner_360(generation: Generation, docs: list[Document]) -> list[dict[str, Any]]:
        """SPEC §7's partner view for each document, with a constant number of queries."""
        ids = [d["_id"] for d in docs]
        now = utc_text(datetime.now(UTC))
        certifications: dict[str, list[dict[str, Any]]] = defaultdict(list)
        async for c in (
            generation["certifications"].find({"partner_id": {"$in": ids}}).sort("awarded_at", 1)
        ):
            certifications[c["partner_id"]].append(
                {
                    "learner_id": c["learner_id"],
                    "certification_id": c["certification_id"],
                    "product_line": c["product_line"],
                    "awarded_at": c["awarded_at"],
                    "expires_at": c["expires_at"],
                    "valid": c["awarded_at"] <= now < c["expires_at"],
                }
            )
        trainings = Counter(
            [
                t["partner_id"]
                async for t in generation["trainings"].find(
                    {"partner_id": {"$in": ids}}, {"partner_id": 1}
                )
            ]
        )
        # Deals are counted where the totals are summed: each deal has one current
        # line, in one period's totals. (A query of ``deals`` by partner would make
        # FerretDB decode every deal of every partner: seconds at 100 000 deals.)
        deals: Counter[str] = Counter()
        totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for pid, periods in (await totals_from_lines(generation, ids)).items():
            for t in periods:
                deals[pid] += t.deals
                totals[pid]["revenue"] += t.revenue
                totals[pid]["commission"] += t.commission
                totals[pid]["bonus"] += t.bonus
        out = []
        for doc in docs:
            view = doc.get("view", {})
            pid = doc["_id"]
            out.append(
                {
                    "partner_id": pid,
                    "name": view.get("name"),
                    "status": view.get("status"),
                    "partner_type": view.get("partner_type"),
                    "region": view.get("region"),
                    "industry": view.get("industry"),
                    "tier": view.get("tier"),
                    "contract": view.get("contract"),
                    "certifications": certifications.get(pid, []),
                    "trainings_completed": trainings.get(pid, 0),
                    "deals_closed": deals.get(pid, 0),
                    "revenue_total": money(totals[pid]["revenue"]),
                    "commission_total": money(totals[pid]["commission"]),
                    "bonus_total": money(totals[pid]["bonus"]),
                }
            )
        return out

    @app.get(
        "/partners/{partner_id}",
        tags=["partners"],
        summary="Partner 360",
        dependencies=[access.PartnerReadAccess],
    )
    async def partner(partner_id: str) -> dict[str, Any]:
        generation = await active()
        return (await partner_360(generation, [await partner_document(generation, partner_id)]))[0]

    @app.get(
        "/partners",
        tags=["partners"],
        summary="Partners, filtered, a page at a time",
        dependencies=[access.StaffAccess],
    )
    async def partners(
        status: Literal["applied", "approved", "rejected", "active", "terminated"] | None = None,
        tier: Literal["registered", "silver", "gold", "platinum"] | None = None,
        region: str | None = None,
        industry: str | None = None,
        limit: int = Query(default=50, ge=1, le=500),
        cursor: str | None = None,
    ) -> dict[str, Any]:
        generation = await active()
        query: dict[str, Any] = {}
        for field, value in (
            ("status", status),
            ("tier", tier),
            ("region", region),
            ("industry", industry),
        ):
            if value is not None:
                query[f"view.{field}"] = value
        after = _after(cursor)
        if after is not None:
            query["_id"] = {"$gt": after}
        docs = [d async for d in generation["partners"].find(query).sort("_id", 1).limit(limit + 1)]
        page, more = docs[:limit], len(docs) > limit
        return {
            "items": await partner_360(generation, page),
            "next_cursor": _cursor(page[-1]["_id"]) if more else None,
        }

    @app.get(
        "/partners/{partner_id}/statements/{period}",
        tags=["statements"],
        summary="A partner's commission statement for one period",
        dependencies=[access.PartnerReadAccess],
    )
    async def statement(
        partner_id: str, period: str = Path(pattern=PERIOD_PATTERN, description="2026-Q4, …")
    ) -> dict[str, Any]:
        generation = await active()
        # Three lookups by _id, independent of each other: in flight at once.
        partner_doc, lines_doc, payouts_doc = await asyncio.gather(
            *(
                generation[name].find_one({"_id": partner_id})
                for name in ("partners", "lines", "partner_payouts")
            )
        )
        lines = [line for line in current_lines(partner_id, lines_doc) if line.period == period]
        if partner_doc is None and not lines:
            raise HTTPException(404, detail=f"unknown partner {partner_id}")
        contracts = (partner_doc or {}).get("contracts", [])
        target = target_for(contracts, period)
        totals = period_totals(partner_id, period, lines, target)
        contract = governing_contract(contracts, period_bounds(period)[1])
        currency = totals.currency or (contract or {}).get("currency")
        settlements = [from_document(doc) for doc in partner_settlements(payouts_doc)]
        payment = next(
            (
                p
                for p in period_payments({(period, currency or ""): totals.payout}, settlements)
                if p.period == period and p.currency == (currency or "")
            ),
            None,
        )
        return {
            "partner_id": partner_id,
            "period": period,
            "currency": currency,
            "lines": [line.as_json() for line in sort_lines(lines)],
            "revenue": money(totals.revenue),
            "commission_total": money(totals.commission),
            "bonus_total": money(totals.bonus),
            "payout_total": money(totals.payout),
            "target": money(target),
            "attainment": None if totals.attainment is None else str(totals.attainment),
            "settled": payment is not None and payment.settled,
            "paid": money(payment.paid if payment else Decimal(0)),
            "pending_adjustment": money(payment.pending_adjustment if payment else Decimal(0)),
        }

    @app.get(
        "/partners/{partner_id}/payouts",
        tags=["payouts"],
        summary="A partner's settlements, and per period: current total, paid, pending adjustment",
        dependencies=[access.PartnerReadAccess],
    )
    async def payouts(partner_id: str) -> dict[str, Any]:
        generation = await active()
        docs = partner_settlements(
            await generation["partner_payouts"].find_one({"_id": partner_id})
        )
        totals: dict[tuple[str, str], Decimal] = {
            (t.period, t.currency): t.payout
            for t in (await totals_from_lines(generation, [partner_id]))[partner_id]
            if t.currency
        }
        if (
            not docs
            and not totals
            and await generation["partners"].find_one({"_id": partner_id}, {"_id": 1}) is None
        ):
            raise HTTPException(404, detail=f"unknown partner {partner_id}")
        periods = period_payments(totals, [from_document(d) for d in docs])
        pending: dict[str, Decimal] = defaultdict(Decimal)
        for p in periods:
            pending[p.currency] += p.pending_adjustment
        return {
            "partner_id": partner_id,
            "payouts": docs,
            "periods": [p.as_json() for p in periods],
            "pending_adjustments": {c: money(a) for c, a in sorted(pending.items())},
        }

    @app.get(
        "/settlements/{settlement_id}/export.csv",
        tags=["payouts"],
        summary="A settlement for finance: one CSV row per partner",
        dependencies=[access.StaffAccess],
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def settlement_csv(settlement_id: str) -> Response:
        generation = await active()
        docs = [doc async for doc in generation["payouts"].find({"settlement_id": settlement_id})]
        if not docs:
            raise HTTPException(404, detail=f"no settlement {settlement_id}")
        docs.sort(key=lambda d: d["partner_id"])
        names = {
            d["_id"]: (d.get("view") or {}).get("name")
            async for d in generation["partners"].find(
                {"_id": {"$in": [d["partner_id"] for d in docs]}}, {"view.name": 1}
            )
        }
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for d in docs:
            carried_adjustments = d.get("carried_adjustments", [])  # FerretDB drops empty arrays
            carried = [Decimal(a["amount"]) for a in carried_adjustments]
            writer.writerow(
                [
                    d["settlement_id"],
                    d["partner_id"],
                    names.get(d["partner_id"]) or "",
                    d["period"],
                    d["currency"],
                    d["period_amount"],
                    "; ".join(f"{a['period']} {a['amount']}" for a in carried_adjustments),
                    money(sum(carried, Decimal(0))),
                    d["amount_paid"],
                    "; ".join(f"{a['period']} {a['amount']}" for a in d.get("unrecovered", [])),
                    d["settled_at"],
                ]
            )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="settlement-{settlement_id}.csv"'
            },
        )

    @app.get(
        "/leaderboard",
        tags=["leaderboard"],
        summary="Partners ranked for a period",
        dependencies=[access.StaffAccess],
    )
    async def leaderboard(
        period: str = PeriodQuery,
        by: Literal["revenue", "commission", "attainment"] = "revenue",
        limit: int = Query(default=10, ge=1, le=1000),
    ) -> dict[str, Any]:
        generation = await active()
        query: dict[str, Any] = {"period": period}
        if by == "attainment":
            query["attainment_sort"] = {"$gte": 0}
        docs = (
            generation["period_totals"]
            .find(query)
            .sort([(f"{by}_sort", -1), ("partner_id", 1)])
            .limit(limit)
        )
        entries = []
        async for rank, doc in _enumerate(docs):
            entries.append(
                {
                    "rank": rank,
                    "partner_id": doc["partner_id"],
                    "name": doc.get("name"),
                    "value": doc[by],
                    "currency": None if by == "attainment" else doc.get("currency"),
                }
            )
        return {"period": period, "by": by, "entries": entries}

    @app.get(
        "/partners/{partner_id}/health",
        tags=["partners"],
        summary="Partner health score with its factors (formula in the README)",
        dependencies=[access.PartnerReadAccess],
    )
    async def partner_health(partner_id: str, as_of: datetime | None = None) -> dict[str, Any]:
        generation = await active()
        doc = await partner_document(generation, partner_id)
        moment = (as_of or datetime.now(UTC)).astimezone(UTC)
        day = moment.date()
        contract = governing_contract(doc.get("contracts", []), day)
        period = period_of(day, contract["commission_plan"]["period"] if contract else "quarter")
        totals = await generation["period_totals"].find_one({"_id": f"{partner_id}|{period}"})
        attainment = Decimal(totals["attainment"]) if totals and totals.get("attainment") else None
        if attainment is None and target_for(doc.get("contracts", []), period):
            attainment = Decimal(0)  # a target and no revenue yet
        now = utc_text(moment)
        last_deal = await last_closed_deal(generation, partner_id, moment)
        days = None if last_deal is None else (moment - parse_instant(last_deal)).days
        valid = await generation["certifications"].count_documents(
            {"partner_id": partner_id, "awarded_at": {"$lte": now}, "expires_at": {"$gt": now}}
        )
        ratings = [
            f["rating"]
            async for f in generation["feedback"].find(
                {"partner_id": partner_id, "submitted_at": {"$lte": now}}
            )
        ]
        average = (
            (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.01")) if ratings else None
        )
        result = health(
            attainment=attainment,
            days_since_last_deal=days,
            valid_certifications=valid,
            average_rating=average,
        )
        return {
            "partner_id": partner_id,
            "as_of": moment.isoformat(),
            "period": period,
            "score": str(result.score),
            "at_risk": result.at_risk,
            "factors": result.factors,
        }

    @app.get(
        "/programme/summary",
        tags=["programme"],
        summary="The programme at a glance",
        dependencies=[access.StaffAccess],
    )
    async def programme_summary(
        period: str | None = Query(default=None, pattern=PERIOD_PATTERN),
    ) -> dict[str, Any]:
        generation = await active()
        by_status: Counter[str] = Counter()
        by_tier: Counter[str] = Counter()
        async for doc in generation["partners"].find({}, {"view.status": 1, "view.tier": 1}):
            view = doc.get("view", {})
            by_status[view.get("status") or "applied"] += 1
            if view.get("tier"):
                by_tier[view["tier"]] += 1
        totals_query: dict[str, Any] = {} if period is None else {"period": period}
        revenue: dict[str, Decimal] = defaultdict(Decimal)
        commission: dict[str, Decimal] = defaultdict(Decimal)
        bonus: dict[str, Decimal] = defaultdict(Decimal)
        async for t in generation["period_totals"].find(totals_query):
            currency = t.get("currency") or "?"
            revenue[currency] += Decimal(t["revenue"])
            commission[currency] += Decimal(t["commission"])
            bonus[currency] += Decimal(t["bonus"])
        window: dict[str, Any] = {}
        if period is not None:
            first, last = period_bounds(period)
            window = {"$gte": f"{first.isoformat()}T", "$lt": f"{last.isoformat()}U"}
        trainings = await generation["trainings"].count_documents(
            {"completed_at": window} if window else {}
        )
        certifications = await generation["certifications"].count_documents(
            {"awarded_at": window} if window else {}
        )
        open_mdf: dict[str, Decimal] = defaultdict(Decimal)
        open_count = 0
        async for m in generation["mdf"].find({"status_rank": 1}):
            if "amount" in m:
                open_mdf[m["currency"]] += Decimal(m["amount"])
                open_count += 1
        ratings = [
            f["rating"]
            async for f in generation["feedback"].find({"submitted_at": window} if window else {})
        ]
        return {
            "period": period,
            "partners": {
                "total": sum(by_status.values()),
                "by_status": dict(by_status),
                "by_tier": dict(by_tier),
            },
            "revenue": {c: money(v) for c, v in sorted(revenue.items())},
            "commission": {c: money(v) for c, v in sorted(commission.items())},
            "bonus": {c: money(v) for c, v in sorted(bonus.items())},
            "training_completions": trainings,
            "certifications_awarded": certifications,
            "open_mdf": {
                "requests": open_count,
                "amount": {c: money(v) for c, v in sorted(open_mdf.items())},
            },
            "average_feedback_rating": str(
                (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.01"))
            )
            if ratings
            else None,
        }

    return app


async def _enumerate(cursor: Any) -> Any:
    rank = 0
    async for doc in cursor:
        rank += 1
        yield rank, doc
