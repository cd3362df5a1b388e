"""The consumer side of incentives: what it does with each batch of events.

For each batch (after :func:`shared.consuming.validate_batch`), each event goes
through the table :data:`HANDLERS` (by payload class; a type the table does not
list is counted as ignored) into the batch's :class:`BatchChanges`; then:

1. **Registrations** (DealRegistered, the extension requests and answers, the
   decisions made by hand): merged into the registration book of their
   (customer, product line), which is decided again
   (:mod:`services.incentives.registrations`, ``docs/rules/deal-registration.md``);
   a registration whose automatic decision is new or different gets a
   DealRegistrationApproved / DealRegistrationRejected (a *correction* when it
   replaces an earlier decision: same ``registration_id``, a later CloudEvent
   ``time``, so the latest decision stands for every reader). What a command
   wrote into a book already comes back from ``deals.v1`` as known, and changes
   nothing.
2. **Commissions** (the event types of the domain's table of merges, decisions
   and extension answers included,
   :data:`~services.incentives.domain.MERGES`): merged into each partner's
   book through that table; every deal whose result changed gets a new
   CommissionCalculated revision (``docs/rules/commissions.md``).
3. Each ledger or registration book is written back with its new outbox
   entries in **one single-document write**, conditional on the version read
   (another writer that wrote first makes this one read and redo that
   partner: :func:`shared.commands.retry_until_written`).
4. The outbox entries are published from memory, awaited
   (``await publisher.publish``, :mod:`shared.outbox`): a registration
   book's are removed at once, a ledger's lazily
   (:mod:`services.incentives.ledgers`).
5. Only then does the subscriber commit the batch's offsets.

A crash before (3) redoes the batch from Kafka and finds the same results; a
crash between (3) and (4) leaves the entries in the outbox, published at the
next start; a crash between (4) and (5) merges the redelivered events again,
which changes nothing. Every event's CloudEvent id is derived from what it
says (a revision's from partner, deal and revision number), so an entry
published twice is the same event twice, and readers de-duplicate on it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.incentives import SERVICE, SOURCE
from services.incentives.domain import (
    MERGES,
    PROTECTION_DAYS,
    Revision,
    apply_event,
    next_revision,
)
from services.incentives.ledgers import Ledgers
from services.incentives.registrations import book_key, merge, redecide, unplaced_decision
from services.incentives.store import (
    REGISTRATIONS,
    PartnerLedger,
    RegistrationBook,
    Store,
)
from shared import events
from shared.commands import retry_until_written
from shared.consuming import Consumed
from shared.events import deterministic_id, new_event
from shared.failpoints import failpoint
from shared.metrics import EVENTS_CONSUMED, WRITE_CONFLICTS
from shared.outbox import OutboxEntry, Publisher

log = logging.getLogger("partnerhub.incentives")

Event = events.CloudEvent[events.Payload]


def commission_event(
    partner_id: str, revision: Revision, now: datetime
) -> events.CloudEvent[events.CommissionCalculated]:
    """The CommissionCalculated of one revision of one deal's commission."""
    result = revision.result
    data = events.CommissionCalculated(
        partner_id=partner_id,
        deal_id=result.deal_id,
        period=result.period,
        currency=result.currency,
        amount=result.amount,
        status=result.status,
        base=result.base,
        uplift=result.uplift,
        commission=result.commission,
        target_bonus=result.target_bonus,
        delta=revision.delta,
        revision=revision.revision,
        closed_at=result.closed_at,
        reason=result.reason,
        original_amount=result.original_amount,
        original_currency=result.original_currency,
        fx_rate=result.fx_rate,
    )
    event_id = deterministic_id(
        SERVICE, "CommissionCalculated", partner_id, result.deal_id, str(revision.revision)
    )
    return new_event(data, source=SOURCE, time=now, event_id=event_id)


def queue_revisions(ledger: PartnerLedger, now: datetime) -> None:
    """Settle the ledger's book; queue a revision (CommissionCalculated in the outbox)
    for every deal whose result changed."""
    for deal_id, result in sorted(ledger.book.settle().items()):
        revision = next_revision(ledger.published.get(deal_id), result)
        if revision is None:
            continue
        calculated = commission_event(ledger.partner_id, revision, now)
        ledger.published[deal_id] = revision
        ledger.history.setdefault(deal_id, []).append(
            {
                "revision": revision.revision,
                "status": result.status.value,
                "commission": str(result.commission),
                "target_bonus": str(result.target_bonus),
                "delta": str(revision.delta),
                "event_id": calculated.id,
                "calculated_at": now.isoformat(),
            }
        )
        ledger.outbox.append(OutboxEntry.of(calculated))


#: The events after which every deal of a partner may need another pair's rates.
_CONTRACT_EVENTS = (events.PartnerSigned, events.ContractRenewed)


async def bring_rates(
    store: Store, ledgers: Sequence[PartnerLedger], by_partner: Mapping[str, Sequence[Event]]
) -> None:
    """Give each ledger the exchange rates its batch's deals now need (docs/rules/fx.md).

    The pairs a ledger has not noted yet are noted in the store first, then their
    rates are read into the book: a rate stored meanwhile is either read here or pushed
    to the ledger by :class:`~services.incentives.rates.RatesConsumer`, which stores a
    rate before it reads who needs its pair."""
    needs: dict[str, set[tuple[str, str]]] = {}
    for ledger in ledgers:
        inputs = by_partner.get(ledger.partner_id, ())
        if any(isinstance(e.data, _CONTRACT_EVENTS) for e in inputs):
            pairs = ledger.book.pairs_needed()
        else:
            deal_ids = [e.data.deal_id for e in inputs if isinstance(e.data, events.DealClosed)]
            pairs = ledger.book.pairs_needed(deal_ids) if deal_ids else set()
        new = pairs - ledger.rate_pairs
        if new:
            needs[ledger.partner_id] = new
    if not needs:
        return
    await store.need_rates(needs)
    rates = await store.rates_of({pair for pairs in needs.values() for pair in pairs})
    for ledger in ledgers:
        wanted = needs.get(ledger.partner_id)
        if not wanted:
            continue
        for rate in rates:
            if (rate.base, rate.quote) in wanted:
                ledger.book.add_rate(rate)
        ledger.rate_pairs |= wanted


@dataclass(slots=True)
class BatchChanges:
    """What a batch's events change, before anything is written: the registrations to
    decide, and the events to merge into the partners' ledgers."""

    registrations: list[Event] = field(default_factory=list)
    commission_inputs: list[Event] = field(default_factory=list)


def lifecycle(changes: BatchChanges, event: Event) -> None:
    """An event of a registration book's lifecycle (:func:`registrations.book_key`)."""
    changes.registrations.append(event)


def commission_input(changes: BatchChanges, event: Event) -> None:
    """An event of the domain's :data:`~services.incentives.domain.MERGES`."""
    changes.commission_inputs.append(event)


def both(changes: BatchChanges, event: Event) -> None:
    """An event both of a registration's lifecycle and of the commissions (a decision, an
    answer to an extension request)."""
    lifecycle(changes, event)
    commission_input(changes, event)


#: How an event adds to what a batch changes.
Handler = Callable[[BatchChanges, Event], None]

#: The handler of each consumed event type, by payload class.
HANDLERS: dict[type[events.Payload], Handler] = {
    **dict.fromkeys(MERGES, commission_input),
    events.DealRegistered: lifecycle,
    events.DealRegistrationExtensionRequested: lifecycle,
    events.DealRegistrationExtended: both,
    events.DealRegistrationExtensionRejected: both,
    events.DealRegistrationApproved: both,
    events.DealRegistrationRejected: both,
}


class IncentivesConsumer:
    """Decides registrations and revises commissions from each batch of events."""

    def __init__(
        self,
        ledgers: Ledgers,
        store: Store,
        publisher: Publisher,
        *,
        service: str = SERVICE,
        protection_days: int = PROTECTION_DAYS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.protection_days = protection_days
        self.ledgers = ledgers
        self.store = store
        self.publisher = publisher
        self.service = service
        self.clock = clock

    async def handle(self, batch: list[Consumed]) -> None:
        changes = BatchChanges()
        for consumed in batch:
            event = consumed.event
            handler = HANDLERS.get(type(event.data))
            if handler is not None:
                handler(changes, event)
            outcome = "ignored" if handler is None else "processed"
            EVENTS_CONSUMED.labels(self.service, consumed.record.topic, event.type, outcome).inc()
        if changes.registrations:
            await self._decide_registrations(changes.registrations)
        if changes.commission_inputs:
            await self._revise_commissions(changes.commission_inputs)

    # ----------------------------------------------------------------- commissions

    async def _revise_commissions(self, inputs: list[Event]) -> None:
        by_partner: dict[str, list[Event]] = defaultdict(list)
        for event in inputs:
            by_partner[event.subject].append(event)
        await retry_until_written(
            by_partner,
            lambda partner_ids: self._revise_ledgers(partner_ids, by_partner),
            what="the ledgers of the batch's partners",
        )

    async def _revise_ledgers(
        self, partner_ids: set[str], by_partner: dict[str, list[Event]]
    ) -> set[str]:
        """Merge the partners' events into their ledgers, store and publish what changed;
        return the partners whose write lost."""
        ledgers = await self.ledgers.cached(partner_ids)
        now = self.clock()
        try:
            changed = [
                ledger
                for ledger in ledgers.values()
                if self._merge(ledger, by_partner[ledger.partner_id])
            ]
            await bring_rates(self.store, changed, by_partner)
            for ledger in changed:
                queue_revisions(ledger, now)
            lost = await self.ledgers.save(changed)
        except BaseException:
            # Merged in memory, perhaps not stored: read them again next time.
            self.ledgers.forget(partner_ids)
            raise
        if changed:
            failpoint("incentives_after_store")
        await self.ledgers.publish(ledger for pid, ledger in ledgers.items() if pid not in lost)
        return lost

    def _merge(self, ledger: PartnerLedger, inputs: Iterable[Event]) -> bool:
        """Merge ``inputs`` into the ledger's book; False when they change nothing."""
        merged = False
        for event in inputs:
            merged |= apply_event(ledger.book, event)
        return merged

    # ----------------------------------------------------------------- registrations

    async def _decide_registrations(self, lifecycle: list[Event]) -> None:
        by_key: dict[str, list[Event]] = defaultdict(list)
        for event in lifecycle:
            key = book_key(event)
            registration_id = unplaced_decision(event)
            if registration_id is not None:
                book = await self.store.registration_book_of(registration_id)
                key = None if book is None else book.key
                if key is None:
                    log.warning(
                        "a decision by hand on registration %s, not known yet, names no "
                        "customer and product line: it is not applied",
                        registration_id,
                    )
            if key is not None:
                by_key[key].append(event)
        await retry_until_written(
            by_key,
            lambda keys: self._decide_books(keys, by_key),
            what="the registration books of the batch",
        )

    async def _decide_books(self, keys: set[str], by_key: dict[str, list[Event]]) -> set[str]:
        """Merge the books' events, decide them again, store and publish what changed;
        return the keys whose write lost."""
        books = await self.store.load_registration_books(keys)
        now = self.clock()
        changed = [b for b in books.values() if self._decide(b, by_key[b.key], now)]
        lost = await self.store.save_registration_books(changed) if changed else set()
        if lost:
            WRITE_CONFLICTS.labels(self.service, REGISTRATIONS).inc(len(lost))
        outboxes = {b.key: b.outbox for b in books.values() if b.key not in lost and b.outbox}
        if outboxes:
            await self.publisher.publish(REGISTRATIONS, outboxes)
        for entries in outboxes.values():
            entries.clear()
        return lost

    def _decide(self, book: RegistrationBook, new: list[Event], now: datetime) -> bool:
        """Merge ``new`` into the book; decide it again when that added anything."""
        merged = False
        for event in new:
            merged |= merge(book, event)
        if not merged:
            return False
        redecide(book, self.protection_days, now)
        return True
