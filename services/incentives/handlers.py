"""What incentives does with a batch of events: the engine's results, stored and published once.

For each batch (after :func:`shared.consuming.validate_batch`):

1. **Registrations** (DealRegistered): merged into the registration book of
   their (customer, product line); :func:`decide_registrations` decides the
   whole book again; a registration whose decision is new or different gets a
   DealRegistrationApproved / DealRegistrationRejected (a *correction* when it
   replaces an earlier decision: same ``registration_id``, a later CloudEvent
   ``time``, so the latest decision stands for every reader).
2. **Commissions** (contracts, terminations, deals, cancellations,
   certifications, registration decisions): merged into each partner's book;
   every deal whose result changed gets a new CommissionCalculated revision.
3. Each book is written back with its new outbox entries in **one
   single-document write**, conditional on the version read (another replica
   that wrote first makes this one reload and redo that partner).
4. The outbox entries are published and awaited.
5. Only then does the subscriber commit the batch's offsets.

A crash before (3) redoes the batch from Kafka and finds the same results; a
crash between (3) and (4) leaves the entries in the outbox, published at the
next start; a crash between (4) and (5) merges the redelivered events again,
which changes nothing. A revision's CloudEvent id is derived from (partner,
deal, revision), so an entry published twice is the same event twice, and
readers de-duplicate on it.

Two things keep a partner's document from being read and rewritten more than
a batch needs (FerretDB applies every update as a read and a whole-document
write, so each costs as much as the document is large):

- **Ledgers stay in memory** between batches (:class:`shared.cache.BoundedCache`,
  least recently used first out, ``LEDGER_CACHE_DEALS`` deals at most). The write
  in (3) still checks the version the ledger was read at; a ledger that lost
  (another replica, or a settlement, wrote the partner since) is dropped and
  read again. A settlement in this process drops the ledgers it wrote.
- **Published entries leave the document lazily**: the next write of the
  document (3) leaves them out; a document not written again within
  :data:`REMOVE_AFTER_SECONDS` (or at shutdown) has them removed by
  :meth:`Incentives.remove_published`. Until then, a crash leaves them to be
  published once more at the next start, as the same events.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from services.incentives.domain import (
    COMMISSION_INPUTS,
    Registration,
    Revision,
    apply_event,
    decide_registrations,
    next_revision,
)
from services.incentives.store import (
    PARTNERS,
    REGISTRATIONS,
    IncentivesStore,
    PartnerLedger,
    RegistrationBook,
    registration_key,
)
from shared import events
from shared.cache import BoundedCache
from shared.consuming import Consumed
from shared.events import new_event
from shared.failpoints import failpoint
from shared.metrics import EVENTS_CONSUMED, WRITE_CONFLICTS
from shared.outbox import Outbox, OutboxEntry
from shared.periodic import every

log = logging.getLogger("partnerhub.incentives")

SOURCE = "/partnerhub/incentives"
_IDS = uuid.UUID("6f1d0c8e-6d5e-4c83-9b0e-3f5a2b8d7c10")
MAX_ATTEMPTS = 20
#: Deals whose partners' ledgers stay in memory between batches (about 4.5 KB each).
LEDGER_CACHE_DEALS = 100_000
#: A published entry still in a document not written since is removed after this long
#: (a partner busier than that has its document written again first, which removes it).
REMOVE_AFTER_SECONDS = 30.0


def event_id(*parts: str) -> str:
    """A deterministic CloudEvent id, so a re-published event is the same event."""
    return str(uuid.uuid5(_IDS, "/".join(parts)))


def commission_event(
    partner_id: str, revision: Revision, now: datetime
) -> events.CloudEvent[events.CommissionCalculated]:
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
    )
    return new_event(
        data,
        source=SOURCE,
        time=now,
        event_id=event_id(
            "CommissionCalculated", partner_id, result.deal_id, str(revision.revision)
        ),
    )


class Incentives:
    """The service's use cases over its store and broker."""

    def __init__(
        self,
        store: IncentivesStore,
        broker: KafkaBroker,
        service: str = "incentives",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_deals: int = LEDGER_CACHE_DEALS,
    ) -> None:
        self.store = store
        self.service = service
        self.clock = clock
        self.outbox = Outbox(broker, service, [store.partners, store.registrations])
        # Bounded by the deals the ledgers hold (their memory grows with them).
        self.ledgers: BoundedCache[str, PartnerLedger] = BoundedCache(cache_deals)
        # Published entries still stored in a partner's document: (since, entries).
        self._unremoved: dict[str, tuple[float, list[OutboxEntry]]] = {}

    # ----------------------------------------------------------------- batches

    async def handle(self, batch: list[Consumed]) -> None:
        registrations = [c.event for c in batch if c.event.type == "DealRegistered"]
        commission_inputs = [c.event for c in batch if c.event.type in COMMISSION_INPUTS]
        for consumed in batch:
            relevant = (
                consumed.event.type == "DealRegistered" or consumed.event.type in COMMISSION_INPUTS
            )
            EVENTS_CONSUMED.labels(
                self.service,
                consumed.record.topic,
                consumed.event.type,
                "processed" if relevant else "ignored",
            ).inc()
        if registrations:
            await self._decide_registrations(registrations)
        if commission_inputs:
            await self._calculate_commissions(commission_inputs)

    async def _calculate_commissions(self, inputs: list[events.CloudEvent[events.Payload]]) -> None:
        by_partner: dict[str, list[events.CloudEvent[events.Payload]]] = defaultdict(list)
        for event in inputs:
            by_partner[event.subject].append(event)
        pending = set(by_partner)
        for _attempt in range(MAX_ATTEMPTS):
            ledgers = await self._ledgers_of(pending)
            now = self.clock()
            try:
                changed = [
                    ledger
                    for ledger in ledgers.values()
                    if self._merge(ledger, by_partner[ledger.partner_id], now)
                ]
                lost = await self.store.save_ledgers(changed)
            except BaseException:
                # Merged in memory, perhaps not stored: read them again next time.
                self.ledgers.forget(pending)
                raise
            self.ledgers.forget(lost)
            if lost:
                WRITE_CONFLICTS.labels(self.service, PARTNERS).inc(len(lost))
            for ledger in changed:
                if ledger.partner_id not in lost:
                    self.ledgers.put(ledger.partner_id, ledger, len(ledger.book.deals))
                    # Written without the entries published before: nothing left to remove.
                    self._unremoved.pop(ledger.partner_id, None)
            if changed:
                failpoint("incentives_after_store")
            outboxes = {pid: ledger.outbox for pid, ledger in ledgers.items() if pid not in lost}
            await self.outbox.publish(self.store.partners, outboxes, remove=False)
            moment = time.monotonic()
            for pid, entries in outboxes.items():
                if entries:
                    since, unremoved = self._unremoved.get(pid, (moment, []))
                    self._unremoved[pid] = (since, unremoved + entries)
                    # The stored document keeps them until its next write; the
                    # ledger in memory is what that write will store.
                    ledgers[pid].outbox = []
            pending = lost
            if not pending:
                return
        raise RuntimeError(f"partners {sorted(pending)} kept changing under us; retrying the batch")

    async def _ledgers_of(self, partner_ids: set[str]) -> dict[str, PartnerLedger]:
        """The partners' ledgers: from memory, or read (and remembered) when not there."""
        found: dict[str, PartnerLedger] = {}
        missing: list[str] = []
        for pid in partner_ids:
            ledger = self.ledgers.get(pid)
            if ledger is None:
                missing.append(pid)
            else:
                found[pid] = ledger
        for pid, ledger in (await self.store.load_ledgers(missing)).items():
            published = {e.id for e in self._unremoved.get(pid, (0.0, []))[1]}
            if published:
                ledger.outbox = [e for e in ledger.outbox if e.id not in published]
            self.ledgers.put(pid, ledger, len(ledger.book.deals))
            found[pid] = ledger
        return found

    async def remove_published(self, older_than: float = REMOVE_AFTER_SECONDS) -> int:
        """Remove the published entries still stored in documents not written for a while."""
        cutoff = time.monotonic() - older_than
        due = {pid: entries for pid, (since, entries) in self._unremoved.items() if since <= cutoff}
        if not due:
            return 0
        for pid in due:
            del self._unremoved[pid]
        try:
            await self.outbox.remove(self.store.partners, due)
        except BaseException:
            for pid, entries in due.items():  # try again next time
                since, later = self._unremoved.get(pid, (cutoff, []))
                self._unremoved[pid] = (min(since, cutoff), entries + later)
            raise
        return sum(len(entries) for entries in due.values())

    async def remove_all_published(self) -> None:
        """At shutdown, once the last batch is done: a restart then publishes nothing twice."""
        try:
            removed = await self.remove_published(older_than=0)
        except Exception as exc:
            log.warning("removing published outbox entries at shutdown: %s", exc)
        else:
            log.info("removed %d published outbox entries at shutdown", removed)

    async def keep_removing_published(self, interval: float = 1.0) -> None:
        """:meth:`remove_published` every ``interval`` seconds until cancelled."""
        await every(
            interval, self.remove_published, what="removing published outbox entries", log=log
        )

    def _merge(
        self,
        ledger: PartnerLedger,
        inputs: Iterable[events.CloudEvent[events.Payload]],
        now: datetime,
    ) -> bool:
        """Merge ``inputs``; queue a revision for every deal whose result changed."""
        merged = False
        for event in inputs:
            merged |= apply_event(ledger.book, event)
        if not merged:
            return False
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
        return True

    async def _decide_registrations(self, inputs: list[events.CloudEvent[events.Payload]]) -> None:
        by_key: dict[str, list[Registration]] = defaultdict(list)
        for event in inputs:
            data = event.data
            assert isinstance(data, events.DealRegistered)
            by_key[registration_key(data.customer, data.product_line)].append(
                Registration(
                    registration_id=data.registration_id,
                    deal_id=data.deal_id,
                    partner_id=data.partner_id,
                    customer=data.customer,
                    product_line=data.product_line,
                    registered_at=data.registered_at,
                )
            )
        pending = set(by_key)
        for _attempt in range(MAX_ATTEMPTS):
            books = await self.store.load_registration_books(pending)
            now = self.clock()
            changed = [b for b in books.values() if self._decide(b, by_key[b.key], now)]
            lost = await self.store.save_registration_books(changed)
            if lost:
                WRITE_CONFLICTS.labels(self.service, REGISTRATIONS).inc(len(lost))
            await self._publish_outbox(
                REGISTRATIONS, {b.key: b.outbox for b in books.values() if b.key not in lost}
            )
            pending = lost
            if not pending:
                return
        raise RuntimeError("registration books kept changing under us; retrying the batch")

    def _decide(self, book: RegistrationBook, new: list[Registration], now: datetime) -> bool:
        added = False
        for registration in new:
            if registration.registration_id not in book.registrations:
                book.registrations[registration.registration_id] = registration
                added = True
        if not added:
            return False
        for decision in decide_registrations(book.registrations.values()):
            r = decision.registration
            previous = book.decisions.get(r.registration_id)
            if previous is not None and previous["approved"] == decision.approved:
                continue
            number = 1 if previous is None else int(previous["number"]) + 1
            eid = event_id("RegistrationDecision", r.registration_id, str(number))
            data: events.Payload
            if decision.approved:
                data = events.DealRegistrationApproved(
                    partner_id=r.partner_id,
                    registration_id=r.registration_id,
                    deal_id=r.deal_id,
                    approved_at=r.registered_at,
                )
            else:
                data = events.DealRegistrationRejected(
                    partner_id=r.partner_id,
                    registration_id=r.registration_id,
                    deal_id=r.deal_id,
                    rejected_at=r.registered_at,
                    reason=decision.reason or "channel_conflict",
                )
            event = new_event(data, source=SOURCE, time=now, event_id=eid)
            book.decisions[r.registration_id] = {
                "registration_id": r.registration_id,
                "approved": decision.approved,
                "reason": decision.reason,
                "number": number,
                "event_id": eid,
                "decided_at": now.isoformat(),
            }
            book.outbox.append(OutboxEntry.of(event))
        return True

    # ----------------------------------------------------------------- the outbox

    async def _publish_outbox(
        self, collection: str, outboxes: dict[str, list[OutboxEntry]]
    ) -> None:
        await self.outbox.publish(self.outbox.collections[collection], outboxes)
        for entries in outboxes.values():
            entries.clear()
