"""From events to read models: a table of one function per event type, then the derived
documents.

Each function of :data:`PROJECTIONS` turns one event into upserts of the
batch's :class:`~services.reporting.store.Writes`, built so that they commute
(``store.py``): any order, any number of times, the same documents. Events
of types not in the table (deal registrations and their extensions) are not in
these read models, and are counted as ignored.

:func:`derive` then recomputes, for the partners a batch touched, the
documents that are functions of their facts: each partner's ``view``
(``domain.partner_view``), its ``lines`` merged with the batch's revisions,
and its ``period_totals``. Derived documents are written with plain ``$set``:
recomputing them is idempotent.

:class:`Projection` drives it for each consumed batch, into every live
generation (``rebuild.py`` fills a new one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from services.reporting import SERVICE
from services.reporting.domain import (
    STATUS_RANK,
    PeriodTotals,
    contract_currency,
    lines_by_period,
    money,
    partner_view,
    period_totals,
    superseded_periods,
    target_for,
    utc_text,
    version_key,
)
from services.reporting.history import bucket_id, day_of, history_entry
from services.reporting.store import (
    Database,
    Document,
    Generation,
    LinesCache,
    PartnerLines,
    Writes,
    adjustment_key,
    claim_key,
    deal_key,
    generation_state,
    inquiry_key,
    request_key,
    revision_key,
    revision_text,
    settlement_key,
)
from shared import events
from shared.consuming import Consumed
from shared.events import CloudEvent, Payload
from shared.metrics import EVENTS_CONSUMED

#: What one event adds to a batch's writes: ``(writes, data, version key)``.
EventProjection = Callable[[Writes, Any, str], None]


# --------------------------------------------------------------------------- partners


def _profile(
    data: events.PartnerApplied | events.PartnerSigned | events.ContractRenewed,
) -> Document:
    return {
        "name": data.name,
        "partner_type": data.partner_type,
        "region": data.region,
        "industry": data.industry,
    }


def _status(writes: Writes, partner_id: str, status: str, update: Document | None = None) -> None:
    """A status reached (the highest rank stands), with more facts of the same event."""
    writes.add(
        "partners", partner_id, {**(update or {}), "$max": {"status_rank": STATUS_RANK[status]}}
    )
    writes.partners.add(partner_id)


def partner_applied(writes: Writes, data: events.PartnerApplied, v: str) -> None:
    profile = {**_profile(data), "contact_email": data.contact_email}
    facts = {
        f"profiles.{v}": profile,
        f"capabilities.{v}": [c.value for c in data.capabilities],
        "application_id": data.application_id,
    }
    _status(writes, data.partner_id, "applied", {"$set": facts})


def partner_approved(writes: Writes, data: events.PartnerApproved, v: str) -> None:
    _status(writes, data.partner_id, "approved")


def partner_rejected(writes: Writes, data: events.PartnerRejected, v: str) -> None:
    _status(writes, data.partner_id, "rejected")


def contract_signed(
    writes: Writes, data: events.PartnerSigned | events.ContractRenewed, v: str
) -> None:
    """PartnerSigned and ContractRenewed: a profile, a tier and a contract version."""
    contract = {**data.contract.model_dump(mode="json"), "v": v}
    update = {
        "$set": {f"profiles.{v}": _profile(data), f"tiers.{v}": data.contract.tier.value},
        "$addToSet": {"contracts": contract},
    }
    _status(writes, data.partner_id, "active", update)


def tier_changed(writes: Writes, data: events.PartnerTierChanged, v: str) -> None:
    writes.add("partners", data.partner_id, {"$set": {f"tiers.{v}": data.tier.value}})
    writes.partners.add(data.partner_id)


def partner_terminated(writes: Writes, data: events.PartnerTerminated, v: str) -> None:
    update = {"$min": {"terminated_from": data.effective_date.isoformat()}}
    _status(writes, data.partner_id, "terminated", update)


# --------------------------------------------------------------------------- deals


def deal_closed(writes: Writes, data: events.DealClosed, v: str) -> None:
    version = {
        "amount": str(data.amount),
        "currency": data.currency,
        "closed_at": utc_text(data.closed_at),
        "product_line": data.product_line,
        "customer": data.customer,
    }
    writes.add(
        "deals",
        data.deal_id,
        {"$setOnInsert": {"partner_id": data.partner_id}, "$set": {f"versions.{v}": version}},
    )


def deal_cancelled(writes: Writes, data: events.DealCancelled, v: str) -> None:
    """The earliest cancellation stands."""
    writes.add(
        "deals",
        data.deal_id,
        {
            "$setOnInsert": {"partner_id": data.partner_id},
            "$min": {"cancelled_at": utc_text(data.cancelled_at)},
        },
    )


#: What a CommissionCalculated of a converted deal states beside its converted amount.
CONVERSION_FIELDS = ("original_amount", "original_currency", "fx_rate")


def commission_calculated(writes: Writes, data: events.CommissionCalculated, v: str) -> None:
    """A revision of a deal's line, under its revision number (the highest stands)."""
    fields = {
        "deal_id": data.deal_id,
        "period": data.period,
        "currency": data.currency,
        "amount": str(data.amount),
        "status": data.status.value,
        "base": str(data.base),
        "uplift": str(data.uplift),
        "commission": str(data.commission),
        "target_bonus": str(data.target_bonus),
        "closed_at": utc_text(data.closed_at) if data.closed_at else None,
        "reason": data.reason,
        "v": v,
    }
    # A converted deal's own amount, currency and rate, stored only when the revision
    # states them.
    for name in CONVERSION_FIELDS:
        value = getattr(data, name)
        if value is not None:
            fields[name] = str(value)
    if writes.received_at is not None:
        fields["at"] = writes.received_at
    path = f"deals.{deal_key(data.deal_id)}.{revision_key(data.revision)}"
    writes.add("lines", data.partner_id, {"$set": {path: revision_text(fields)}})
    writes.partners.add(data.partner_id)


def payout_settled(writes: Writes, data: events.PayoutSettled, v: str) -> None:
    """A payout, by settlement (for the finance export) and under the partner (for its
    statements and payouts); paid and pending amounts are computed when read."""
    payout = {
        "settlement_id": data.settlement_id,
        "partner_id": data.partner_id,
        "period": data.period,
        "currency": data.currency,
        "amount_paid": money(data.amount_paid),
        "period_amount": money(data.own_amount()),
        "carried_adjustments": [
            {"period": a.period, "amount": money(a.amount)} for a in data.carried_adjustments
        ],
        "unrecovered": [{"period": a.period, "amount": money(a.amount)} for a in data.unrecovered],
        "settled_at": utc_text(data.settled_at),
        "rerun": data.rerun,
        "mdf_reimbursed": money(data.mdf_reimbursed),
        "mdf_claims": list(data.mdf_claims),
        "mdf_other_currencies": [
            {"currency": o.currency, "amount": money(o.amount), "claims": list(o.claims)}
            for o in data.mdf_other_currencies
        ],
    }
    writes.add("payouts", f"{data.settlement_id}|{data.partner_id}", {"$setOnInsert": payout})
    key = settlement_key(data.settlement_id)
    writes.add("partner_payouts", data.partner_id, {"$set": {f"settlements.{key}": payout}})
    _received(writes, "partner_payouts", data.partner_id, key)
    if data.mdf_claims or data.mdf_other_currencies:
        _claims_reimbursed(writes, data, key)


def _received(writes: Writes, collection: str, partner_id: str, key: str) -> None:
    """Note, under ``received.<key>``, when the thing of ``key`` was first received."""
    if writes.received_at is not None:
        writes.add(collection, partner_id, {"$min": {f"received.{key}": writes.received_at}})


# --------------------------------------------------------------------------- adjustments, inquiries
#
# Rare (each a person's command), and no part of the lines or the period totals: one
# ``$set`` under the event's version key each, and nothing derived.


def _actor(data: Payload) -> Document | None:
    return None if data.actor is None else data.actor.model_dump(mode="json")


def commission_adjusted(writes: Writes, data: events.CommissionAdjusted, v: str) -> None:
    """An adjustment under its partner, by id and version (the earliest version stands:
    ``domain.adjustments_of``)."""
    fields = {
        "adjustment_id": data.adjustment_id,
        "deal_id": data.deal_id,
        "period": data.period,
        "currency": data.currency,
        "amount": str(data.amount),
        "reason": data.reason,
        "adjusted_at": utc_text(data.adjusted_at),
        "inquiry_id": data.inquiry_id,
        "actor": _actor(data),
    }
    key = adjustment_key(data.adjustment_id)
    writes.add("partner_adjustments", data.partner_id, {"$set": {f"adjustments.{key}.{v}": fields}})
    _received(writes, "partner_adjustments", data.partner_id, key)


def inquiry_opened(writes: Writes, data: events.CommissionInquiryOpened, v: str) -> None:
    """An inquiry's opening under its partner, by inquiry id and version."""
    fields = {
        "inquiry_id": data.inquiry_id,
        "deal_id": data.deal_id,
        "period": data.period,
        "message": data.message,
        "opened_at": utc_text(data.opened_at),
        "actor": _actor(data),
    }
    path = f"inquiries.{inquiry_key(data.inquiry_id)}.opened.{v}"
    writes.add("partner_inquiries", data.partner_id, {"$set": {path: fields}})


def inquiry_resolved(writes: Writes, data: events.CommissionInquiryResolved, v: str) -> None:
    """An inquiry's resolution beside its opening (arrived or not: a resolution known
    makes the inquiry resolved, ``domain.inquiry``)."""
    fields = {
        "inquiry_id": data.inquiry_id,
        "deal_id": data.deal_id,
        "period": data.period,
        "resolution": data.resolution,
        "note": data.note,
        "resolved_at": utc_text(data.resolved_at),
        "adjustment_id": data.adjustment_id,
        "actor": _actor(data),
    }
    path = f"inquiries.{inquiry_key(data.inquiry_id)}.resolved.{v}"
    writes.add("partner_inquiries", data.partner_id, {"$set": {path: fields}})


# --------------------------------------------------------------------------- enablement


def training_completed(writes: Writes, data: events.TrainingCompleted, v: str) -> None:
    completed = utc_text(data.completed_at)
    fact = {
        "partner_id": data.partner_id,
        "learner_id": data.learner_id,
        "course_id": data.course_id,
        "completed_at": completed,
        "score": data.score,
    }
    doc_id = f"{data.partner_id}|{data.learner_id}|{data.course_id}|{completed}"
    writes.add("trainings", doc_id, {"$setOnInsert": fact})


def certification_awarded(writes: Writes, data: events.CertificationAwarded, v: str) -> None:
    awarded = utc_text(data.awarded_at)
    fact = {
        "partner_id": data.partner_id,
        "learner_id": data.learner_id,
        "certification_id": data.certification_id,
        "product_line": data.product_line,
        "awarded_at": awarded,
        "expires_at": utc_text(data.expires_at),
    }
    doc_id = f"{data.partner_id}|{data.learner_id}|{data.certification_id}|{awarded}"
    writes.add("certifications", doc_id, {"$setOnInsert": fact})


def feedback_submitted(writes: Writes, data: events.PartnerFeedbackSubmitted, v: str) -> None:
    fact = {
        "partner_id": data.partner_id,
        "rating": data.rating,
        "topic": data.topic_,
        "submitted_at": utc_text(data.submitted_at),
    }
    writes.add("feedback", data.feedback_id, {"$setOnInsert": fact})


def survey_completed(writes: Writes, data: events.CustomerSurveyCompleted, v: str) -> None:
    """A survey's answer under its version key (the greatest stands when read:
    ``domain.survey_answer``); ``partners`` lists every partner a version named, for the
    lookup by partner."""
    fields = {
        "partner_id": data.partner_id,
        "customer": data.customer,
        "score": data.score,
        "completed_at": utc_text(data.completed_at),
        "deal_id": data.deal_id,
        "comment": data.comment,
    }
    writes.add(
        "surveys",
        data.survey_id,
        {"$set": {f"versions.{v}": fields}, "$addToSet": {"partners": data.partner_id}},
    )


def _mdf(
    writes: Writes,
    data: events.MdfRequested | events.MdfApproved | events.MdfRejected,
    status_rank: int,
    fields: Document,
) -> None:
    """An MDF request's facts; its status is the highest rank seen (1 requested, 2
    approved, 3 rejected)."""
    writes.add(
        "mdf",
        data.request_id,
        {
            "$setOnInsert": {"partner_id": data.partner_id},
            "$set": fields,
            "$max": {"status_rank": status_rank},
        },
    )


# The partner's MDF position (``partner_mdf``): each request's and each claim's facts
# under their id and the event's version key, each release of a request's unclaimed funds
# under the request and the event's version key, and the claims settlements paid under
# the claim and the settlement; the figures are computed when read
# (``domain.mdf_amounts``), so a claim or a release filed under a request that has not
# arrived yet counts once it does.


def _position(writes: Writes, partner_id: str, path: str, fields: Document) -> None:
    writes.add("partner_mdf", partner_id, {"$set": {path: fields}})


def _request_fact(
    writes: Writes,
    data: events.MdfRequested | events.MdfApproved | events.MdfRejected,
    fact: str,
    v: str,
    fields: Document,
) -> None:
    path = f"requests.{request_key(data.request_id)}.{fact}.{v}"
    _position(writes, data.partner_id, path, {"request_id": data.request_id, **fields})


def _claim_fact(
    writes: Writes,
    data: events.MdfClaimSubmitted | events.MdfClaimApproved | events.MdfClaimRejected,
    fact: str,
    v: str,
    fields: Document,
) -> None:
    path = f"claims.{claim_key(data.claim_id)}.{fact}.{v}"
    facts = {"claim_id": data.claim_id, "request_id": data.request_id, **fields}
    _position(writes, data.partner_id, path, facts)


def mdf_requested(writes: Writes, data: events.MdfRequested, v: str) -> None:
    fields = {
        "campaign": data.campaign,
        "amount": str(data.amount),
        "currency": data.currency,
        "requested_at": utc_text(data.requested_at),
    }
    _mdf(writes, data, 1, fields)
    _request_fact(writes, data, "requested", v, fields)


def mdf_approved(writes: Writes, data: events.MdfApproved, v: str) -> None:
    fields = {"approved_amount": str(data.amount), "approved_at": utc_text(data.approved_at)}
    _mdf(writes, data, 2, fields)
    approval = {
        "amount": str(data.amount),
        "currency": data.currency,
        "approved_at": utc_text(data.approved_at),
    }
    _request_fact(writes, data, "approved", v, approval)


def mdf_rejected(writes: Writes, data: events.MdfRejected, v: str) -> None:
    fields = {"rejected_at": utc_text(data.rejected_at), "reason": data.reason}
    _mdf(writes, data, 3, fields)
    _request_fact(writes, data, "rejected", v, fields)


def mdf_claim_submitted(writes: Writes, data: events.MdfClaimSubmitted, v: str) -> None:
    fields = {
        "amount": str(data.amount),
        "currency": data.currency,
        "activity_end": data.activity_end.isoformat(),
        "submitted_at": utc_text(data.submitted_at),
    }
    _claim_fact(writes, data, "submitted", v, fields)


def mdf_claim_approved(writes: Writes, data: events.MdfClaimApproved, v: str) -> None:
    fields = {
        "approved_amount": str(data.approved_amount),
        "currency": data.currency,
        "approved_at": utc_text(data.approved_at),
    }
    _claim_fact(writes, data, "approved", v, fields)


def mdf_claim_rejected(writes: Writes, data: events.MdfClaimRejected, v: str) -> None:
    fields = {"reason": data.reason, "rejected_at": utc_text(data.rejected_at)}
    _claim_fact(writes, data, "rejected", v, fields)


def mdf_funds_released(writes: Writes, data: events.MdfFundsReleased, v: str) -> None:
    """A release of a request's unclaimed funds, under the request and the event's version
    key: each carries all the request has released so far, so the greatest counts
    (``domain.mdf_amounts``)."""
    fields = {
        "request_id": data.request_id,
        "quarter": data.quarter,
        "amount": str(data.amount),
        "currency": data.currency,
        "released_at": utc_text(data.released_at),
    }
    _position(writes, data.partner_id, f"released.{request_key(data.request_id)}.{v}", fields)


def _claims_reimbursed(writes: Writes, data: events.PayoutSettled, settlement: str) -> None:
    """The claims a settlement paid, in its currency and the others, each under the claim
    and the settlement (a payout received twice sets the same entry; a claim counts once
    however many list it)."""
    paid = {"settlement_id": data.settlement_id, "settled_at": utc_text(data.settled_at)}
    claims = [*data.mdf_claims, *(c for o in data.mdf_other_currencies for c in o.claims)]
    update = {f"reimbursed.{claim_key(claim_id)}.{settlement}": paid for claim_id in claims}
    writes.add("partner_mdf", data.partner_id, {"$set": update})


#: The projection: what each event type adds to a batch's writes.
PROJECTIONS: dict[type[Payload], EventProjection] = {
    events.PartnerApplied: partner_applied,
    events.PartnerApproved: partner_approved,
    events.PartnerRejected: partner_rejected,
    events.PartnerSigned: contract_signed,
    events.ContractRenewed: contract_signed,
    events.PartnerTierChanged: tier_changed,
    events.PartnerTerminated: partner_terminated,
    events.DealClosed: deal_closed,
    events.DealCancelled: deal_cancelled,
    events.CommissionCalculated: commission_calculated,
    events.PayoutSettled: payout_settled,
    events.CommissionAdjusted: commission_adjusted,
    events.CommissionInquiryOpened: inquiry_opened,
    events.CommissionInquiryResolved: inquiry_resolved,
    events.TrainingCompleted: training_completed,
    events.CertificationAwarded: certification_awarded,
    events.PartnerFeedbackSubmitted: feedback_submitted,
    events.CustomerSurveyCompleted: survey_completed,
    events.MdfRequested: mdf_requested,
    events.MdfApproved: mdf_approved,
    events.MdfRejected: mdf_rejected,
    events.MdfClaimSubmitted: mdf_claim_submitted,
    events.MdfClaimApproved: mdf_claim_approved,
    events.MdfClaimRejected: mdf_claim_rejected,
    events.MdfFundsReleased: mdf_funds_released,
}


def writes_for(
    batch: Iterable[CloudEvent[Payload]], received: Mapping[str, datetime] | None = None
) -> Writes:
    """The upserts of a batch of events, through :data:`PROJECTIONS`, and the partners'
    history entries of every event whose receipt is known; ``received`` is when each
    event (by id) was received (:func:`received_at`)."""
    writes = Writes()
    received = received or {}
    for event in batch:
        at = received.get(event.id)
        writes.received_at = None if at is None else utc_text(at)
        if at is not None:
            partner_id = event.data.partner_id
            bucket = bucket_id(partner_id, day_of(at))
            writes.remember(bucket, partner_id, history_entry(event, at))
        project = PROJECTIONS.get(type(event.data))
        if project is not None:
            project(writes, event.data, version_key(event.time, event.id))
    return writes


def received_at(records: Iterable[tuple[str, int]]) -> dict[str, datetime]:
    """When each event was received: the earliest Kafka timestamp (milliseconds) of the
    records that carried it, by event id."""
    found: dict[str, datetime] = {}
    for event_id, timestamp in records:
        at = datetime.fromtimestamp(timestamp / 1000, UTC)
        if event_id not in found or at < found[event_id]:
            found[event_id] = at
    return found


# --------------------------------------------------------------------------- derived documents


def partner_terms(facts: Document | None) -> dict[str, Any]:
    """What the period totals take from a partner's facts: its current name and its
    contracts (in a fixed order, so equal facts give equal terms)."""
    facts = facts or {}
    return {
        "name": partner_view(facts)["name"],
        "contracts": sorted(facts.get("contracts", []), key=lambda c: (c["contract_id"], c["v"])),
    }


def period_totals_document(totals: PeriodTotals, name: str | None) -> Document:
    """A partner's totals of a period as ``period_totals`` stores them: money as strings,
    and the leaderboard's sort keys as numbers (no attainment sorts last)."""
    attainment = totals.attainment
    return {
        "partner_id": totals.partner_id,
        "period": totals.period,
        "name": name,
        "currency": totals.currency,
        "revenue": money(totals.revenue),
        "commission": money(totals.commission),
        "bonus": money(totals.bonus),
        "payout": money(totals.payout),
        "deals": totals.deals,
        "target": money(totals.target),
        "attainment": None if attainment is None else str(attainment),
        "revenue_sort": float(totals.revenue),
        "commission_sort": float(totals.commission),
        "attainment_sort": -1.0 if attainment is None else float(attainment),
    }


async def derive(
    generation: Generation,
    partner_ids: list[str],
    line_updates: dict[Any, list[Document]] | None = None,
    lifecycle: set[str] | None = None,
) -> None:
    """Merge the batch's commission revisions into the partners' ``lines`` and recompute
    their ``view`` and ``period_totals`` from their facts.

    ``line_updates``: the batch's ``lines`` updates (see :meth:`Generation.merge_lines`).
    ``lifecycle``: the partners whose lifecycle facts the batch changed
    (default: all of them). Only those partners' documents are read, and
    those of partners whose lines hold no ``terms`` yet: the period totals
    take the partner's name and contracts from the ``terms`` its lines
    document carries, which every batch reads or has in memory anyway. Every
    read and write here is by ``_id``.

    Period totals are recomputed only from lines this batch read from the
    server or wrote (a write checks the stored version first): lines held
    in memory and unchanged had their totals written when they were last
    written or read, and may be older than another writer's.
    """
    line_updates = line_updates or {}
    changed = set(partner_ids) if lifecycle is None else lifecycle & set(partner_ids)
    known, fresh = await generation.lines_of(partner_ids)
    try:
        await _derive(generation, partner_ids, line_updates, changed, known, fresh)
    except BaseException:
        # Lines merged or read here but their totals perhaps not written: the retry reads
        # them again, so it recomputes those totals.
        generation.forget_lines(partner_ids)
        raise


async def _derive(
    generation: Generation,
    partner_ids: list[str],
    line_updates: dict[Any, list[Document]],
    changed: set[str],
    known: dict[str, PartnerLines],
    fresh: set[str],
) -> None:
    """:func:`derive`, given the partners' lines and which of them were ``fresh`` (read
    from the server in this batch)."""
    with_lines = {pid for pid, pl in known.items() if pl.version > 0 or pid in line_updates}
    to_read = [
        pid
        for pid in partner_ids
        if pid in changed or (pid in with_lines and known[pid].terms is None)
    ]
    facts = await _write_views(generation, to_read)
    # Terms go only where there are lines: a partner's first commission reads them.
    new_terms = {pid: partner_terms(facts.get(pid)) for pid in to_read if pid in with_lines}
    merged, touched = await generation.merge_lines(line_updates, new_terms, known)
    lines = {**known, **merged}
    fresh = fresh | touched
    wanted: dict[str, Document] = {}
    gone: list[str] = []
    for pid in partner_ids:
        pl = lines[pid]
        if pid not in with_lines or pl.terms is None:
            continue  # no commissions: no totals
        if pid not in fresh:
            # Lines and terms as held since this process last wrote or read them, and
            # unchanged: their totals were written then. Recomputing them from memory
            # could undo another writer's newer totals (two replicas overlapping, or the
            # live service and a rebuild writing one generation).
            continue
        totals, superseded = _totals_of(generation.lines, pl)
        wanted.update(totals)
        gone.extend(f"{pid}|{period}" for period in superseded)
    await generation.write_period_totals(wanted, gone)


async def _write_views(generation: Generation, partner_ids: list[str]) -> dict[str, Document]:
    """Read the partners' facts and write the views that changed (a deal's commission
    leaves the partner's view as it was); the facts, by partner."""
    facts = await generation.partners(partner_ids)
    views = {pid: partner_view(doc) for pid, doc in facts.items()}
    await generation.set_views(
        {pid: view for pid, view in views.items() if facts[pid].get("view") != view}
    )
    return facts


def _totals_of(lines: LinesCache, pl: PartnerLines) -> tuple[dict[str, Document], set[str]]:
    """A partner's ``period_totals`` documents by ``_id``, and the periods whose totals are
    gone (no current line is in them any more)."""
    assert pl.terms is not None
    current = lines.current_lines(pl.partner_id, pl.deals)
    contracts = pl.terms["contracts"]
    documents = {
        f"{pl.partner_id}|{period}": period_totals_document(
            period_totals(
                pl.partner_id,
                period,
                period_lines,
                target_for(contracts, period),
                contract_currency(contracts, period),
            ),
            pl.terms["name"],
        )
        for period, period_lines in lines_by_period(current).items()
    }
    return documents, superseded_periods(lines.named_periods(pl.deals), current)


async def project_into(generation: Generation, writes: Writes) -> None:
    """The batch's upserts (one bulk write per collection), then its partners' lines and
    the derived documents, then the partners' history, one after the other like every
    write of a batch: the store is not given several commands at once."""
    await generation.apply(writes)
    if writes.partners:
        lifecycle = set(writes.by_collection.get("partners", {}))
        lines = writes.by_collection.get("lines", {})
        await derive(generation, sorted(writes.partners), lines, lifecycle)
    await generation.write_history(writes)


class Projection:
    """Projects consumed batches into the active generation and, during a rebuild, the one
    being built (read at every batch: a rebuild that starts is seen by the next batch)."""

    def __init__(
        self,
        database: Database,
        lines: LinesCache | None = None,
        service: str = SERVICE,
    ) -> None:
        self.database = database
        self.lines = LinesCache() if lines is None else lines
        self.service = service

    async def generations(self) -> list[Generation]:
        state = await generation_state(self.database)
        names = [state.active] + ([state.building] if state.building else [])
        return [Generation(self.database, name, self.lines) for name in names]

    async def project(
        self, batch: Iterable[CloudEvent[Payload]], received: Mapping[str, datetime] | None = None
    ) -> None:
        writes = writes_for(batch, received)
        for generation in await self.generations():
            await project_into(generation, writes)

    async def handle(self, batch: list[Consumed]) -> None:
        """A consumed batch (``shared.consuming.subscribe``): projected, then counted."""
        received = received_at((c.event.id, c.record.timestamp) for c in batch)
        await self.project((c.event for c in batch), received)
        for consumed in batch:
            outcome = "processed" if type(consumed.event.data) in PROJECTIONS else "ignored"
            EVENTS_CONSUMED.labels(
                self.service, consumed.record.topic, consumed.event.type, outcome
            ).inc()
