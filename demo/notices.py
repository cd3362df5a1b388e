"""The demo's notifications (docs/rules/notifications.md): a webhook receiver the demo runs
and the local mail inbox.

Before the first event, the demo subscribes a receiver of its own (an HTTP server in
this process, on a port the kernel gives) to partners signed, certifications, approved
MDF claims and payouts, of every partner. The receiver verifies every delivery's
signature with the ``standardwebhooks`` package, as any receiver should.

At the end (step 15) the self-check waits until no delivery is pending and checks that
every delivery was received, signed with the subscription's secret, once acknowledged;
that each of this run's applications emailed the channel managers and each payout the
partner's contact; and reads one payout email back from the inbox's API. The
subscription is deleted when the demo ends (and those of earlier demo runs found
left over, by their path).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2 as httpx
from standardwebhooks import Webhook

from demo import scenario as sim
from demo.lifecycle import Api, Exercised

#: The receiver's path: how the demo knows its own subscriptions, also earlier runs'.
PATH = "/demo-webhooks"
EVENT_TYPES = ["PartnerSigned", "CertificationAwarded", "MdfClaimApproved", "PayoutSettled"]


@dataclass
class Receiver:
    """Verifies and keeps what the platform delivers; answers 204 to a good signature."""

    secret: str = ""
    received: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.requests += 1
            try:
                event = Webhook(self.secret).verify(body, headers)
            except Exception:
                self.refused += 1
                return 401
            self.received[event["id"]] = event
            return 204


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    """The receiver serving on 127.0.0.1 until the block ends; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(receiver.take(body, dict(self.headers.items())))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    finally:
        server.shutdown()
        server.server_close()


async def subscribe(http: httpx.AsyncClient, url: str, receiver: Receiver) -> str:
    """Delete the demo's left-over subscriptions, subscribe ``url``; the new webhook's id."""
    listed = await http.get("/webhooks")
    listed.raise_for_status()
    for hook in listed.json()["webhooks"]:
        if hook["url"].endswith(PATH):
            await http.delete(f"/webhooks/{hook['webhook_id']}")
    answer = await http.post("/webhooks", json={"url": url, "event_types": EVENT_TYPES})
    if answer.status_code != 201:
        raise RuntimeError(
            f"notifications POST /webhooks answered {answer.status_code}: {answer.text}"
        )
    body = answer.json()
    receiver.secret = body["secret"]
    return str(body["webhook_id"])


async def _pending(platform: Api, webhook_id: str) -> int:
    page = await platform.get(
        "notifications", f"/webhooks/{webhook_id}/deliveries", status="pending", limit=500
    )
    return len(page["deliveries"])


async def _delivered(platform: Api, webhook_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"status": "delivered", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = await platform.get("notifications", f"/webhooks/{webhook_id}/deliveries", **params)
        found += page["deliveries"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


async def _emails(platform: Api, kind: str, partners: set[str]) -> list[dict[str, Any]]:
    listed = await platform.get("notifications", "/emails", kind=kind, limit=500)
    return [e for e in listed["emails"] if e["partner_id"] in partners]


async def exercise(
    platform: Api,
    scenario: sim.Scenario,
    webhook_id: str,
    receiver: Receiver,
    inbox: str,
    done: Exercised,
    wait_seconds: float = 120.0,
) -> None:
    """Wait for the deliveries and emails of the run, and check them."""
    deadline = time.monotonic() + wait_seconds
    partners = {a.partner_id for a in scenario.applicants if a.partner_id}
    applied = {a.key for a in scenario.applicants}
    while True:
        pending = await _pending(platform, webhook_id)
        payouts = await _emails(platform, "payout_settled", partners)
        applications = await _emails(platform, "application_waiting", partners)
        settled = payouts and all(e["status"] == "sent" for e in [*payouts, *applications])
        if (pending == 0 and settled) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)  # another process's progress: polled
    delivered = await _delivered(platform, webhook_id)
    ids = {d["event_id"] for d in delivered}
    if pending:
        done.problems.append(f"{pending} webhook deliveries still pending after {wait_seconds:g} s")
    if receiver.refused:
        done.problems.append(f"{receiver.refused} deliveries failed signature verification")
    missing = ids - set(receiver.received)
    if missing or not ids:
        done.problems.append(
            f"{len(missing)} of {len(ids)} delivered events never reached the receiver"
        )
    types = sorted({receiver.received[i]["type"] for i in ids if i in receiver.received})
    if "PayoutSettled" not in types:
        done.problems.append(f"no PayoutSettled delivered (got {types})")
    done.said.append(
        f"    webhooks: {len(ids)} events delivered to the demo's receiver ({', '.join(types)}), "
        f"every signature verified with standardwebhooks, {receiver.requests} requests"
    )
    managers = {e["address"] for e in applications}
    if len({e["partner_id"] for e in applications}) < len(partners) or not managers:
        done.problems.append(
            f"application emails for {len({e['partner_id'] for e in applications})} of "
            f"{len(partners)} approved applicants ({len(applied)} applied)"
        )
    if not payouts:
        done.problems.append("no payout email")
        return
    email = payouts[0]
    found = await _in_inbox(inbox, email["address"], email["subject"])
    if not found:
        done.problems.append(f"the payout email to {email['address']} is not in the inbox")
    done.said.append(
        f"    email: {len(applications)} application emails to {', '.join(sorted(managers))}, "
        f"{len(payouts)} payout emails to partners' contacts; '{email['subject']}' to "
        f"{email['address']} read back from the inbox at {inbox}"
    )


async def _in_inbox(inbox: str, address: str, subject: str) -> bool:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{inbox.rstrip('/')}/api/v1/search", params={"query": f"to:{address}"}
        )
        if answer.status_code != 200:
            return False
        return any(m["Subject"] == subject for m in answer.json()["messages"])
