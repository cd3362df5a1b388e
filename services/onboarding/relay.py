"""Publishing onboarding's outbox: right after each command, and every few seconds regardless.

A command never talks to Kafka. It stores its event in the partner's outbox
(the commit point, :mod:`shared.outbox`), answers, and calls
:meth:`OutboxRelay.publish_soon` with the partner. The relay is one
background task publishing outbox entries: those partners' at once (so an
event normally reaches Kafka within milliseconds), looked up by ``_id``;
every ``interval`` seconds those of partners whose publish failed (Kafka
down); and every ``sweep`` seconds, with
:meth:`shared.outbox.Outbox.publish_pending`, whatever any partner's outbox
holds (what a crash left behind), which means reading every partner's
document. At start-up the service publishes what a crash left behind before
it serves.

Hence an answer never waits for Kafka, and Kafka being down delays events
without failing commands. Because one task does all the publishing in this
process, an entry is not published twice by a command racing the relay; it
can still reach Kafka twice after a crash between the publish and its removal
from the outbox, as the same CloudEvent (same ``id``), which readers drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from shared.outbox import SWEEP_SECONDS, Outbox

log = logging.getLogger("partnerhub.onboarding")


class OutboxRelay:
    """The background task that publishes the ``collection``'s outbox entries through
    ``outbox`` (its :meth:`run` goes to ``service_app(background=...)``)."""

    def __init__(
        self,
        outbox: Outbox,
        collection: str,
        interval: float = 2.0,
        sweep: float = SWEEP_SECONDS,
    ) -> None:
        self.outbox = outbox
        self.collection = collection
        self.interval = interval
        self.sweep = sweep
        self._wake = asyncio.Event()

    def publish_soon(self, partner_id: str) -> None:
        """Publish soon: a command has just stored an event in this partner's outbox."""
        self.outbox.mark(self.collection, [partner_id])
        self._wake.set()

    async def run(self) -> None:
        """Publish what is pending as described above; until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.outbox.publish_due(self.sweep)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay: %s; retrying in %.0f s", exc, self.interval)
                await asyncio.sleep(self.interval)
