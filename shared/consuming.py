"""What every consumer does with a batch before its own rules: validate, dead-letter, count.

A message that is not an event of the contract (not JSON, not a CloudEvent,
an unknown type, invalid data) is a permanent failure: its original bytes go
to ``<topic>.dlq`` with headers saying why (awaited, so committing past it
loses nothing) and the batch carries on without it. Anything else that goes
wrong (MongoDB or Kafka unavailable) is transient: the handler raises, the
subscriber (``AckPolicy.NACK_ON_ERROR``) seeks back, and the batch is
delivered again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy

from shared.events import CloudEvent, InvalidEvent, InvalidReason, Payload, parse_event
from shared.failpoints import failpoint
from shared.lag import report_lag
from shared.messaging import ConsumedRecord, dead_letter
from shared.metrics import BATCH_SECONDS, BATCH_SIZE, DEAD_LETTERS, EVENTS_CONSUMED
from shared.settings import Settings

log = logging.getLogger("partnerhub.consuming")


@dataclass(frozen=True, slots=True)
class Consumed:
    """A valid event and the Kafka record it came in."""

    record: Any
    event: CloudEvent[Payload]


async def undecoded(message: StreamMessage[Any]) -> None:
    """A subscriber's decoder that decodes nothing: the handlers read the records' bytes
    themselves (:func:`shared.events.parse_event`, with its bounds). FastStream's own
    decoder would parse each message as JSON first, twice the work, and with no limit on
    depth: a deeply nested message raised RecursionError there, before any handler could
    dead-letter it, and the batch came back forever."""
    return None


class BatchSubscription(TypedDict):
    """Keyword arguments of ``KafkaBroker.subscriber`` for a batch subscriber."""

    group_id: str
    batch: Literal[True]
    max_records: int
    max_partition_fetch_bytes: int
    auto_offset_reset: Literal["earliest"]
    ack_policy: AckPolicy


def batch_subscription(settings: Settings) -> BatchSubscription:
    """The options of every service's batch subscriber (``broker.subscriber(**...)``).

    The service's consumer group; batches of up to ``CONSUMER_BATCH_SIZE``
    messages, which fetches large enough let fill (``consumer_fetch_bytes``);
    from the earliest offset when the group has none; on a failed batch no
    commit, so it is delivered again.
    """
    return BatchSubscription(
        group_id=settings.consumer_group or settings.service_name,
        batch=True,
        max_records=settings.consumer_batch_size,
        max_partition_fetch_bytes=settings.consumer_fetch_bytes,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )


def records_of(raw: Any) -> tuple[ConsumedRecord, ...]:
    """The records of a FastStream Kafka message: one, or a tuple for a batch subscriber."""
    return tuple(raw) if isinstance(raw, tuple | list) else (raw,)


async def validate_batch(
    records: Iterable[ConsumedRecord], *, broker: KafkaBroker, service: str
) -> list[Consumed]:
    """The valid events of ``records`` in order; the invalid ones dead-lettered."""
    valid: list[Consumed] = []
    for record in records:
        try:
            event = parse_event(record.value or b"", topic=record.topic)
        except InvalidEvent as invalid:
            await dead_letter_invalid(broker, record, invalid, service=service)
            continue
        valid.append(Consumed(record, event))
    return valid


async def dead_letter_invalid(
    broker: KafkaBroker, record: ConsumedRecord, invalid: InvalidEvent, *, service: str
) -> None:
    """A message that is no valid event: its record to ``<topic>.dlq`` with the reason
    (awaited), counted and logged."""
    await dead_letter(
        broker, record, error=str(invalid), reason=invalid.reason.value, service=service
    )
    DEAD_LETTERS.labels(service, record.topic, invalid.reason.value).inc()
    EVENTS_CONSUMED.labels(service, record.topic, "", "dead_lettered").inc()
    log.warning(
        "dead-lettered a message from %s[%s]@%s: %s",
        record.topic,
        record.partition,
        record.offset,
        invalid,
        extra={"reason": invalid.reason.value},
    )


#: What a consumer calls with a valid event its rules cannot use, and why:
#: :func:`dead_letter_unusable` bound to the service's broker and name.
DeadLetter = Callable[[Consumed, str], Awaitable[None]]


async def dead_letter_unusable(
    broker: KafkaBroker, consumed: Consumed, error: str, *, service: str
) -> None:
    """Dead-letter an event that passed validation but that the service's rules cannot use
    (a permanent failure, like invalid input): its record to ``<topic>.dlq`` as
    ``invalid_data`` (awaited), counted and logged; the batch carries on without it."""
    record = consumed.record
    reason = InvalidReason.INVALID_DATA.value
    await dead_letter(broker, record, error=error, reason=reason, service=service)
    DEAD_LETTERS.labels(service, record.topic, reason).inc()
    EVENTS_CONSUMED.labels(service, record.topic, consumed.event.type, "dead_lettered").inc()
    log.warning(
        "dead-lettered %s from %s[%s]@%s: %s",
        consumed.event.type,
        record.topic,
        record.partition,
        record.offset,
        error,
        extra={"reason": reason},
    )


TRANSIENT_BACKOFF_SECONDS = 1.0


async def consume(
    raw: Any,
    *,
    broker: KafkaBroker,
    service: str,
    handle: Callable[[list[Consumed]], Awaitable[None]],
) -> None:
    """One consumed batch, the same way in every service.

    Counts and times it, dead-letters bad input, runs the service's
    ``handle`` on the valid events; any other failure is transient: log it,
    pause, and raise, so the subscriber (``AckPolicy.NACK_ON_ERROR``) seeks
    back and the batch is delivered again.
    """
    records = records_of(raw)
    BATCH_SIZE.labels(service).observe(len(records))
    with BATCH_SECONDS.labels(service).time():
        try:
            await handle(await validate_batch(records, broker=broker, service=service))
            failpoint(f"{service}_before_commit")
        except Exception:
            log.exception("batch failed; it will be delivered again")
            await asyncio.sleep(TRANSIENT_BACKOFF_SECONDS)
            raise


BatchHandler = Callable[[list[Consumed]], Awaitable[None]]


def subscribe(
    broker: KafkaBroker,
    settings: Settings,
    topics: Sequence[str],
    handle: BatchHandler,
    *,
    title: str,
    description: str,
    partner_partitions_together: bool = False,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """Subscribe ``handle`` to ``topics`` the way every service consumes.

    Batches as :func:`batch_subscription` says, each through :func:`consume`
    (validation, dead letters, metrics, redelivery on failure). With
    ``partner_partitions_together``, partition *k* of every topic is assigned to
    the same replica (every topic has the same partition count and is keyed by
    partner id, so one partner's events of all topics meet in one process).

    Returns the coroutine that keeps the group's lag metric current: run it in
    the service's background (``service_app(background=[...])``).
    """
    assignor: type[AbstractPartitionAssignor] = (
        RangePartitionAssignor if partner_partitions_together else RoundRobinPartitionAssignor
    )

    @broker.subscriber(
        *topics,
        **batch_subscription(settings),
        decoder=undecoded,
        partition_assignment_strategy=(assignor,),
        title=title,
        description=description,
    )
    async def on_events(message: KafkaMessage) -> None:
        await consume(
            message.raw_message, broker=broker, service=settings.service_name, handle=handle
        )

    group = settings.consumer_group or settings.service_name

    async def lag() -> None:
        await report_lag(settings, group, topics)

    return lag
