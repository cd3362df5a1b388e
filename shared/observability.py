"""Structured logging and the operational HTTP routes every service serves.

Logs are one JSON object a line on stderr (``LOG_FORMAT=json``, the default)
or plain text for a terminal (``LOG_FORMAT=text``). Extra fields passed with
``logger.info("…", extra={"event_id": …})`` appear as keys of the object.

:func:`operational_routes` gives ``/healthz`` (the process is alive),
``/readyz`` (each named dependency answers; 503 naming the ones that do not)
and ``/metrics`` (Prometheus text format), none of which needs an API key.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from shared.settings import Settings

# Attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: Settings) -> None:
    """Send every logger's records to stderr in the configured format and level."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(settings.service_name))
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s %(levelname)s {settings.service_name} %(name)s: %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # The HTTP client logs each request at INFO; the services log what their calls mean.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, root.level))


ReadinessCheck = Callable[[], Awaitable[bool]]


def operational_routes(
    checks: Mapping[str, ReadinessCheck],
    registry: CollectorRegistry = REGISTRY,
    details: Mapping[str, Callable[[], Awaitable[Any]]] | None = None,
) -> APIRouter:
    """``/healthz``, ``/readyz`` and ``/metrics``; ``checks`` name what readiness needs.

    ``details`` add informative figures to ``/readyz`` (an outbox backlog, say)
    without deciding readiness; one that fails shows as null.
    """
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Connected to what the service needs (Kafka, MongoDB)")
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in checks.items()}
        failing = sorted(name for name, ok in results.items() if not ok)
        body: dict[str, object] = {"status": "not ready" if failing else "ready", "checks": results}
        if failing:
            body["failing"] = failing
        for name, figure in (details or {}).items():
            try:
                body[name] = await figure()
            except Exception:
                body[name] = None
        return JSONResponse(body, status_code=503 if failing else 200)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
