"""Enablement's own settings (the MDF budgets) and how it remembers Idempotency-Keys."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.enablement.commands import (
    Answer,
    CommandKey,
    CourseBody,
    InvalidField,
    MdfRequestBody,
)
from services.enablement.configuration import ConfigurationError, mdf_budget_from_environment
from services.enablement.domain import DEFAULT_MDF_QUARTERLY, MdfBudget
from shared.events import Tier


def test_the_default_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MDF_BUDGET_CURRENCY", raising=False)
    monkeypatch.delenv("MDF_QUARTERLY_BUDGETS", raising=False)
    budget = mdf_budget_from_environment()
    assert budget.currency == "USD"
    assert dict(budget.quarterly) == dict(DEFAULT_MDF_QUARTERLY)


def test_budgets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDF_BUDGET_CURRENCY", "EUR")
    monkeypatch.setenv("MDF_QUARTERLY_BUDGETS", "silver=500, gold=1000.50")
    budget = mdf_budget_from_environment()
    assert budget == MdfBudget("EUR", {Tier.SILVER: Decimal(500), Tier.GOLD: Decimal("1000.50")})
    assert budget.for_tier(Tier.PLATINUM) == 0, "a tier left out has no budget"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MDF_BUDGET_CURRENCY", "ZZZ"),
        ("MDF_BUDGET_CURRENCY", "usd"),
        ("MDF_QUARTERLY_BUDGETS", "gold"),
        ("MDF_QUARTERLY_BUDGETS", "diamond=5"),
        ("MDF_QUARTERLY_BUDGETS", "gold=lots"),
        ("MDF_QUARTERLY_BUDGETS", "gold=-5"),
    ],
)
def test_a_bad_budget_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=f"^{variable}: "):
        mdf_budget_from_environment()


def course(title: str = "Cloud basics") -> CourseBody:
    return CourseBody(course_id="C-1", title=title, product_line="cloud")


def test_a_key_is_remembered_per_path_with_the_body_it_came_with() -> None:
    key = CommandKey.of("k-1", "/courses", course())
    assert key is not None
    assert CommandKey.of(None, "/courses", course()) is None
    assert key == CommandKey.of("k-1", "/courses", course())
    other_path = CommandKey.of("k-1", "/certifications", course())
    assert other_path is not None
    assert other_path.digest != key.digest
    assert other_path.derived_id != key.derived_id
    assert "k-1" not in key.digest


def test_a_remembered_answer_is_replayed_and_a_reused_key_refused() -> None:
    key = CommandKey.of("k-1", "/courses", course())
    assert key is not None
    answers = [key.remember(Answer(201, {"course_id": "C-1"}))]
    replayed = key.find(answers)
    assert replayed == Answer(201, {"course_id": "C-1"}, replayed=True)
    assert CommandKey.of("k-2", "/courses", course()).find(answers) is None  # type: ignore[union-attr]
    reused = CommandKey.of("k-1", "/courses", course("Other title"))
    assert reused is not None
    with pytest.raises(InvalidField) as refused:
        reused.find(answers)
    assert refused.value.location == ("header", "Idempotency-Key")


def test_money_in_a_request_is_a_string_and_positive() -> None:
    body = MdfRequestBody.model_validate(
        {"partner_id": "P-1", "campaign": "c", "amount": "12.50", "currency": "EUR"}
    )
    assert body.amount == Decimal("12.50")
    for amount in (12.5, "-1", "0", 5):
        with pytest.raises(ValueError, match="amount"):
            MdfRequestBody.model_validate(
                {"partner_id": "P-1", "campaign": "c", "amount": amount, "currency": "EUR"}
            )
