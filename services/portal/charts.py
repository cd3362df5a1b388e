"""Charts drawn on the server as SVG: no script, nothing fetched, readable by screen
readers through each bar's title."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.portal.views import money

WIDTH = 640
HEIGHT = 220
AXIS = 28  # room under the bars for the labels
TOP = 18  # room above the tallest bar for its value


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, its value, where it stands."""

    label: str
    value: Decimal
    caption: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class BarChart:
    """Bars scaled so that the tallest fills the plot; all zero draws flat bars."""

    title: str
    currency: str | None
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - AXIS


def bar_chart(title: str, points: list[tuple[str, Decimal]], currency: str | None) -> BarChart:
    """A bar per ``(label, value)``, in the order given; negative values draw as zero
    height (their caption keeps the sign)."""
    plot = HEIGHT - AXIS - TOP
    top = max((value for _, value in points), default=Decimal(0))
    slot = WIDTH / max(len(points), 4)  # a lone bar is no wider than one of four
    bars = []
    for index, (label, value) in enumerate(points):
        share = float(max(value, Decimal(0)) / top) if top > 0 else 0.0
        height = round(plot * share, 1)
        bars.append(
            Bar(
                label=label,
                value=value,
                caption=money(value, currency),
                x=round(index * slot + slot * 0.15, 1),
                y=round(HEIGHT - AXIS - height, 1),
                width=round(slot * 0.7, 1),
                height=height,
            )
        )
    return BarChart(title=title, currency=currency, bars=bars)
