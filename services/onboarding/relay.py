"""Publishing onboarding's outbox: right after each command, and every few seconds regardless.

A command never talks to Kafka. It stores its event in the partner's outbox
(the commit point), answers, and *pokes* the relay. The relay is one
background task publishing every pending outbox entry: when poked (so an event
normally reaches Kafka within milliseconds), and otherwise every ``interval``
seconds with :meth:`shared.outbox.Outbox.publish_pending` (what a crash, or
Kafka being down, left behind).

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

from shared.metrics import OUTBOX_BACKLOG
from shared.outbox import Outbox

log = logging.getLogger("partnerhub.onboarding")


class Relay:
    def __init__(self, outbox: Outbox, interval: float = 2.0) -> None:
        self.outbox = outbox
        self.interval = interval
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Publish soon: a command has just stored an event."""
        self._wake.set()

    async def run(self) -> None:
        """Publish what is pending whenever poked, and every ``interval`` s; until cancelled."""
        while True:
            poked = False
            with contextlib.suppress(TimeoutError):
                poked = await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                if poked:
                    await self._publish_fresh()
                else:
                    await self.outbox.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay: %s; retrying in %.0f s", exc, self.interval)
                await asyncio.sleep(self.interval)

    async def _publish_fresh(self) -> None:
        """What commands just stored (and anything older still pending)."""
        for name, outboxes in (await self.outbox.pending()).items():
            await self.outbox.publish(self.outbox.collections[name], outboxes)
        OUTBOX_BACKLOG.labels(self.outbox.service).set(0)
