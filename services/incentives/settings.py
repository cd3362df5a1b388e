"""Incentives' settings, read once from the environment at start-up.

Besides every service's settings (:class:`shared.settings.Settings`):

- ``LEDGER_CACHE_DEALS`` (default 100000): how much of the partners' ledgers a
  process keeps in memory between batches (:class:`services.incentives.ledgers.Ledgers`);
- ``SETTLEMENT_ALLOW_NEGATIVE`` (default false): whether a settlement pays a
  negative amount when clawbacks exceed what is payable (``docs/rules/settlement.md``);
- ``REGISTRATION_PROTECTION_DAYS`` (default 90): how long an approved deal
  registration protects its customer and product line, before extensions
  (``docs/rules/deal-registration.md``).
"""

from __future__ import annotations

from pydantic import Field

from services.incentives import SERVICE
from services.incentives.domain import PROTECTION_DAYS
from shared.settings import Settings


class IncentivesSettings(Settings):
    """The incentives process's configuration; field ``x`` is read from ``X``."""

    service_name: str = Field(default=SERVICE, description="name in logs, metrics, DLQ headers")
    http_port: int = Field(default=8003, ge=1, le=65535)
    mongodb_database: str = Field(default="partnerhub_incentives", min_length=1)

    ledger_cache_deals: int = Field(
        default=100_000,
        ge=0,
        description="deals whose partners' ledgers stay in memory between batches "
        "(memory grows with them); 0: read every ledger from the store each time",
    )
    settlement_allow_negative: bool = Field(
        default=False,
        description="pay negative amounts when clawbacks exceed what is payable; "
        "by default the rest carries forward to the next settlement",
    )
    registration_protection_days: int = Field(
        default=PROTECTION_DAYS,
        ge=1,
        le=3650,
        description="days an approved deal registration protects its customer and product "
        "line, before extensions; a programme setting, fixed for the decisions it made",
    )
