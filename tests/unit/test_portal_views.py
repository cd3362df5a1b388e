"""How the portal shows figures (services/portal/views.py) and draws its bar chart
(services/portal/charts.py): money never without its currency, charts scaled to the
plot and in the order given."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.portal.charts import AXIS, HEIGHT, TOP, WIDTH, bar_chart
from services.portal.views import day, money, percent

PLOT = HEIGHT - AXIS - TOP
CURRENCIES = st.sampled_from(["EUR", "USD", "JPY", "CHF"])
AMOUNTS = st.decimals(
    min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False, allow_infinity=False
)
#: Two decimals, a comma every three digits, then the currency (or that it is unknown).
SHOWN = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d{2} (?P<currency>[A-Z]{3}|\(currency unknown\))$")


# --------------------------------------------------------------------------- money


@given(AMOUNTS, st.one_of(st.none(), st.just(""), CURRENCIES))
@example(Decimal("1234.5"), "EUR")
@example(Decimal("-0.004"), "USD")
@example(Decimal("999.995"), "EUR")
def test_money_shows_two_decimals_grouped_and_its_currency(
    amount: Decimal, currency: str | None
) -> None:
    shown = money(amount, currency)
    found = SHOWN.match(shown)
    assert found, shown
    assert found["currency"] == (currency or "(currency unknown)")
    figure = Decimal(shown.split(" ")[0].replace(",", ""))
    assert abs(figure - amount) <= Decimal("0.005"), "the figure is the amount, rounded to cents"


@given(AMOUNTS, CURRENCIES)
def test_money_reads_the_amount_as_text_and_as_a_number(amount: Decimal, currency: str) -> None:
    assert money(str(amount), currency) == money(amount, currency)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1234.5", "EUR", "1,234.50 EUR"),
        ("1234567.891", "USD", "1,234,567.89 USD"),
        ("0", "EUR", "0.00 EUR"),
        ("-98765.4", "EUR", "-98,765.40 EUR"),
        (12, "JPY", "12.00 JPY"),
        (0.1, "EUR", "0.10 EUR"),
        ("80000.00", None, "80,000.00 (currency unknown)"),
        ("80000.00", "", "80,000.00 (currency unknown)"),
    ],
)
def test_money_examples(amount: object, currency: str | None, shown: str) -> None:
    assert money(amount, currency) == shown


@pytest.mark.parametrize("amount", [None, "", "abc", "12,5", "NaN", "Infinity", "-inf", "sNaN"])
def test_money_that_is_no_amount_shows_a_dash_not_a_figure(amount: object) -> None:
    assert money(amount, "EUR") == "—"


# --------------------------------------------------------------------------- percent, day


@pytest.mark.parametrize(
    ("ratio", "shown"),
    [
        ("0.8125", "81.2 %"),  # half-even, as reporting rounds
        ("0.8135", "81.4 %"),
        ("1", "100.0 %"),
        ("1.25", "125.0 %"),
        ("0", "0.0 %"),
        (0.5, "50.0 %"),
        ("12.3456", "1,234.6 %"),
        (None, "—"),
        ("n/a", "—"),
        ("NaN", "—"),
        ("Infinity", "—"),
    ],
)
def test_percent(ratio: object, shown: str) -> None:
    assert percent(ratio) == shown


@given(st.decimals(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False))
def test_percent_is_the_ratio_times_a_hundred_to_one_decimal(ratio: Decimal) -> None:
    shown = percent(ratio)
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d %", shown), shown
    assert abs(Decimal(shown[:-2].replace(",", "")) - ratio * 100) <= Decimal("0.05")


@pytest.mark.parametrize(
    ("instant", "shown"),
    [
        ("2026-11-30T10:15:00.000000Z", "2026-11-30"),
        ("2026-11-30T23:59:59+00:00", "2026-11-30"),
        ("2026-11-30", "2026-11-30"),
        (datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "2026-01-02"),
        (None, "—"),
        ("", "—"),
        ("soon", "soon"),
    ],
)
def test_day(instant: object, shown: str) -> None:
    assert day(instant) == shown


# --------------------------------------------------------------------------- bar chart


POINTS = st.lists(
    st.tuples(st.text(min_size=1, max_size=8), AMOUNTS.map(lambda a: a.quantize(Decimal("0.01")))),
    max_size=12,
)


@given(POINTS, st.one_of(st.none(), CURRENCIES))
@example([("2026-Q1", Decimal("0")), ("2026-Q2", Decimal("0"))], "EUR")
@example([("2026-Q1", Decimal("-5")), ("2026-Q2", Decimal("-1"))], "EUR")
@example([("2026-Q1", Decimal("0.01")), ("2026-Q2", Decimal("1e15"))], None)
def test_bars_are_in_order_scaled_to_the_plot_and_captioned_with_the_currency(
    points: list[tuple[str, Decimal]], currency: str | None
) -> None:
    chart = bar_chart("Commission", points, currency)
    assert [(bar.label, bar.value) for bar in chart.bars] == points
    xs = [bar.x for bar in chart.bars]
    assert all(a < b for a, b in pairwise(xs)), "left to right, in order"
    for bar in chart.bars:
        assert 0 <= bar.height <= PLOT
        assert bar.y + bar.height == pytest.approx(chart.baseline), "every bar stands on the axis"
        assert bar.x >= 0
        assert bar.x + bar.width <= WIDTH
        assert bar.caption == money(bar.value, currency)
        assert bar.caption.endswith(currency or "(currency unknown)")
        if bar.value <= 0:
            assert bar.height == 0
    top = max((value for _, value in points), default=Decimal(0))
    if top > 0:
        tallest = [bar for bar in chart.bars if bar.value == top]
        assert all(bar.height == PLOT for bar in tallest), "the tallest bar fills the plot"
        for bar in chart.bars:
            assert bar.height == pytest.approx(
                float(max(bar.value, Decimal(0)) / top) * PLOT, abs=0.051
            )
    assert chart.currency == currency


def test_a_chart_of_nothing_has_no_bars() -> None:
    chart = bar_chart("Commission", [], "EUR")
    assert chart.bars == []
    assert chart.baseline == HEIGHT - AXIS


def test_a_bar_twice_as_high_is_twice_as_tall() -> None:
    chart = bar_chart("Commission", [("Q1", Decimal("500")), ("Q2", Decimal("1000"))], "EUR")
    assert [bar.height for bar in chart.bars] == [PLOT / 2, PLOT]
    assert [bar.caption for bar in chart.bars] == ["500.00 EUR", "1,000.00 EUR"]
