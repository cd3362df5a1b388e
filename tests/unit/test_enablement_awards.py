"""When enablement reads every learner to find those computed under an older catalogue.

The store is a stand-in here (unit test): what matters is which of its
queries run, as the catalogue's version moves and learners are written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from services.enablement.awards import AwardSettling
from services.enablement.store import Catalogue
from tests.support.fakes import InMemoryPublisher


class CountingStore:
    """The catalogue's version, and how often the learners were read whole."""

    def __init__(self) -> None:
        self.version = 0
        self.scans = 0
        self.version_read = asyncio.Event()

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


def no_kafka() -> InMemoryPublisher:
    """A publisher that is never needed here: no learner is stale."""
    return InMemoryPublisher({})


async def test_learners_are_read_whole_only_when_the_catalogue_may_have_moved_on() -> None:
    store = CountingStore()
    award_settling = AwardSettling(store, no_kafka())  # type: ignore[arg-type]
    running = asyncio.create_task(award_settling.keep_learners_settled(interval=0.02))

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
        await award_settling.learners_written(0)
        await settle()
        assert store.scans == 3
        # Written under the current version: nothing to do.
        await award_settling.learners_written(1)
        await settle()
        assert store.scans == 3
        award_settling.definitions_added()  # a definition added in this process
        await settle()
        assert store.scans == 4
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_readiness_says_whether_the_awards_follow_the_current_catalogue() -> None:
    store = CountingStore()
    award_settling = AwardSettling(store, no_kafka())  # type: ignore[arg-type]
    assert not await award_settling.awards_current(), "no pass yet"
    await award_settling.settle_stale_learners()
    assert await award_settling.awards_current()
    store.version = 1
    assert not await award_settling.awards_current()
