"""A partner's history: every event about a partner, in the order reporting received it,
with who caused it and one plain sentence (docs/rules/events.md, "A partner's history").

Pure: :func:`history_entry` is what the history keeps of one event; :func:`in_order`
gives the entries read back, each event once (the earliest receipt of an event
received more than once), in the order received.

Entries are kept per partner and **day of receipt** (UTC), one bucket document each
(``{partner}|{day}``); a batch adds one compressed chunk of entries to each bucket it
touches. A reader names a window of days (at most :data:`MAX_DAYS`) and reads those
buckets by ``_id`` (store.py reads and writes them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from services.reporting.domain import CENT, utc_text
from shared import events
from shared.events import CommissionStatus

#: The longest window of days one read of a history covers.
MAX_DAYS = 366
#: The window a history read covers when none is named.
DEFAULT_DAYS = 30

Entry = dict[str, Any]


#: Why a deal's commission line is not commissionable, in words (docs/rules/commissions.md).
COMMISSION_STATUS_WORDS = {
    CommissionStatus.NO_CONTRACT: "no contract governs its close date",
    CommissionStatus.TERMINATED: "the partner was terminated by its close date",
    CommissionStatus.FX_PENDING: "no exchange rate for its currency yet",
    CommissionStatus.CURRENCY_MISMATCH: "its currency is not the contract's",
    CommissionStatus.CLAWED_BACK: "clawed back",
}


def amount_text(amount: Decimal, currency: str | None) -> str:
    """Money as a history entry says it: ``80,000.00 USD`` (two decimals, half-even,
    thousands grouped), always with its currency; ``(currency not stated)`` where the
    event states none."""
    figure = f"{amount.quantize(CENT, rounding=ROUND_HALF_EVEN):,.2f}"
    return f"{figure} {currency}" if currency else f"{figure} (currency not stated)"


def _because(reason: str | None) -> str:
    return f": {reason}" if reason else ""


def _applied(data: events.PartnerApplied) -> str:
    return (
        f"Application {data.application_id} received from {data.name}: scored "
        f"{data.score:g} of 100, recommendation {data.recommendation.value}"
    )


def _approved(data: events.PartnerApproved) -> str:
    return f"Application {data.application_id} approved"


def _rejected(data: events.PartnerRejected) -> str:
    return f"Application {data.application_id} rejected{_because(data.reason)}"


def _contract_terms(contract: events.Contract) -> str:
    return (
        f"{contract.tier.value} tier, paid in {contract.currency}, "
        f"from {contract.start_date.isoformat()} to {contract.end_date.isoformat()}"
    )


def _signed(data: events.PartnerSigned) -> str:
    return f"Contract {data.contract.contract_id} signed: {_contract_terms(data.contract)}"


def _renewed(data: events.ContractRenewed) -> str:
    renewed = (data.model_extra or {}).get("renewed_contract_id")
    following = f" following {renewed}" if renewed else ""
    return (
        f"Contract {data.contract.contract_id} signed as a renewal{following}: "
        f"{_contract_terms(data.contract)}"
    )


def _tier_changed(data: events.PartnerTierChanged) -> str:
    return (
        f"Tier changed to {data.tier.value} from {data.effective_date.isoformat()}"
        f"{_because(data.reason)}"
    )


def _terminated(data: events.PartnerTerminated) -> str:
    return f"Partnership terminated from {data.effective_date.isoformat()}{_because(data.reason)}"


def _registered(data: events.DealRegistered) -> str:
    return (
        f"Deal {data.deal_id} registered as {data.registration_id} for {data.customer}, "
        f"{data.product_line}: expected {amount_text(data.expected_amount, None)}"
    )


def _by_hand(data: events.Payload) -> str:
    kind = None if data.actor is None else data.actor.kind
    return " by hand" if kind in (events.ActorKind.PERSON, events.ActorKind.KEY) else ""


def _registration_approved(data: events.DealRegistrationApproved) -> str:
    return f"Registration {data.registration_id} approved{_by_hand(data)}{_because(data.reason)}"


def _registration_rejected(data: events.DealRegistrationRejected) -> str:
    # The rule's reason is a code (``channel_conflict``): said in words.
    said = f"Registration {data.registration_id} rejected{_by_hand(data)}"
    said += _because(data.reason.replace("_", " "))
    if data.conflicting_registration_id:
        said += f" with {data.conflicting_registration_id}"
    return said


def _extension_requested(data: events.DealRegistrationExtensionRequested) -> str:
    return (
        f"Registration {data.registration_id}: {data.days} more days of protection asked for"
        f"{_because(data.reason)}"
    )


def _extended(data: events.DealRegistrationExtended) -> str:
    return (
        f"Registration {data.registration_id} extended by {data.days} days, protected until "
        f"{data.expires_at.astimezone(UTC).date().isoformat()}"
    )


def _extension_rejected(data: events.DealRegistrationExtensionRejected) -> str:
    return f"Extension of registration {data.registration_id} refused{_because(data.reason)}"


def _closed(data: events.DealClosed) -> str:
    return (
        f"Deal {data.deal_id} closed: {amount_text(data.amount, data.currency)} "
        f"({data.customer}, {data.product_line})"
    )


def _cancelled(data: events.DealCancelled) -> str:
    return f"Deal {data.deal_id} cancelled{_because(data.reason)}"


def _training(data: events.TrainingCompleted) -> str:
    return (
        f"Learner {data.learner_id} completed course {data.course_id} with a score of {data.score}"
    )


def _certified(data: events.CertificationAwarded) -> str:
    return (
        f"Learner {data.learner_id} awarded certification {data.certification_id} "
        f"({data.product_line}), "
        f"valid until {data.expires_at.astimezone(UTC).date().isoformat()}"
    )


def _feedback(data: events.PartnerFeedbackSubmitted) -> str:
    return f"Feedback {data.feedback_id} sent on {data.topic_}: rated {data.rating} of 5"


def _survey(data: events.CustomerSurveyCompleted) -> str:
    said = f"Customer {data.customer} answered survey {data.survey_id}: {data.score} of 10"
    return said + (f" (deal {data.deal_id})" if data.deal_id else "")


def _mdf_requested(data: events.MdfRequested) -> str:
    return (
        f"MDF of {amount_text(data.amount, data.currency)} asked for {data.campaign} "
        f"(request {data.request_id})"
    )


def _mdf_approved(data: events.MdfApproved) -> str:
    return f"MDF request {data.request_id} approved: {amount_text(data.amount, data.currency)}"


def _mdf_rejected(data: events.MdfRejected) -> str:
    return f"MDF request {data.request_id} rejected{_because(data.reason)}"


def _commission(data: events.CommissionCalculated) -> str:
    said = (
        f"Commission of {data.deal_id} calculated, revision {data.revision}: "
        f"{amount_text(data.commission, data.currency)}"
    )
    if data.target_bonus:
        said += f" and a target bonus of {amount_text(data.target_bonus, data.currency)}"
    notes = [why] if (why := COMMISSION_STATUS_WORDS.get(data.status)) else []
    if (
        data.original_amount is not None
        and data.original_currency is not None
        and data.fx_rate is not None
    ):
        notes.append(
            f"the deal's {amount_text(data.amount, data.currency)} converted from "
            f"{amount_text(data.original_amount, data.original_currency)} at {data.fx_rate} "
            f"{data.currency} per {data.original_currency}"
        )
    return f"{said} ({'; '.join(notes)})" if notes else said


def _claimed(data: events.MdfClaimSubmitted) -> str:
    pieces = len(data.evidence)
    return (
        f"MDF claim {data.claim_id} of {amount_text(data.amount, data.currency)} sent on request "
        f"{data.request_id}, with {pieces} piece{'s' if pieces != 1 else ''} of evidence"
    )


def _claim_approved(data: events.MdfClaimApproved) -> str:
    return f"MDF claim {data.claim_id} approved: {amount_text(data.approved_amount, data.currency)}"


def _claim_rejected(data: events.MdfClaimRejected) -> str:
    return f"MDF claim {data.claim_id} rejected{_because(data.reason)}"


def _funds_released(data: events.MdfFundsReleased) -> str:
    """``amount`` is all the request has released so far, so the sentence says "in all"."""
    return (
        f"MDF request {data.request_id}: {amount_text(data.amount, data.currency)} unclaimed "
        f"in all, released to the {data.quarter} budget"
    )


def _inquiry_opened(data: events.CommissionInquiryOpened) -> str:
    return f"Inquiry {data.inquiry_id} on the commission of {data.deal_id} opened: {data.message}"


def _inquiry_resolved(data: events.CommissionInquiryResolved) -> str:
    return f"Inquiry {data.inquiry_id} resolved, {data.resolution}: {data.note}"


def _adjusted(data: events.CommissionAdjusted) -> str:
    about = f" on {data.deal_id}" if data.deal_id else ""
    return (
        f"{data.period} adjusted by {amount_text(data.amount, data.currency)}{about}"
        f"{_because(data.reason)}"
    )


def _paid(data: events.PayoutSettled) -> str:
    said = (
        f"Paid {amount_text(data.amount_paid, data.currency)} for {data.period} "
        f"(settlement {data.settlement_id}{', a re-run' if data.rerun else ''})"
    )
    carried = [
        f"{amount_text(a.amount, data.currency)} carried for {a.period}"
        for a in data.carried_adjustments
    ]
    if carried:
        said += f", including {' and '.join(carried)}"
    if data.mdf_reimbursed:
        said += f"; and {amount_text(data.mdf_reimbursed, data.currency)} for MDF claims"
    for other in data.mdf_other_currencies:
        said += f"; and {amount_text(other.amount, other.currency)} for MDF claims, apart"
    return said


#: One plain sentence per event type: what a history entry says the event did.
SUMMARIES: dict[type[events.Payload], Callable[[Any], str]] = {
    events.PartnerApplied: _applied,
    events.PartnerApproved: _approved,
    events.PartnerRejected: _rejected,
    events.PartnerSigned: _signed,
    events.ContractRenewed: _renewed,
    events.PartnerTierChanged: _tier_changed,
    events.PartnerTerminated: _terminated,
    events.DealRegistered: _registered,
    events.DealRegistrationApproved: _registration_approved,
    events.DealRegistrationRejected: _registration_rejected,
    events.DealRegistrationExtensionRequested: _extension_requested,
    events.DealRegistrationExtended: _extended,
    events.DealRegistrationExtensionRejected: _extension_rejected,
    events.DealClosed: _closed,
    events.DealCancelled: _cancelled,
    events.TrainingCompleted: _training,
    events.CertificationAwarded: _certified,
    events.PartnerFeedbackSubmitted: _feedback,
    events.CustomerSurveyCompleted: _survey,
    events.MdfRequested: _mdf_requested,
    events.MdfApproved: _mdf_approved,
    events.MdfRejected: _mdf_rejected,
    events.CommissionCalculated: _commission,
    events.PayoutSettled: _paid,
    events.CommissionInquiryOpened: _inquiry_opened,
    events.CommissionInquiryResolved: _inquiry_resolved,
    events.CommissionAdjusted: _adjusted,
    events.MdfClaimSubmitted: _claimed,
    events.MdfClaimApproved: _claim_approved,
    events.MdfClaimRejected: _claim_rejected,
    events.MdfFundsReleased: _funds_released,
}


def summary(data: events.Payload) -> str:
    """The sentence a history entry gives the event whose payload is ``data``; the event
    type's name for a type :data:`SUMMARIES` does not list."""
    say = SUMMARIES.get(type(data))
    return data.event_type if say is None else say(data)


def history_entry(event: events.CloudEvent[events.Payload], received: datetime) -> Entry:
    """What the history keeps of one event: its id, type, time, source, when it was
    received (its Kafka timestamp), who caused it (``actor``, or None) and its
    :func:`summary`."""
    data = event.data
    actor = None if data.actor is None else {"kind": data.actor.kind.value, "id": data.actor.id}
    return {
        "id": event.id,
        "type": event.type,
        "time": utc_text(event.time),
        "at": utc_text(received),
        "source": event.source,
        "actor": actor,
        "summary": summary(data),
    }


def bucket_id(partner_id: str, day: date) -> str:
    return f"{partner_id}|{day.isoformat()}"


def day_of(received: datetime) -> date:
    return received.astimezone(UTC).date()


def days(since: date, until: date) -> list[date]:
    """The days from ``since`` to ``until``, both included."""
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def in_order(entries: Iterable[Entry], since: str, until: str) -> list[Entry]:
    """The entries received in [``since``, ``until``) (UTC text), each event once (its
    earliest receipt), in the order received (then id)."""
    found: dict[str, Entry] = {}
    for entry in entries:
        known = found.get(entry["id"])
        if known is None or entry["at"] < known["at"]:
            found[entry["id"]] = entry
    return sorted(
        (e for e in found.values() if since <= e["at"] < until), key=lambda e: (e["at"], e["id"])
    )
