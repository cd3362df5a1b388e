"""Onboarding's settings: SCORECARD_WEIGHTS, TERMINATION_NOTICE_DAYS,
INDUSTRY_REQUIRED_CAPABILITIES and INDUSTRY_SCORECARD_WEIGHTS, with errors naming them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from services.onboarding.domain import (
    DEFAULT_INDUSTRY_FIT,
    DEFAULT_NOTICE_DAYS,
    DEFAULT_REQUIRED_CAPABILITIES,
    DEFAULT_WEIGHTS,
    ScorecardWeights,
)
from services.onboarding.settings import (
    DEFAULT_INDUSTRY_REQUIRED_CAPABILITIES,
    DEFAULT_SCORECARD_WEIGHTS,
    INDUSTRY_WEIGHTS_EXAMPLE,
    OnboardingSettings,
    parse_industry_weights,
    parse_required_capabilities,
    parse_weights,
)
from shared.events import Capability
from shared.settings import ConfigurationError, load

SERVICE_VARIABLES = ("SERVICE_NAME", "HTTP_PORT", "MONGODB_DATABASE")
RULE_VARIABLES = (
    "SCORECARD_WEIGHTS",
    "TERMINATION_NOTICE_DAYS",
    "INDUSTRY_REQUIRED_CAPABILITIES",
    "INDUSTRY_SCORECARD_WEIGHTS",
)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*RULE_VARIABLES, *SERVICE_VARIABLES):
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


# --------------------------------------------------------------------------- industry fit


def test_the_industry_defaults() -> None:
    assert DEFAULT_INDUSTRY_REQUIRED_CAPABILITIES == (
        "it=technical_support;manufacturing=logistics,after_sales;services=consulting"
    )
    rules = load(OnboardingSettings).rules
    assert rules.industry_fit == DEFAULT_INDUSTRY_FIT
    assert rules.industry_fit.required == DEFAULT_REQUIRED_CAPABILITIES
    assert rules.industry_fit.weights == {}
    assert parse_required_capabilities(DEFAULT_INDUSTRY_REQUIRED_CAPABILITIES) == (
        DEFAULT_REQUIRED_CAPABILITIES
    )
    assert parse_required_capabilities(" ") == DEFAULT_REQUIRED_CAPABILITIES
    assert parse_industry_weights("") == {}


def test_industry_requirements_and_weights_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "INDUSTRY_REQUIRED_CAPABILITIES",
        " Retail = training , consulting ; IT= ;services=consulting;",
    )
    monkeypatch.setenv(
        "INDUSTRY_SCORECARD_WEIGHTS",
        "Manufacturing = customer_base:0.10, sales_network:0.40,expertise:0.10,track_record:0.30,"
        "fit:0.10; services=fit:1,customer_base:0,sales_network:0,expertise:0,track_record:0",
    )
    fit = load(OnboardingSettings).rules.industry_fit
    assert fit.required == {
        "retail": (Capability.TRAINING, Capability.CONSULTING),
        "it": (),
        "services": (Capability.CONSULTING,),
    }
    assert fit.required_for("manufacturing") == (), "an industry not listed requires nothing"
    assert fit.weights["manufacturing"].as_dict() == {
        "customer_base": Decimal("0.10"),
        "sales_network": Decimal("0.40"),
        "expertise": Decimal("0.10"),
        "track_record": Decimal("0.30"),
        "fit": Decimal("0.10"),
    }
    assert fit.weights_for(" SERVICES ", DEFAULT_WEIGHTS).fit == 1
    assert fit.weights_for("IT", DEFAULT_WEIGHTS) is DEFAULT_WEIGHTS
    assert isinstance(
        parse_industry_weights(INDUSTRY_WEIGHTS_EXAMPLE)["manufacturing"], ScorecardWeights
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("it=support", "industry 'it': unknown capability 'support'"),
        ("it=technical_support,,consulting", "industry 'it': unknown capability ''"),
        ("it=consulting,consulting", "industry 'it': capability 'consulting' is given twice"),
        ("it=technical_support;IT=consulting", "industry 'it' is given twice"),
        ("it", "'it' is not industry="),
        ("=consulting", "'=consulting' is not industry="),
    ],
)  # fmt: skip
def test_bad_requirements_name_the_variable_and_the_industry(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        parse_required_capabilities(value)
    monkeypatch.setenv("INDUSTRY_REQUIRED_CAPABILITIES", value)
    with pytest.raises(ConfigurationError, match=r"^INDUSTRY_REQUIRED_CAPABILITIES: ") as raised:
        load(OnboardingSettings)
    assert message in str(raised.value)


FIVE = "customer_base:0.25,sales_network:0.20,expertise:0.25,track_record:0.20"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("manufacturing=customer_base:0.5", "industry 'manufacturing': weight 'sales_network' is missing"),
        (f"manufacturing={FIVE},fit:0.20", "industry 'manufacturing': weights must sum to 1"),
        (f"manufacturing={FIVE},fit:x", "industry 'manufacturing': weight 'fit' must be a decimal"),
        (f"manufacturing={FIVE},luck:0.10", "industry 'manufacturing': unknown weight 'luck'"),
        (f"it={FIVE},fit:0.10,fit:0.10", "industry 'it': weight 'fit' is given twice"),
        ("it=customer_base=0.25", "industry 'it': 'customer_base=0.25' is not criterion:weight"),
        (f"it={FIVE},fit:0.10;IT={FIVE},fit:0.10", "industry 'it' is given twice"),
        ("manufacturing", "'manufacturing' is not industry="),
    ],
)  # fmt: skip
def test_bad_industry_weights_name_the_variable_the_industry_and_the_weight(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        parse_industry_weights(value)
    monkeypatch.setenv("INDUSTRY_SCORECARD_WEIGHTS", value)
    with pytest.raises(ConfigurationError, match=r"^INDUSTRY_SCORECARD_WEIGHTS: ") as raised:
        load(OnboardingSettings)
    assert message in str(raised.value)
