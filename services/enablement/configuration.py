"""Enablement's own settings: the MDF budgets (SPEC §8: from the environment, with defaults).

``MDF_BUDGET_CURRENCY`` (default ``USD``) is the programme currency of every
budget; ``MDF_QUARTERLY_BUDGETS`` (default
``registered=0,silver=10000,gold=25000,platinum=50000``) gives each tier's
quarterly amount; a tier left out has no budget. A bad value stops the
service at start-up with an error naming the variable.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.enablement.domain import MdfBudget
from shared.currencies import ISO_4217

DEFAULT_QUARTERLY_BUDGETS = "registered=0,silver=10000,gold=25000,platinum=50000"


class ConfigurationError(ValueError):
    """A setting that cannot be used; the message names the environment variable."""


class MdfSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    mdf_budget_currency: str = "USD"
    mdf_quarterly_budgets: str = DEFAULT_QUARTERLY_BUDGETS

    def budget(self) -> MdfBudget:
        currency = self.mdf_budget_currency.strip()
        if currency not in ISO_4217:
            raise ConfigurationError(
                f"MDF_BUDGET_CURRENCY: {currency!r} is not an ISO 4217 code such as USD or EUR"
            )
        try:
            return MdfBudget.parse(currency, self.mdf_quarterly_budgets)
        except ValueError as exc:
            raise ConfigurationError(
                f"MDF_QUARTERLY_BUDGETS: {exc} (expected e.g. {DEFAULT_QUARTERLY_BUDGETS})"
            ) from None


def mdf_budget_from_environment() -> MdfBudget:
    return MdfSettings().budget()
