"""Exchange rates in (docs/rules/fx.md): ExchangeRateSet from ``rates.v1``, kept and given
to the ledgers whose deals need them.

Rates are about no partner, so they have a subscriber of their own (consumer group
``<group>-rates``) beside the partners' events. A batch of rates is handled in two
steps: every version is stored (``exchange_rates``, inserted once), then the partners
noted as needing one of the batch's pairs (``rate_needs``) get the rates in their
ledgers, each in one version-guarded write with the revisions that follow, like a
settlement's (a ledger written meanwhile is read again and decided again). Storing the
rate before reading who needs it, while the consumer notes a need before reading the
rates (:func:`services.incentives.handlers.bring_rates`), makes a rate and a deal that
arrive together meet in one of the two.

A message that is not a valid ExchangeRateSet (not JSON, not a CloudEvent, another
type, a rate of 0, negative or not a decimal string, an unknown currency, a subject
that is not the pair) goes to ``rates.v1.dlq`` naming the field, like every dead letter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from services.incentives.domain import ExchangeRate, exchange_rate
from services.incentives.handlers import queue_revisions
from services.incentives.ledgers import Ledgers
from services.incentives.store import Store
from shared import topics
from shared.commands import retry_until_written
from shared.consuming import (
    TRANSIENT_BACKOFF_SECONDS,
    dead_letter_invalid,
    records_of,
    undecoded,
)
from shared.events import InvalidEvent, RateEvent, parse_rate_event
from shared.lag import report_lag
from shared.messaging import ConsumedRecord
from shared.metrics import EVENTS_CONSUMED
from shared.settings import Settings

log = logging.getLogger("partnerhub.incentives")


class RatesConsumer:
    """Keeps every exchange rate and gives each to the ledgers whose deals need it."""

    def __init__(
        self,
        ledgers: Ledgers,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledgers = ledgers
        self.store = store
        self.clock = clock

    async def handle(self, rate_events: list[RateEvent]) -> None:
        rates = [exchange_rate(e.data, (e.time, e.id)) for e in rate_events]
        if not rates:
            return
        await self.store.add_rates(rates)
        pairs = {(r.base, r.quote) for r in rates}
        needs = await self.store.partners_needing(pairs)
        await retry_until_written(
            needs,
            lambda partner_ids: self._give(partner_ids, needs, rates),
            what="the ledgers of the partners needing the batch's rates",
        )

    async def _give(
        self,
        partner_ids: set[str],
        needs: dict[str, set[tuple[str, str]]],
        rates: Iterable[ExchangeRate],
    ) -> set[str]:
        """Merge the rates of the pairs each partner needs into its ledger, store and hand
        over what changed; return the partners whose write lost."""
        ledgers = await self.ledgers.fresh(partner_ids)
        now = self.clock()
        changed = []
        for ledger in ledgers.values():
            # The partner noted these pairs; its ledger may not show it yet (the consumer's
            # write noting them may still be under way): the rates go in all the same, and
            # that write, finding the ledger changed, decides again with them.
            wanted = needs[ledger.partner_id]
            merged = False
            for rate in rates:
                if (rate.base, rate.quote) in wanted:
                    merged |= ledger.book.add_rate(rate)
                    ledger.rate_pairs.add((rate.base, rate.quote))
            if merged:
                queue_revisions(ledger, now)
                changed.append(ledger)
        lost = await self.ledgers.save(changed)
        self.ledgers.hand_over(ledger for ledger in changed if ledger.partner_id not in lost)
        return lost


async def valid_rates(
    records: Iterable[ConsumedRecord], *, broker: KafkaBroker, service: str
) -> list[RateEvent]:
    """The valid ExchangeRateSet events of ``records`` in order; the others dead-lettered."""
    valid: list[RateEvent] = []
    for record in records:
        try:
            event = parse_rate_event(record.value or b"")
        except InvalidEvent as invalid:
            await dead_letter_invalid(broker, record, invalid, service=service)
            continue
        EVENTS_CONSUMED.labels(service, record.topic, event.type, "processed").inc()
        valid.append(event)
    return valid


def subscribe_rates(
    broker: KafkaBroker, settings: Settings, consumer: RatesConsumer
) -> Callable[[], Coroutine[Any, Any, None]]:
    """Subscribe ``consumer`` to ``rates.v1`` in a consumer group of its own; returns the
    coroutine that keeps that group's lag metric current."""
    group = f"{settings.consumer_group or settings.service_name}-rates"
    service = settings.service_name

    @broker.subscriber(
        topics.RATES,
        decoder=undecoded,
        group_id=group,
        batch=True,
        max_records=settings.consumer_batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="exchange-rates",
        description="ExchangeRateSet in: rates that convert deals in another currency.",
    )
    async def on_rates(message: KafkaMessage) -> None:
        try:
            records = records_of(message.raw_message)
            await consumer.handle(await valid_rates(records, broker=broker, service=service))
        except Exception:
            log.exception("a batch of rates failed; it will be delivered again")
            await asyncio.sleep(TRANSIENT_BACKOFF_SECONDS)
            raise

    async def lag() -> None:
        await report_lag(settings, group, (topics.RATES,))

    return lag
