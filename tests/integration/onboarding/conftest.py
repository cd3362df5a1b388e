"""The onboarding process most onboarding tests share: one for the whole package, with a
database of its own, configured with non-default scorecard weights and notice (to prove
both are read), and the keys of a channel manager and of one partner.

The crash tests run processes of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.onboarding.commands import ApplicationBody, derived_ids
from shared.commands import CommandKey
from shared.settings import Settings
from tests.support.http import api_keys
from tests.support.onboarding import (
    KEYED_APPLICATION,
    MANAGER_KEY,
    NOTICE_DAYS,
    PARTNER_KEY,
    SUFFIX,
    WEIGHTS,
    application,
)
from tests.support.processes import ServiceProcess
from tests.support.services import running


def keyed_partner_id() -> str:
    """The partner id the service derives from KEYED_APPLICATION (same rule as the service)."""
    key = CommandKey.of(KEYED_APPLICATION, "/applications", ApplicationBody(**application()))
    assert key is not None
    return derived_ids(key)[0]


@pytest.fixture(scope="package")
def keyed_partner() -> str:
    """The partner whose key is PARTNER_KEY: the one KEYED_APPLICATION applies for."""
    return keyed_partner_id()


@pytest.fixture(scope="package")
async def service(settings: Settings, keyed_partner: str) -> AsyncIterator[ServiceProcess]:
    async with running(
        settings,
        "onboarding",
        f"test_onboarding_{SUFFIX}",
        API_KEYS=api_keys(MANAGER_KEY, (PARTNER_KEY, keyed_partner)),
        SCORECARD_WEIGHTS=WEIGHTS,
        TERMINATION_NOTICE_DAYS=str(NOTICE_DAYS),
    ) as process:
        yield process
