"""The enablement process most enablement tests share: one for the whole package, with a
database and a consumer group of its own, small MDF budgets in USD, and the keys of a
channel manager and of one partner.

The crash tests run processes of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import Settings
from tests.support.enablement import BUDGETS, KEYED_PARTNER, MANAGER_KEY, PARTNER_KEY, SUFFIX
from tests.support.http import api_keys
from tests.support.processes import ServiceProcess
from tests.support.services import running


@pytest.fixture(scope="package")
async def service(settings: Settings) -> AsyncIterator[ServiceProcess]:
    async with running(
        settings,
        "enablement",
        f"test_enablement_{SUFFIX}",
        f"enablement-{SUFFIX}",
        API_KEYS=api_keys(MANAGER_KEY, (PARTNER_KEY, KEYED_PARTNER)),
        MDF_BUDGET_CURRENCY="USD",
        MDF_QUARTERLY_BUDGETS=BUDGETS,
    ) as process:
        yield process
