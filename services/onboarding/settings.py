"""Onboarding's settings, read once from the environment at start-up.

Besides every service's settings (:class:`shared.settings.Settings`):

- ``SCORECARD_WEIGHTS`` (default ``customer_base=0.25,sales_network=0.20,
  expertise=0.25,track_record=0.20,fit=0.10``): the weight of each scorecard
  criterion, all five, summing to 1 (docs/rules/scorecard.md);
- ``TERMINATION_NOTICE_DAYS`` (default 30): the notice a termination needs;
- ``INDUSTRY_REQUIRED_CAPABILITIES`` (default ``it=technical_support;
  manufacturing=logistics,after_sales;services=consulting``): each industry's
  required capabilities, ``industry=capability,…`` separated by ``;``; the
  whole table (an industry not listed requires nothing, ``industry=`` with
  nothing after it says so explicitly); blank means the default;
- ``INDUSTRY_SCORECARD_WEIGHTS`` (default none): an industry's own scorecard
  weights, ``industry=criterion:weight,…`` (all five criteria, summing to 1)
  separated by ``;``; an industry not listed is scored with
  ``SCORECARD_WEIGHTS``.

Industries are matched trimmed and case-insensitively (``IT`` is ``it``).

A bad value stops the service at start-up with a :class:`ConfigurationError`
naming the variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pydantic import Field, field_validator

from services.onboarding import SERVICE
from services.onboarding.domain import (
    DEFAULT_INDUSTRY_FIT,
    DEFAULT_NOTICE_DAYS,
    DEFAULT_REQUIRED_CAPABILITIES,
    DEFAULT_WEIGHTS,
    IndustryFit,
    InvalidIndustryFit,
    InvalidWeights,
    ScorecardWeights,
    industry_key,
)
from shared.events import Capability
from shared.settings import ConfigurationError, Settings

DEFAULT_SCORECARD_WEIGHTS = ",".join(
    f"{name}={weight}" for name, weight in DEFAULT_WEIGHTS.as_dict().items()
)
DEFAULT_INDUSTRY_REQUIRED_CAPABILITIES = ";".join(
    f"{industry}={','.join(c.value for c in required)}"
    for industry, required in DEFAULT_REQUIRED_CAPABILITIES.items()
)
#: An example of INDUSTRY_SCORECARD_WEIGHTS, for the error messages.
INDUSTRY_WEIGHTS_EXAMPLE = (
    "manufacturing=customer_base:0.20,sales_network:0.30,expertise:0.20,track_record:0.20,fit:0.10"
)
#: Ten years: a longer notice is a typing error, not a policy.
MAX_NOTICE_DAYS = 3650


@dataclass(frozen=True)
class OnboardingRules:
    """What the configuration decides: the default scorecard weights, the termination
    notice, and each industry's required capabilities and own weights."""

    weights: ScorecardWeights = DEFAULT_WEIGHTS
    notice_days: int = DEFAULT_NOTICE_DAYS
    industry_fit: IndustryFit = DEFAULT_INDUSTRY_FIT


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


def _industry_entries(text: str, example: str) -> list[tuple[str, str]]:
    """``industry=value;…`` → (industry as given, value), each industry once; blank
    entries (a trailing ``;``) are skipped."""
    entries: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in text.split(";"):
        if not entry.strip():
            continue
        industry, separator, value = entry.partition("=")
        industry = industry.strip()
        if not separator or not industry:
            raise ConfigurationError(
                f"{entry.strip()!r} is not industry=… (expected e.g. {example})"
            )
        key = industry_key(industry)
        if key in seen:
            raise ConfigurationError(f"industry {key!r} is given twice")
        seen.add(key)
        entries.append((industry, value))
    return entries


def parse_required_capabilities(text: str) -> dict[str, tuple[Capability, ...]]:
    """``industry=capability,…;…`` → each industry's required capabilities; blank means
    :data:`DEFAULT_REQUIRED_CAPABILITIES`.

    A bad value raises :class:`ConfigurationError` saying what is wrong with it.
    """
    if not text.strip():
        return dict(DEFAULT_REQUIRED_CAPABILITIES)
    known = ", ".join(c.value for c in Capability)
    table: dict[str, tuple[Capability, ...]] = {}
    for industry, listed in _industry_entries(text, DEFAULT_INDUSTRY_REQUIRED_CAPABILITIES):
        required: list[Capability] = []
        names = [name.strip() for name in listed.split(",")] if listed.strip() else []
        for name in names:
            try:
                capability = Capability(name)
            except ValueError:
                raise ConfigurationError(
                    f"industry {industry!r}: unknown capability {name!r}; "
                    f"the capabilities are {known}"
                ) from None
            if capability in required:
                raise ConfigurationError(
                    f"industry {industry!r}: capability {name!r} is given twice"
                )
            required.append(capability)
        table[industry_key(industry)] = tuple(required)
    return table


def parse_industry_weights(text: str) -> dict[str, ScorecardWeights]:
    """``industry=criterion:weight,…;…`` → each listed industry's own weights (all five
    criteria, summing to 1); blank means none.

    A bad value raises :class:`ConfigurationError` naming the industry and the weight.
    """
    table: dict[str, ScorecardWeights] = {}
    for industry, listed in _industry_entries(text, INDUSTRY_WEIGHTS_EXAMPLE):
        values: dict[str, str] = {}
        for entry in listed.split(","):
            name, separator, weight = entry.partition(":")
            name = name.strip()
            if not separator or not name:
                raise ConfigurationError(
                    f"industry {industry!r}: {entry.strip()!r} is not criterion:weight "
                    f"(expected e.g. {INDUSTRY_WEIGHTS_EXAMPLE})"
                )
            if name in values:
                raise ConfigurationError(f"industry {industry!r}: weight {name!r} is given twice")
            values[name] = weight
        try:
            table[industry_key(industry)] = ScorecardWeights.from_mapping(values)
        except InvalidWeights as exc:
            raise ConfigurationError(f"industry {industry!r}: {exc.reason}") from None
    return table


def parse_industry_fit(required: str, weights: str) -> IndustryFit:
    """The industry fit of INDUSTRY_REQUIRED_CAPABILITIES and INDUSTRY_SCORECARD_WEIGHTS."""
    try:
        return IndustryFit(
            required=parse_required_capabilities(required),
            weights=parse_industry_weights(weights),
        )
    except InvalidIndustryFit as exc:  # pragma: no cover - the parsers refuse it first
        raise ConfigurationError(exc.reason) from None


class OnboardingSettings(Settings):
    """The onboarding process's configuration; field ``x`` is read from ``X``."""

    service_name: str = Field(default=SERVICE, description="name in logs, metrics, DLQ headers")
    http_port: int = Field(default=8001, ge=1, le=65535)
    mongodb_database: str = Field(default="partnerhub_onboarding", min_length=1)

    scorecard_weights: str = DEFAULT_SCORECARD_WEIGHTS
    termination_notice_days: int = Field(default=DEFAULT_NOTICE_DAYS, ge=0, le=MAX_NOTICE_DAYS)
    industry_required_capabilities: str = DEFAULT_INDUSTRY_REQUIRED_CAPABILITIES
    industry_scorecard_weights: str = ""

    @field_validator("scorecard_weights")
    @classmethod
    def _weights_parse(cls, value: str) -> str:
        parse_weights(value)
        return value

    @field_validator("industry_required_capabilities")
    @classmethod
    def _required_capabilities_parse(cls, value: str) -> str:
        parse_required_capabilities(value)
        return value

    @field_validator("industry_scorecard_weights")
    @classmethod
    def _industry_weights_parse(cls, value: str) -> str:
        parse_industry_weights(value)
        return value

    @cached_property
    def rules(self) -> OnboardingRules:
        return OnboardingRules(
            weights=parse_weights(self.scorecard_weights),
            notice_days=self.termination_notice_days,
            industry_fit=parse_industry_fit(
                self.industry_required_capabilities, self.industry_scorecard_weights
            ),
        )
