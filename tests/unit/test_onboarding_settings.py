"""Onboarding's settings: SCORECARD_WEIGHTS and TERMINATION_NOTICE_DAYS, with errors naming them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.onboarding.domain import DEFAULT_NOTICE_DAYS, DEFAULT_WEIGHTS
from services.onboarding.settings import (
    DEFAULT_SCORECARD_WEIGHTS,
    OnboardingSettings,
    parse_weights,
)
from shared.settings import ConfigurationError, load

SERVICE_VARIABLES = ("SERVICE_NAME", "HTTP_PORT", "MONGODB_DATABASE")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCORECARD_WEIGHTS", "TERMINATION_NOTICE_DAYS", *SERVICE_VARIABLES):
        monkeypatch.delenv(name, raising=False)


def test_the_defaults() -> None:
    settings = load(OnboardingSettings)
    assert settings.rules.weights == DEFAULT_WEIGHTS
    assert settings.rules.notice_days == DEFAULT_NOTICE_DAYS == 30
    assert parse_weights(DEFAULT_SCORECARD_WEIGHTS) == DEFAULT_WEIGHTS
    assert parse_weights("  ") == DEFAULT_WEIGHTS


def test_the_service_has_its_name_port_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(OnboardingSettings)
    assert (settings.service_name, settings.http_port, settings.mongodb_database) == (
        "onboarding",
        8001,
        "partnerhub_onboarding",
    )
    monkeypatch.setenv("HTTP_PORT", "9001")
    monkeypatch.setenv("MONGODB_DATABASE", "elsewhere")
    settings = load(OnboardingSettings)
    assert (settings.http_port, settings.mongodb_database) == (9001, "elsewhere")


def test_weights_and_notice_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SCORECARD_WEIGHTS",
        " fit = 0.2, customer_base=0.2 ,sales_network=0.2,expertise=0.2,track_record=0.2",
    )
    monkeypatch.setenv("TERMINATION_NOTICE_DAYS", "60")
    rules = load(OnboardingSettings).rules
    assert rules.weights.as_dict() == dict.fromkeys(DEFAULT_WEIGHTS.as_dict(), Decimal("0.2"))
    assert rules.notice_days == 60


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("customer_base=0.5", "'sales_network' is missing"),
        ("customer_base=0.25,sales_network=0.20,expertise=0.25,track_record=0.20,fit=0.20",
         "sum to 1"),
        ("customer_base=0.25,sales_network=0.20,expertise=0.25,track_record=0.20,fit=x",
         "'fit' must be a decimal"),
        ("customer_base=0.25,sales_network=0.20,expertise=0.25,track_record=0.20,luck=0.10",
         "unknown weight 'luck'"),
        ("customer_base=0.25,customer_base=0.25", "given twice"),
        ("customer_base", "is not name=weight"),
    ],
)  # fmt: skip
def test_bad_weights_name_the_variable_and_the_weight(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_weights(value)
    monkeypatch.setenv("SCORECARD_WEIGHTS", value)
    with pytest.raises(ConfigurationError, match=r"^SCORECARD_WEIGHTS: ") as raised:
        load(OnboardingSettings)
    assert message in str(raised.value)


@pytest.mark.parametrize("value", ["-1", "soon", "100000"])
def test_a_bad_notice_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TERMINATION_NOTICE_DAYS", value)
    with pytest.raises(ConfigurationError, match=r"^TERMINATION_NOTICE_DAYS: "):
        load(OnboardingSettings)


def test_every_bad_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINATION_NOTICE_DAYS", "soon")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "nowhere")
    with pytest.raises(ConfigurationError) as raised:
        load(OnboardingSettings)
    assert "KAFKA_BOOTSTRAP_SERVERS: must be host:port" in str(raised.value)
    assert "TERMINATION_NOTICE_DAYS: " in str(raised.value)
