"""The partners' ledgers as the consumer and the settlements share them.

One :class:`Ledgers` per process (wired in ``app.py``) reads, writes and
publishes every ledger, so what it keeps in memory stays coherent with what
either side wrote. It publishes by the rule of :mod:`shared.outbox`: the
consumer's entries from memory (:meth:`Ledgers.publish`, awaited before the
batch's offsets commit), a settlement's by handing its ledgers over to the
relay (:meth:`Ledgers.hand_over`).

- **Ledgers stay in memory** between batches (:class:`shared.cache.BoundedCache`,
  least recently used first out, ``LEDGER_CACHE_DEALS`` deals at most): a
  batch does not read a ledger it wrote a moment ago. Every write still checks
  the version the ledger was read at. A ledger whose write lost is forgotten
  and read again; a write from another copy of a ledger (a settlement's) makes
  the copy in memory be forgotten too.
- **The consumer's published entries leave the stored document lazily**:
  publishing does not remove them (``remove=False``); the document's next
  write leaves them out, and a document not written again within
  :data:`REMOVE_AFTER_SECONDS` (or at shutdown) has them removed. Until then
  a crash leaves them to be published once more, as the same events (readers
  de-duplicate on the CloudEvent id); a ledger read meanwhile does not
  publish them again, nor does the relay. A settlement's entries are the
  relay's to publish and remove: its copy of the ledger is not written
  again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from services.incentives.store import LEDGERS, PartnerLedger, Store
from shared.cache import BoundedCache
from shared.metrics import WRITE_CONFLICTS
from shared.outbox import OutboxEntry, Publisher
from shared.periodic import every

log = logging.getLogger("partnerhub.incentives")

#: A published entry still in a document not written since is removed after this long
#: (a partner busier than that has its document written again first, which removes it).
REMOVE_AFTER_SECONDS = 30.0


class Ledgers:
    """Every partner's ledger: read, kept in memory, written, and published from."""

    def __init__(
        self, store: Store, publisher: Publisher, *, cache_deals: int, service: str = "incentives"
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.service = service
        # Bounded by the deals the ledgers hold (their memory grows with them).
        self._memory: BoundedCache[str, PartnerLedger] = BoundedCache(cache_deals)
        # Published entries still stored in a partner's document: (since, entries).
        self._unremoved: dict[str, tuple[float, list[OutboxEntry]]] = {}

    async def cached(self, partner_ids: Iterable[str]) -> dict[str, PartnerLedger]:
        """The partners' ledgers: the ones in memory as they are, the others read and kept."""
        found: dict[str, PartnerLedger] = {}
        missing: list[str] = []
        for pid in partner_ids:
            ledger = self._memory.get(pid)
            if ledger is None:
                missing.append(pid)
            else:
                found[pid] = ledger
        for pid, ledger in (await self.fresh(missing)).items():
            self._memory.put(pid, ledger, len(ledger.book.deals))
            found[pid] = ledger
        return found

    async def fresh(self, partner_ids: Iterable[str]) -> dict[str, PartnerLedger]:
        """The partners' ledgers as stored (a new one for a partner not stored): copies of
        their own, whatever is in memory."""
        ledgers = await self.store.load_ledgers(partner_ids)
        for pid, ledger in ledgers.items():
            unremoved = self._unremoved.get(pid)
            if unremoved is not None:
                published = {entry.id for entry in unremoved[1]}
                ledger.outbox = [entry for entry in ledger.outbox if entry.id not in published]
        return ledgers

    async def partner_ids(self) -> list[str]:
        """Every partner with a stored ledger, in id order."""
        return await self.store.partner_ids()

    async def save(self, ledgers: Sequence[PartnerLedger]) -> set[str]:
        """Write each ledger unless another writer wrote it since it was read; return the
        partner ids whose write lost."""
        if not ledgers:
            return set()
        lost = await self.store.save_ledgers(ledgers)
        if lost:
            WRITE_CONFLICTS.labels(self.service, LEDGERS).inc(len(lost))
        for ledger in ledgers:
            pid = ledger.partner_id
            if pid in lost:
                self._memory.forget([pid])
                continue
            # Written without the entries published before: nothing left to remove.
            self._unremoved.pop(pid, None)
            if self._memory.get(pid) is ledger:
                self._memory.put(pid, ledger, len(ledger.book.deals))  # its size, anew
            else:
                self._memory.forget([pid])  # another copy wrote the partner: read it again
        return lost

    def forget(self, partner_ids: Iterable[str]) -> None:
        """Drop these partners' ledgers from memory (changed there, perhaps not stored)."""
        self._memory.forget(partner_ids)

    async def publish(self, ledgers: Iterable[PartnerLedger]) -> None:
        """Publish the ledgers' outbox entries (awaited) and take them out of the ledgers;
        they leave the stored documents lazily (see the module's docstring), for ledgers
        written again soon (the consumer's)."""
        with_entries = [ledger for ledger in ledgers if ledger.outbox]
        if not with_entries:
            return
        outboxes = {ledger.partner_id: ledger.outbox for ledger in with_entries}
        await self.publisher.publish(LEDGERS, outboxes, remove=False)
        moment = time.monotonic()
        for ledger in with_entries:
            since, unremoved = self._unremoved.get(ledger.partner_id, (moment, []))
            self._unremoved[ledger.partner_id] = (since, unremoved + ledger.outbox)
            ledger.outbox = []

    def hand_over(self, ledgers: Iterable[PartnerLedger]) -> None:
        """The ledgers were written with entries in their outboxes by a command (a
        settlement): the relay publishes and removes them soon."""
        partner_ids = [ledger.partner_id for ledger in ledgers]
        if partner_ids:
            self.publisher.publish_soon(LEDGERS, partner_ids)

    async def remove_published(self, older_than: float = REMOVE_AFTER_SECONDS) -> int:
        """Remove the published entries still stored in documents not written for a while."""
        cutoff = time.monotonic() - older_than
        due = {pid: entries for pid, (since, entries) in self._unremoved.items() if since <= cutoff}
        if not due:
            return 0
        for pid in due:
            del self._unremoved[pid]
        try:
            await self.publisher.remove(LEDGERS, due)
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
