"""How the pages show figures: money always with its currency, instants as dates (or
minutes, in UTC), ratios as percentages, how long a registration protects its deal, a
commission line's status in words and how a converted line's amount came about.
Registered as template filters."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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


def signed_money(amount: object, currency: str | None) -> str:
    """:func:`money` with its sign always shown, for a change: ``+650.00 EUR``,
    ``-150.00 EUR``, ``0.00 EUR``."""
    value = _amount(amount)
    shown = money(amount, currency)
    return f"+{shown}" if value is not None and value > 0 else shown


#: A commission line's status as a statement says it (reporting's ``status``).
LINE_STATUS_WORDS = {
    "commissionable": "commissionable",
    "clawed_back": "clawed back",
    "no_contract": "no contract covers its close",
    "terminated": "partner terminated by its close",
    "fx_pending": "waiting for an exchange rate",
    "currency_mismatch": "not in the contract's currency",
}


def line_status(status: object) -> str:
    """A line's status in words: ``fx_pending`` → ``waiting for an exchange rate``; one
    not listed as it is, underscores as spaces."""
    text = str(status or "")
    return LINE_STATUS_WORDS.get(text, text.replace("_", " "))


def converted(line: Mapping[str, object], currency: str | None) -> str:
    """How a converted statement line's amount (in ``currency``) came about, with both
    currencies: ``10,000.00 EUR at 1.0860 USD per EUR``; empty for a line not converted."""
    original, rate = line.get("original_amount"), line.get("fx_rate")
    own = line.get("original_currency")
    if original is None or rate is None or not own:
        return ""
    into = currency or "(currency unknown)"
    return f"{money(original, str(own))} at {rate} {into} per {own}"


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


def _instant(value: object) -> datetime | None:
    """An ISO instant as an aware datetime (a naive one read as UTC); none otherwise."""
    if not value:
        return None
    try:
        found = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def moment(instant: object) -> str:
    """An ISO instant → ``2026-11-30 14:05 UTC``; none → ``—``."""
    found = _instant(instant)
    if found is None:
        return str(instant) if instant else "—"
    return found.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def protection(registration: Mapping[str, object], now: datetime | None = None) -> str:
    """How long an approved registration protects its customer and product line, as of
    ``now`` (the clock's): ``until 2026-08-01 (10 days left)`` (whole days; ``less than a day left``
    in its last), or ``ended 2026-08-01 (expired)`` once its ``expires_at`` has passed or
    incentives says it has expired. Empty for one that protects nothing (pending,
    rejected) or names no end."""
    status = registration.get("status")
    ends = _instant(registration.get("expires_at"))
    if status not in ("approved", "expired") or ends is None:
        return ""
    end = ends.astimezone(UTC).date().isoformat()
    now = now or datetime.now(UTC)
    if status == "expired" or ends <= now:
        return f"ended {end} (expired)"
    left = (ends - now) // timedelta(days=1)
    if left == 0:
        return f"until {end} (less than a day left)"
    return f"until {end} ({left} day{'' if left == 1 else 's'} left)"


def install_filters(env: Environment) -> None:
    env.filters["money"] = money
    env.filters["signed_money"] = signed_money
    env.filters["percent"] = percent
    env.filters["line_status"] = line_status
    env.filters["converted"] = converted
    env.filters["day"] = day
    env.filters["moment"] = moment
    env.filters["protection"] = protection
    # Each form carries a fresh id, sent as the command's Idempotency-Key: the same form
    # sent twice (a double click, a reload) is one command.
    env.globals["submission_id"] = lambda: uuid.uuid4().hex
