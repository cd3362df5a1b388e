"""The store's own floor for steady-rate latency (``make bench-store``).

At a steady rate a batch holds about one deal per partner, so each deal pays
its partner's store operations alone. This runs exactly those operations,
through the services' own functions (``shared.mongo``) on documents of about
the size the benchmark's partners reach (without the outbox events and terms
the services also store: the figures err on the fast side), and nothing
else: no Kafka, no events, no commission rules. Two processes run at once,
as the services do:

- **incentives**: the deals' ``deal_partners`` entries (``insert_new``) and
  each partner's ledger (``replace_if_unchanged``: version read, replace,
  write-token read back on FerretDB);
- **reporting**: the deals (``upsert_new``), each partner's lines
  (``replace_if_unchanged``) and its period totals (an upsert).

Each batch takes ``B`` deals of ``B`` different partners, in turn over
``--partners``. Whatever deals/s this reaches at a batch size is more than the
pipeline can reach there, since the pipeline does this and more on the same
cores.

    python -m bench.store [--partners 1000] [--batch-sizes 100,1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

from bson import Binary
from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from bench.pipeline import INDEX_PASS_SECONDS, percentile
from bench.profile import cpu_seconds, infra_pids
from shared.mongo import (
    Document,
    bulk_write_chunked,
    find_by_ids,
    insert_new,
    make_mongo_client,
    replace_if_unchanged,
    upsert_new,
)
from shared.settings import Settings

PERIOD = "2026-Q4"
PARTS = ("incentives", "reporting")


def partner_id(n: int) -> str:
    return f"P-{n:05d}"


def totals(pid: str, deals: int) -> Document:
    """A period-totals document as reporting writes it (the fields, not the arithmetic)."""
    amount = f"{1234 * deals}.00"
    return {
        "partner_id": pid,
        "period": PERIOD,
        "name": f"Partner {pid}",
        "currency": "USD",
        "revenue": amount,
        "commission": f"{123 * deals}.40",
        "bonus": "0.00",
        "payout": f"{123 * deals}.40",
        "deals": deals,
        "target": "300000.00",
        "attainment": "0.0041",
        "revenue_sort": float(1234 * deals),
        "commission_sort": float(123 * deals),
        "attainment_sort": 0.0041,
    }


def deal(pid: str) -> Document:
    """The update by which reporting stores a DealClosed (``projection``)."""
    return {
        "$setOnInsert": {"partner_id": pid},
        "$set": {
            "versions.1": {
                "amount": "1234.00",
                "currency": "USD",
                "closed_at": "2026-10-01T00:00:00.000000Z",
                "product_line": "cloud",
                "customer": "Contoso Ltd",
            }
        },
    }


async def seed(settings: Settings, databases: dict[str, str], partners: int, state: bytes) -> None:
    """Every partner's ledger and lines (version 1) and period totals, as a run leaves them."""
    client = make_mongo_client(settings)
    try:
        incentives = client[databases["incentives"]]
        reporting = client[databases["reporting"]]
        ids = [partner_id(n) for n in range(partners)]
        for start in range(0, partners, 500):
            chunk = ids[start : start + 500]
            await incentives["ledgers"].insert_many(
                [{"_id": p, "version": 1, "state": Binary(state), "outbox": []} for p in chunk]
            )
            await reporting["lines"].insert_many(
                [{"_id": p, "version": 1, "state": Binary(state)} for p in chunk]
            )
            await reporting["period_totals"].insert_many(
                [{"_id": f"{p}|{PERIOD}", **totals(p, 1)} for p in chunk]
            )
        await incentives["deal_partners"].insert_one({"_id": "created", "partner_id": "-"})
        await reporting["deals"].insert_one({"_id": "created"})
        # Given the time the local FerretDB takes to index a new table by _id, as
        # the raw ceiling's collection is (bench.pipeline.raw_mongo).
        await asyncio.sleep(INDEX_PASS_SECONDS)
    finally:
        await client.close()


async def replace_unguarded(
    collection: AsyncCollection[Document], writes: list[tuple[Document, int]]
) -> set[Any]:
    """``--writes-only``: each document replaced by ``_id`` with no version read and no
    read-back; what a store whose conditional replace is atomic and costs no more than
    a plain one would do. Not safe with two writers: a measurement only."""
    await bulk_write_chunked(
        collection, [ReplaceOne({"_id": doc["_id"]}, doc) for doc, _ in writes]
    )
    return set()


async def work(args: argparse.Namespace) -> None:
    """One part's batches for ``--seconds``; prints what it did as one JSON line."""
    write = replace_unguarded if args.writes_only else replace_if_unchanged
    settings = Settings(service_name=f"bench-store-{args.worker}")
    client = make_mongo_client(settings)
    database = client[args.database]
    state = Binary(os.urandom(args.state_bytes))
    run = uuid.uuid4().hex[:8]
    batch_seconds: list[float] = []
    lost = 0
    turn = 0
    try:
        # As the services keep them between batches: every partner's version, known
        # before the clock starts (an earlier batch size's run has moved them on).
        collection = database["ledgers" if args.worker == "incentives" else "lines"]
        stored = await find_by_ids(
            collection, [partner_id(n) for n in range(args.partners)], {"version": 1}
        )
        versions = {pid: int(doc["version"]) for pid, doc in stored.items()}
        started = time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            pids = [
                partner_id((turn * args.batch_size + j) % args.partners)
                for j in range(args.batch_size)
            ]
            deals = [(f"{run}-{turn}-{j}", pid) for j, pid in enumerate(pids)]
            began = time.perf_counter()
            writes = [
                ({"_id": p, "version": versions[p] + 1, "state": state}, versions[p]) for p in pids
            ]
            if args.worker == "incentives":
                await insert_new(
                    database["deal_partners"], [{"_id": d, "partner_id": p} for d, p in deals]
                )
                losers = await write(
                    database["ledgers"], [({**doc, "outbox": []}, v) for doc, v in writes]
                )
            else:
                await upsert_new(database["deals"], [(d, deal(p)) for d, p in deals])
                losers = await write(database["lines"], writes)
                await bulk_write_chunked(
                    database["period_totals"],
                    [
                        UpdateOne(
                            {"_id": f"{p}|{PERIOD}"},
                            {"$set": totals(p, versions[p] + 1)},
                            upsert=True,
                        )
                        for p in pids
                    ],
                )
            batch_seconds.append(time.perf_counter() - began)
            lost += len(losers)
            for p in pids:
                if p not in losers:
                    versions[p] += 1
            turn += 1
        elapsed = time.perf_counter() - started
    finally:
        await client.close()
    print(
        json.dumps(
            {
                "part": args.worker,
                "deals": turn * args.batch_size,
                "seconds": elapsed,
                "batches": batch_seconds,
                "lost": lost,
            }
        ),
        flush=True,
    )


async def phase(args: argparse.Namespace, databases: dict[str, str], batch_size: int) -> None:
    """Both parts at once at one batch size; prints deals/s, batch times and CPU."""
    common = [
        "--partners", str(args.partners),
        "--seconds", str(args.seconds),
        "--state-bytes", str(args.state_bytes),
        "--batch-size", str(batch_size),
    ] + (["--writes-only"] if args.writes_only else [])  # fmt: skip
    pids = infra_pids()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    children_before = os.times()
    workers = {
        part: await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.store",
            "--worker",
            part,
            "--database",
            databases[part],
            *common,
            stdout=asyncio.subprocess.PIPE,
        )
        for part in PARTS
    }
    results: dict[str, Any] = {}
    try:
        for part, process in workers.items():
            out, _ = await process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"the {part} worker failed (exit {process.returncode})")
            results[part] = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        for process in workers.values():
            if process.returncode is None:
                process.kill()
                await process.wait()
    now = os.times()
    workers_cpu = (now.children_user + now.children_system) - (
        children_before.children_user + children_before.children_system
    )
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    print(f"batches of {batch_size} deals, each of a different partner ({args.seconds} s):")
    for part in PARTS:
        r = results[part]
        rate = r["deals"] / r["seconds"]
        times = r["batches"]
        print(
            f"  {part:<11} {rate:>8,.0f} deals/s   batch p50 {1000 * statistics.median(times):,.0f} ms"
            f"   p99 {1000 * percentile(sorted(times), 99):,.0f} ms   ({len(times)} batches)"
        )
        if r["lost"]:  # one writer per collection: a lost write means the versions were wrong
            raise SystemExit(f"{part}: {r['lost']} writes lost to another writer; no figures")
    slower = min(results[p]["deals"] / results[p]["seconds"] for p in PARTS)
    print(f"  the store alone keeps up with at most {slower:,.0f} deals/s at this batch size")
    spent = {name: (after[name] or 0) - (before[name] or 0) for name in pids}
    print(
        "  CPU s: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in spent.items())
        + f", both workers {workers_cpu:.1f}"
    )


async def main_async(args: argparse.Namespace) -> None:
    for batch_size in args.batch_sizes:
        if not 0 < batch_size <= args.partners:
            raise SystemExit(
                f"--batch-sizes: {batch_size} is not between 1 and --partners ({args.partners})"
            )
    settings = Settings(service_name="bench-store")
    run = uuid.uuid4().hex[:8]
    databases = {part: f"bench_store_{part}_{run}" for part in PARTS}
    state = os.urandom(args.state_bytes)
    print(
        f"store operations per deal at a steady rate: {args.partners:,} partners, "
        f"{args.state_bytes:,}-byte ledgers and lines"
        f"{' replaced unguarded (--writes-only)' if args.writes_only else ''}, {os.cpu_count()} cores, "
        f"MongoDB {settings.mongodb_url.get_secret_value().rsplit('@', 1)[-1]}"
    )
    try:
        await seed(settings, databases, args.partners, state)
        for batch_size in args.batch_sizes:
            await phase(args, databases, batch_size)
    finally:
        client = make_mongo_client(settings)
        for name in databases.values():
            await client.drop_database(name)
        await client.close()


def batch_sizes(text: str) -> list[int]:
    try:
        return [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not comma-separated whole numbers, such as 100,1000"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument(
        "--batch-sizes",
        type=batch_sizes,
        default=[100, 1000],
        help="comma-separated deals per batch (each of a different partner)",
    )
    parser.add_argument("--seconds", type=float, default=10, help="length of each batch size's run")
    parser.add_argument(
        "--state-bytes",
        type=int,
        default=7000,
        help="bytes of each ledger's and lines' compressed state (7 000: a ledger of about 100 deals)",
    )
    parser.add_argument(
        "--writes-only",
        action="store_true",
        help="replace ledgers and lines by _id without the version read and token read-back "
        "(what an atomic conditional replace would cost; not safe, a measurement only)",
    )
    parser.add_argument("--worker", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    asyncio.run(work(args) if args.worker else main_async(args))


if __name__ == "__main__":
    main()
