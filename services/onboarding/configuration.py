"""Onboarding's own settings (SPEC §4 and §8: from the environment, with the SPEC's defaults).

- ``SCORECARD_WEIGHTS`` (default ``customer_base=0.25,sales_network=0.20,
  expertise=0.25,track_record=0.20,fit=0.10``): the weight of each scorecard
  criterion, all five, summing to 1.
- ``TERMINATION_NOTICE_DAYS`` (default 30): the notice a termination needs.

A bad value stops the service at start-up with an error naming the variable.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.onboarding.domain import (
    DEFAULT_NOTICE_DAYS,
    DEFAULT_WEIGHTS,
    InvalidWeights,
    ScorecardWeights,
)

DEFAULT_SCORECARD_WEIGHTS = ",".join(
    f"{name}={weight}" for name, weight in DEFAULT_WEIGHTS.as_dict().items()
)
#: Ten years: a longer notice is a typing error, not a policy.
MAX_NOTICE_DAYS = 3650


class ConfigurationError(ValueError):
    """A setting that cannot be used; the message names the environment variable."""


@dataclass(frozen=True)
class OnboardingRules:
    """What the configuration decides: the scorecard weights and the termination notice."""

    weights: ScorecardWeights = DEFAULT_WEIGHTS
    notice_days: int = DEFAULT_NOTICE_DAYS


class OnboardingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    scorecard_weights: str = DEFAULT_SCORECARD_WEIGHTS
    termination_notice_days: int = Field(default=DEFAULT_NOTICE_DAYS, ge=0, le=MAX_NOTICE_DAYS)

    def rules(self) -> OnboardingRules:
        return OnboardingRules(
            weights=parse_weights(self.scorecard_weights), notice_days=self.termination_notice_days
        )


def parse_weights(text: str) -> ScorecardWeights:
    """``name=weight,…`` (all five criteria) → weights; blank means the SPEC's defaults."""
    if not text.strip():
        return DEFAULT_WEIGHTS
    values: dict[str, str] = {}
    for entry in text.split(","):
        name, separator, weight = entry.partition("=")
        name = name.strip()
        if not separator or not name:
            raise ConfigurationError(
                f"SCORECARD_WEIGHTS: {entry.strip()!r} is not name=weight "
                f"(expected e.g. {DEFAULT_SCORECARD_WEIGHTS})"
            )
        if name in values:
            raise ConfigurationError(f"SCORECARD_WEIGHTS: weight {name!r} is given twice")
        values[name] = weight
    try:
        return ScorecardWeights.from_mapping(values)
    except InvalidWeights as exc:
        raise ConfigurationError(f"SCORECARD_WEIGHTS: {exc.reason}") from None


def rules_from_environment() -> OnboardingRules:
    try:
        settings = OnboardingSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ConfigurationError(problems) from None
    return settings.rules()
