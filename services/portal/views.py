"""How the pages show figures: money always with its currency, instants as dates,
ratios as percentages. Registered as template filters."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation

from jinja2 import Environment


def _amount(value: object) -> Decimal | None:
    """``value`` as a finite decimal; none for what is no number (``NaN``, ``Infinity``)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def money(amount: object, currency: str | None) -> str:
    """``1234.5``, ``EUR`` → ``1,234.50 EUR``; no currency known → the amount and ``(currency
    unknown)``, never a bare number that looks like it has one; no amount → ``—``."""
    value = _amount(amount)
    if value is None:
        return "—"
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else f"{text} (currency unknown)"


def percent(ratio: object) -> str:
    """``"0.8125"`` → ``81.2 %`` (half-even, as reporting rounds); none → ``—``."""
    value = _amount(ratio)
    return "—" if value is None else f"{value * 100:,.1f} %"


def day(instant: object) -> str:
    """An ISO instant → ``2026-11-30``; none → ``—``."""
    if not instant:
        return "—"
    try:
        return datetime.fromisoformat(str(instant)).date().isoformat()
    except ValueError:
        return str(instant)


def install_filters(env: Environment) -> None:
    env.filters["money"] = money
    env.filters["percent"] = percent
    env.filters["day"] = day
    # Each form carries a fresh id, sent as the command's Idempotency-Key: the same form
    # sent twice (a double click, a reload) is one command.
    env.globals["submission_id"] = lambda: uuid.uuid4().hex
