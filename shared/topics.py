"""Kafka topic names of the event contract (docs/rules/events.md) and their dead-letter twins."""

from __future__ import annotations

PARTNERS = "partners.v1"
DEALS = "deals.v1"
ENABLEMENT = "enablement.v1"
INCENTIVES = "incentives.v1"

#: Exchange rates (ExchangeRateSet), keyed by currency pair: no partner's events.
RATES = "rates.v1"

#: The contract's topics of partners' events, in the order the lifecycle feeds them.
EVENT_TOPICS: tuple[str, ...] = (PARTNERS, DEALS, ENABLEMENT, INCENTIVES)

#: The topics each consuming service subscribes to (its consumer group's topics).
CONSUMED: dict[str, tuple[str, ...]] = {
    "enablement": (PARTNERS, ENABLEMENT),
    "incentives": (PARTNERS, DEALS, ENABLEMENT),
    "reporting": EVENT_TOPICS,
    "notifications": EVENT_TOPICS,
}

DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The topic where messages from ``topic`` that could not be processed go."""
    return topic + DLQ_SUFFIX


#: Every topic the platform uses, dead-letter twins included.
ALL_TOPICS: tuple[str, ...] = (
    *EVENT_TOPICS,
    RATES,
    *(dead_letter_topic(t) for t in (*EVENT_TOPICS, RATES)),
)
