"""The worked example of docs/rules/commissions.md as the messages outside systems would
publish, for one partner, and publishing them with a plain Kafka producer.

Ids get a suffix so runs on a shared broker never meet. Times are the
CloudEvent ``time`` of each message: distinct and increasing in the natural
order, so a correction's version is well defined whatever the arrival order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared import topics
from tests.support.events import CONTRACT, PROFILE, envelope

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes
    event: dict[str, Any]


@dataclass(frozen=True)
class WorkedExample:
    partner_id: str
    suffix: str

    def deal(self, n: int) -> str:
        return f"D-{n}-{self.suffix}"

    def messages(self, *, with_cancellation: bool = True) -> list[Message]:
        p = self.partner_id
        items: list[tuple[str, dict[str, Any]]] = [
            (
                "PartnerSigned",
                {
                    "partner_id": p,
                    **PROFILE,
                    "contract": {**CONTRACT, "contract_id": f"C-{self.suffix}"},
                },
            ),
            ("DealClosed", self._closed(1, "2026-10-05", "80000.00", "cloud")),
            ("DealClosed", self._closed(2, "2026-10-20", "50000.00", "cloud")),
            (
                "CertificationAwarded",
                {
                    "partner_id": p,
                    "learner_id": f"L-{self.suffix}",
                    "certification_id": "CERT-CLOUD",
                    "product_line": "cloud",
                    "awarded_at": "2026-11-01T00:00:00Z",
                    "expires_at": "2027-11-01T00:00:00Z",
                },
            ),
            ("DealClosed", self._closed(3, "2026-11-10", "200000.00", "cloud")),
            (
                "DealRegistered",
                {
                    "partner_id": p,
                    "registration_id": f"R-4-{self.suffix}",
                    "deal_id": self.deal(4),
                    "customer": f"Globex {self.suffix}",
                    "product_line": "security",
                    "expected_amount": "10000.00",
                    "registered_at": "2026-11-15T00:00:00Z",
                },
            ),
            ("DealClosed", self._closed(4, "2026-12-01", "10000.00", "security")),
        ]
        if with_cancellation:
            items.append(
                (
                    "DealCancelled",
                    {
                        "partner_id": p,
                        "deal_id": self.deal(2),
                        "cancelled_at": "2026-12-15T00:00:00Z",
                        "reason": "customer withdrew",
                    },
                )
            )
        start = datetime(2026, 12, 20, tzinfo=UTC)
        out = []
        for n, (event_type, data) in enumerate(items):
            event = envelope(
                event_type,
                data,
                time=(start + timedelta(minutes=n)).isoformat(),
                source="/tests/worked-example",
            )
            topic = _TOPICS[event_type]
            out.append(Message(topic, p.encode(), json.dumps(event).encode(), event))
        return out

    def later_deal(self, n: int, day: str, amount: str, line: str) -> Message:
        """A DealClosed beyond the example (``D-<n>``), sent after all of it."""
        event = envelope(
            "DealClosed",
            self._closed(n, day, amount, line),
            time=datetime(2027, 2, 1, tzinfo=UTC).isoformat(),
            source="/tests/worked-example",
        )
        return Message(topics.DEALS, self.partner_id.encode(), json.dumps(event).encode(), event)

    def _closed(self, n: int, day: str, amount: str, line: str) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "deal_id": self.deal(n),
            "customer": f"Customer {n} {self.suffix}",
            "product_line": line,
            "amount": amount,
            "currency": "USD",
            "closed_at": f"{day}T12:00:00Z",
        }

    def expected_final(self) -> dict[str, dict[str, str]]:
        """The final line of each deal after the cancellation (docs/rules/commissions.md)."""
        rows = {
            1: ("commissionable", "8000.00", "0.00", "8000.00", "0.00"),
            2: ("clawed_back", "0.00", "0.00", "0.00", "0.00"),
            3: ("commissionable", "24500.00", "4000.00", "28500.00", "0.00"),
            4: ("commissionable", "1500.00", "100.00", "1600.00", "0.00"),
        }
        return {
            self.deal(n): dict(
                zip(("status", "base", "uplift", "commission", "target_bonus"), row, strict=True)
            )
            for n, row in rows.items()
        }


TOTALS = {
    "revenue": Decimal("290000.00"),
    "commission": Decimal("38100.00"),
    "bonus": Decimal("0.00"),
}

_TOPICS = {
    "PartnerSigned": topics.PARTNERS,
    "DealClosed": topics.DEALS,
    "DealCancelled": topics.DEALS,
    "DealRegistered": topics.DEALS,
    "CertificationAwarded": topics.ENABLEMENT,
}


async def publish(producer: AIOKafkaProducer, messages: list[Message]) -> None:
    """Send ``messages`` in this order, each acknowledged before the next is sent."""
    for m in messages:
        await producer.send_and_wait(
            m.topic, m.value, key=m.key, headers=[("content-type", b"application/cloudevents+json")]
        )
