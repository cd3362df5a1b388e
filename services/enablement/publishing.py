"""What enablement publishes on ``enablement.v1``: one function per event.

Every event enablement produces has a deterministic CloudEvent id
(:func:`shared.events.deterministic_id`) made of what identifies the fact, so
an event produced again (a retry, a recomputation, a crash before its outbox
entry was removed) is the same event and readers de-duplicate it.

An event a command publishes names its ``actor``, the person or API key whose
command caused it (awards included, when a command's completion brings them);
what the consumer and the award settling publish by themselves names none.

Events are stored first, in the outbox of the document whose change they
announce; :class:`shared.outbox.Publisher` then sends them to Kafka and
removes them from their documents (commands hand their documents over,
the consumer publishes what it holds).
"""

from __future__ import annotations

from datetime import datetime

from services.enablement import SERVICE, SOURCE
from services.enablement.domain import Award, Completion, Feedback, MdfClaim, MdfRequest
from shared import events
from shared.events import Actor, deterministic_id, new_event

# ----------------------------------------------------------------- the events


def completion_event(
    completion: Completion, now: datetime, actor: Actor
) -> events.CloudEvent[events.TrainingCompleted]:
    """TrainingCompleted for a completion recorded through this service's API."""
    return new_event(
        completion.to_event().caused_by(actor),
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


def award_event(
    award: Award, now: datetime, actor: Actor | None = None
) -> events.CloudEvent[events.CertificationAwarded]:
    return new_event(
        award.to_event().caused_by(actor),
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


def feedback_event(
    feedback: Feedback, actor: Actor
) -> events.CloudEvent[events.PartnerFeedbackSubmitted]:
    return new_event(
        feedback.to_event().caused_by(actor),
        source=SOURCE,
        time=feedback.submitted_at,
        event_id=deterministic_id(SERVICE, "PartnerFeedbackSubmitted", feedback.feedback_id),
    )


def mdf_requested_event(
    request: MdfRequest, actor: Actor
) -> events.CloudEvent[events.MdfRequested]:
    return new_event(
        request.requested_event().caused_by(actor),
        source=SOURCE,
        time=request.requested_at,
        event_id=deterministic_id(SERVICE, "MdfRequested", request.request_id),
    )


def mdf_decision_event(
    request: MdfRequest, actor: Actor
) -> events.CloudEvent[events.MdfApproved | events.MdfRejected]:
    """MdfApproved or MdfRejected: a request is decided once, so one id per request."""
    assert request.decided_at is not None, "only a decided request has a decision event"
    return new_event(
        request.decision_event().caused_by(actor),
        source=SOURCE,
        time=request.decided_at,
        event_id=deterministic_id(SERVICE, "MdfDecision", request.request_id),
    )


def mdf_claim_submitted_event(
    claim: MdfClaim, actor: Actor
) -> events.CloudEvent[events.MdfClaimSubmitted]:
    return new_event(
        claim.submitted_event().caused_by(actor),
        source=SOURCE,
        time=claim.submitted_at,
        event_id=deterministic_id(SERVICE, "MdfClaimSubmitted", claim.claim_id),
    )


def mdf_claim_decision_event(
    claim: MdfClaim, actor: Actor
) -> events.CloudEvent[events.MdfClaimApproved | events.MdfClaimRejected]:
    """MdfClaimApproved or MdfClaimRejected: a claim is decided once, so one id per claim."""
    assert claim.decided_at is not None, "only a decided claim has a decision event"
    return new_event(
        claim.decision_event().caused_by(actor),
        source=SOURCE,
        time=claim.decided_at,
        event_id=deterministic_id(SERVICE, "MdfClaimDecision", claim.claim_id),
    )


#: The actor of what enablement decides by itself on a schedule (a release of funds).
SYSTEM = events.Actor(kind=events.ActorKind.SYSTEM, id=SERVICE)


def funds_released_event(
    release: events.MdfFundsReleased,
) -> events.CloudEvent[events.MdfFundsReleased]:
    """MdfFundsReleased: one id per request and total, so the same release made again (two
    replicas, a crash before its outbox entry was removed) is the same event."""
    return new_event(
        release.caused_by(SYSTEM),
        source=SOURCE,
        time=release.released_at,
        event_id=deterministic_id(
            SERVICE, "MdfFundsReleased", release.request_id, str(release.amount)
        ),
    )
