"""Background work repeated at an interval, which a failure postpones but never ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def every(
    interval: float,
    job: Callable[[], Awaitable[object]],
    *,
    what: str,
    log: logging.Logger,
    immediately: bool = False,
) -> None:
    """Run ``job`` every ``interval`` seconds until cancelled (first at once with
    ``immediately``); a failure is logged as a warning naming ``what``, and the next
    run comes at the usual time (MongoDB or Kafka may be back by then)."""
    if not immediately:
        await asyncio.sleep(interval)
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: %s; retrying in %.0f s", what, exc, interval)
        await asyncio.sleep(interval)


async def work_when_woken(
    job: Callable[[], Awaitable[bool]],
    woken: asyncio.Event,
    *,
    idle_seconds: float,
    what: str,
    log: logging.Logger,
) -> None:
    """Run ``job`` until cancelled: again at once while it answers True (more may be
    waiting), else after ``woken`` is set or ``idle_seconds`` pass; a failure is logged as
    a warning naming ``what`` and counts as idle."""
    while True:
        try:
            busy = await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: %s; trying again shortly", what, exc)
            busy = False
        if not busy:
            woken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), idle_seconds)
