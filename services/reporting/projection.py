"""From events to read models: the commuting upserts of a batch, then the derived documents.

:func:`writes_for` maps each event to upserts (see ``store.py`` for why they
commute). :func:`derive` then recomputes, for the partners a batch touched,
the documents that are functions of those facts: each partner's ``view``
(current profile, status, tier, contract) and its ``period_totals``. Derived
documents are written with plain ``$set``: recomputing them is idempotent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pymongo import UpdateOne

from services.reporting.domain import (
    STATUS_OF_RANK,
    STATUS_RANK,
    Line,
    current,
    current_contracts,
    current_lines,
    deal_key,
    money,
    payout_document,
    period_totals,
    revision_key,
    revision_text,
    settlement_key,
    superseded_periods,
    target_for,
    utc_text,
    version_key,
)
from services.reporting.store import Generation, PartnerLines, Writes
from shared import events
from shared.events import CloudEvent, Payload
from shared.mongo import Document, bulk_write_chunked, find_by_ids

log = logging.getLogger("partnerhub.reporting")


def _profile(data: Any) -> dict[str, Any]:
    return {
        "name": data.name,
        "partner_type": data.partner_type,
        "region": data.region,
        "industry": data.industry,
    }


def writes_for(batch: Iterable[CloudEvent[Payload]]) -> Writes:
    writes = Writes()
    for event in batch:
        _project(writes, event)
    return writes


def _project(writes: Writes, event: CloudEvent[Payload]) -> None:
    data = event.data
    partner = data.partner_id
    v = version_key(event.time, event.id)
    if isinstance(data, events.PartnerApplied):
        profile = {**_profile(data), "contact_email": data.contact_email}
        writes.add(
            "partners",
            partner,
            {
                "$set": {f"profiles.{v}": profile, "application_id": data.application_id},
                "$max": {"status_rank": STATUS_RANK["applied"]},
            },
        )
    elif isinstance(data, events.PartnerApproved):
        writes.add("partners", partner, {"$max": {"status_rank": STATUS_RANK["approved"]}})
    elif isinstance(data, events.PartnerRejected):
        writes.add("partners", partner, {"$max": {"status_rank": STATUS_RANK["rejected"]}})
    elif isinstance(data, events.PartnerSigned | events.ContractRenewed):
        contract = data.contract.model_dump(mode="json")
        writes.add(
            "partners",
            partner,
            {
                "$set": {f"profiles.{v}": _profile(data), f"tiers.{v}": data.contract.tier.value},
                "$max": {"status_rank": STATUS_RANK["active"]},
                "$addToSet": {"contracts": {**contract, "v": v}},
            },
        )
    elif isinstance(data, events.PartnerTierChanged):
        writes.add("partners", partner, {"$set": {f"tiers.{v}": data.tier.value}})
    elif isinstance(data, events.PartnerTerminated):
        writes.add(
            "partners",
            partner,
            {
                "$max": {"status_rank": STATUS_RANK["terminated"]},
                "$min": {"terminated_from": data.effective_date.isoformat()},
            },
        )
    elif isinstance(data, events.DealClosed):
        writes.add(
            "deals",
            data.deal_id,
            {
                "$setOnInsert": {"partner_id": partner},
                "$set": {
                    f"versions.{v}": {
                        "amount": str(data.amount),
                        "currency": data.currency,
                        "closed_at": utc_text(data.closed_at),
                        "product_line": data.product_line,
                        "customer": data.customer,
                    }
                },
            },
        )
        return
    elif isinstance(data, events.DealCancelled):
        writes.add(
            "deals",
            data.deal_id,
            {
                "$setOnInsert": {"partner_id": partner},
                "$min": {"cancelled_at": utc_text(data.cancelled_at)},
            },
        )
        return
    elif isinstance(data, events.TrainingCompleted):
        completed = utc_text(data.completed_at)
        writes.add(
            "trainings",
            f"{partner}|{data.learner_id}|{data.course_id}|{completed}",
            {
                "$setOnInsert": {
                    "partner_id": partner,
                    "learner_id": data.learner_id,
                    "course_id": data.course_id,
                    "completed_at": completed,
                    "score": data.score,
                }
            },
        )
        return
    elif isinstance(data, events.CertificationAwarded):
        awarded = utc_text(data.awarded_at)
        writes.add(
            "certifications",
            f"{partner}|{data.learner_id}|{data.certification_id}|{awarded}",
            {
                "$setOnInsert": {
                    "partner_id": partner,
                    "learner_id": data.learner_id,
                    "certification_id": data.certification_id,
                    "product_line": data.product_line,
                    "awarded_at": awarded,
                    "expires_at": utc_text(data.expires_at),
                }
            },
        )
        return
    elif isinstance(data, events.PartnerFeedbackSubmitted):
        writes.add(
            "feedback",
            data.feedback_id,
            {
                "$setOnInsert": {
                    "partner_id": partner,
                    "rating": data.rating,
                    "topic": data.topic_,
                    "submitted_at": utc_text(data.submitted_at),
                }
            },
        )
        return
    elif isinstance(data, events.MdfRequested):
        writes.add(
            "mdf",
            data.request_id,
            {
                "$setOnInsert": {"partner_id": partner},
                "$set": {
                    "campaign": data.campaign,
                    "amount": str(data.amount),
                    "currency": data.currency,
                    "requested_at": utc_text(data.requested_at),
                },
                "$max": {"status_rank": 1},
            },
        )
        return
    elif isinstance(data, events.MdfApproved):
        writes.add(
            "mdf",
            data.request_id,
            {
                "$setOnInsert": {"partner_id": partner},
                "$set": {
                    "approved_amount": str(data.amount),
                    "approved_at": utc_text(data.approved_at),
                },
                "$max": {"status_rank": 2},
            },
        )
        return
    elif isinstance(data, events.MdfRejected):
        writes.add(
            "mdf",
            data.request_id,
            {
                "$setOnInsert": {"partner_id": partner},
                "$set": {"rejected_at": utc_text(data.rejected_at), "reason": data.reason},
                "$max": {"status_rank": 3},
            },
        )
        return
    elif isinstance(data, events.CommissionCalculated):
        writes.add(
            "lines",
            partner,
            {
                "$set": {
                    f"deals.{deal_key(data.deal_id)}.{revision_key(data.revision)}": revision_text(
                        {
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
                        }
                    )
                },
            },
        )
    elif isinstance(data, events.PayoutSettled):
        payout = payout_document(data)
        writes.add("payouts", f"{data.settlement_id}|{partner}", {"$setOnInsert": payout})
        # The same, under the partner: what its statements and payouts read by _id.
        writes.add(
            "partner_payouts",
            partner,
            {"$set": {f"settlements.{settlement_key(data.settlement_id)}": payout}},
        )
        return  # paid and pending amounts are computed when read
    else:
        return  # registrations: not in these read models
    writes.partners.add(partner)


def partner_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The current profile, status, tier and latest contract from a partner's facts."""
    profile = current(doc.get("profiles")) or {}
    contracts = current_contracts(doc.get("contracts", []))
    latest = max(contracts, key=lambda c: (c["start_date"], c["contract_id"]), default=None)
    if latest is not None:
        latest = {k: value for k, value in latest.items() if k != "v"}
    return {
        "name": profile.get("name"),
        "partner_type": profile.get("partner_type"),
        "region": profile.get("region"),
        "industry": profile.get("industry"),
        "status": STATUS_OF_RANK.get(int(doc.get("status_rank", 0)), "applied"),
        "tier": current(doc.get("tiers")),
        "contract": latest,
        "terminated_from": doc.get("terminated_from"),
    }


def partner_terms(doc: Document | None) -> dict[str, Any]:
    """What the period totals take from a partner's facts: its current name and its
    contracts (in a fixed order, so equal facts give equal terms)."""
    doc = doc or {}
    return {
        "name": partner_view(doc)["name"],
        "contracts": sorted(doc.get("contracts", []), key=lambda c: (c["contract_id"], c["v"])),
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
    (default: all of them). Only those partners' documents are read (and
    those of partners whose lines do not hold their ``terms`` yet, such as
    a generation written before terms were kept there): the period totals
    take the partner's name and contracts from the ``terms`` its lines
    document carries, which every batch reads or has in memory anyway,
    where FerretDB decodes the partner's nested profile, contracts and view
    at three times the cost. Every read and write here is by ``_id`` (see
    ``shared.mongo.find_by_ids``).

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
    partners = await find_by_ids(generation["partners"], to_read)
    views = {pid: partner_view(doc) for pid, doc in partners.items()}
    # Only the views that changed: a deal's commission leaves the partner's view as it was,
    # and every update costs FerretDB a read and a whole-document write.
    stale_views = [
        UpdateOne({"_id": pid}, {"$set": {"view": view}})
        for pid, view in views.items()
        if partners[pid].get("view") != view
    ]
    if stale_views:
        await bulk_write_chunked(generation["partners"], stale_views)
    # Terms go only where there are lines: a partner's first commission reads them.
    new_terms = {pid: partner_terms(partners.get(pid)) for pid in to_read if pid in with_lines}
    merged, touched = await generation.merge_lines(line_updates, new_terms, known)
    lines = {**known, **merged}
    fresh = fresh | touched
    wanted: dict[str, dict[str, Any]] = {}
    stale: list[str] = []
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
        doc = {"_id": pid, "deals": pl.deals}
        current = current_lines(pid, doc)
        by_period: dict[str, list[Line]] = defaultdict(list)
        for line in current:
            by_period[line.period].append(line)
        stale.extend(f"{pid}|{period}" for period in superseded_periods(doc, current))
        for period, period_lines in by_period.items():
            contracts = pl.terms["contracts"]
            totals = period_totals(pid, period, period_lines, target_for(contracts, period))
            attainment = totals.attainment
            wanted[f"{pid}|{period}"] = {
                "partner_id": pid,
                "period": period,
                "name": pl.terms["name"],
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
    for doc_id in stale:  # a deal moved to another period: one delete by _id each
        await generation["period_totals"].delete_one({"_id": doc_id})
    if wanted:
        await bulk_write_chunked(
            generation["period_totals"],
            [
                UpdateOne({"_id": doc_id}, {"$set": doc}, upsert=True)
                for doc_id, doc in wanted.items()
            ],
        )
