"""``python -m services.reporting rebuild``: rebuild the read models from Kafka, without downtime.

1. Mark a new generation as *building* in ``meta``. Every running reporting
   process reads ``meta`` at each batch, so from its next batch on it writes
   every event into the new generation too.
2. Wait ``--settle`` seconds, so a batch already in hand when the mark was
   made is finished, then note the end offsets of every topic.
3. Replay every topic from the beginning into the new generation (a plain
   consumer with no group, so the live service's offsets are untouched),
   showing progress, until every partition reaches the offsets noted in (2).
   A message that is not a valid event is skipped and counted: the live
   service dead-lettered it when it first met it.
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
import functools
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.reporting.projection import project_into, received_at, writes_for
from services.reporting.settings import ReportingSettings
from services.reporting.store import (
    Generation,
    GenerationState,
    LinesCache,
    generation_state,
    next_generation,
    set_generation_state,
)
from shared import topics
from shared.events import CloudEvent, InvalidEvent, Payload, parse_event
from shared.infra import partition_ids
from shared.messaging import ConsumedRecord, kafka_client_options
from shared.mongo import make_mongo_client, service_database

REPLAYED = topics.CONSUMED["reporting"]
#: Empty polls after which a partition whose position is past its noted end is done.
IDLE_POLLS = 3
#: Seconds between progress reports.
PROGRESS_SECONDS = 2


async def rebuild(
    settings: ReportingSettings, *, settle_seconds: float, keep_old: bool, out: TextIO = sys.stderr
) -> str:
    """Rebuild into the next generation and switch readers to it; its name."""
    say = functools.partial(print, file=out, flush=True)
    mongo = make_mongo_client(settings)
    database = service_database(mongo, settings)
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
        target = Generation(
            database, next_generation(state.active), LinesCache(settings.lines_cache_revisions)
        )
        await target.drop()
        await target.create_indexes()
        await set_generation_state(database, GenerationState(state.active, target.name))
        say(
            f"rebuilding into generation {target.name} (readers stay on {state.active}); "
            f"settling {settle_seconds:.0f} s"
        )
        await asyncio.sleep(settle_seconds)
        await consumer.start()
        await _replay(settings, consumer, target, say)
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
        await mongo.close()


def _events(
    records: Iterable[ConsumedRecord],
) -> Iterator[tuple[ConsumedRecord, CloudEvent[Payload]]]:
    """The valid events of ``records`` with their records, in order; the rest is skipped."""
    for record in records:
        try:
            yield record, parse_event(record.value or b"", topic=record.topic)
        except InvalidEvent:
            continue


def _timestamps(
    records: Iterable[ConsumedRecord], valid: list[tuple[ConsumedRecord, CloudEvent[Payload]]]
) -> Iterator[tuple[str, int]]:
    """(event id, Kafka timestamp) of each valid event, as the live projection notes them."""
    return ((event.id, record.timestamp) for record, event in valid)


async def _replay(
    settings: ReportingSettings,
    consumer: AIOKafkaConsumer,
    target: Generation,
    say: Callable[[str], None],
) -> None:
    """Project every topic from its beginning into ``target``, up to the end offsets noted
    now, showing progress."""
    partitions = [TopicPartition(t, p) for t in REPLAYED for p in await partition_ids(settings, t)]
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
    done = skipped = 0
    started = time.monotonic()
    last_report = 0.0
    while remaining:
        batches = await consumer.getmany(
            *remaining, timeout_ms=1000, max_records=settings.consumer_batch_size
        )
        records = [r for tp, rs in batches.items() for r in rs if r.offset < ends[tp]]
        if records:
            valid = list(_events(records))
            skipped += len(records) - len(valid)
            received = received_at(_timestamps(records, valid))
            await project_into(target, writes_for((e for _, e in valid), received))
            done += len(records)
        # Done with a partition once a record at or past its noted end offset has
        # been *projected* (not merely fetched); an empty stretch with the
        # position past the end (a gap in offsets) counts after a few polls.
        for tp, rs in batches.items():
            if rs:
                projected_to[tp] = max(projected_to[tp], rs[-1].offset + 1)
                idle[tp] = 0
        for tp in list(remaining):
            if projected_to[tp] >= ends[tp]:
                remaining.discard(tp)
            elif not batches.get(tp):
                idle[tp] += 1
                if idle[tp] >= IDLE_POLLS and await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        if time.monotonic() - last_report > PROGRESS_SECONDS or not remaining:
            last_report = time.monotonic()
            rate = done / max(time.monotonic() - started, 1e-9)
            say(
                f"  replayed {done:,}/{total:,} events "
                f"({100 * done / max(total, 1):.0f} %), {rate:,.0f}/s; "
                f"{skipped:,} not valid events skipped (already dead-lettered)"
            )


def main(argv: list[str], settings: ReportingSettings) -> int:
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
