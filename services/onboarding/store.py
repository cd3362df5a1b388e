"""Onboarding's persistence: one document per partner, from application to termination.

:class:`PartnerStore` is what the commands and the queries use;
:class:`OnboardingStore` is it on MongoDB (FerretDB by default).

A partner's document (``_id`` = the partner id) holds:

- ``record``: the :class:`~services.onboarding.domain.PartnerRecord` (profile with
  its capabilities, scorecard and assessment with its warnings, status, contracts,
  tier, termination);
- ``application_id``, ``status`` and ``applied_key`` copied out of the record
  for the listing by status in application order;
- ``events``: every event the partner's commands produced (id, type, time);
- ``answers``: the answers already given to commands sent with an
  ``Idempotency-Key`` (key digest → fingerprint, status and body);
- ``outbox``: the events stored but not yet acknowledged by Kafka
  (:mod:`shared.outbox`);
- ``version``: bumped by every write (optimistic concurrency).

Beside it, ``applications`` holds one locator per application (its id → the
partner id), so an application is found by ``_id`` too.

A command is **one single-document write** of all of these, conditional on
the version read (:func:`shared.mongo.replace_if_unchanged`): the state
change, its event and the remembered answer commit together or not at all.

Everything is plain BSON: dates and instants as ISO 8601 strings, decimals
(scores, weights, money) as strings.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.onboarding.domain import (
    Assessment,
    PartnerProfile,
    PartnerRecord,
    ScorecardWeights,
    Termination,
)
from shared.commands import InvalidField
from shared.events import CloudEvent, Contract, PartnerStatus, Recommendation, Scorecard, Tier
from shared.mongo import Document, create_lookup_indexes, insert_new, replace_if_unchanged
from shared.outbox import WITHOUT_OUTBOX, OutboxEntry, decode_outbox, encode_outbox

PARTNERS = "partners"
#: One locator per application, ``{_id: application id, partner_id}``, read by ``_id``.
APPLICATIONS = "applications"


class InvalidCursor(InvalidField):
    """A listing cursor this service did not hand out (HTTP 422 naming ``query.cursor``)."""

    def __init__(self) -> None:
        super().__init__(("query", "cursor"), "not a cursor from an earlier page")


@dataclass(slots=True)
class StoredPartner:
    """A partner's record with what its commands produced: the unit of one atomic write."""

    record: PartnerRecord
    version: int = 0
    events: list[Document] = field(default_factory=list)
    answers: dict[str, Document] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)

    @property
    def partner_id(self) -> str:
        return self.record.partner_id

    @property
    def application_id(self) -> str:
        return self.record.application_id

    def add_event(self, event: CloudEvent[Any]) -> OutboxEntry:
        """Queue ``event`` for publishing and note it in the partner's history."""
        entry = OutboxEntry.of(event)
        self.outbox.append(entry)
        self.events.append({"event_id": event.id, "type": event.type, "time": _instant(event.time)})
        return entry


# --------------------------------------------------------------------------- encoding


def _instant(value: datetime) -> str:
    return value.isoformat()


def _sort_key(value: datetime) -> str:
    """A fixed-width UTC form that sorts as the instants do (``isoformat`` may drop digits)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_contract(contract: Contract) -> Document:
    return contract.model_dump(mode="json", by_alias=True)


def encode_record(record: PartnerRecord) -> Document:
    assessment = record.assessment
    termination = record.termination
    return {
        "partner_id": record.partner_id,
        "application_id": record.application_id,
        "profile": {
            "name": record.profile.name,
            "partner_type": record.profile.partner_type,
            "region": record.profile.region,
            "industry": record.profile.industry,
            "contact_email": record.profile.contact_email,
            "capabilities": [c.value for c in record.profile.capabilities],
        },
        "scorecard": record.scorecard.model_dump(mode="json"),
        "assessment": {
            "score": str(assessment.score),
            "recommendation": assessment.recommendation.value,
            "weights": {name: str(w) for name, w in assessment.weights.as_dict().items()},
            "warnings": list(assessment.warnings),
        },
        "applied_at": _instant(record.applied_at),
        "status": record.status.value,
        "decided_at": None if record.decided_at is None else _instant(record.decided_at),
        "rejection_reason": record.rejection_reason,
        "contracts": [encode_contract(c) for c in record.contracts],
        "tier": None if record.tier is None else record.tier.value,
        "termination": None
        if termination is None
        else {
            "effective_date": termination.effective_date.isoformat(),
            "reason": termination.reason,
            "noticed_on": termination.noticed_on.isoformat(),
        },
    }


def decode_record(doc: Mapping[str, Any]) -> PartnerRecord:
    assessment = doc["assessment"]
    termination = doc["termination"]
    # A document without capabilities or warnings has none of them.
    profile = dict(doc["profile"])
    capabilities = tuple(profile.pop("capabilities", ()))
    return PartnerRecord(
        partner_id=doc["partner_id"],
        application_id=doc["application_id"],
        profile=PartnerProfile(**profile, capabilities=capabilities),
        scorecard=Scorecard.model_validate(doc["scorecard"]),
        assessment=Assessment(
            score=Decimal(assessment["score"]),
            recommendation=Recommendation(assessment["recommendation"]),
            weights=ScorecardWeights.from_mapping(assessment["weights"]),
            warnings=tuple(assessment.get("warnings", ())),
        ),
        applied_at=datetime.fromisoformat(doc["applied_at"]),
        status=PartnerStatus(doc["status"]),
        decided_at=None if doc["decided_at"] is None else datetime.fromisoformat(doc["decided_at"]),
        rejection_reason=doc["rejection_reason"],
        contracts=[Contract.model_validate(c) for c in doc["contracts"]],
        tier=None if doc["tier"] is None else Tier(doc["tier"]),
        termination=None
        if termination is None
        else Termination(
            effective_date=date.fromisoformat(termination["effective_date"]),
            reason=termination["reason"],
            noticed_on=date.fromisoformat(termination["noticed_on"]),
        ),
    )


def encode_partner(stored: StoredPartner, version: int) -> Document:
    record = stored.record
    return {
        "_id": record.partner_id,
        "version": version,
        "application_id": record.application_id,
        "status": record.status.value,
        "applied_key": _sort_key(record.applied_at),
        "record": encode_record(record),
        "events": stored.events,
        "answers": stored.answers,
        **encode_outbox(stored.outbox),
    }


def decode_partner(doc: Mapping[str, Any]) -> StoredPartner:
    return StoredPartner(
        record=decode_record(doc["record"]),
        version=int(doc["version"]),
        events=list(doc["events"]),
        answers=dict(doc.get("answers", {})),  # listings leave the answers out
        outbox=decode_outbox(doc),
    )


def encode_cursor(doc: Mapping[str, Any]) -> str:
    raw = json.dumps([doc["applied_key"], doc["_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        applied_key, partner_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursor from None
    if not (isinstance(applied_key, str) and isinstance(partner_id, str)):
        raise InvalidCursor
    return applied_key, partner_id


# --------------------------------------------------------------------------- the store

#: Listings leave out what only commands need.
_LISTING = {"answers": 0, **WITHOUT_OUTBOX}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; ``next_cursor`` asks for the next, ``None`` on the last."""

    partners: list[StoredPartner]
    next_cursor: str | None


class PartnerStore(Protocol):
    """Where partners are kept: what the commands and the queries need of a store."""

    async def load(self, partner_id: str) -> StoredPartner | None:
        """The partner, or ``None``."""

    async def load_by_application(self, application_id: str) -> StoredPartner | None:
        """The partner an application created, or ``None``."""

    async def save(self, stored: StoredPartner) -> bool:
        """Write ``stored`` if nobody wrote it since it was read (insert when new): True
        when this write won, and then ``stored.version`` is the new version."""

    async def page(
        self, status: PartnerStatus | None, limit: int, cursor: str | None = None
    ) -> Page:
        """Partners in application order (oldest first), ``limit`` at a time;
        :class:`InvalidCursor` for a cursor no page handed out."""


class OnboardingStore:
    """:class:`PartnerStore` on MongoDB: the ``partners`` collection."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.partners = database[PARTNERS]
        self.applications = database[APPLICATIONS]

    async def create_indexes(self) -> None:
        """The indexes of the listing by status in application order and of the outbox's
        sweep, where they serve (:func:`shared.mongo.create_lookup_indexes`); lookups of
        a partner or an application are by ``_id``."""
        await create_lookup_indexes(
            self.partners,
            [
                (
                    "by_status",
                    [("status", ASCENDING), ("applied_key", ASCENDING), ("_id", ASCENDING)],
                ),
                ("by_application_order", [("applied_key", ASCENDING), ("_id", ASCENDING)]),
                ("by_outbox_entry", [("outbox.id", ASCENDING)]),
            ],
        )

    async def load(self, partner_id: str) -> StoredPartner | None:
        doc = await self.partners.find_one({"_id": partner_id})
        return None if doc is None else decode_partner(doc)

    async def load_by_application(self, application_id: str) -> StoredPartner | None:
        """The partner of an application, through the application's locator: two reads by
        ``_id`` (on FerretDB a query on any other field decodes every partner). The
        locator is written before the partner it names, so one left by a write that
        lost names a partner that is missing or holds another application."""
        locator = await self.applications.find_one({"_id": application_id})
        if locator is None:
            return None
        stored = await self.load(locator["partner_id"])
        return stored if stored is not None and stored.application_id == application_id else None

    async def save(self, stored: StoredPartner) -> bool:
        """Write ``stored`` if nobody wrote it since it was read (insert when new, after
        its application's locator).

        True when this write won; then ``stored.version`` is the new version.
        """
        if stored.version == 0:
            await insert_new(
                self.applications,
                [{"_id": stored.application_id, "partner_id": stored.partner_id}],
            )
        lost = await replace_if_unchanged(
            self.partners, [(encode_partner(stored, stored.version + 1), stored.version)]
        )
        if lost:
            return False
        stored.version += 1
        return True

    async def page(
        self, status: PartnerStatus | None, limit: int, cursor: str | None = None
    ) -> Page:
        """Partners in application order (oldest first), ``limit`` at a time."""
        query: Document = {} if status is None else {"status": status.value}
        if cursor is not None:
            applied_key, partner_id = decode_cursor(cursor)
            query["$or"] = [
                {"applied_key": {"$gt": applied_key}},
                {"applied_key": applied_key, "_id": {"$gt": partner_id}},
            ]
        found = [
            doc
            async for doc in self.partners.find(query, _LISTING)
            .sort([("applied_key", ASCENDING), ("_id", ASCENDING)])
            .limit(limit + 1)
        ]
        more = len(found) > limit
        found = found[:limit]
        return Page(
            partners=[decode_partner(doc) for doc in found],
            next_cursor=encode_cursor(found[-1]) if more and found else None,
        )
