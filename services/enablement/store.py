"""Enablement's MongoDB persistence: one document per thing that must change atomically.

- ``catalogue``: one document holding every course and certification
  definition, with a ``definitions_version`` bumped by each definition added.
  Learners remember (as ``catalogue_version``) the definitions version their
  awards were computed under, so a definition added later is applied to every
  learner computed before it (:meth:`EnablementStore.stale_learners`).
- ``learners``: one document per (partner, learner): their completions, the
  awards published, the definitions version used, remembered answers and the
  outbox.
- ``partners``: one document per partner: its :class:`PartnerStanding`.
- ``mdf_ledgers``: one document per (partner, calendar quarter): the MDF
  requests drawing on that quarter's budget, so a budget check and the
  decision it allows are one single-document write.
- ``mdf_claims``: one document per partner (``_id`` its id), its **claim book**:
  every claim of its MDF requests, of every quarter. The evidence digests a
  new claim must not reuse are those of all the partner's claims, so they
  are in the one document the claim is written to: the check, the claim and
  its event are one single-document write (docs/rules/enablement.md,
  "Claims"), and what each request released when its claims closed is kept
  there too, so a release and a late claim are decided one after the other
  ("Unclaimed funds"). A claim finds its book from its request (``partner_id``). Listing
  every partner's claims (``GET /mdf-claims`` naming no partner) reads every
  book holding one of the status asked for
  (:meth:`EnablementStore.claims_with_status`).
- ``feedback`` and ``materials``: one document per item. The product teams' summary
  and export of a period read every feedback item of the period (and product line
  asked), by the ``by_submitted_at`` or ``by_product_line`` index: their cost grows
  with the period's feedback (:meth:`EnablementStore.feedback_between`).

Every document that several writers may change carries a ``version`` and is
written with :func:`shared.mongo.replace_if_unchanged` (optimistic
concurrency: the loser reloads and decides again). Documents that publish
events carry an ``outbox`` (:mod:`shared.outbox`) changed in the same write.
Remembered answers (``answers``: an Idempotency-Key's digest → the first
answer, :class:`shared.commands.CommandKey`) live in the document the command
changed, so the answer and the change are one write.

**Locators (FerretDB).** A keyed command sent again must find its answer
whichever document holds it, and an MDF decision finds its request by id
alone. FerretDB answers any query other than one ``_id`` equality by
decoding every document of the collection, so the store keeps, in
``locators``, which document holds each answer of a learner or ledger and
each MDF request (``{_id: "<collection>:answer:<digest>" |
"mdf_ledgers:request:<id>", doc: <its _id>}``), and reads that document by
``_id``. A locator is inserted before the write it points to and never
changes; the document it names is still checked, so one whose write lost
points at nothing.

Everything is plain BSON: money as decimal strings, instants as ISO 8601
strings in UTC (exact to the microsecond).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.enablement.domain import (
    Award,
    CertificationDefinition,
    Completion,
    ContractTier,
    Course,
    Evidence,
    Feedback,
    MdfClaim,
    MdfClaimStatus,
    MdfRequest,
    MdfStatus,
    PartnerStanding,
    SalesMaterial,
    Termination,
    TierChange,
)
from shared.events import Tier
from shared.mongo import (
    Document,
    create_lookup_indexes,
    find_by_ids,
    insert_new,
    replace_if_unchanged,
)
from shared.outbox import WITHOUT_OUTBOX, OutboxEntry, decode_outbox, encode_outbox

CATALOGUE = "catalogue"
LEARNERS = "learners"
PARTNERS = "partners"
MDF_LEDGERS = "mdf_ledgers"
MDF_CLAIMS = "mdf_claims"
FEEDBACK = "feedback"
MATERIALS = "materials"
LOCATORS = "locators"

CATALOGUE_ID = "catalogue"
_SEPARATOR = "\x1f"

#: A document's remembered answers: an Idempotency-Key's digest → the answer given.
Answers = dict[str, Document]


def answer_locator(collection: str, digest: str) -> str:
    return f"{collection}:answer:{digest}"


def request_locator(request_id: str) -> str:
    return f"{MDF_LEDGERS}:request:{request_id}"


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
    answers: Answers = field(default_factory=dict)


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
        definitions_version=int(doc["definitions_version"]),
        courses={c["course_id"]: decode_course(c) for c in doc["courses"]},
        certifications={
            c["certification_id"]: decode_certification(c) for c in doc["certifications"]
        },
        answers=dict(doc["answers"]),
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
    answers: Answers = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)
    #: The locators stored for this document's answers (see the module's docstring).
    located: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def key(self) -> str:
        return learner_key(self.partner_id, self.learner_id)

    @property
    def locators(self) -> frozenset[str]:
        return frozenset(answer_locator(LEARNERS, digest) for digest in self.answers)


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
    learner = Learner(
        partner_id=partner_id,
        learner_id=learner_id,
        version=int(doc["version"]),
        catalogue_version=int(doc["catalogue_version"]),
        completions={
            Completion(
                partner_id,
                learner_id,
                c["course_id"],
                datetime.fromisoformat(c["completed_at"]),
                int(c["score"]),
            )
            for c in doc["completions"]
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
            for a in doc["awards"]
        ],
        answers=dict(doc["answers"]),
        outbox=decode_outbox(doc),
    )
    learner.located = learner.locators
    return learner


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
    termination = doc["termination"]
    return StandingRecord(
        PartnerStanding(
            partner_id=doc["_id"],
            applied=bool(doc["applied"]),
            approved=bool(doc["approved"]),
            rejected=bool(doc["rejected"]),
            contracts=frozenset(
                ContractTier(
                    contract_id=c["contract_id"],
                    start_date=date.fromisoformat(c["start_date"]),
                    end_date=date.fromisoformat(c["end_date"]),
                    tier=Tier(c["tier"]),
                    version=_unversion(c["version"]),
                )
                for c in doc["contracts"]
            ),
            tier_changes=frozenset(
                TierChange(
                    date.fromisoformat(t["effective_date"]),
                    Tier(t["tier"]),
                    _unversion(t["version"]),
                )
                for t in doc["tier_changes"]
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
    answers: Answers = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)
    #: The locators stored for this document's answers and requests.
    located: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def key(self) -> str:
        return ledger_key(self.partner_id, self.quarter)

    @property
    def locators(self) -> frozenset[str]:
        return frozenset(answer_locator(MDF_LEDGERS, digest) for digest in self.answers) | {
            request_locator(request_id) for request_id in self.requests
        }


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
        decided_at=None if doc["decided_at"] is None else datetime.fromisoformat(doc["decided_at"]),
        reason=doc["reason"],
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
    ledger = MdfLedger(
        partner_id=doc["partner_id"],
        quarter=doc["quarter"],
        version=int(doc["version"]),
        requests={r["request_id"]: decode_mdf_request(r) for r in doc["requests"]},
        answers=dict(doc["answers"]),
        outbox=decode_outbox(doc),
    )
    ledger.located = ledger.locators
    return ledger


# --------------------------------------------------------------------------- MDF claims


@dataclass(slots=True)
class MdfClaimBook:
    """Every MDF claim of one partner, of all its requests: one atomic unit, so a new
    claim is checked against all the evidence the partner used in the write that adds it."""

    partner_id: str
    version: int = 0
    claims: dict[str, MdfClaim] = field(default_factory=dict)
    answers: Answers = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)
    #: What each of the partner's requests has released in all (request id → amount):
    #: kept with the claims, so a release and a late claim are decided one after the other.
    released: dict[str, Decimal] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.partner_id


def encode_mdf_claim(c: MdfClaim) -> Document:
    return {
        "claim_id": c.claim_id,
        "request_id": c.request_id,
        "amount": str(c.amount),
        "currency": c.currency,
        "activity_end": c.activity_end.isoformat(),
        "evidence": [{"kind": e.kind, "url": e.url, "sha256": e.sha256} for e in c.evidence],
        "submitted_at": _instant(c.submitted_at),
        "status": c.status.value,
        "decided_at": None if c.decided_at is None else _instant(c.decided_at),
        "approved_amount": None if c.approved_amount is None else str(c.approved_amount),
        "reason": c.reason,
    }


def decode_mdf_claim(partner_id: str, doc: Mapping[str, Any]) -> MdfClaim:
    return MdfClaim(
        claim_id=doc["claim_id"],
        request_id=doc["request_id"],
        partner_id=partner_id,
        amount=Decimal(doc["amount"]),
        currency=doc["currency"],
        activity_end=date.fromisoformat(doc["activity_end"]),
        evidence=tuple(Evidence(e["kind"], e["url"], e["sha256"]) for e in doc["evidence"]),
        submitted_at=datetime.fromisoformat(doc["submitted_at"]),
        status=MdfClaimStatus(doc["status"]),
        decided_at=None if doc["decided_at"] is None else datetime.fromisoformat(doc["decided_at"]),
        approved_amount=None if doc["approved_amount"] is None else Decimal(doc["approved_amount"]),
        reason=doc["reason"],
    )


def encode_claim_book(book: MdfClaimBook, version: int) -> Document:
    return {
        "_id": book.key,
        "version": version,
        "partner_id": book.partner_id,
        "claims": [encode_mdf_claim(c) for c in book.claims.values()],
        "released": {request_id: str(amount) for request_id, amount in book.released.items()},
        "answers": book.answers,
        **encode_outbox(book.outbox),
    }


def decode_claim_book(doc: Mapping[str, Any]) -> MdfClaimBook:
    partner_id = doc["partner_id"]
    return MdfClaimBook(
        partner_id=partner_id,
        version=int(doc["version"]),
        claims={c["claim_id"]: decode_mdf_claim(partner_id, c) for c in doc["claims"]},
        answers=dict(doc["answers"]),
        outbox=decode_outbox(doc),
        released={r: Decimal(amount) for r, amount in doc.get("released", {}).items()},
    )


# --------------------------------------------------------------------------- materials


def encode_material(material: SalesMaterial, created_at: datetime, answers: Answers) -> Document:
    return {
        "_id": material.material_id,
        "title": material.title,
        "product_line": material.product_line,
        "kind": material.kind,
        "url": material.url,
        "tiers": sorted(t.value for t in material.tiers),
        "created_at": _instant(created_at),
        "answers": answers,
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


# --------------------------------------------------------------------------- feedback


def encode_feedback(feedback: Feedback, answers: Answers, outbox: list[OutboxEntry]) -> Document:
    return {
        "_id": feedback.feedback_id,
        "partner_id": feedback.partner_id,
        "rating": feedback.rating,
        "topic": feedback.topic,
        "text": feedback.text,
        "submitted_at": _instant(feedback.submitted_at),
        "product_line": feedback.product_line,
        "answers": answers,
        **encode_outbox(outbox),
    }


def decode_feedback(doc: Mapping[str, Any]) -> Feedback:
    return Feedback(
        feedback_id=doc["_id"],
        partner_id=doc["partner_id"],
        rating=int(doc["rating"]),
        topic=doc["topic"],
        text=doc["text"],
        submitted_at=datetime.fromisoformat(doc["submitted_at"]),
        product_line=doc.get("product_line"),
    )


def feedback_query(
    since: datetime | None, until: datetime | None, product_line: str | None
) -> Document:
    """The filter of the feedback submitted from ``since`` (included) to ``until``
    (excluded) of ``product_line`` (every line when None). Instants are stored as ISO 8601
    text in UTC, which sorts as the instants do."""
    query: Document = {}
    if product_line is not None:
        query["product_line"] = product_line
    span: Document = {}
    if since is not None:
        span["$gte"] = _instant(since.astimezone(UTC))
    if until is not None:
        span["$lt"] = _instant(until.astimezone(UTC))
    if span:
        query["submitted_at"] = span
    return query


# --------------------------------------------------------------------------- the store


class Store(Protocol):
    """What the commands, the consumer and the reads need of persistence:
    :class:`EnablementStore` on MongoDB, an in-memory fake in the unit tests.

    ``save_*`` write only if nobody wrote the document since it was read and
    say which lost (a set of keys, or False); ``add_*`` insert a new item and
    return False when one with its id exists already.
    """

    async def load_catalogue(self) -> Catalogue: ...
    async def definitions_version(self) -> int: ...
    async def save_catalogue(self, catalogue: Catalogue) -> bool: ...

    async def load_learners(self, keys: Iterable[tuple[str, str]]) -> dict[str, Learner]: ...
    async def load_learner(self, partner_id: str, learner_id: str) -> Learner: ...
    async def find_learner(self, partner_id: str, learner_id: str) -> Learner | None: ...
    async def learner_with_answer(self, digest: str) -> Learner | None: ...
    async def learners_of(self, partner_id: str) -> list[Learner]: ...
    async def stale_learners(self, definitions_version: int, limit: int) -> list[Learner]: ...
    async def save_learners(self, learners: Iterable[Learner]) -> set[str]: ...

    async def load_standings(self, partner_ids: Iterable[str]) -> dict[str, StandingRecord]: ...
    async def standing(self, partner_id: str) -> PartnerStanding | None: ...
    async def save_standings(self, records: Iterable[StandingRecord]) -> set[str]: ...

    async def load_ledger(self, partner_id: str, quarter: str) -> MdfLedger: ...
    async def ledger_with_answer(self, digest: str) -> MdfLedger | None: ...
    async def ledger_of_request(self, request_id: str) -> MdfLedger | None: ...
    async def ledgers_of(self, partner_id: str) -> list[MdfLedger]: ...
    async def ledgers_with_status(self, status: MdfStatus, limit: int) -> list[MdfLedger]: ...
    async def approved_ledgers_through(self, quarter: str) -> list[MdfLedger]: ...
    async def save_ledger(self, ledger: MdfLedger) -> bool: ...

    async def load_claim_book(self, partner_id: str) -> MdfClaimBook: ...
    async def save_claim_book(self, book: MdfClaimBook) -> bool: ...
    async def claims_with_status(self, status: MdfClaimStatus | None) -> list[MdfClaim]: ...

    async def add_material(
        self, material: SalesMaterial, created_at: datetime, answers: Answers
    ) -> bool: ...
    async def material_answers(self, material_id: str) -> Answers | None: ...
    async def materials_matching(
        self, product_line: str | None, tier: Tier | None, limit: int
    ) -> list[SalesMaterial]: ...

    async def add_feedback(
        self, feedback: Feedback, answers: Answers, outbox: list[OutboxEntry]
    ) -> bool: ...
    async def feedback_answers(self, feedback_id: str) -> Answers | None: ...
    async def feedback_of(self, partner_id: str, limit: int) -> list[Feedback]: ...
    async def feedback_between(
        self, since: datetime | None, until: datetime | None, product_line: str | None
    ) -> list[Feedback]: ...


class EnablementStore:
    """The :class:`Store` on MongoDB (or FerretDB)."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.catalogue = database[CATALOGUE]
        self.learners = database[LEARNERS]
        self.partners = database[PARTNERS]
        self.mdf_ledgers = database[MDF_LEDGERS]
        self.mdf_claims = database[MDF_CLAIMS]
        self.feedback = database[FEEDBACK]
        self.materials = database[MATERIALS]
        self.locators = database[LOCATORS]

    @property
    def with_outbox(self) -> list[AsyncCollection[Document]]:
        """The collections whose documents carry an outbox."""
        return [self.learners, self.mdf_ledgers, self.mdf_claims, self.feedback]

    async def create_indexes(self) -> None:
        """One index per query path (the ``_id`` lookups need none); see
        :func:`shared.mongo.create_lookup_indexes`."""
        for collection in self.with_outbox:
            await create_lookup_indexes(
                collection, [("by_outbox_entry", [("outbox.id", ASCENDING)])]
            )
        await create_lookup_indexes(
            self.learners,
            [
                ("by_catalogue_version", [("catalogue_version", ASCENDING)]),
                ("by_partner", [("partner_id", ASCENDING), ("learner_id", ASCENDING)]),
            ],
        )
        await create_lookup_indexes(
            self.mdf_ledgers,
            [
                ("by_partner", [("partner_id", ASCENDING), ("quarter", ASCENDING)]),
                ("by_status", [("requests.status", ASCENDING)]),
            ],
        )
        await create_lookup_indexes(
            self.mdf_claims, [("by_status", [("claims.status", ASCENDING)])]
        )
        await create_lookup_indexes(
            self.feedback,
            [
                ("by_partner", [("partner_id", ASCENDING), ("submitted_at", DESCENDING)]),
                ("by_submitted_at", [("submitted_at", ASCENDING)]),
                ("by_product_line", [("product_line", ASCENDING), ("submitted_at", ASCENDING)]),
            ],
        )
        await create_lookup_indexes(
            self.materials,
            [
                ("by_product_line", [("product_line", ASCENDING), ("title", ASCENDING)]),
                ("by_tier", [("tiers", ASCENDING)]),
            ],
        )

    # ------------------------------------------------------------- catalogue

    async def load_catalogue(self) -> Catalogue:
        doc = await self.catalogue.find_one({"_id": CATALOGUE_ID})
        return Catalogue() if doc is None else decode_catalogue(doc)

    async def definitions_version(self) -> int:
        """The catalogue's definitions version (0 before any definition)."""
        doc = await self.catalogue.find_one({"_id": CATALOGUE_ID}, {"definitions_version": 1})
        return 0 if doc is None else int(doc["definitions_version"])

    async def save_catalogue(self, catalogue: Catalogue) -> bool:
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
        """The learners by key, a new one for each not stored yet."""
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

    async def learner_with_answer(self, digest: str) -> Learner | None:
        """The learner a locator names for the answer to ``digest``; check its answers."""
        doc = await self._located(self.learners, answer_locator(LEARNERS, digest))
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
        learners = list(learners)
        await self._locate({x.key: x.locators - x.located for x in learners})
        lost = await replace_if_unchanged(
            self.learners, [(encode_learner(x, x.version + 1), x.version) for x in learners]
        )
        for learner in learners:
            if learner.key not in lost:
                learner.version += 1
                learner.located = learner.locators
        return lost

    # ------------------------------------------------------------- partners

    async def load_standings(self, partner_ids: Iterable[str]) -> dict[str, StandingRecord]:
        """The standings by partner id, an empty one for each partner not known yet."""
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

    async def ledger_with_answer(self, digest: str) -> MdfLedger | None:
        """The ledger a locator names for the answer to ``digest``; check its answers."""
        doc = await self._located(self.mdf_ledgers, answer_locator(MDF_LEDGERS, digest))
        return None if doc is None else decode_ledger(doc)

    async def ledger_of_request(self, request_id: str) -> MdfLedger | None:
        doc = await self._located(self.mdf_ledgers, request_locator(request_id))
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

    async def approved_ledgers_through(self, quarter: str) -> list[MdfLedger]:
        """The ledgers of ``quarter`` and earlier holding an approved request, by partner."""
        query = {"quarter": {"$lte": quarter}, "requests.status": MdfStatus.APPROVED.value}
        return [decode_ledger(doc) async for doc in self.mdf_ledgers.find(query).sort("_id", 1)]

    async def save_ledger(self, ledger: MdfLedger) -> bool:
        await self._locate({ledger.key: ledger.locators - ledger.located})
        lost = await replace_if_unchanged(
            self.mdf_ledgers, [(encode_ledger(ledger, ledger.version + 1), ledger.version)]
        )
        if lost:
            return False
        ledger.version += 1
        ledger.located = ledger.locators
        return True

    # ------------------------------------------------------------- MDF claims

    async def load_claim_book(self, partner_id: str) -> MdfClaimBook:
        """The partner's claim book, an empty one before its first claim."""
        doc = await self.mdf_claims.find_one({"_id": partner_id})
        return MdfClaimBook(partner_id) if doc is None else decode_claim_book(doc)

    async def save_claim_book(self, book: MdfClaimBook) -> bool:
        lost = await replace_if_unchanged(
            self.mdf_claims, [(encode_claim_book(book, book.version + 1), book.version)]
        )
        if lost:
            return False
        book.version += 1
        return True

    async def claims_with_status(self, status: MdfClaimStatus | None) -> list[MdfClaim]:
        """Every partner's claims of ``status`` (any: every claim), by partner, from the
        claim books holding one. Nothing but the books holds claims, so this reads every
        claim of each such book, decided ones too (their answers and outbox are left
        out); on FerretDB v1, which indexes nothing, every book is decoded to find them
        (docs/rules/enablement.md, "What listing claims costs")."""
        query: dict[str, Any] = {} if status is None else {"claims.status": status.value}
        found: list[MdfClaim] = []
        cursor = self.mdf_claims.find(query, {"partner_id": 1, "claims": 1}).sort("_id", 1)
        async for doc in cursor:
            found.extend(
                decode_mdf_claim(doc["partner_id"], c)
                for c in doc["claims"]
                if status is None or c["status"] == status.value
            )
        return found

    # ------------------------------------------------------------- locators

    async def _locate(self, locators: Mapping[str, Iterable[str]]) -> None:
        """Record that each document (by ``_id``) holds what its locators name."""
        await insert_new(
            self.locators,
            [
                {"_id": locator, "doc": doc_id}
                for doc_id, new in locators.items()
                for locator in new
            ],
        )

    async def _located(
        self, collection: AsyncCollection[Document], locator: str
    ) -> Document | None:
        found = await self.locators.find_one({"_id": locator})
        return None if found is None else await collection.find_one({"_id": found["doc"]})

    # ------------------------------------------------------------- materials and feedback

    async def add_material(
        self, material: SalesMaterial, created_at: datetime, answers: Answers
    ) -> bool:
        return (
            await insert_new(self.materials, [encode_material(material, created_at, answers)]) == 1
        )

    async def material_answers(self, material_id: str) -> Answers | None:
        doc = await self.materials.find_one({"_id": material_id}, {"answers": 1})
        return None if doc is None else dict(doc["answers"])

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

    async def add_feedback(
        self, feedback: Feedback, answers: Answers, outbox: list[OutboxEntry]
    ) -> bool:
        return await insert_new(self.feedback, [encode_feedback(feedback, answers, outbox)]) == 1

    async def feedback_answers(self, feedback_id: str) -> Answers | None:
        doc = await self.feedback.find_one({"_id": feedback_id}, {"answers": 1})
        return None if doc is None else dict(doc["answers"])

    async def feedback_of(self, partner_id: str, limit: int) -> list[Feedback]:
        """The partner's feedback, newest first."""
        return [
            decode_feedback(doc)
            async for doc in self.feedback.find({"partner_id": partner_id}, WITHOUT_OUTBOX)
            .sort("submitted_at", -1)
            .limit(limit)
        ]

    async def feedback_between(
        self, since: datetime | None, until: datetime | None, product_line: str | None
    ) -> list[Feedback]:
        """The feedback submitted from ``since`` to ``until`` (:func:`feedback_query`), by
        ``submitted_at`` then id: every item at once, without answers or outbox."""
        cursor = self.feedback.find(
            feedback_query(since, until, product_line), {**WITHOUT_OUTBOX, "answers": 0}
        ).sort([("submitted_at", ASCENDING), ("_id", ASCENDING)])
        return [decode_feedback(doc) async for doc in cursor]
