"""What onboarding answers over HTTP: every response body as a pydantic model.

The routes declare these as their response models, so the OpenAPI document
describes each answer; the commands build their answers from them, so the
document and the bodies cannot drift apart. A resource is a ``…View``, a
command's answer an ``…Answer``. Instants are ISO 8601 text with their UTC
offset (``instant.isoformat()``); dates are ``YYYY-MM-DD``; weights are
decimal strings.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from services.onboarding.domain import PartnerRecord
from shared.events import (
    Capability,
    Contract,
    PartnerStatus,
    Recommendation,
    Scorecard,
    Tier,
)
from shared.routes import InstantText


class ApplicationView(BaseModel):
    """An application as the channel manager sees it: profile, scorecard and assessment.

    ``warnings`` name the industry's required capabilities the applicant lacks; they
    leave ``score`` and ``recommendation`` as they are (docs/rules/scorecard.md).
    """

    application_id: str
    partner_id: str
    status: PartnerStatus
    name: str
    partner_type: str
    region: str
    industry: str
    contact_email: str
    capabilities: list[Capability]
    scorecard: Scorecard
    score: float
    recommendation: Recommendation
    weights: dict[str, Decimal]
    warnings: list[str]
    applied_at: InstantText
    decided_at: InstantText | None
    rejection_reason: str | None


class ApplicationAnswer(ApplicationView):
    """The answer to an application: the application as scored, and its PartnerApplied."""

    event_id: str


class EventNote(BaseModel):
    """One event an application or partner produced."""

    event_id: str
    type: str
    time: InstantText


class ApplicationHistoryView(ApplicationView):
    """One application with the events it produced, oldest first."""

    events: list[EventNote]


class ApplicationsView(BaseModel):
    """Applications in the order they arrived; ``next_cursor`` asks for the next page."""

    applications: list[ApplicationView]
    next_cursor: str | None


class TerminationView(BaseModel):
    """Notice given: terminated from ``effective_date``, noticed on ``noticed_on``."""

    effective_date: date
    reason: str
    noticed_on: date


class PartnerView(BaseModel):
    """A partner as onboarding knows it: who, where it stands, its contracts."""

    partner_id: str
    application_id: str
    status: PartnerStatus
    name: str
    partner_type: str
    region: str
    industry: str
    contact_email: str
    tier: Tier | None
    contract: Contract | None
    contracts: list[Contract]
    applied_at: InstantText
    decided_at: InstantText | None
    rejection_reason: str | None
    termination: TerminationView | None


class ApprovalAnswer(BaseModel):
    """The answer to an approval: the partner id the application now stands for."""

    application_id: str
    partner_id: str
    status: PartnerStatus
    approved_at: InstantText
    event_id: str


class RejectionAnswer(BaseModel):
    """The answer to a rejection."""

    application_id: str
    partner_id: str
    status: PartnerStatus
    rejected_at: InstantText
    reason: str
    event_id: str


class SigningAnswer(BaseModel):
    """The answer to a first contract: the partner is active at the contract's tier."""

    partner_id: str
    status: PartnerStatus
    tier: Tier
    contract: Contract
    event_id: str


class RenewalAnswer(BaseModel):
    """The answer to a renewal: the new contract, the one it follows, the tier now."""

    partner_id: str
    status: PartnerStatus
    tier: Tier
    renewed_contract_id: str
    contract: Contract
    event_id: str


class TierChangeAnswer(BaseModel):
    """The answer to a tier change."""

    partner_id: str
    tier: Tier
    previous_tier: Tier | None
    effective_date: date
    reason: str | None
    event_id: str


class TerminationAnswer(BaseModel):
    """The answer to a termination: notice given today, effective from a date."""

    partner_id: str
    status: PartnerStatus
    effective_date: date
    reason: str
    noticed_on: date
    event_id: str


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def body(answer: BaseModel) -> dict[str, Any]:
    """``answer`` as the JSON body sent (and remembered for an Idempotency-Key)."""
    return answer.model_dump(mode="json", by_alias=True)


def _application_fields(record: PartnerRecord) -> dict[str, Any]:
    profile, assessment = record.profile, record.assessment
    return {
        "application_id": record.application_id,
        "partner_id": record.partner_id,
        "status": record.status,
        "name": profile.name,
        "partner_type": profile.partner_type,
        "region": profile.region,
        "industry": profile.industry,
        "contact_email": profile.contact_email,
        "capabilities": list(profile.capabilities),
        "scorecard": record.scorecard,
        "score": float(assessment.score),
        "recommendation": assessment.recommendation,
        "weights": assessment.weights.as_dict(),
        "warnings": list(assessment.warnings),
        "applied_at": record.applied_at.isoformat(),
        "decided_at": _iso(record.decided_at),
        "rejection_reason": record.rejection_reason,
    }


def application_view(record: PartnerRecord) -> ApplicationView:
    return ApplicationView(**_application_fields(record))


def applied(record: PartnerRecord, event_id: str) -> ApplicationAnswer:
    return ApplicationAnswer(**_application_fields(record), event_id=event_id)


def application_history(
    record: PartnerRecord, events: list[dict[str, Any]]
) -> ApplicationHistoryView:
    return ApplicationHistoryView(
        **_application_fields(record), events=[EventNote.model_validate(e) for e in events]
    )


def partner_view(record: PartnerRecord) -> PartnerView:
    profile, termination = record.profile, record.termination
    return PartnerView(
        partner_id=record.partner_id,
        application_id=record.application_id,
        status=record.status,
        name=profile.name,
        partner_type=profile.partner_type,
        region=profile.region,
        industry=profile.industry,
        contact_email=profile.contact_email,
        tier=record.tier,
        contract=record.current_contract,
        contracts=record.contracts,
        applied_at=record.applied_at.isoformat(),
        decided_at=_iso(record.decided_at),
        rejection_reason=record.rejection_reason,
        termination=None
        if termination is None
        else TerminationView(
            effective_date=termination.effective_date,
            reason=termination.reason,
            noticed_on=termination.noticed_on,
        ),
    )
