"""Enablement's settings: the service's name, port and database, the MDF budgets
(MDF_BUDGET_CURRENCY, MDF_QUARTERLY_BUDGETS) and the claim window (MDF_CLAIM_WINDOW_DAYS),
with errors naming the variable."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.enablement.domain import DEFAULT_MDF_QUARTERLY, MdfBudget
from services.enablement.settings import EnablementSettings
from shared.events import Tier
from shared.settings import ConfigurationError, load

VARIABLES = (
    "SERVICE_NAME",
    "HTTP_PORT",
    "MONGODB_DATABASE",
    "MDF_BUDGET_CURRENCY",
    "MDF_QUARTERLY_BUDGETS",
    "MDF_CLAIM_WINDOW_DAYS",
)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_the_service_has_its_name_port_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(EnablementSettings)
    assert (settings.service_name, settings.http_port, settings.mongodb_database) == (
        "enablement",
        8002,
        "partnerhub_enablement",
    )
    monkeypatch.setenv("HTTP_PORT", "9002")
    monkeypatch.setenv("MONGODB_DATABASE", "elsewhere")
    settings = load(EnablementSettings)
    assert (settings.http_port, settings.mongodb_database) == (9002, "elsewhere")


def test_the_default_budgets() -> None:
    budget = load(EnablementSettings).mdf_budget
    assert budget.currency == "USD"
    assert dict(budget.quarterly) == dict(DEFAULT_MDF_QUARTERLY)


def test_budgets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDF_BUDGET_CURRENCY", " EUR ")
    monkeypatch.setenv("MDF_QUARTERLY_BUDGETS", "silver=500, gold=1000.50")
    budget = load(EnablementSettings).mdf_budget
    assert budget == MdfBudget("EUR", {Tier.SILVER: Decimal(500), Tier.GOLD: Decimal("1000.50")})
    assert budget.for_tier(Tier.PLATINUM) == 0, "a tier left out has no budget"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("MDF_BUDGET_CURRENCY", "ZZZ", "not an ISO 4217 code"),
        ("MDF_BUDGET_CURRENCY", "usd", "not an ISO 4217 code"),
        ("MDF_QUARTERLY_BUDGETS", "gold", "is not tier=amount"),
        ("MDF_QUARTERLY_BUDGETS", "diamond=5", "unknown tier"),
        ("MDF_QUARTERLY_BUDGETS", "gold=lots", "not a decimal"),
        ("MDF_QUARTERLY_BUDGETS", "gold=-5", "non-negative"),
        ("MDF_CLAIM_WINDOW_DAYS", "-1", "greater than or equal to 0"),
        ("MDF_CLAIM_WINDOW_DAYS", "two months", "integer"),
    ],
)
def test_a_bad_mdf_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=f"^{variable}: .*{words}"):
        load(EnablementSettings)


def test_the_claim_window(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(EnablementSettings).mdf_claim_window_days == 60, "the default"
    monkeypatch.setenv("MDF_CLAIM_WINDOW_DAYS", "90")
    assert load(EnablementSettings).mdf_claim_window_days == 90
