"""``python -m services.reporting rebuild``: rebuild the read models from Kafka, without downtime.

1. Mark a new generation as *building* in ``meta``. Every running reporting
   process reads ``meta`` at each batch, so from its next batch on it writes
   every event into the new generation too.
2. Wait ``--settle`` seconds, so a batch already in hand when the mark was
   made is finished, then note the end offsets of every topic.
3. Replay every topic from the beginning into the new generation (a plain
   consumer with no group, so the live service's offsets are untouched),
   showing progress, until every partition reaches the offsets noted in (2).
   Events after those offsets reach the new generation through the live
   service's double writes; events before them through the replay; events in
   both get both, which changes nothing since every write commutes.
4. Switch readers to the new generation (one document), then drop the old
   one (``--keep-old`` keeps it, e.g. to compare).

The read API serves the old generation until the switch and the new one
after it: no downtime.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.reporting.handlers import project_into
from services.reporting.projection import writes_for
from services.reporting.store import (
    Generation,
    GenerationState,
    generation_state,
    next_generation,
    set_generation_state,
)
from shared import topics
from shared.consuming import validate_batch
from shared.infra import partition_ids
from shared.messaging import kafka_client_options, make_broker
from shared.mongo import make_mongo_client, service_database
from shared.settings import Settings

REPLAYED = topics.CONSUMED["reporting"]


async def rebuild(
    settings: Settings, *, settle_seconds: float, keep_old: bool, out: object = sys.stderr
) -> str:
    def say(text: str) -> None:
        print(text, file=out, flush=True)  # type: ignore[call-overload]

    mongo = make_mongo_client(settings)
    database = service_database(mongo, settings)
    broker = make_broker(settings)  # for dead letters of bad messages met in the replay
    await broker.connect()
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.consumer_batch_size,
        max_partition_fetch_bytes=settings.consumer_fetch_bytes,
    )
    try:
        state = await generation_state(database)
        if state.building:
            raise RuntimeError(
                f"generation {state.building} is already being built; finish or clear it first"
            )
        target = Generation(database, next_generation(state.active))
        await target.drop()
        await target.create_indexes()
        await set_generation_state(database, GenerationState(state.active, target.name))
        say(
            f"rebuilding into generation {target.name} (readers stay on {state.active}); settling {settle_seconds:.0f} s"
        )
        await asyncio.sleep(settle_seconds)

        await consumer.start()
        partitions = [
            TopicPartition(t, p) for t in REPLAYED for p in await partition_ids(settings, t)
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        # Explicit offsets: a seek_to_beginning after the offset look-ups above can be
        # overtaken by the fetcher's own reset, and the replay then starts at the end.
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        projected_to = {tp: starts[tp] for tp in partitions}
        idle = dict.fromkeys(partitions, 0)
        done = 0
        started = time.monotonic()
        last_report = 0.0
        while remaining:
            batches = await consumer.getmany(
                *remaining, timeout_ms=1000, max_records=settings.consumer_batch_size
            )
            records = [r for tp, rs in batches.items() for r in rs if r.offset < ends[tp]]
            if records:
                valid = await validate_batch(
                    records, broker=broker, service=f"{settings.service_name}-rebuild"
                )
                await project_into(target, writes_for(c.event for c in valid))
                done += len(records)
            # Done with a partition once a record at or past its noted end offset has
            # been *projected* (not merely fetched); an empty stretch with the
            # position past the end (a gap in offsets) counts after three polls.
            for tp, rs in batches.items():
                if rs:
                    projected_to[tp] = max(projected_to[tp], rs[-1].offset + 1)
                    idle[tp] = 0
            for tp in list(remaining):
                if projected_to[tp] >= ends[tp]:
                    remaining.discard(tp)
                elif not batches.get(tp):
                    idle[tp] += 1
                    if idle[tp] >= 3 and await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
            if time.monotonic() - last_report > 2 or not remaining:
                last_report = time.monotonic()
                rate = done / max(time.monotonic() - started, 1e-9)
                say(
                    f"  replayed {done:,}/{total:,} events ({100 * done / max(total, 1):.0f} %), {rate:,.0f}/s"
                )
        await set_generation_state(database, GenerationState(target.name, None))
        say(f"switched readers to generation {target.name}")
        if not keep_old:
            await asyncio.sleep(settle_seconds)
            await Generation(database, state.active).drop()
            say(f"dropped generation {state.active}")
        return target.name
    except BaseException:
        current = await generation_state(database)
        if current.building:
            await set_generation_state(database, GenerationState(current.active, None))
        raise
    finally:
        await consumer.stop()
        await broker.stop()
        await mongo.close()


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.reporting rebuild", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds for running consumers to see the new generation",
    )
    parser.add_argument(
        "--keep-old", action="store_true", help="keep the previous generation's collections"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(rebuild(settings, settle_seconds=args.settle, keep_old=args.keep_old))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
