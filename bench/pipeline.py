"""End-to-end benchmark (``make bench``): the pipeline against the raw Kafka and MongoDB ceilings.

In one run, on the local infrastructure:

1. **Raw ceilings.** A plain aiokafka producer → consumer round trip of the
   same DealClosed messages with no processing (messages/s), and a plain
   PyMongo async bulk upsert of documents shaped like the read models
   (documents/s, in bulk writes of the size the services use).
2. **Pipeline throughput.** Incentives and reporting run as processes with
   their own databases and consumer groups (started here, caught up with the
   topics first); contracts for ``--partners`` partners, then ``--deals``
   DealClosed from a plain producer, timed until both services' consumer
   groups have committed every message (read from Kafka, so the watching
   loads neither the services nor the database), and checked once against
   reporting's read model (a commission line for every deal): sustained
   deals/s.
3. **Latency** at a steady ``--rate`` deals/s for ``--seconds``: from produce
   to the deal's line being visible in reporting's read API, p50/p95/p99, for
   every deal of ``--watch`` partners (their statements read in turn, within
   ``--reads`` reads a second), split where incentives published the deal's
   CommissionCalculated (read back from ``incentives.v1``).
4. The ratios of the pipeline to the slower raw ceiling.

    python -m bench.pipeline [--partners 1000] [--deals 100000] [--rate 1000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx2 as httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient, UpdateOne

from bench.engine import bench_contract
from bench.profile import Profile, infra_pids
from services.reporting.store import line_revisions, revision_fields, revision_text
from shared import events, topics
from shared.events import CLOUDEVENTS_CONTENT_TYPE, new_event
from shared.infra import partition_ids, start_group_at_end
from shared.lag import consumer_lag
from shared.messaging import kafka_client_options
from shared.mongo import BULK_CHUNK, find_by_ids
from shared.settings import Settings
from tests.support.processes import ServiceProcess

HEADERS = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
INDEX_PASS_SECONDS = 2.5


def say(text: str) -> None:
    print(text, flush=True)


def deal_message(run: str, partner: str, n: int, closed_at: datetime) -> tuple[str, bytes, bytes]:
    event = new_event(
        events.DealClosed(
            partner_id=partner,
            deal_id=f"{run}-D{n}",
            customer=f"customer {n % 997}",
            product_line=("cloud", "security", "data")[n % 3],
            amount=Decimal(1000 + (n * 7919) % 50000),
            currency="USD",
            closed_at=closed_at,
        ),
        source="/bench",
    )
    return event.data.deal_id, event.key, event.to_bytes()


async def raw_kafka(settings: Settings, count: int, run: str) -> float:
    """Messages/s of a produce → consume round trip with no processing."""
    topic = topics.DEALS
    # Deal ids of their own ("<run>R-D<n>"): the same ids under other partners than the
    # pipeline run's would be conflicting facts for every reader of the topic.
    raw_run = f"{run}R"
    messages = [
        deal_message(raw_run, f"RAW-{run}-{n % 100}", n, datetime(2026, 10, 1, tzinfo=UTC))
        for n in range(count)
    ]
    partitions = [TopicPartition(topic, p) for p in await partition_ids(settings, topic)]
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), enable_auto_commit=False, max_poll_records=2000
    )
    producer = AIOKafkaProducer(
        **kafka_client_options(settings), acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await consumer.start()
    await producer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        marker = f"{raw_run}-D".encode()
        started = time.perf_counter()
        for _, key, value in messages:
            await producer.send(topic, value, key=key, headers=HEADERS)
        await producer.flush()
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(1 for records in batch.values() for r in records if marker in r.value)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def raw_mongo(settings: Settings, count: int, run: str) -> float:
    """Documents/s of bulk upserts shaped like reporting's statement lines."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url.get_secret_value()
    )
    collection = client[f"bench_raw_{run}"]["lines"]
    operations = [
        UpdateOne(
            {"_id": f"{run}-D{n}"},
            {
                "$setOnInsert": {"partner_id": f"P-{n % 1000}"},
                "$set": {
                    f"deals.{run}-D{n}.r000000001": revision_text(
                        {
                            "deal_id": f"{run}-D{n}",
                            "period": "2026-Q4",
                            "currency": "USD",
                            "amount": "1234.00",
                            "status": "commissionable",
                            "base": "123.40",
                            "uplift": "0.00",
                            "commission": "123.40",
                            "target_bonus": "0",
                            "closed_at": "2026-10-01T00:00:00.000000Z",
                        }
                    )
                },
                "$max": {"revision": 1},
            },
            upsert=True,
        )
        for n in range(count)
    ]
    try:
        # Created first, and given the time the local FerretDB takes to add its _id
        # lookup index to a new table (deploy/local/ferretdb/idindex.go: every second),
        # as the services' collections have long had it.
        await collection.insert_one({"_id": f"{run}-created"})
        await asyncio.sleep(INDEX_PASS_SECONDS)
        started = time.perf_counter()
        for start in range(0, count, BULK_CHUNK):
            await collection.bulk_write(operations[start : start + BULK_CHUNK], ordered=False)
        return count / (time.perf_counter() - started)
    finally:
        await client.drop_database(f"bench_raw_{run}")
        await client.close()


@contextmanager
def services(
    settings: Settings, run: str, batch_size: int | None = None
) -> Iterator[dict[str, ServiceProcess]]:
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "LOG_LEVEL": "WARNING",
    }
    if batch_size is not None:
        common["CONSUMER_BATCH_SIZE"] = str(batch_size)
    started = {
        name: ServiceProcess(
            name,
            {
                **common,
                "MONGODB_DATABASE": f"bench_{name}_{run}",
                "CONSUMER_GROUP": f"bench-{name}-{run}",
            },
        ).start(timeout=120)
        for name in PIPELINE
    }
    try:
        yield started
    finally:
        for process in started.values():
            process.stop()


PIPELINE = ("incentives", "reporting")


async def group_lags(settings: Settings, run: str) -> dict[str, int]:
    """Messages each service's group has not yet committed (its state written, its events
    published): a progress reading from Kafka alone, which loads neither service nor database.
    Incentives is read first, so reporting at 0 afterwards has what incentives published."""
    return {
        name: sum(
            (await consumer_lag(settings, f"bench-{name}-{run}", topics.CONSUMED[name])).values()
        )
        for name in PIPELINE
    }


async def wait_caught_up(settings: Settings, run: str, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while True:
        lags = await group_lags(settings, run)
        if all(v == 0 for v in lags.values()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"services did not catch up: {lags}")
        await asyncio.sleep(1)


async def topic_ends(settings: Settings, topic: str) -> dict[TopicPartition, int]:
    """The end offset of each partition of ``topic`` now."""
    partitions = [TopicPartition(topic, p) for p in await partition_ids(settings, topic)]
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def commissions_published(
    settings: Settings, since: dict[TopicPartition, int], deal_ids: set[str]
) -> dict[str, float]:
    """When incentives published the first CommissionCalculated of each of ``deal_ids``
    after the offsets ``since`` (the records' CreateTime, wall clock seconds)."""
    until = await topic_ends(settings, topics.INCENTIVES)
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), enable_auto_commit=False, max_poll_records=5000
    )
    await consumer.start()
    published: dict[str, float] = {}
    try:
        consumer.assign(list(until))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        left = {tp for tp, end in until.items() if end > since.get(tp, 0)}
        deadline = time.monotonic() + 60
        while left and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    deal_id = (event.get("data") or {}).get("deal_id")
                    if (
                        event.get("type") == events.CommissionCalculated.event_type
                        and deal_id in deal_ids
                    ):
                        published.setdefault(deal_id, record.timestamp / 1000)
                    if record.offset + 1 >= until[tp]:
                        left.discard(tp)
    finally:
        await consumer.stop()
    return published


async def deals_visible(
    client: AsyncMongoClient[dict[str, Any]], run: str, partners: list[str]
) -> set[str]:
    """Deal ids with a commission line in reporting's read model (one lookup per partner)."""
    docs = await find_by_ids(client[f"bench_reporting_{run}"]["g1_lines"], partners)
    return {
        revision_fields(revision)["deal_id"]
        for doc in docs.values()
        for revisions in line_revisions(doc).values()
        for revision in revisions.values()
    }


def quarter_of(instant: datetime) -> str:
    return f"{instant.year}-Q{(instant.month - 1) // 3 + 1}"


async def pipeline(
    settings: Settings, args: argparse.Namespace, run: str
) -> tuple[float, list[float]]:
    partners = [f"B-{run}-{p:04d}" for p in range(args.partners)]
    producer = AIOKafkaProducer(
        **kafka_client_options(settings), acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url.get_secret_value()
    )
    await producer.start()
    try:
        # The benchmark measures its own events: the groups start at the topics' end,
        # whatever history the broker holds.
        for name in PIPELINE:
            await start_group_at_end(settings, f"bench-{name}-{run}", topics.CONSUMED[name])
        with services(settings, run, args.batch_size) as running:
            say("  services started; letting them catch up with the topics")
            await wait_caught_up(settings, run)
            for partner in partners:
                signed = new_event(
                    events.PartnerSigned(
                        partner_id=partner,
                        name=partner,
                        partner_type="reseller",
                        region="EMEA",
                        industry="IT",
                        contract=bench_contract(f"{partner}-C"),
                    ),
                    source="/bench",
                )
                await producer.send(
                    topics.PARTNERS, signed.to_bytes(), key=signed.key, headers=HEADERS
                )
            await producer.flush()
            await wait_caught_up(settings, run)

            say(
                f"  pipeline throughput: {args.deals:,} DealClosed across {len(partners):,} partners"
            )
            start_day = datetime(2026, 10, 1, tzinfo=UTC)
            messages = [
                deal_message(run, partners[n % len(partners)], n, start_day + timedelta(minutes=n))
                for n in range(args.deals)
            ]

            def profile() -> Profile:
                return Profile(
                    {
                        **{name: p.process.pid for name, p in running.items() if p.process},
                        **infra_pids(),
                        "benchmark": os.getpid(),
                    },
                    {name: p.url for name, p in running.items()},
                )

            throughput_profile = profile()
            await throughput_profile.start()
            started = time.perf_counter()
            for _, key, value in messages:
                await producer.send(topics.DEALS, value, key=key, headers=HEADERS)
            await producer.flush()
            last_report = started
            ours = {m[0] for m in messages}
            while True:
                lags = await group_lags(settings, run)
                now = time.perf_counter()
                # Both services done with every deal: prove it from the read model
                # (every deal has a line), once, outside the clock.
                if all(v == 0 for v in lags.values()) and ours <= await deals_visible(
                    client, run, partners
                ):
                    break
                if now - last_report > 5:
                    waiting = ", ".join(f"{name} {lag:,}" for name, lag in lags.items())
                    say(f"    after {now - started:.0f} s, messages not yet done: {waiting}")
                    last_report = now
                if now - started > args.timeout:
                    raise TimeoutError(f"not done after {args.timeout} s: {lags}")
                await asyncio.sleep(0.5)
            throughput = args.deals / (now - started)
            for line in await throughput_profile.report(time.perf_counter() - started):
                say(line)

            # A few partners' deals, all of them: the watcher's reads then come back to each
            # statement often (its resolution), whatever the number of partners.
            watched = set(partners[: max(1, min(args.watch, len(partners)))])
            say(
                f"  latency at {args.rate} deals/s for {args.seconds} s "
                f"(every deal of {len(watched)} partners watched through the read API, "
                f"each statement read every ~{1000 * len(watched) / args.reads:.0f} ms)"
            )
            total = args.rate * args.seconds
            sent_at: dict[str, float] = {}
            sent_wall: dict[str, float] = {}  # the same moments on the wall clock
            read_times: list[float] = []  # how long each statement read took
            seen_at: dict[str, float] = {}
            pending: dict[tuple[str, str], set[str]] = defaultdict(set)  # (partner, period)
            done = asyncio.Event()
            reads = httpx.AsyncClient(
                base_url=running["reporting"].url,
                headers={"Authorization": f"Bearer {running['reporting'].admin_key}"},
                timeout=10,
            )

            async def look(partner: str, period: str) -> None:
                asked = time.perf_counter()
                answer = await reads.get(f"/partners/{partner}/statements/{period}")
                moment = time.perf_counter()
                read_times.append(moment - asked)
                if answer.status_code != 200:
                    return
                for line in answer.json()["lines"]:
                    deal_id = line["deal_id"]
                    if deal_id in pending[(partner, period)]:
                        pending[(partner, period)].discard(deal_id)
                        seen_at[deal_id] = moment

            # The watching is a reader like any other, within a budget: at most
            # --reads statement reads a second, in turn over the statements with a
            # watched deal not yet seen (each is read every pending/--reads seconds).
            # Polling every waiting statement without pause would, once the
            # pipeline falls behind, load the database more than the pipeline does.
            interval = 1 / args.reads
            looked: dict[tuple[str, str], float] = {}
            reading: set[tuple[str, str]] = set()
            in_flight: set[asyncio.Task[None]] = set()

            async def read(key: tuple[str, str]) -> None:
                try:
                    await look(*key)
                finally:
                    reading.discard(key)

            async def watch() -> None:
                while not done.is_set() or len(seen_at) < len(sent_at):
                    if done.is_set() and time.perf_counter() - last_sent > 60:
                        break
                    waiting = [k for k, deals in pending.items() if deals and k not in reading]
                    if waiting and len(reading) < 8:
                        key = min(waiting, key=lambda k: looked.get(k, 0.0))
                        looked[key] = time.perf_counter()
                        reading.add(key)
                        task = asyncio.create_task(read(key))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    await asyncio.sleep(interval)
                for task in list(in_flight):
                    task.cancel()

            async def progress() -> None:
                while True:
                    await asyncio.sleep(5)
                    lags = await group_lags(settings, run)
                    waiting = ", ".join(f"{name} {lag:,}" for name, lag in lags.items())
                    say(
                        f"    after {time.perf_counter() - begin:.0f} s: {len(seen_at)} of "
                        f"{len(sent_at)} watched deals seen; messages not yet done: {waiting}"
                    )

            # Built before the clock starts, like the throughput run's: the load generator
            # shares the two cores with what it measures.
            steady = []
            for n in range(total):
                partner = partners[n % len(partners)]
                closed_at = start_day + timedelta(days=40, seconds=n)
                steady.append((partner, closed_at, deal_message(f"{run}L", partner, n, closed_at)))
            commissions_since = await topic_ends(settings, topics.INCENTIVES)
            latency_profile = profile()
            await latency_profile.start()
            last_sent = time.perf_counter()
            watcher = asyncio.create_task(watch())
            begin = time.perf_counter()
            reporter = asyncio.create_task(progress())
            for n, (partner, closed_at, (deal_id, key, value)) in enumerate(steady):
                due = begin + n / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await producer.send(topics.DEALS, value, key=key, headers=HEADERS)
                if partner in watched:
                    sent_at[deal_id] = time.perf_counter()
                    sent_wall[deal_id] = time.time()
                    pending[(partner, quarter_of(closed_at))].add(deal_id)
                last_sent = time.perf_counter()
            await producer.flush()
            done.set()
            await watcher
            reporter.cancel()
            with suppress(asyncio.CancelledError):
                await reporter
            for line in await latency_profile.report(time.perf_counter() - begin):
                say(line)
            await reads.aclose()
            latencies = sorted(seen_at[d] - sent_at[d] for d in seen_at)
            # Where a watched deal's time went: until incentives published its commission
            # (the record's CreateTime), and from there until the read API served it.
            published = await commissions_published(settings, commissions_since, set(seen_at))
            split = [(published[d] - sent_wall[d], seen_at[d] - sent_at[d]) for d in published]
            read_times.sort()
            say(
                f"    the watcher's {len(read_times):,} statement reads took "
                f"p50 {format_ms(percentile(read_times, 50))}, "
                f"p99 {format_ms(percentile(read_times, 99))}"
            )
            if split:
                say(
                    "    a watched deal's time until incentives published its commission: "
                    f"p50 {format_ms(percentile(sorted(a for a, _ in split), 50))}, "
                    f"p99 {format_ms(percentile(sorted(a for a, _ in split), 99))}; "
                    "from there until the read API served it: "
                    f"p50 {format_ms(percentile(sorted(b - a for a, b in split), 50))}, "
                    f"p99 {format_ms(percentile(sorted(b - a for a, b in split), 99))}"
                )
            if len(latencies) < len(sent_at):
                say(
                    f"    {len(sent_at) - len(latencies)} of {len(sent_at)} watched deals "
                    "not seen within 60 s of the last send"
                )
            return throughput, latencies
    finally:
        await producer.stop()
        for name in ("incentives", "reporting"):
            await client.drop_database(f"bench_{name}_{run}")
        await client.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def format_ms(seconds: float) -> str:
    return f"{1000 * seconds:,.0f} ms"


async def main_async(args: argparse.Namespace) -> None:
    settings = Settings()
    run = uuid.uuid4().hex[:8]
    say(f"partnerhub benchmark on {os.cpu_count()} cores, Kafka {settings.kafka_bootstrap_servers}")
    say(f"1. raw ceilings ({args.raw:,} messages / documents)")
    kafka = await raw_kafka(settings, args.raw, run)
    say(f"   Kafka produce → consume round trip: {kafka:,.0f} messages/s")
    mongo = await raw_mongo(settings, args.raw, run)
    say(f"   MongoDB-protocol bulk upserts (chunks of {BULK_CHUNK}): {mongo:,.0f} documents/s")
    say("2./3. pipeline (incentives + reporting as processes)")
    throughput, latencies = await pipeline(settings, args, run)
    ceiling = min(kafka, mongo)
    say("")
    say("RESULTS")
    say(f"  raw Kafka round trip      {kafka:>12,.0f} messages/s")
    say(f"  raw MongoDB bulk upsert   {mongo:>12,.0f} documents/s")
    say(
        f"  pipeline throughput       {throughput:>12,.0f} deals/s   ({100 * throughput / ceiling:.0f} % of the slower ceiling)"
    )
    say(
        f"  latency at {args.rate}/s        p50 {1000 * percentile(latencies, 50):,.0f} ms   "
        f"p95 {1000 * percentile(latencies, 95):,.0f} ms   p99 {1000 * percentile(latencies, 99):,.0f} ms   "
        f"(mean {1000 * statistics.fmean(latencies) if latencies else float('nan'):,.0f} ms, {len(latencies)} deals)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000, help="deals/s for the latency run")
    parser.add_argument("--seconds", type=int, default=30, help="length of the latency run")
    parser.add_argument(
        "--raw", type=int, default=50_000, help="messages and documents for the raw ceilings"
    )
    parser.add_argument(
        "--watch",
        type=int,
        default=5,
        help="partners whose every deal of the latency run is watched",
    )
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--reads", type=float, default=100, help="statement reads per second while watching"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="the services' CONSUMER_BATCH_SIZE (default: theirs)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
