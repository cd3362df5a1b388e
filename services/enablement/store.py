"""Enablement's MongoDB persistence: one document per thing that must change atomically.

- ``catalogue``: one document holding every course and certification
  definition, with a ``definitions_version`` bumped by each definition added.
  Learners remember (as ``catalogue_version``) the definitions version their
  awards were computed under, so a definition added later is applied to every
  learner computed before it (see :meth:`EnablementStore.stale_learners`).
- ``learners``: one document per (partner, learner): their completions, the
  awards published, the definitions version used, remembered HTTP answers and
  the outbox.
- ``partners``: one document per partner: its :class:`PartnerStanding`.
- ``mdf_ledgers``: one document per (partner, calendar quarter): the MDF
  requests drawing on that quarter's budget, so a budget check and the
  decision it allows are one single-document write.
- ``feedback`` and ``materials``: one document per item.
- ``locators``: which document holds a remembered answer or an MDF request
  (``{_id: "<collection>:answer:<digest>" | "mdf_ledgers:request:<id>",
  doc: <its _id>}``), so that a keyed command or an MDF decision reads one
  document by ``_id`` instead of querying every learner or ledger (which
  FerretDB answers by decoding them all). A locator is inserted before the
  write it points to and never changes; the document it names is still
  checked, so one whose write lost points at nothing. Documents written
  before locators existed get theirs once, at start-up
  (:meth:`EnablementStore.backfill_locators`); until that has finished,
  a lookup that finds no locator queries as before.

Every document that several writers may change carries a ``version`` and is
written with :func:`shared.mongo.replace_if_unchanged` (optimistic
concurrency: the loser reloads and retries). Documents that publish events
carry an ``outbox`` (:mod:`shared.outbox`) changed in the same write.
Remembered HTTP answers (``answers``: Idempotency-Key digest → first answer)
live in the document the command changed, so the answer and the change are
one write.

Everything is plain BSON: money as decimal strings, instants as ISO 8601
strings in UTC (exact to the microsecond).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.enablement.domain import (
    Award,
    CertificationDefinition,
    Completion,
    ContractTier,
    Course,
    MdfRequest,
    MdfStatus,
    PartnerStanding,
    SalesMaterial,
    Termination,
    TierChange,
)
from shared.events import Tier
from shared.mongo import Document, find_by_ids, insert_new, replace_if_unchanged
from shared.outbox import WITHOUT_OUTBOX, OutboxEntry, decode_outbox, encode_outbox

CATALOGUE = "catalogue"
LEARNERS = "learners"
PARTNERS = "partners"
MDF_LEDGERS = "mdf_ledgers"
FEEDBACK = "feedback"
MATERIALS = "materials"
LOCATORS = "locators"
#: The ``locators`` document saying every earlier answer and request has its locator.
_BACKFILLED = "backfilled"


def answer_locator(collection: str, digest: str) -> str:
    return f"{collection}:answer:{digest}"


def request_locator(request_id: str) -> str:
    return f"{MDF_LEDGERS}:request:{request_id}"


CATALOGUE_ID = "catalogue"
_SEPARATOR = "\x1f"


def learner_key(partner_id: str, learner_id: str) -> str:
    return f"{partner_id}{_SEPARATOR}{learner_id}"


def ledger_key(partner_id: str, quarter: str) -> str:
    return f"{partner_id}{_SEPARATOR}{quarter}"


def _instant(value: datetime) -> str:
    return value.isoformat()


def _unversion(value: list[str]) -> tuple[datetime, str]:
    return datetime.fromisoformat(value[0]), value[1]


# --------------------------------------------------------------------------- the catalogue


@dataclass(slots=True)
class Catalogue:
    """Every course and certification definition, as one versioned document.

    ``version`` changes with every write (optimistic concurrency);
    ``definitions_version`` only when a definition is added, which is what
    learners' awards depend on.
    """

    version: int = 0
    definitions_version: int = 0
    courses: dict[str, Course] = field(default_factory=dict)
    certifications: dict[str, CertificationDefinition] = field(default_factory=dict)
    answers: list[Document] = field(default_factory=list)


def encode_course(course: Course) -> Document:
    return {
        "course_id": course.course_id,
        "title": course.title,
        "product_line": course.product_line,
        "passing_score": course.passing_score,
    }


def decode_course(doc: Mapping[str, Any]) -> Course:
    return Course(doc["course_id"], doc["title"], doc["product_line"], int(doc["passing_score"]))


def encode_certification(certification: CertificationDefinition) -> Document:
    return {
        "certification_id": certification.certification_id,
        "product_line": certification.product_line,
        "required_courses": sorted(certification.required_courses),
        "validity_days": certification.validity_days,
    }


def decode_certification(doc: Mapping[str, Any]) -> CertificationDefinition:
    return CertificationDefinition(
        doc["certification_id"],
        doc["product_line"],
        frozenset(doc["required_courses"]),
        int(doc["validity_days"]),
    )


def encode_catalogue(catalogue: Catalogue, version: int) -> Document:
    return {
        "_id": CATALOGUE_ID,
        "version": version,
        "definitions_version": catalogue.definitions_version,
        "courses": [encode_course(c) for c in catalogue.courses.values()],
        "certifications": [encode_certification(c) for c in catalogue.certifications.values()],
        "answers": catalogue.answers,
    }


def decode_catalogue(doc: Mapping[str, Any]) -> Catalogue:
    return Catalogue(
        version=int(doc["version"]),
        definitions_version=int(doc.get("definitions_version", 0)),
        courses={c["course_id"]: decode_course(c) for c in doc.get("courses", [])},
        certifications={
            c["certification_id"]: decode_certification(c) for c in doc.get("certifications", [])
        },
        answers=list(doc.get("answers", [])),
    )


# --------------------------------------------------------------------------- learners


@dataclass(slots=True)
class Learner:
    """One learner's completions and the awards published for them: one atomic unit."""

    partner_id: str
    learner_id: str
    version: int = 0
    catalogue_version: int = 0
    completions: set[Completion] = field(default_factory=set)
    awards: list[Award] = field(default_factory=list)
    answers: list[Document] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)

    @property
    def key(self) -> str:
        return learner_key(self.partner_id, self.learner_id)


def encode_award(award: Award) -> Document:
    return {
        "certification_id": award.certification_id,
        "product_line": award.product_line,
        "awarded_at": _instant(award.awarded_at),
        "expires_at": _instant(award.expires_at),
    }


def encode_learner(learner: Learner, version: int) -> Document:
    return {
        "_id": learner.key,
        "version": version,
        "partner_id": learner.partner_id,
        "learner_id": learner.learner_id,
        "catalogue_version": learner.catalogue_version,
        "completions": [
            {"course_id": c.course_id, "completed_at": _instant(c.completed_at), "score": c.score}
            for c in sorted(learner.completions, key=lambda c: (c.completed_at, c.course_id))
        ],
        "awards": [encode_award(a) for a in learner.awards],
        "answers": learner.answers,
        **encode_outbox(learner.outbox),
    }


def decode_learner(doc: Mapping[str, Any]) -> Learner:
    partner_id, learner_id = doc["partner_id"], doc["learner_id"]
    return Learner(
        partner_id=partner_id,
        learner_id=learner_id,
        version=int(doc["version"]),
        catalogue_version=int(doc.get("catalogue_version", 0)),
        completions={
            Completion(
                partner_id,
                learner_id,
                c["course_id"],
                datetime.fromisoformat(c["completed_at"]),
                int(c["score"]),
            )
            for c in doc.get("completions", [])
        },
        awards=[
            Award(
                partner_id,
                learner_id,
                a["certification_id"],
                a["product_line"],
                datetime.fromisoformat(a["awarded_at"]),
                datetime.fromisoformat(a["expires_at"]),
            )
            for a in doc.get("awards", [])
        ],
        answers=list(doc.get("answers", [])),
        outbox=decode_outbox(doc),
    )


# --------------------------------------------------------------------------- partners


@dataclass(slots=True)
class StandingRecord:
    standing: PartnerStanding
    version: int = 0


def encode_standing(record: StandingRecord, version: int) -> Document:
    s = record.standing
    return {
        "_id": s.partner_id,
        "version": version,
        "applied": s.applied,
        "approved": s.approved,
        "rejected": s.rejected,
        "contracts": [
            {
                "contract_id": c.contract_id,
                "start_date": c.start_date.isoformat(),
                "end_date": c.end_date.isoformat(),
                "tier": c.tier.value,
                "version": [_instant(c.version[0]), c.version[1]],
            }
            for c in sorted(s.contracts, key=lambda c: c.contract_id)
        ],
        "tier_changes": [
            {
                "effective_date": t.effective_date.isoformat(),
                "tier": t.tier.value,
                "version": [_instant(t.version[0]), t.version[1]],
            }
            for t in sorted(s.tier_changes, key=lambda t: (t.effective_date, t.version))
        ],
        "termination": None
        if s.termination is None
        else {
            "effective_date": s.termination.effective_date.isoformat(),
            "reason": s.termination.reason,
        },
    }


def decode_standing(doc: Mapping[str, Any]) -> StandingRecord:
    termination = doc.get("termination")
    return StandingRecord(
        PartnerStanding(
            partner_id=doc["_id"],
            applied=bool(doc.get("applied")),
            approved=bool(doc.get("approved")),
            rejected=bool(doc.get("rejected")),
            contracts=frozenset(
                ContractTier(
                    contract_id=c["contract_id"],
                    start_date=date.fromisoformat(c["start_date"]),
                    end_date=date.fromisoformat(c["end_date"]),
                    tier=Tier(c["tier"]),
                    version=_unversion(c["version"]),
                )
                for c in doc.get("contracts", [])
            ),
            tier_changes=frozenset(
                TierChange(
                    date.fromisoformat(t["effective_date"]),
                    Tier(t["tier"]),
                    _unversion(t["version"]),
                )
                for t in doc.get("tier_changes", [])
            ),
            termination=None
            if termination is None
            else Termination(
                date.fromisoformat(termination["effective_date"]), termination["reason"]
            ),
        ),
        version=int(doc["version"]),
    )


# --------------------------------------------------------------------------- MDF


@dataclass(slots=True)
class MdfLedger:
    """A partner's MDF requests drawing on one calendar quarter's budget."""

    partner_id: str
    quarter: str
    version: int = 0
    requests: dict[str, MdfRequest] = field(default_factory=dict)
    answers: list[Document] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)

    @property
    def key(self) -> str:
        return ledger_key(self.partner_id, self.quarter)


def encode_mdf_request(r: MdfRequest) -> Document:
    return {
        "request_id": r.request_id,
        "partner_id": r.partner_id,
        "campaign": r.campaign,
        "amount": str(r.amount),
        "currency": r.currency,
        "requested_at": _instant(r.requested_at),
        "status": r.status.value,
        "decided_at": None if r.decided_at is None else _instant(r.decided_at),
        "reason": r.reason,
    }


def decode_mdf_request(doc: Mapping[str, Any]) -> MdfRequest:
    return MdfRequest(
        request_id=doc["request_id"],
        partner_id=doc["partner_id"],
        campaign=doc["campaign"],
        amount=Decimal(doc["amount"]),
        currency=doc["currency"],
        requested_at=datetime.fromisoformat(doc["requested_at"]),
        status=MdfStatus(doc["status"]),
        decided_at=None
        if doc.get("decided_at") is None
        else datetime.fromisoformat(doc["decided_at"]),
        reason=doc.get("reason"),
    )


def encode_ledger(ledger: MdfLedger, version: int) -> Document:
    return {
        "_id": ledger.key,
        "version": version,
        "partner_id": ledger.partner_id,
        "quarter": ledger.quarter,
        "requests": [encode_mdf_request(r) for r in ledger.requests.values()],
        "answers": ledger.answers,
        **encode_outbox(ledger.outbox),
    }


def decode_ledger(doc: Mapping[str, Any]) -> MdfLedger:
    return MdfLedger(
        partner_id=doc["partner_id"],
        quarter=doc["quarter"],
        version=int(doc["version"]),
        requests={r["request_id"]: decode_mdf_request(r) for r in doc.get("requests", [])},
        answers=list(doc.get("answers", [])),
        outbox=decode_outbox(doc),
    )


# --------------------------------------------------------------------------- materials


def encode_material(material: SalesMaterial) -> Document:
    return {
        "_id": material.material_id,
        "title": material.title,
        "product_line": material.product_line,
        "kind": material.kind,
        "url": material.url,
        "tiers": sorted(t.value for t in material.tiers),
    }


def decode_material(doc: Mapping[str, Any]) -> SalesMaterial:
    return SalesMaterial(
        material_id=doc["_id"],
        title=doc["title"],
        product_line=doc["product_line"],
        kind=doc["kind"],
        url=doc["url"],
        tiers=frozenset(Tier(t) for t in doc["tiers"]),
    )


# --------------------------------------------------------------------------- the store


class EnablementStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.catalogue = database[CATALOGUE]
        self.learners = database[LEARNERS]
        self.partners = database[PARTNERS]
        self.mdf_ledgers = database[MDF_LEDGERS]
        self.feedback = database[FEEDBACK]
        self.materials = database[MATERIALS]
        self.locators = database[LOCATORS]
        self._backfilled = False

    @property
    def with_outbox(self) -> list[AsyncCollection[Document]]:
        """The collections whose documents carry an outbox."""
        return [self.learners, self.mdf_ledgers, self.feedback]

    async def create_indexes(self) -> None:
        """One index per query path (the ``_id`` lookups need none)."""
        for collection in self.with_outbox:
            await collection.create_index([("outbox.id", ASCENDING)], name="by_outbox_entry")
        await self.learners.create_index(
            [("catalogue_version", ASCENDING)], name="by_catalogue_version"
        )
        await self.learners.create_index(
            [("partner_id", ASCENDING), ("learner_id", ASCENDING)], name="by_partner"
        )
        await self.learners.create_index([("answers.key", ASCENDING)], name="by_answer")
        await self.mdf_ledgers.create_index(
            [("partner_id", ASCENDING), ("quarter", ASCENDING)], name="by_partner"
        )
        await self.mdf_ledgers.create_index([("requests.request_id", ASCENDING)], name="by_request")
        await self.mdf_ledgers.create_index([("requests.status", ASCENDING)], name="by_status")
        await self.mdf_ledgers.create_index([("answers.key", ASCENDING)], name="by_answer")
        await self.feedback.create_index(
            [("partner_id", ASCENDING), ("submitted_at", DESCENDING)], name="by_partner"
        )
        await self.materials.create_index(
            [("product_line", ASCENDING), ("title", ASCENDING)], name="by_product_line"
        )
        await self.materials.create_index([("tiers", ASCENDING)], name="by_tier")

    # ------------------------------------------------------------- catalogue

    async def load_catalogue(self) -> Catalogue:
        doc = await self.catalogue.find_one({"_id": CATALOGUE_ID})
        return Catalogue() if doc is None else decode_catalogue(doc)

    async def definitions_version(self) -> int:
        """The catalogue's definitions version (0 before any definition)."""
        doc = await self.catalogue.find_one({"_id": CATALOGUE_ID}, {"definitions_version": 1})
        return 0 if doc is None else int(doc.get("definitions_version", 0))

    async def save_catalogue(self, catalogue: Catalogue) -> bool:
        """Write the catalogue if nobody wrote it since it was read; False when another won."""
        lost = await replace_if_unchanged(
            self.catalogue,
            [(encode_catalogue(catalogue, catalogue.version + 1), catalogue.version)],
        )
        if lost:
            return False
        catalogue.version += 1
        return True

    # ------------------------------------------------------------- learners

    async def load_learners(self, keys: Iterable[tuple[str, str]]) -> dict[str, Learner]:
        wanted = {learner_key(p, learner): (p, learner) for p, learner in keys}
        found = {
            doc_id: decode_learner(doc)
            for doc_id, doc in (await find_by_ids(self.learners, sorted(wanted))).items()
        }
        for key, (partner_id, learner_id) in wanted.items():
            found.setdefault(key, Learner(partner_id, learner_id))
        return found

    async def load_learner(self, partner_id: str, learner_id: str) -> Learner:
        return (await self.load_learners([(partner_id, learner_id)]))[
            learner_key(partner_id, learner_id)
        ]

    async def find_learner(self, partner_id: str, learner_id: str) -> Learner | None:
        doc = await self.learners.find_one({"_id": learner_key(partner_id, learner_id)})
        return None if doc is None else decode_learner(doc)

    # ------------------------------------------------------------- locators

    async def locate(self, locators: Mapping[str, str]) -> None:
        """Record which document holds each answer or request (before writing it)."""
        await insert_new(self.locators, [{"_id": k, "doc": v} for k, v in locators.items()])

    async def _located(
        self,
        collection: AsyncCollection[Document],
        locator: str,
        query: Document,
        *,
        always_query: bool = False,
    ) -> Document | None:
        """The document a locator names; without one, the query's document while the
        backfill has not finished (None after, unless ``always_query``: for lookups whose
        miss is rare, so that what a pod of the release before wrote during a rollout,
        without a locator, is still found)."""
        found = await self.locators.find_one({"_id": locator})
        if found is not None:
            return await collection.find_one({"_id": found["doc"]})
        if not always_query and (
            self._backfilled or await self.locators.find_one({"_id": _BACKFILLED})
        ):
            self._backfilled = True
            return None
        return await collection.find_one(query)

    async def backfill_locators(self) -> int:
        """Locators for the answers and requests of documents written before locators
        existed (once: reads every learner and ledger); how many were missing."""
        if await self.locators.find_one({"_id": _BACKFILLED}):
            self._backfilled = True
            return 0
        locators: dict[str, str] = {}
        async for doc in self.learners.find({"answers.key": {"$exists": True}}, {"answers.key": 1}):
            for answer in doc.get("answers", []):
                locators[answer_locator(LEARNERS, answer["key"])] = doc["_id"]
        async for doc in self.mdf_ledgers.find({}, {"answers.key": 1, "requests.request_id": 1}):
            for answer in doc.get("answers", []):
                locators[answer_locator(MDF_LEDGERS, answer["key"])] = doc["_id"]
            for request in doc.get("requests", []):
                locators[request_locator(request["request_id"])] = doc["_id"]
        added = await insert_new(self.locators, [{"_id": k, "doc": v} for k, v in locators.items()])
        await insert_new(self.locators, [{"_id": _BACKFILLED, "doc": None}])
        self._backfilled = True
        return added

    async def learner_with_answer(self, answer_key: str) -> Learner | None:
        doc = await self._located(
            self.learners, answer_locator(LEARNERS, answer_key), {"answers.key": answer_key}
        )
        return None if doc is None else decode_learner(doc)

    async def learners_of(self, partner_id: str) -> list[Learner]:
        return [
            decode_learner(doc)
            async for doc in self.learners.find({"partner_id": partner_id}).sort("learner_id", 1)
        ]

    async def stale_learners(self, definitions_version: int, limit: int) -> list[Learner]:
        """Learners whose awards were computed before the latest definitions were added."""
        return [
            decode_learner(doc)
            async for doc in self.learners.find(
                {"catalogue_version": {"$lt": definitions_version}}
            ).limit(limit)
        ]

    async def save_learners(self, learners: Iterable[Learner]) -> set[str]:
        """Write each learner if nobody wrote it since it was read; return the keys that lost."""
        learners = list(learners)
        lost = await replace_if_unchanged(
            self.learners, [(encode_learner(x, x.version + 1), x.version) for x in learners]
        )
        for learner in learners:
            if learner.key not in lost:
                learner.version += 1
        return lost

    # ------------------------------------------------------------- partners

    async def load_standings(self, partner_ids: Iterable[str]) -> dict[str, StandingRecord]:
        ids = sorted(set(partner_ids))
        found = {
            doc_id: decode_standing(doc)
            for doc_id, doc in (await find_by_ids(self.partners, ids)).items()
        }
        for partner_id in ids:
            found.setdefault(partner_id, StandingRecord(PartnerStanding(partner_id)))
        return found

    async def standing(self, partner_id: str) -> PartnerStanding | None:
        doc = await self.partners.find_one({"_id": partner_id})
        return None if doc is None else decode_standing(doc).standing

    async def save_standings(self, records: Iterable[StandingRecord]) -> set[str]:
        records = list(records)
        lost = await replace_if_unchanged(
            self.partners, [(encode_standing(r, r.version + 1), r.version) for r in records]
        )
        for record in records:
            if record.standing.partner_id not in lost:
                record.version += 1
        return lost

    # ------------------------------------------------------------- MDF

    async def load_ledger(self, partner_id: str, quarter: str) -> MdfLedger:
        doc = await self.mdf_ledgers.find_one({"_id": ledger_key(partner_id, quarter)})
        return MdfLedger(partner_id, quarter) if doc is None else decode_ledger(doc)

    async def ledger_with_answer(self, answer_key: str) -> MdfLedger | None:
        doc = await self._located(
            self.mdf_ledgers, answer_locator(MDF_LEDGERS, answer_key), {"answers.key": answer_key}
        )
        return None if doc is None else decode_ledger(doc)

    async def ledger_of_request(self, request_id: str) -> MdfLedger | None:
        doc = await self._located(
            self.mdf_ledgers,
            request_locator(request_id),
            {"requests.request_id": request_id},
            always_query=True,  # an unknown request id is rare
        )
        if doc is None:
            return None
        ledger = decode_ledger(doc)
        return ledger if request_id in ledger.requests else None

    async def ledgers_of(self, partner_id: str) -> list[MdfLedger]:
        return [
            decode_ledger(doc)
            async for doc in self.mdf_ledgers.find({"partner_id": partner_id}).sort("quarter", 1)
        ]

    async def ledgers_with_status(self, status: MdfStatus, limit: int) -> list[MdfLedger]:
        return [
            decode_ledger(doc)
            async for doc in self.mdf_ledgers.find({"requests.status": status.value})
            .sort("_id", 1)
            .limit(limit)
        ]

    async def save_ledger(self, ledger: MdfLedger) -> bool:
        lost = await replace_if_unchanged(
            self.mdf_ledgers, [(encode_ledger(ledger, ledger.version + 1), ledger.version)]
        )
        if lost:
            return False
        ledger.version += 1
        return True

    # ------------------------------------------------------------- single documents

    async def insert_new(self, collection: AsyncCollection[Document], doc: Document) -> bool:
        """Insert ``doc``; False when a document with its ``_id`` exists already."""
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def find(self, collection: AsyncCollection[Document], doc_id: str) -> Document | None:
        return await collection.find_one({"_id": doc_id})

    async def feedback_of(self, partner_id: str, limit: int) -> list[Document]:
        return [
            doc
            async for doc in self.feedback.find({"partner_id": partner_id}, WITHOUT_OUTBOX)
            .sort("submitted_at", -1)
            .limit(limit)
        ]

    async def materials_matching(
        self, product_line: str | None, tier: Tier | None, limit: int
    ) -> list[SalesMaterial]:
        query: dict[str, Any] = {}
        if product_line is not None:
            query["product_line"] = product_line
        if tier is not None:
            query["tiers"] = tier.value
        cursor = (
            self.materials.find(query)
            .sort([("product_line", 1), ("title", 1), ("_id", 1)])
            .limit(limit)
        )
        return [decode_material(doc) async for doc in cursor]
