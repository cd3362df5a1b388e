"""Reporting's settings, read once from the environment at start-up.

Besides every service's settings (:class:`shared.settings.Settings`):

- ``LINES_CACHE_REVISIONS`` (default 200000): how much of the partners' lines
  a process keeps in memory (``store.LinesCache``);
- ``HEALTH_SATISFACTION_WEIGHT`` (default 20, from 0 to 50): the points customer
  satisfaction weighs in the health score of a partner with survey answers
  (docs/rules/health-score.md).
"""

from __future__ import annotations

from pydantic import Field

from services.reporting import SERVICE
from services.reporting.domain import SATISFACTION_WEIGHT
from services.reporting.store import LINES_CACHE_REVISIONS
from shared.settings import Settings


class ReportingSettings(Settings):
    """The reporting process's configuration; field ``x`` is read from ``X``."""

    service_name: str = Field(default=SERVICE, description="name in logs, metrics, DLQ headers")
    http_port: int = Field(default=8004, ge=1, le=65535)
    mongodb_database: str = Field(default="partnerhub_reporting", min_length=1)

    lines_cache_revisions: int = Field(
        default=LINES_CACHE_REVISIONS,
        ge=0,
        description="commission revisions whose partners' lines stay in memory between "
        "batches, per generation (about 0.5 KB each), and the lines parsed from the last "
        "half that many (about 1.2 KB each); 0: read and parse every lines document each time",
    )
    health_satisfaction_weight: int = Field(
        default=SATISFACTION_WEIGHT,
        ge=0,
        le=50,
        description="the points customer satisfaction weighs in the health score of a "
        "partner with survey answers",
    )
