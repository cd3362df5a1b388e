"""CloudEvents as outside systems send them: a valid example of every event type of
docs/rules/events.md, whole envelopes, and sending one with a plain Kafka producer."""

from __future__ import annotations

import copy
import json
import uuid
from typing import TYPE_CHECKING, Any

from shared.events import CLOUDEVENTS_CONTENT_TYPE

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

PARTNER = "P-100"

CONTRACT: dict[str, Any] = {
    "contract_id": "C-100-1",
    "start_date": "2026-10-01",
    "end_date": "2027-09-30",
    "currency": "USD",
    "tier": "gold",
    "commission_plan": {
        "period": "quarter",
        "brackets": [
            {"from": "0", "rate": "0.10"},
            {"from": "100000", "rate": "0.12"},
            {"from": "250000", "rate": "0.15"},
        ],
        "certification_bonus_rate": "0.02",
        "registered_deal_bonus_rate": "0.01",
        "period_cap": None,
        "clawback_days": 90,
        "target_amount": "300000",
        "target_bonus": "5000",
    },
}

PROFILE = {
    "name": "Acme Cloud Resellers",
    "partner_type": "reseller",
    "region": "EMEA",
    "industry": "IT",
}

DATA: dict[str, dict[str, Any]] = {
    "PartnerApplied": {
        "partner_id": PARTNER,
        "application_id": "A-1",
        **PROFILE,
        "contact_email": "channel@acme.example",
        "scorecard": {
            "customer_base": 4,
            "sales_network": 3,
            "expertise": 5,
            "track_record": 3,
            "fit": 4,
        },
        "score": 77.0,
        "recommendation": "approve",
        "applied_at": "2026-09-01T09:00:00Z",
    },
    "PartnerApproved": {
        "partner_id": PARTNER,
        "application_id": "A-1",
        "approved_at": "2026-09-02T09:00:00Z",
    },
    "PartnerRejected": {
        "partner_id": "P-101",
        "application_id": "A-2",
        "rejected_at": "2026-09-02T09:00:00Z",
        "reason": "no expertise in our product lines",
    },
    "PartnerSigned": {"partner_id": PARTNER, **PROFILE, "contract": CONTRACT},
    "ContractRenewed": {
        "partner_id": PARTNER,
        **PROFILE,
        "contract": {
            **CONTRACT,
            "contract_id": "C-100-2",
            "start_date": "2027-10-01",
            "end_date": "2028-09-30",
        },
    },
    "PartnerTierChanged": {
        "partner_id": PARTNER,
        "tier": "platinum",
        "effective_date": "2027-01-01",
    },
    "PartnerTerminated": {
        "partner_id": PARTNER,
        "effective_date": "2027-12-31",
        "reason": "breach of contract",
    },
    "DealRegistered": {
        "partner_id": PARTNER,
        "registration_id": "R-4",
        "deal_id": "D-4",
        "customer": "Globex",
        "product_line": "security",
        "expected_amount": "10000.00",
        "registered_at": "2026-11-15T00:00:00Z",
    },
    "DealRegistrationApproved": {
        "partner_id": PARTNER,
        "registration_id": "R-4",
        "deal_id": "D-4",
        "approved_at": "2026-11-15T00:00:00Z",
    },
    "DealRegistrationRejected": {
        "partner_id": "P-200",
        "registration_id": "R-5",
        "deal_id": "D-5",
        "rejected_at": "2026-11-16T00:00:00Z",
        "reason": "channel_conflict",
    },
    "DealRegistrationExtensionRequested": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "pat"},
        "registration_id": "R-4",
        "extension_id": "X-1",
        "deal_id": "D-4",
        "customer": "Globex",
        "product_line": "cloud",
        "days": 30,
        "reason": "procurement moved the signature to next quarter",
        "requested_at": "2027-02-01T09:00:00Z",
    },
    "DealRegistrationExtended": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "maria"},
        "registration_id": "R-4",
        "extension_id": "X-1",
        "deal_id": "D-4",
        "customer": "Globex",
        "product_line": "cloud",
        "days": 30,
        "expires_at": "2027-03-15T00:00:00Z",
        "extended_at": "2027-02-02T10:00:00Z",
    },
    "DealRegistrationExtensionRejected": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "maria"},
        "registration_id": "R-4",
        "extension_id": "X-2",
        "deal_id": "D-4",
        "customer": "Globex",
        "product_line": "cloud",
        "reason": "the customer chose another partner",
        "rejected_at": "2027-03-01T10:00:00Z",
    },
    "DealClosed": {
        "partner_id": PARTNER,
        "deal_id": "D-1",
        "customer": "Initech",
        "product_line": "cloud",
        "amount": "80000.00",
        "currency": "USD",
        "closed_at": "2026-10-05T12:00:00+02:00",
    },
    "DealCancelled": {
        "partner_id": PARTNER,
        "deal_id": "D-2",
        "cancelled_at": "2026-12-15T00:00:00Z",
        "reason": "customer withdrew",
    },
    "TrainingCompleted": {
        "partner_id": PARTNER,
        "learner_id": "L-1",
        "course_id": "CLOUD-101",
        "completed_at": "2026-10-20T15:00:00Z",
        "score": 88,
    },
    "CertificationAwarded": {
        "partner_id": PARTNER,
        "learner_id": "L-1",
        "certification_id": "CERT-CLOUD",
        "product_line": "cloud",
        "awarded_at": "2026-11-01T00:00:00Z",
        "expires_at": "2027-11-01T00:00:00Z",
    },
    "PartnerFeedbackSubmitted": {
        "partner_id": PARTNER,
        "feedback_id": "F-1",
        "rating": 4,
        "topic": "training",
        "text": "Good labs, too few sessions in our time zone.",
        "submitted_at": "2026-11-03T10:00:00Z",
    },
    "MdfRequested": {
        "partner_id": PARTNER,
        "request_id": "M-1",
        "campaign": "Cloud roadshow",
        "amount": "12000.00",
        "currency": "EUR",
        "requested_at": "2026-10-10T08:00:00Z",
    },
    "MdfApproved": {
        "partner_id": PARTNER,
        "request_id": "M-1",
        "amount": "12000.00",
        "currency": "EUR",
        "approved_at": "2026-10-12T08:00:00Z",
    },
    "MdfRejected": {
        "partner_id": PARTNER,
        "request_id": "M-2",
        "rejected_at": "2026-10-12T08:00:00Z",
        "reason": "over the quarterly budget",
    },
    "MdfClaimSubmitted": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "pat"},
        "request_id": "M-1",
        "claim_id": "MC-1",
        "amount": "7500.00",
        "currency": "EUR",
        "activity_end": "2026-11-20",
        "evidence": [
            {
                "kind": "invoice",
                "url": "https://files.example.com/roadshow/invoice-881.pdf",
                "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            }
        ],
        "submitted_at": "2026-11-28T09:00:00Z",
    },
    "MdfClaimApproved": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "maria"},
        "request_id": "M-1",
        "claim_id": "MC-1",
        "approved_amount": "7000.00",
        "currency": "EUR",
        "approved_at": "2026-12-02T09:00:00Z",
    },
    "MdfClaimRejected": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "maria"},
        "request_id": "M-1",
        "claim_id": "MC-2",
        "reason": "the invoice is not the roadshow's",
        "rejected_at": "2026-12-02T09:00:00Z",
    },
    "CustomerSurveyCompleted": {
        "partner_id": PARTNER,
        "survey_id": "S-1",
        "customer": "Initech",
        "deal_id": "D-1",
        "score": 9,
        "comment": "Quick to install, and they answered every question.",
        "completed_at": "2026-11-20T10:00:00Z",
    },
    "MdfFundsReleased": {
        "partner_id": PARTNER,
        "actor": {"kind": "system", "id": "enablement"},
        "request_id": "M-1",
        "quarter": "2026-Q3",
        "amount": "1250.00",
        "currency": "USD",
        "released_at": "2026-12-01T00:00:00Z",
    },
    "CommissionCalculated": {
        "partner_id": PARTNER,
        "deal_id": "D-3",
        "period": "2026-Q4",
        "currency": "USD",
        "amount": "200000.00",
        "status": "commissionable",
        "base": "26400.00",
        "uplift": "4000.00",
        "commission": "30400.00",
        "target_bonus": "5000.00",
        "delta": "35400.00",
        "revision": 1,
    },
    "CommissionInquiryOpened": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "pat"},
        "inquiry_id": "I-1",
        "deal_id": "D-1",
        "period": "2026-Q4",
        "message": "the registered-deal bonus is missing",
        "opened_at": "2027-01-03T09:00:00Z",
    },
    "CommissionInquiryResolved": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "maria"},
        "inquiry_id": "I-1",
        "deal_id": "D-1",
        "period": "2026-Q4",
        "resolution": "adjusted",
        "note": "the registration was approved late by mistake",
        "resolved_at": "2027-01-04T09:00:00Z",
        "adjustment_id": "ADJ-1",
    },
    "CommissionAdjusted": {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "maria"},
        "adjustment_id": "ADJ-1",
        "deal_id": "D-1",
        "period": "2026-Q4",
        "currency": "USD",
        "amount": "800.00",
        "reason": "registered-deal bonus approved late by mistake",
        "adjusted_at": "2027-01-04T09:00:00Z",
        "inquiry_id": "I-1",
    },
    "PayoutSettled": {
        "partner_id": PARTNER,
        "settlement_id": "S-2026-Q4-P-100",
        "period": "2026-Q4",
        "currency": "USD",
        "amount_paid": "38100.00",
        "carried_adjustments": [{"period": "2026-Q3", "amount": "-250.00"}],
        "settled_at": "2027-01-05T00:00:00Z",
    },
}


def envelope(
    event_type: str, data: dict[str, Any] | None = None, **attributes: Any
) -> dict[str, Any]:
    """A whole CloudEvent (as a JSON object) of ``event_type`` with the example data."""
    payload = copy.deepcopy(DATA[event_type] if data is None else data)
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/tests",
        "type": event_type,
        "time": "2026-11-29T10:00:00Z",
        "subject": payload["partner_id"],
        "datacontenttype": "application/json",
        "data": payload,
    }
    event.update(attributes)
    return event


def message(event_type: str, data: dict[str, Any] | None = None, **attributes: Any) -> bytes:
    return json.dumps(envelope(event_type, data, **attributes)).encode()


async def send(producer: AIOKafkaProducer, topic: str, event: dict[str, Any]) -> None:
    """``event`` (a whole CloudEvent) on ``topic``, keyed by its subject (the partner)."""
    await producer.send_and_wait(
        topic,
        json.dumps(event).encode(),
        key=event["subject"].encode(),
        headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())],
    )
