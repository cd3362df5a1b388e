"""A reporting process for one test, with a database and a consumer group of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from shared import topics
from shared.infra import start_group_at_end
from shared.settings import Settings
from tests.support.processes import ServiceProcess
from tests.support.reporting import reporting_process


@pytest.fixture
def reporting(settings: Settings, unique: str) -> Iterator[ServiceProcess]:
    """A reporting service reading every topic from the beginning (the whole history)."""
    process = reporting_process(settings, unique).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def reporting_from_now(settings: Settings, unique: str) -> AsyncIterator[ServiceProcess]:
    """A reporting service that skips the topics' history: it sees this test's events only."""
    await start_group_at_end(settings, f"reporting-{unique}", topics.CONSUMED["reporting"])
    process = reporting_process(settings, unique).start()
    try:
        yield process
    finally:
        process.stop()
