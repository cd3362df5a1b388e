"""An incentives process for one test: its own database and consumer group, reading only
what is published from the test's start on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import Settings
from tests.support.incentives import from_now_on, incentives
from tests.support.processes import ServiceProcess


@pytest.fixture
async def service(settings: Settings, unique: str) -> AsyncIterator[ServiceProcess]:
    await from_now_on(settings, unique)
    process = incentives(settings, unique).start()
    try:
        yield process
    finally:
        process.stop()
