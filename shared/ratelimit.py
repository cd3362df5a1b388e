"""Rate limits (docs/rules/events.md, "HTTP access", "Rate limits"): a token bucket per
key, held in the process's memory.

A key (a partner, a client address) may make ``rate`` requests at once and then one
more each ``60 / rate`` seconds. A request over its limit is answered 429 with
``Retry-After``: the whole seconds until it would be let through. The buckets of the
least recently seen keys are forgotten beyond :data:`MAX_KEYS`, so a flood of new
addresses costs bounded memory (it is let through as new keys are).

Each replica counts for itself: with *n* replicas a key may get up to *n* times its rate.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import HTTPException, status

MAX_KEYS = 100_000


class RateLimiter:
    """Token buckets, one per key: ``rate`` requests a minute, bursts up to ``rate``."""

    def __init__(
        self, rate: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        if rate < 1:
            raise ValueError("a rate limit lets at least one request a minute through")
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def wait(self, key: str) -> float:
        """Take a token of ``key``'s bucket: 0 when there was one, else the seconds until
        there will be (nothing is taken)."""
        now = self.clock()
        tokens, at = self.buckets.pop(key, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - at) * self.rate / 60.0)
        waited = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            waited = (1.0 - tokens) * 60.0 / self.rate
        self.buckets[key] = (tokens, now)
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)
        return waited

    def check(self, key: str, what: str) -> None:
        """:class:`HTTPException` 429 with ``Retry-After`` when ``key`` is over its limit."""
        waited = self.wait(key)
        if waited > 0:
            seconds = max(1, math.ceil(waited))
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"too many {what}: at most {self.rate} a minute; try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
