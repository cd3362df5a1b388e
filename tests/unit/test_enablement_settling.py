"""When enablement reads every learner to find those computed under an older catalogue.

The store is a stand-in here (unit test): what matters is which of its
queries run, as the catalogue's version moves and learners are written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from faststream.kafka import KafkaBroker

from services.enablement.handlers import Enablement
from services.enablement.store import Catalogue


class CountingStore:
    """The catalogue's version, and how often the learners were read whole."""

    def __init__(self) -> None:
        self.version = 0
        self.scans = 0
        self.version_read = asyncio.Event()
        self.with_outbox: list[Any] = []

    async def definitions_version(self) -> int:
        self.version_read.set()
        return self.version

    async def load_catalogue(self) -> Catalogue:
        return Catalogue(definitions_version=self.version)

    async def stale_learners(self, definitions_version: int, limit: int) -> list[Any]:
        self.scans += 1
        return []

    async def save_learners(self, learners: Iterable[Any]) -> set[str]:
        return set()


async def test_learners_are_read_whole_only_when_the_catalogue_may_have_moved_on() -> None:
    store = CountingStore()
    enablement = Enablement(store, KafkaBroker())  # type: ignore[arg-type]
    settling = asyncio.create_task(enablement.keep_learners_settled(interval=0.02))

    async def settle() -> None:
        """Until the loop has checked the catalogue's version three more times."""
        async with asyncio.timeout(10):
            for _ in range(3):
                store.version_read.clear()
                await store.version_read.wait()

    try:
        await settle()
        assert store.scans == 1, "one pass at first, then nothing while the catalogue stays"
        store.version = 1  # another replica added a definition
        await settle()
        assert store.scans == 2
        # Learners computed under version 0 written after that pass: stale, so a pass.
        await enablement.learners_written(0)
        await settle()
        assert store.scans == 3
        # Written under the current version: nothing to do.
        await enablement.learners_written(1)
        await settle()
        assert store.scans == 3
        enablement.catalogue_changed.set()  # a definition added in this process
        await settle()
        assert store.scans == 4
    finally:
        settling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await settling


async def test_readiness_says_whether_the_awards_follow_the_current_catalogue() -> None:
    store = CountingStore()
    enablement = Enablement(store, KafkaBroker())  # type: ignore[arg-type]
    assert not await enablement.awards_current(), "no pass yet"
    await enablement.settle_stale_learners()
    assert await enablement.awards_current()
    store.version = 1
    assert not await enablement.awards_current()
