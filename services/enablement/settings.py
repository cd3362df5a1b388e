"""Enablement's settings, read once from the environment at start-up.

Besides every service's settings (:class:`shared.settings.Settings`), the MDF
budgets (docs/rules/enablement.md):

- ``MDF_BUDGET_CURRENCY`` (default ``USD``): the programme currency of every
  budget, an ISO 4217 code;
- ``MDF_QUARTERLY_BUDGETS`` (default
  ``registered=0,silver=10000,gold=25000,platinum=50000``): each tier's
  quarterly amount; a tier left out has no budget;
- ``MDF_CLAIM_WINDOW_DAYS`` (default 60): how many days after its activity
  ended a claim against an approved request may still be made (0 to 3650); it is
  also how many days after the last day of its quarter a request's claims close;
- ``MDF_RELEASE_INTERVAL_SECONDS`` (default 3600): how often the service releases
  what approved requests left unclaimed once their claims closed (1 to 86400).

A bad value stops the service at start-up with a :class:`ConfigurationError`
naming the variable.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, field_validator

from services.enablement import SERVICE
from services.enablement.domain import (
    DEFAULT_CLAIM_WINDOW_DAYS,
    DEFAULT_MDF_CURRENCY,
    MdfBudget,
)
from shared.currencies import ISO_4217
from shared.settings import ConfigurationError, Settings

DEFAULT_QUARTERLY_BUDGETS = "registered=0,silver=10000,gold=25000,platinum=50000"


class EnablementSettings(Settings):
    """The enablement process's configuration; field ``x`` is read from ``X``."""

    service_name: str = Field(default=SERVICE, description="name in logs, metrics, DLQ headers")
    http_port: int = Field(default=8002, ge=1, le=65535)
    mongodb_database: str = Field(default="partnerhub_enablement", min_length=1)

    mdf_budget_currency: str = DEFAULT_MDF_CURRENCY
    mdf_quarterly_budgets: str = DEFAULT_QUARTERLY_BUDGETS
    mdf_claim_window_days: int = Field(default=DEFAULT_CLAIM_WINDOW_DAYS, ge=0, le=3650)
    mdf_release_interval_seconds: float = Field(default=3600, ge=1, le=86400)

    @field_validator("mdf_budget_currency")
    @classmethod
    def _currency_known(cls, value: str) -> str:
        currency = value.strip()
        if currency not in ISO_4217:
            raise ConfigurationError(f"{currency!r} is not an ISO 4217 code such as USD or EUR")
        return currency

    @field_validator("mdf_quarterly_budgets")
    @classmethod
    def _budgets_parse(cls, value: str) -> str:
        try:
            MdfBudget.parse(DEFAULT_MDF_CURRENCY, value)
        except ValueError as exc:
            raise ConfigurationError(f"{exc} (expected e.g. {DEFAULT_QUARTERLY_BUDGETS})") from None
        return value

    @cached_property
    def mdf_budget(self) -> MdfBudget:
        return MdfBudget.parse(self.mdf_budget_currency, self.mdf_quarterly_budgets)
