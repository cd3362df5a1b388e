"""Waiting for what a service does asynchronously: a check retried until it passes.

A check is a function that reads what a service serves and asserts on it (or raises
while it cannot yet); it may be a coroutine function. Read while a service is still
catching up (with Kafka, after a start or a restart), it fails in a few known ways that
mean "not yet", and only those are retried:

- ``AssertionError``: the check's own assertion, what it waits for has not happened;
- ``httpx.TransportError``: the connection was refused, reset or timed out, as while a
  service process starts, restarts or is busy with a large batch;
- ``KeyError`` and ``IndexError``: a field or an element is missing from a body that is
  not complete yet, or the body is the ``{"detail": ...}`` of a "not found yet" 404;
- ``json.JSONDecodeError``: an answer with no JSON body yet (cut short by a restart).

Anything else is a mistake in the test or the service and fails at once. At the deadline
the last failure is raised as it was, noting how many attempts were made.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

import httpx2 as httpx

T = TypeVar("T")

#: The failures of a read that mean "not yet" (see the module's docstring).
NOT_YET: tuple[type[Exception], ...] = (
    AssertionError,
    httpx.TransportError,
    KeyError,
    IndexError,
    json.JSONDecodeError,
)


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    what: str = "",
    *,
    seconds: float = 60.0,
    interval: float = 0.5,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T], what: str = "", *, seconds: float = 60.0, interval: float = 0.5
) -> T: ...


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    what: str = "",
    *,
    seconds: float = 60.0,
    interval: float = 0.5,
) -> T:
    """What ``check`` returns once it passes, trying every ``interval`` seconds for
    ``seconds``; ``what`` names what is awaited, for the failure's message."""
    deadline = time.monotonic() + seconds
    attempts = 0
    while True:
        attempts += 1
        try:
            result = check()
            if inspect.isawaitable(result):
                return await result
            return result
        except NOT_YET as failure:
            if time.monotonic() >= deadline:
                failure.add_note(
                    f"still failing after {attempts} attempts in {seconds:g} s"
                    + (f": {what}" if what else "")
                )
                raise
        await asyncio.sleep(interval)
