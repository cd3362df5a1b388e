"""Onboarding's settings: SCORECARD_WEIGHTS and TERMINATION_NOTICE_DAYS, with errors naming them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.onboarding.configuration import (
    DEFAULT_SCORECARD_WEIGHTS,
    ConfigurationError,
    parse_weights,
    rules_from_environment,
)
from services.onboarding.domain import DEFAULT_NOTICE_DAYS, DEFAULT_WEIGHTS


def test_the_defaults_are_the_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCORECARD_WEIGHTS", raising=False)
    monkeypatch.delenv("TERMINATION_NOTICE_DAYS", raising=False)
    rules = rules_from_environment()
    assert rules.weights == DEFAULT_WEIGHTS
    assert rules.notice_days == DEFAULT_NOTICE_DAYS == 30
    assert parse_weights(DEFAULT_SCORECARD_WEIGHTS) == DEFAULT_WEIGHTS
    assert parse_weights("  ") == DEFAULT_WEIGHTS


def test_weights_and_notice_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SCORECARD_WEIGHTS",
        " fit = 0.2, customer_base=0.2 ,sales_network=0.2,expertise=0.2,track_record=0.2",
    )
    monkeypatch.setenv("TERMINATION_NOTICE_DAYS", "60")
    rules = rules_from_environment()
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
def test_bad_weights_name_the_variable_and_the_weight(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="SCORECARD_WEIGHTS") as raised:
        parse_weights(value)
    assert message in str(raised.value)


@pytest.mark.parametrize("value", ["-1", "soon", "100000"])
def test_a_bad_notice_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TERMINATION_NOTICE_DAYS", value)
    with pytest.raises(ConfigurationError, match="TERMINATION_NOTICE_DAYS"):
        rules_from_environment()
