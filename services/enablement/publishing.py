"""What enablement publishes on ``enablement.v1``, and what sends it to Kafka.

Every event enablement produces has a deterministic CloudEvent id
(:func:`shared.events.deterministic_id`) made of what identifies the fact, so
an event produced again (a retry, a recomputation, a crash before its outbox
entry was removed) is the same event and readers de-duplicate it.

Events are stored first, in the outbox of the document whose change they
announce (:mod:`shared.outbox`); a :class:`Publisher` then sends them and
removes them from their documents.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from faststream.kafka import KafkaBroker

from services.enablement.domain import Award, Completion, Feedback, MdfRequest
from shared import events
from shared.consuming import Consumed
from shared.events import InvalidReason, deterministic_id, new_event
from shared.messaging import dead_letter
from shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED
from shared.outbox import Outbox, OutboxEntry

log = logging.getLogger("partnerhub.enablement")

SERVICE = "enablement"
SOURCE = "/partnerhub/enablement"

# ----------------------------------------------------------------- the events


def completion_event(
    completion: Completion, now: datetime
) -> events.CloudEvent[events.TrainingCompleted]:
    """TrainingCompleted for a completion recorded through this service's API."""
    return new_event(
        completion.to_event(),
        source=SOURCE,
        time=now,
        event_id=deterministic_id(
            SERVICE,
            "TrainingCompleted",
            completion.partner_id,
            completion.learner_id,
            completion.course_id,
            completion.completed_at.isoformat(),
            str(completion.score),
        ),
    )


def award_event(award: Award, now: datetime) -> events.CloudEvent[events.CertificationAwarded]:
    return new_event(
        award.to_event(),
        source=SOURCE,
        time=now,
        event_id=deterministic_id(
            SERVICE,
            "CertificationAwarded",
            award.partner_id,
            award.learner_id,
            award.certification_id,
            award.awarded_at.isoformat(),
        ),
    )


def feedback_event(feedback: Feedback) -> events.CloudEvent[events.PartnerFeedbackSubmitted]:
    return new_event(
        feedback.to_event(),
        source=SOURCE,
        time=feedback.submitted_at,
        event_id=deterministic_id(SERVICE, "PartnerFeedbackSubmitted", feedback.feedback_id),
    )


def mdf_requested_event(request: MdfRequest) -> events.CloudEvent[events.MdfRequested]:
    return new_event(
        request.requested_event(),
        source=SOURCE,
        time=request.requested_at,
        event_id=deterministic_id(SERVICE, "MdfRequested", request.request_id),
    )


def mdf_decision_event(
    request: MdfRequest,
) -> events.CloudEvent[events.MdfApproved | events.MdfRejected]:
    """MdfApproved or MdfRejected: a request is decided once, so one id per request."""
    assert request.decided_at is not None, "only a decided request has a decision event"
    return new_event(
        request.decision_event(),
        source=SOURCE,
        time=request.decided_at,
        event_id=deterministic_id(SERVICE, "MdfDecision", request.request_id),
    )


# ----------------------------------------------------------------- sending them

#: Outbox entries to send, by the ``_id`` of the document whose outbox holds them.
Outboxes = Mapping[str, Sequence[OutboxEntry]]


class Publisher(Protocol):
    """Sends to Kafka what enablement stored to publish, and what it cannot use."""

    async def publish(self, collection: str, outboxes: Outboxes) -> None:
        """Publish the entries (awaited), then remove them from their documents of
        ``collection``; raises when Kafka does not take them (they stay in the outbox)."""

    async def dead_letter(self, consumed: Consumed, error: str) -> None:
        """Dead-letter a consumed event that is valid but that the rules cannot use."""


class KafkaPublisher:
    """The :class:`Publisher` of the running service: the outbox and the broker."""

    def __init__(self, broker: KafkaBroker, outbox: Outbox, service: str) -> None:
        self.broker = broker
        self.outbox = outbox
        self.service = service

    async def publish(self, collection: str, outboxes: Outboxes) -> None:
        await self.outbox.publish(
            self.outbox.collections[collection], {k: list(v) for k, v in outboxes.items()}
        )

    async def dead_letter(self, consumed: Consumed, error: str) -> None:
        record = consumed.record
        reason = InvalidReason.INVALID_DATA.value
        await dead_letter(self.broker, record, error=error, reason=reason, service=self.service)
        DEAD_LETTERS.labels(self.service, record.topic, reason).inc()
        EVENTS_CONSUMED.labels(
            self.service, record.topic, consumed.event.type, "dead_lettered"
        ).inc()
        log.warning(
            "dead-lettered %s from %s[%s]@%s: %s",
            consumed.event.type,
            record.topic,
            record.partition,
            record.offset,
            error,
        )
