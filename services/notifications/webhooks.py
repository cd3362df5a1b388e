"""The webhook delivery worker (docs/rules/notifications.md, "Webhooks").

Each pass reads the queue (only what waits), groups it in lines (one per subscription
and partner), and for every line whose first delivery is due sends its deliveries in
order until one fails: a line never overtakes its first delivery, and lines do not wait
for each other (up to :data:`PARALLEL_LINES` at once). A paused subscription's lines
wait.

A delivery is the event's CloudEvent JSON, exactly as consumed, POSTed with the
Standard Webhooks headers (``webhook-id``: the event id, the same at every attempt;
``webhook-timestamp``; ``webhook-signature``: ``v1,`` HMAC-SHA256 of
``id.timestamp.body`` with the subscription's secret, made by the ``standardwebhooks``
package). Any 2xx answer acknowledges it; any other answer, a redirect, a timeout or
a refused connection is a failure, tried again on the :class:`RetryPolicy` schedule,
and parked when it runs out. Each attempt is recorded with its answer.

Unless ``WEBHOOK_ALLOW_PRIVATE``, the host is resolved before every attempt and an
address that is not public fails the attempt, so a name re-pointed at the internal
network after the subscription was checked is not called either.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
from standardwebhooks import Webhook

from services.notifications.domain import (
    RetryPolicy,
    UnsafeUrl,
    check_addresses,
    check_url_form,
    delivered,
)
from services.notifications.settings import NotificationsSettings
from services.notifications.store import (
    DELIVERED,
    PARKED,
    PENDING,
    Document,
    Store,
    instant,
    iso,
)
from shared.metrics import WEBHOOK_DELIVERIES, WEBHOOK_QUEUE
from shared.periodic import work_when_woken

log = logging.getLogger("partnerhub.notifications")

#: Lines served at once in a pass.
PARALLEL_LINES = 16
#: Most deliveries of one line sent in a pass.
LINE_PASS_SIZE = 50
#: How much of a receiver's answer is kept with the attempt.
RESPONSE_KEPT = 500

#: Resolves a host and port to the addresses a connection would use.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> None:
    """:class:`UnsafeUrl` when ``url`` may not be called: not http(s), credentials in it,
    or (unless ``allow_private``) a host resolving to a non-public address."""
    host = check_url_form(url)
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await resolver(host, port)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode (a..b)
        raise UnsafeUrl(f"{host} cannot be resolved: {exc}") from None
    check_addresses(host, addresses)


def signed_headers(secret: str, message_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "content-type": "application/cloudevents+json; charset=utf-8",
        "user-agent": "partnerhub-webhooks/1",
    }


class Deliverer:
    """Delivers the queued webhook deliveries; :meth:`run` until cancelled."""

    def __init__(
        self,
        store: Store,
        *,
        policy: RetryPolicy,
        timeout: float,
        allow_private: bool,
        poll_seconds: float,
        resolver: Resolver = resolve,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.policy = policy
        self.timeout = timeout
        self.allow_private = allow_private
        self.poll_seconds = poll_seconds
        self.resolver = resolver
        self.transport = transport
        self.clock = clock
        self.woken = asyncio.Event()

    @classmethod
    def from_settings(
        cls,
        store: Store,
        settings: NotificationsSettings,
        resolver: Resolver,
        clock: Callable[[], datetime],
    ) -> Deliverer:
        return cls(
            store,
            policy=settings.retry_policy,
            timeout=settings.webhook_timeout_seconds,
            allow_private=settings.webhook_allow_private,
            poll_seconds=settings.delivery_poll_seconds,
            resolver=resolver,
            clock=clock,
        )

    def wake(self) -> None:
        self.woken.set()

    async def run(self) -> None:
        async with self.client() as client:
            await work_when_woken(
                partial(self.deliver_due, client),
                self.woken,
                idle_seconds=self.poll_seconds,
                what="webhook delivery pass failed",
                log=log,
            )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, transport=self.transport
        )

    async def deliver_due(self, client: httpx.AsyncClient) -> bool:
        """One pass; whether a line had more than one pass's worth (go again at once)."""
        queue = await self.store.queue()
        WEBHOOK_QUEUE.set(len(queue))
        if not queue:
            return False
        webhooks = {doc["_id"]: doc for doc in await self.store.webhooks()}
        orphans = [e["_id"] for e in queue if e["webhook_id"] not in webhooks]
        if orphans:
            await self.store.drop_queued(orphans)
        now = iso(self.clock())
        lines: list[list[Document]] = []
        queue.sort(key=lambda e: (e["line"], e["seq"]))
        for _, entries in groupby(queue, key=lambda e: e["line"]):
            line = list(entries)
            hook = webhooks.get(line[0]["webhook_id"])
            if hook is None or hook["status"] != "active" or line[0]["next_attempt_at"] > now:
                continue
            lines.append(line[:LINE_PASS_SIZE])
        if not lines:
            return False
        gate = asyncio.Semaphore(PARALLEL_LINES)

        async def serve(line: list[Document]) -> bool:
            async with gate:
                return await self._serve_line(client, webhooks[line[0]["webhook_id"]], line)

        more = await asyncio.gather(*(serve(line) for line in lines))
        return any(more)

    async def _serve_line(
        self, client: httpx.AsyncClient, hook: Document, entries: list[Document]
    ) -> bool:
        """Send a line's deliveries in order until one fails; whether all were sent and
        the line may have more."""
        docs = await self.store.deliveries(e["_id"] for e in entries)
        for entry in entries:
            delivery = docs.get(entry["_id"])
            if delivery is None:
                return False  # its document is being written: the line waits for it
            if delivery["status"] != PENDING:
                await self.store.drop_queued([entry["_id"]])  # a batch consumed again
                continue
            if not await self.attempt(client, hook, delivery):
                return False
        return len(entries) == LINE_PASS_SIZE

    async def _post(
        self,
        client: httpx.AsyncClient,
        hook: Document,
        delivery: Document,
        now: datetime,
        body: bytes,
    ) -> tuple[int, str]:
        """POST the delivery; the status and the start of the answer (read no further, so
        a receiver answering without end costs nothing)."""
        headers = signed_headers(hook["secret"], delivery["event_id"], now, body)
        async with client.stream("POST", hook["url"], content=body, headers=headers) as response:
            kept = b""
            async for chunk in response.aiter_bytes():
                kept += chunk
                if len(kept) >= RESPONSE_KEPT:
                    break
            return response.status_code, kept[:RESPONSE_KEPT].decode(errors="replace")

    async def attempt(self, client: httpx.AsyncClient, hook: Document, delivery: Document) -> bool:
        """One attempt of one delivery, recorded; whether it was acknowledged."""
        now = self.clock()
        body = delivery["body"].encode()
        started = time.perf_counter()
        status_code: int | None = None
        answer = ""
        error: str | None = None
        try:
            await check_url(hook["url"], allow_private=self.allow_private, resolver=self.resolver)
            status_code, answer = await self._post(client, hook, delivery, now, body)
            if not delivered(status_code):
                error = f"answered {status_code}"
        except UnsafeUrl as exc:
            error = f"refused to call: {exc}"
        except httpx.TimeoutException:
            error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempt: dict[str, Any] = {
            "at": iso(now),
            "status_code": status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "response": answer,
            "error": error,
        }
        if error is None:
            await self.store.record_attempt(
                delivery["_id"],
                attempt,
                {"status": DELIVERED, "delivered_at": iso(self.clock())},
                queued=None,
            )
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            return True
        first = delivery.get("first_attempt_at") or iso(now)
        failures = delivery.get("failures", 0) + 1
        retry_at = self.policy.next_attempt(instant(first), failures, now)
        update: Document = {"first_attempt_at": first, "failures": failures}
        if retry_at is None:
            update |= {"status": PARKED, "parked_at": iso(now), "next_attempt_at": None}
            await self.store.record_attempt(delivery["_id"], attempt, update, queued=None)
            WEBHOOK_DELIVERIES.labels("parked").inc()
            log.warning(
                "parked the delivery of event %s to webhook %s after %d attempts: %s",
                delivery["event_id"],
                delivery["webhook_id"],
                failures,
                error,
            )
            return False
        update["next_attempt_at"] = iso(retry_at)
        await self.store.record_attempt(
            delivery["_id"], attempt, update, queued={"next_attempt_at": iso(retry_at)}
        )
        WEBHOOK_DELIVERIES.labels("failed").inc()
        log.info(
            "webhook %s: event %s not delivered (%s); next attempt at %s",
            delivery["webhook_id"],
            delivery["event_id"],
            error,
            iso(retry_at),
        )
        return False
