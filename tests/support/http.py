"""A test service's API keys, the headers of its commands, and reading its answers."""

from __future__ import annotations

from typing import Any

from tests.support.processes import ADMIN_KEY


def api_keys(manager: str | None = None, partner: tuple[str, str] | None = None) -> str:
    """``API_KEYS`` for a test process: the admin key ServiceProcess sends, a channel
    manager's key, and a partner's key as ``(key, partner id)``."""
    entries = [f"{ADMIN_KEY}=admin"]
    if manager is not None:
        entries.append(f"{manager}=channel_manager")
    if partner is not None:
        key, partner_id = partner
        entries.append(f"{key}=partner:{partner_id}")
    return ",".join(entries)


def idempotency(key: str) -> dict[str, str]:
    """The header that makes a command safe to send again (docs/architecture.md)."""
    return {"Idempotency-Key": key}


def field_errors(answer: Any) -> list[str]:
    """The fields a 422 answer names, as dotted locations (``body.contract.start_date``)."""
    return [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]
