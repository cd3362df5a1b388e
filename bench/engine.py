"""Throughput of the pure commission engine (``make bench-engine``).

1 000 partners × 100 deals by default, one contract each, with 10 % of the
deals arriving late (an earlier ``closed_at`` than deals already seen, so the
rest of their period is recomputed) and 5 % cancelled, two thirds of those
inside the clawback window. Events are built before the clock starts; the
figure covers merging each event, settling the partner's book and deciding
which revisions to publish, exactly what the service does per event.

    python -m bench.engine [--partners N] [--deals M] [--seed S]
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.incentives.domain import PartnerBook, Revision, apply_event, next_revision
from shared.events import (
    Bracket,
    CloudEvent,
    CommissionPlan,
    Contract,
    DealCancelled,
    DealClosed,
    PartnerSigned,
    Payload,
    PlanPeriod,
    Tier,
    new_event,
)
from shared.service import tune_gc

QUARTER_START = datetime(2026, 10, 1, tzinfo=UTC)


def bench_contract(contract_id: str) -> Contract:
    """The contract every benchmark partner signs: quarterly brackets, a cap and a target."""
    plan = CommissionPlan(
        period=PlanPeriod.QUARTER,
        brackets=[
            Bracket(from_=Decimal("0"), rate=Decimal("0.10")),
            Bracket(from_=Decimal("100000"), rate=Decimal("0.12")),
            Bracket(from_=Decimal("250000"), rate=Decimal("0.15")),
        ],
        certification_bonus_rate=Decimal("0.02"),
        registered_deal_bonus_rate=Decimal("0.01"),
        period_cap=Decimal("60000"),
        clawback_days=90,
        target_amount=Decimal("300000"),
        target_bonus=Decimal("5000"),
    )
    return Contract(
        contract_id=contract_id,
        start_date=date(2026, 1, 1),
        end_date=date(2027, 12, 31),
        currency="USD",
        tier=Tier.GOLD,
        commission_plan=plan,
    )


def build(partners: int, deals: int, seed: int) -> tuple[list[CloudEvent[Payload]], int]:
    rng = random.Random(seed)
    stream: list[CloudEvent[Payload]] = []
    deal_count = 0
    for p in range(partners):
        partner = f"P-{p:05d}"
        contract = bench_contract(f"C-{p}")
        stream.append(
            new_event(
                PartnerSigned(
                    partner_id=partner,
                    name=partner,
                    partner_type="reseller",
                    region="EMEA",
                    industry="IT",
                    contract=contract,
                ),
                source="/bench",
            )
        )
        closes = sorted(
            QUARTER_START + timedelta(minutes=rng.randrange(0, 365 * 24 * 60)) for _ in range(deals)
        )
        order = list(range(deals))
        for i in range(deals):  # 10 % late: swapped behind a later deal
            if rng.random() < 0.10 and i + 5 < deals:
                j = i + rng.randrange(1, 6)
                order[i], order[j] = order[j], order[i]
        for i in order:
            closed_at = closes[i]
            stream.append(
                new_event(
                    DealClosed(
                        partner_id=partner,
                        deal_id=f"{partner}-D{i}",
                        customer=f"customer-{rng.randrange(500)}",
                        product_line=rng.choice(["cloud", "security", "data"]),
                        amount=Decimal(rng.randrange(1_000_00, 50_000_00)) / 100,
                        currency="USD",
                        closed_at=closed_at,
                    ),
                    source="/bench",
                )
            )
            deal_count += 1
            if rng.random() < 0.05:
                days = rng.choice([10, 45, 200])
                stream.append(
                    new_event(
                        DealCancelled(
                            partner_id=partner,
                            deal_id=f"{partner}-D{i}",
                            cancelled_at=closed_at + timedelta(days=days),
                            reason="bench",
                        ),
                        source="/bench",
                    )
                )
    return stream, deal_count


def run(stream: list[CloudEvent[Payload]]) -> tuple[float, int]:
    books: dict[str, PartnerBook] = {}
    published: dict[str, Revision] = {}
    revisions = 0
    started = time.perf_counter()
    for event in stream:
        book = books.get(event.subject)
        if book is None:
            book = books[event.subject] = PartnerBook(event.subject)
        if apply_event(book, event):
            for deal_id, result in book.settle().items():
                revision = next_revision(published.get(deal_id), result)
                if revision is not None:
                    published[deal_id] = revision
                    revisions += 1
    return time.perf_counter() - started, revisions


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine")
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--deals", type=int, default=100, help="deals per partner")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        f"building {args.partners} partners × {args.deals} deals (seed {args.seed}) …", flush=True
    )
    stream, deals = build(args.partners, args.deals, args.seed)
    # The input events are not the engine's work: keep the collector from
    # re-scanning them, and use the collector settings the services use.
    gc.collect()
    gc.freeze()
    tune_gc()
    seconds, revisions = run(stream)
    print(f"events:        {len(stream):>10,}")
    print(f"deals:         {deals:>10,}")
    print(f"revisions:     {revisions:>10,}  (CommissionCalculated that would be published)")
    print(f"engine time:   {seconds:>10.3f} s on one core")
    print(
        f"throughput:    {deals / seconds:>10,.0f} deals/s  ({len(stream) / seconds:,.0f} events/s)"
    )


if __name__ == "__main__":
    main()
