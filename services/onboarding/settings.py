"""Onboarding's settings, read once from the environment at start-up.

Besides every service's settings (:class:`shared.settings.Settings`):

- ``SCORECARD_WEIGHTS`` (default ``customer_base=0.25,sales_network=0.20,
  expertise=0.25,track_record=0.20,fit=0.10``): the weight of each scorecard
  criterion, all five, summing to 1 (docs/rules/scorecard.md);
- ``TERMINATION_NOTICE_DAYS`` (default 30): the notice a termination needs.

A bad value stops the service at start-up with a :class:`ConfigurationError`
naming the variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pydantic import Field, field_validator

from services.onboarding import SERVICE
from services.onboarding.domain import (
    DEFAULT_NOTICE_DAYS,
    DEFAULT_WEIGHTS,
    InvalidWeights,
    ScorecardWeights,
)
from shared.settings import ConfigurationError, Settings

DEFAULT_SCORECARD_WEIGHTS = ",".join(
    f"{name}={weight}" for name, weight in DEFAULT_WEIGHTS.as_dict().items()
)
#: Ten years: a longer notice is a typing error, not a policy.
MAX_NOTICE_DAYS = 3650


@dataclass(frozen=True)
class OnboardingRules:
    """What the configuration decides: the scorecard weights and the termination notice."""

    weights: ScorecardWeights = DEFAULT_WEIGHTS
    notice_days: int = DEFAULT_NOTICE_DAYS


def parse_weights(text: str) -> ScorecardWeights:
    """``name=weight,…`` (all five criteria) → weights; blank means the default weights.

    A bad value raises :class:`ConfigurationError` saying what is wrong with it.
    """
    if not text.strip():
        return DEFAULT_WEIGHTS
    values: dict[str, str] = {}
    for entry in text.split(","):
        name, separator, weight = entry.partition("=")
        name = name.strip()
        if not separator or not name:
            raise ConfigurationError(
                f"{entry.strip()!r} is not name=weight (expected e.g. {DEFAULT_SCORECARD_WEIGHTS})"
            )
        if name in values:
            raise ConfigurationError(f"weight {name!r} is given twice")
        values[name] = weight
    try:
        return ScorecardWeights.from_mapping(values)
    except InvalidWeights as exc:
        raise ConfigurationError(exc.reason) from None


class OnboardingSettings(Settings):
    """The onboarding process's configuration; field ``x`` is read from ``X``."""

    service_name: str = Field(default=SERVICE, description="name in logs, metrics, DLQ headers")
    http_port: int = Field(default=8001, ge=1, le=65535)
    mongodb_database: str = Field(default="partnerhub_onboarding", min_length=1)

    scorecard_weights: str = DEFAULT_SCORECARD_WEIGHTS
    termination_notice_days: int = Field(default=DEFAULT_NOTICE_DAYS, ge=0, le=MAX_NOTICE_DAYS)

    @field_validator("scorecard_weights")
    @classmethod
    def _weights_parse(cls, value: str) -> str:
        parse_weights(value)
        return value

    @cached_property
    def rules(self) -> OnboardingRules:
        return OnboardingRules(
            weights=parse_weights(self.scorecard_weights),
            notice_days=self.termination_notice_days,
        )
