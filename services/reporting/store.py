"""Reporting's read models in MongoDB: their collections, stored forms, caches and writes.

**Every write commutes.** Each consumed event becomes upserts built only from
``$setOnInsert``, ``$set`` of a key that names the event's version (whose
content never changes), ``$max``, ``$min`` and ``$addToSet``. Applying the
same events in any order, any number of times, leaves the same documents:
exactly-once effect and order independence with single-document atomic
writes and no conditions that can fail. The current value of a thing is the
entry under the greatest version key (``domain.current``).

The ``history`` buckets keep it as the reader sees them: a batch ``$push``es one
chunk of entries to each bucket it touches, and a bucket is read as the set of
its entries, each event once at its earliest receipt (``history.in_order``);
the chunks themselves depend on how the events were batched (a rebuild's
comparison reads them as entries, :meth:`Generation.snapshot`).

The ``lines`` keep the property another way: a partner's revisions are
merged in memory (a set union, so still any order, any number of times) and
written whole, conditional on the document's ``version``
(:meth:`Generation.merge_lines`); a writer that loses reads the document
again and merges once more.

Collections (per *generation*, ``g<N>_<name>``, so a rebuild fills fresh ones
while readers keep using the active ones):

- ``partners``: lifecycle facts per partner, plus ``view``, the current
  profile, status, tier and contract derived from those facts
  (``domain.partner_view``);
- ``lines``: one document per partner holding, per deal, every
  CommissionCalculated revision (:class:`PartnerLines`), and ``terms``: what
  the period totals take from the partner's facts (its name and contracts,
  ``projection.partner_terms``), so that a batch of commissions reads
  nothing but the lines it writes anyway;
- ``period_totals``: per partner and period, derived from ``lines``;
- ``deals``: DealClosed versions and the earliest cancellation per deal;
- ``trainings``, ``certifications``, ``feedback``, ``mdf``: facts keyed by
  their natural identity;
- ``payouts``: one document per (settlement, partner), from PayoutSettled,
  which the finance export reads by settlement;
- ``partner_payouts``: per partner, the same documents under
  ``settlements.<settlement key>``, which statements and a partner's payouts
  read by ``_id``;
- ``partner_adjustments``: per partner, each CommissionAdjusted's fields under
  ``adjustments.<adjustment key>.<version key>`` (``domain.adjustments_of``:
  the earliest version stands, so an id counts once), which statements and
  payouts read by ``_id``;
- ``history``: per partner and day of receipt (``{partner}|{day}``), the
  entries of every event about the partner, as compressed chunks
  (:mod:`services.reporting.history`);
- ``partner_inquiries``: per partner, each inquiry's CommissionInquiryOpened
  and CommissionInquiryResolved fields under
  ``inquiries.<inquiry key>.opened.<version key>`` and ``….resolved.<version
  key>`` (``domain.inquiries_of``), which statements and the partner 360
  read by ``_id``;
- ``partner_mdf``: per partner, the facts of its MDF requests and claims, each
  under its id and the event's version key (``requests.<request key>.requested
  .<version key>``, ``….approved.…``, ``….rejected.…``;
  ``claims.<claim key>.submitted.<version key>``, ``….approved.…``,
  ``….rejected.…``), the releases of each request's unclaimed funds
  (``released.<request key>.<version key>``, from MdfFundsReleased), and the
  claims settlements paid (``reimbursed.<claim key>.<settlement key>``, from
  PayoutSettled's ``mdf_claims``), which the partner's MDF position, the
  partner 360 and the programme summary read (``domain.mdf_amounts``).

``meta`` (not per generation) says which generation is active and which is
being built.

**FerretDB specifics.** FerretDB v1 serves only a filter of one ``_id``
equality from an index and decodes a stored document field by field on
every read and update. Hence the stored form of ``lines``: the mapping deal
key → revision key → the revision's fields as JSON text, compressed whole
into ``state`` (and ``terms`` compressed beside it), one lookup by ``_id``
per partner (a revision takes about 300 bytes before compression: the 16 MB
document limit allows well over 50 000 revisions per partner). Hence too
``partner_payouts`` beside ``payouts``, and the readers' lookups by ``_id``
(:meth:`Generation.find_by_ids`). FerretDB v1 does not store an empty array
given in an upsert: :func:`decode_payout` gives a stored payout its empty lists
back.

The projection and the queries reach the database only through this module:
:data:`Database`, :class:`Generation` and the decoders here.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.domain import (
    Adjustment,
    Inquiry,
    Line,
    MdfAmount,
    StatedRevision,
    adjustments_of,
    current_key,
    inquiries_of,
    mdf_amounts,
    version_event,
)
from services.reporting.history import in_order
from shared.cache import BoundedCache
from shared.commands import retry_until_written
from shared.mongo import Document as Document  # what the projection and queries handle
from shared.mongo import (
    bulk_write_chunked,
    create_lookup_indexes,
    find_by_ids,
    replace_if_unchanged,
    upsert_new,
)

COLLECTIONS = (
    "partners",
    "lines",
    "period_totals",
    "deals",
    "trainings",
    "certifications",
    "feedback",
    "mdf",
    "payouts",
    "partner_payouts",
    "partner_adjustments",
    "partner_inquiries",
    "partner_mdf",
    "surveys",
    "history",
)
META = "meta"
GENERATIONS = "generations"
FIRST_GENERATION = "g1"

#: The read models' database (its ``meta`` and every generation's collections).
Database = AsyncDatabase[Document]

#: The read API's query paths (on MongoDB; see ``shared.mongo.create_lookup_indexes``).
INDEXES: dict[str, list[tuple[str, list[tuple[str, int]]]]] = {
    "partners": [
        ("by_status", [("view.status", ASCENDING), ("_id", ASCENDING)]),
        ("by_tier", [("view.tier", ASCENDING), ("_id", ASCENDING)]),
        ("by_region", [("view.region", ASCENDING), ("_id", ASCENDING)]),
        ("by_industry", [("view.industry", ASCENDING), ("_id", ASCENDING)]),
        ("by_capability", [("view.capabilities", ASCENDING), ("_id", ASCENDING)]),
    ],
    "period_totals": [
        ("by_revenue", [("period", ASCENDING), ("revenue_sort", DESCENDING)]),
        ("by_commission", [("period", ASCENDING), ("commission_sort", DESCENDING)]),
        ("by_attainment", [("period", ASCENDING), ("attainment_sort", DESCENDING)]),
    ],
    "trainings": [
        ("by_partner", [("partner_id", ASCENDING)]),
        ("by_day", [("completed_at", ASCENDING)]),
    ],
    "certifications": [
        ("by_partner", [("partner_id", ASCENDING)]),
        ("by_day", [("awarded_at", ASCENDING)]),
    ],
    "feedback": [("by_partner", [("partner_id", ASCENDING)])],
    "surveys": [("by_partner", [("partners", ASCENDING)])],
    "mdf": [("by_status", [("status_rank", ASCENDING)])],
    "payouts": [
        ("by_settlement", [("settlement_id", ASCENDING), ("partner_id", ASCENDING)]),
    ],
}

#: Collections whose documents a batch mostly creates (one per deal, training, …): their
#: upserts go through ``shared.mongo.upsert_new``, which inserts many in one command.
MOSTLY_NEW = frozenset({"deals", "trainings", "certifications", "feedback", "mdf", "payouts"})
#: Revisions whose partners' lines stay in memory between batches, per generation.
LINES_CACHE_REVISIONS = 200_000
#: zlib level of a lines document's stored state.
STATE_COMPRESSION = 1


# --------------------------------------------------------------------------- field names


def deal_key(deal_id: str) -> str:
    """A deal id as a field name: no ``.`` (a path separator), no leading ``$``; reversible."""
    return deal_id.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def settlement_key(settlement_id: str) -> str:
    """A settlement id as a field name, escaped as :func:`deal_key` escapes deal ids."""
    return deal_key(settlement_id)


def adjustment_key(adjustment_id: str) -> str:
    """An adjustment id as a field name, escaped as :func:`deal_key` escapes deal ids."""
    return deal_key(adjustment_id)


def inquiry_key(inquiry_id: str) -> str:
    """An inquiry id as a field name, escaped as :func:`deal_key` escapes deal ids."""
    return deal_key(inquiry_id)


def request_key(request_id: str) -> str:
    """An MDF request id as a field name, escaped as :func:`deal_key` escapes deal ids."""
    return deal_key(request_id)


def claim_key(claim_id: str) -> str:
    """An MDF claim id as a field name, escaped as :func:`deal_key` escapes deal ids."""
    return deal_key(claim_id)


def revision_key(revision: int) -> str:
    """A revision number as a field name whose text order is the numbers' order."""
    return f"r{revision:09d}"


def revision_number(key: str) -> int:
    return int(key[1:])


# --------------------------------------------------------------------------- lines


def revision_text(fields: Mapping[str, Any]) -> str:
    """A CommissionCalculated revision's fields as stored: JSON text."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def first_received(stored: str, text: str) -> str:
    """Of two texts of one revision, the one received first (``at``: the Kafka timestamp
    of the record it came in, when known) if they say the same otherwise; else ``text``,
    the one consumed last."""
    old, new = dict(revision_fields(stored)), dict(revision_fields(text))
    old_at, new_at = old.pop("at", None), new.pop("at", None)
    if old != new:
        return text
    if new_at is not None and (old_at is None or new_at < old_at):
        return text
    return stored


def revision_fields(text: str) -> Mapping[str, Any]:
    fields: Mapping[str, Any] = json.loads(text)
    return fields


def line_revisions(doc: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """A partner's stored ``lines`` document as deal key → revision key → revision text."""
    if not doc:
        return {}
    revisions: dict[str, dict[str, str]] = json.loads(zlib.decompress(doc["state"]))
    return revisions


def _compressed(value: Any) -> Binary:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return Binary(zlib.compress(text.encode(), STATE_COMPRESSION))


def encode_terms(terms: Document) -> Binary:
    """A partner's ``terms`` as stored: compressed JSON, sorted, so equal terms are equal
    bytes."""
    return _compressed(terms)


def decode_terms(stored: bytes) -> Document:
    terms: Document = json.loads(zlib.decompress(stored))
    return terms


@dataclass(slots=True)
class PartnerLines:
    """A partner's CommissionCalculated revisions (as JSON text) by deal and revision key,
    the ``version`` they are stored at (0: not stored), and the partner's ``terms``."""

    partner_id: str
    version: int
    deals: dict[str, dict[str, str]]
    revisions: int = 0
    terms: Document | None = None

    def __post_init__(self) -> None:
        self.revisions = sum(len(revisions) for revisions in self.deals.values())

    def add(self, revisions: list[tuple[str, str, str]]) -> bool:
        """Set revisions (deal key, revision key, text), in the order consumed; whether any
        changed.

        A revision's content does not change, so setting it again changes
        nothing; received again later (published again), it keeps the instant it
        was first received (:func:`first_received`). Should two producers ever
        publish different contents under one revision, the one consumed last
        stands, as ``$set`` would: a rebuild, which consumes in the same order,
        then agrees.
        """
        changed = False
        for deal, revision, text in revisions:
            known = self.deals.setdefault(deal, {})
            stored = known.get(revision)
            if stored != text:
                if stored is None:
                    self.revisions += 1
                else:
                    text = first_received(stored, text)
                    if text == stored:
                        continue
                known[revision] = text
                changed = True
        return changed

    def merge(self, revisions: list[tuple[str, str, str]], terms: Document | None) -> bool:
        """Add the revisions and set the terms (None: keep them); whether anything changed."""
        changed = self.add(revisions)
        if terms is not None and self.terms != terms:
            self.terms = terms
            changed = True
        return changed


def encode_lines(lines: PartnerLines, version: int) -> Document:
    doc = {"_id": lines.partner_id, "version": version, "state": _compressed(lines.deals)}
    if lines.terms is not None:
        doc["terms"] = encode_terms(lines.terms)
    return doc


def decode_lines(doc: Document) -> PartnerLines:
    terms = decode_terms(doc["terms"]) if doc.get("terms") else None
    return PartnerLines(doc["_id"], int(doc["version"]), line_revisions(doc), terms=terms)


def _parse_line(partner_id: str, key: str, text: str) -> Line:
    return Line.from_revision(partner_id, revision_number(key), revision_fields(text))


def _parse_period(text: str) -> str | None:
    period: str | None = revision_fields(text).get("period")
    return period


class LinesCache:
    """What a process keeps of the partners' lines: per generation, the documents it read
    or wrote last (every write still checks their version), and the lines parsed from the
    most recent revision texts (a partner's lines are derived again at every batch that
    touches it, from mostly the same texts).

    ``revisions``: the documents' budget per generation, in revisions (about 0.5 KB each);
    the lines parsed from the last half that many texts are kept (about 1.2 KB each).
    0 keeps nothing.
    """

    def __init__(self, revisions: int = LINES_CACHE_REVISIONS) -> None:
        self.revisions = revisions
        self._documents: dict[str, BoundedCache[str, PartnerLines]] = {}
        self._line = lru_cache(maxsize=revisions // 2)(_parse_line)
        self._period = lru_cache(maxsize=revisions // 2)(_parse_period)

    def documents(self, generation: str) -> BoundedCache[str, PartnerLines]:
        cache = self._documents.get(generation)
        if cache is None:
            cache = self._documents[generation] = BoundedCache(self.revisions)
        return cache

    def clear(self) -> None:
        """Forget every document (the parsed lines stay: a text always gives one line)."""
        self._documents.clear()

    def current_lines(self, partner_id: str, deals: Mapping[str, Mapping[str, str]]) -> list[Line]:
        """Every deal's current line: the line of its highest revision."""
        lines = []
        for revisions in deals.values():
            key = current_key(revisions)
            if key is not None:
                lines.append(self._line(partner_id, key, revisions[key]))
        return lines

    def named_periods(self, deals: Mapping[str, Mapping[str, str]]) -> set[str | None]:
        """The periods that any revision of any deal names."""
        return {self._period(text) for revisions in deals.values() for text in revisions.values()}


# --------------------------------------------------------------------------- a batch's writes


@dataclass(slots=True)
class _Paths:
    """The paths one folded update sets, by operator, and every path that encloses one.

    Asking whether a new path overlaps one of them costs its depth, not their
    number (a partner's lines gather one path per revision).
    """

    operators: dict[str, str] = field(default_factory=dict)
    enclosing: set[str] = field(default_factory=set)

    def conflict(self, update: Document) -> bool:
        """Whether a path of ``update`` touches one of these under another operator or
        another spelling (equal under another operator, or one inside the other), which
        MongoDB rejects in one update."""
        for op, fields in update.items():
            for path in fields:
                known = self.operators.get(path)
                if known is not None:
                    if known != op:
                        return True
                    continue
                if path in self.enclosing:
                    return True
                dot = path.find(".")
                while dot != -1:
                    if path[:dot] in self.operators:
                        return True
                    dot = path.find(".", dot + 1)
        return False

    def add(self, update: Document) -> None:
        for op, fields in update.items():
            for path in fields:
                self.operators[path] = op
                dot = path.find(".")
                while dot != -1:
                    self.enclosing.add(path[:dot])
                    dot = path.find(".", dot + 1)


def _fold(into: Document, update: Document) -> None:
    """Fold ``update`` into ``into`` as applying both in turn would (no path overlapping
    another under another operator, see :meth:`_Paths.conflict`).

    ``$set``/``$setOnInsert`` keep the later value, ``$max``/``$min`` the
    greater/lesser, ``$addToSet`` collects ``$each``.
    """
    for op, fields in update.items():
        target = into.setdefault(op, {})
        for path, value in fields.items():
            if path not in target or op in ("$set", "$setOnInsert"):
                if op == "$addToSet":
                    target[path] = {"$each": [value]}
                else:
                    target[path] = value
            elif op == "$max":
                target[path] = max(target[path], value)
            elif op == "$min":
                target[path] = min(target[path], value)
            elif op == "$addToSet":
                target[path]["$each"].append(value)


@dataclass
class Writes:
    """The upserts of one batch, by collection and document, and the partners whose
    derived documents (view, lines, period totals) the batch changes.

    Updates of one document are folded into one where that is the same as
    applying them in turn (see :func:`_fold`): a batch writes each document
    it touches about once; an update that would conflict with what is folded
    so far starts the next one.
    """

    by_collection: dict[str, dict[Any, list[Document]]] = field(default_factory=dict)
    partners: set[str] = field(default_factory=set)
    #: When the event being projected was received: its Kafka record's timestamp (UTC
    #: text), the earliest if it came more than once; None when not known.
    received_at: str | None = None
    #: The partners' history entries of the batch, by bucket (``history.bucket_id``).
    history: dict[str, tuple[str, list[Document]]] = field(default_factory=dict)

    def remember(self, bucket: str, partner_id: str, entry: Document) -> None:
        """Keep a history entry for the bucket of its partner and day."""
        self.history.setdefault(bucket, (partner_id, []))[1].append(entry)

    _paths: dict[tuple[str, Any], _Paths] = field(default_factory=dict, repr=False)

    def add(self, collection: str, doc_id: Any, update: Document) -> None:
        updates = self.by_collection.setdefault(collection, {}).setdefault(doc_id, [])
        paths = self._paths.get((collection, doc_id))
        if paths is None or not updates or paths.conflict(update):
            updates.append({})
            paths = self._paths[(collection, doc_id)] = _Paths()
        _fold(updates[-1], update)
        paths.add(update)

    def operations(self, collection: str) -> list[UpdateOne]:
        return [
            UpdateOne({"_id": doc_id}, update, upsert=True)
            for doc_id, updates in self.by_collection.get(collection, {}).items()
            for update in updates
        ]

    def __len__(self) -> int:
        return sum(
            len(updates) for docs in self.by_collection.values() for updates in docs.values()
        )


def _added_revisions(updates: dict[Any, list[Document]]) -> dict[str, list[tuple[str, str, str]]]:
    """The revisions (deal key, revision key, text) that ``$set`` updates of
    ``deals.<deal key>.<revision key>`` add, per partner."""
    added: dict[str, list[tuple[str, str, str]]] = {}
    for partner_id, partner_updates in updates.items():
        for update in partner_updates:
            for path, text in update.get("$set", {}).items():
                _, deal, revision = path.split(".")
                added.setdefault(partner_id, []).append((deal, revision, text))
    return added


# --------------------------------------------------------------------------- payouts


def decode_payout(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored payout (``payouts``, or one under ``partner_payouts``) as the projection
    wrote it: FerretDB v1 leaves out an empty ``carried_adjustments``, ``unrecovered``,
    ``mdf_claims`` or ``mdf_other_currencies``, so a missing list is given back empty (and a payout recorded before
    MDF claims were paid paid none)."""
    return {
        "carried_adjustments": [],
        "unrecovered": [],
        "mdf_reimbursed": "0.00",
        "mdf_claims": [],
        "mdf_other_currencies": [],
        **stored,
    }


# --------------------------------------------------------------------------- adjustments, inquiries


def decode_adjustments(doc: Mapping[str, Any] | None) -> list[Adjustment]:
    """A partner's ``partner_adjustments`` document as its adjustments, each id once
    (``domain.adjustments_of``)."""
    return adjustments_of((doc or {}).get("adjustments"))


def received_adjustments(
    doc: Mapping[str, Any] | None,
) -> list[tuple[Adjustment, str | None, str | None]]:
    """A partner's adjustments (each id once, in the order of :func:`decode_adjustments`),
    each with when it was first received (UTC text, or None) and the id of the event that
    stands."""
    stored = (doc or {}).get("adjustments") or {}
    received = (doc or {}).get("received") or {}
    found: list[tuple[Adjustment, str | None, str | None]] = []
    for key, versions in stored.items():
        if versions:
            version = min(versions)
            found.append(
                (Adjustment.of(versions[version]), received.get(key), version_event(version)[1])
            )
    return sorted(found, key=lambda found: (found[0].adjusted_at, found[0].adjustment_id))


def stated_revisions(
    partner_id: str, deals: Mapping[str, Mapping[str, str]]
) -> list[StatedRevision]:
    """Every revision of a partner's lines (deal key → revision key → text), each with when
    it was received, its event's id and time and its reason, as far as stored."""
    found = []
    for revisions in deals.values():
        for key, text in revisions.items():
            fields = revision_fields(text)
            version = fields.get("v")
            time, event_id = version_event(version) if version else (None, None)
            line = Line.from_revision(partner_id, revision_number(key), fields)
            found.append(
                StatedRevision(line, fields.get("at"), event_id, time, fields.get("reason"))
            )
    return found


def encode_history(entries: list[Document]) -> Binary:
    """A batch's history entries of one bucket as stored: one compressed JSON chunk (a
    bucket's chunks are one field each to FerretDB)."""
    return _compressed(entries)


def decode_history(buckets: Iterable[Mapping[str, Any]]) -> Iterator[Document]:
    """Every entry of the stored history ``buckets``, as chunked (duplicates included)."""
    for bucket in buckets:
        for stored in bucket.get("chunks", []):
            yield from json.loads(zlib.decompress(bytes(stored)))


def decode_inquiries(doc: Mapping[str, Any] | None) -> list[Inquiry]:
    """A partner's ``partner_inquiries`` document as its inquiries, oldest first
    (``domain.inquiries_of``)."""
    return inquiries_of((doc or {}).get("inquiries"))


# --------------------------------------------------------------------------- MDF


def decode_mdf(doc: Mapping[str, Any] | None) -> list[MdfAmount]:
    """A partner's ``partner_mdf`` document as the amounts of its MDF position
    (``domain.mdf_amounts``)."""
    doc = doc or {}
    return mdf_amounts(
        doc.get("requests"), doc.get("claims"), doc.get("reimbursed"), doc.get("released")
    )


# --------------------------------------------------------------------------- generations


class Generation:
    """The collections of one generation of the read models, and the process's cache of
    its lines (``lines``: shared by every ``Generation`` of the process; default one of
    its own)."""

    def __init__(self, database: Database, name: str, lines: LinesCache | None = None) -> None:
        self.name = name
        self.database = database
        self.lines = LinesCache() if lines is None else lines

    def __getitem__(self, collection: str) -> AsyncCollection[Document]:
        return self.database[f"{self.name}_{collection}"]

    @property
    def _cache(self) -> BoundedCache[str, PartnerLines]:
        return self.lines.documents(self.name)

    async def create_indexes(self) -> None:
        for collection, indexes in INDEXES.items():
            await create_lookup_indexes(self[collection], indexes)

    async def apply(self, writes: Writes) -> None:
        """One unordered bulk write per collection touched, but ``lines``: those are merged
        by :meth:`merge_lines`, with the partners' terms (``projection.derive``)."""
        for collection, docs in writes.by_collection.items():
            if collection == "lines":
                continue
            if collection in MOSTLY_NEW:
                await upsert_new(
                    self[collection],
                    [(doc_id, update) for doc_id, updates in docs.items() for update in updates],
                )
                continue
            operations = writes.operations(collection)
            if operations:
                await bulk_write_chunked(self[collection], operations)

    async def write_history(self, writes: Writes) -> None:
        """The batch's history entries: one chunk more in each bucket it touches (a
        bucket's chunks are read as one set of entries, ``history.in_order``)."""
        if not writes.history:
            return
        await bulk_write_chunked(
            self["history"],
            [
                UpdateOne(
                    {"_id": bucket},
                    {
                        "$setOnInsert": {"partner_id": partner_id},
                        "$push": {"chunks": encode_history(entries)},
                    },
                    upsert=True,
                )
                for bucket, (partner_id, entries) in writes.history.items()
            ],
        )

    async def find_by_ids(self, collection: str, ids: Iterable[str]) -> dict[str, Document]:
        """The documents of ``collection`` with these ``_id``s, by ``_id`` (the lookup
        FerretDB serves from an index; see ``shared.mongo.find_by_ids``)."""
        return await find_by_ids(self[collection], list(ids))

    async def partners(self, partner_ids: Iterable[str]) -> dict[str, Document]:
        """The partners' documents (facts and view), by partner id; one read by ``_id``."""
        return await self.find_by_ids("partners", partner_ids)

    async def set_views(self, views: dict[str, Document]) -> None:
        """Write each partner's ``view`` (one bulk write)."""
        if views:
            await bulk_write_chunked(
                self["partners"],
                [UpdateOne({"_id": pid}, {"$set": {"view": view}}) for pid, view in views.items()],
            )

    async def write_period_totals(self, wanted: dict[str, Document], gone: list[str]) -> None:
        """Upsert the ``period_totals`` documents of ``wanted`` (by ``_id``) and delete
        those of ``gone`` (a deal moved to another period: one delete by ``_id`` each)."""
        for doc_id in gone:
            await self["period_totals"].delete_one({"_id": doc_id})
        if wanted:
            await bulk_write_chunked(
                self["period_totals"],
                [
                    UpdateOne({"_id": doc_id}, {"$set": doc}, upsert=True)
                    for doc_id, doc in wanted.items()
                ],
            )

    async def lines_of(
        self, partner_ids: Iterable[str]
    ) -> tuple[dict[str, PartnerLines], set[str]]:
        """The partners' lines as cached or stored (version 0 and no deals: none stored),
        and the partners whose lines were read from the server just now (not cached)."""
        wanted = set(partner_ids)
        read = {pid for pid in wanted if self._cache.get(pid) is None}
        return await self._lines_of(wanted), read

    def forget_lines(self, partner_ids: Iterable[str]) -> None:
        """Drop the partners' lines from this process's memory: read again next time."""
        self._cache.forget(partner_ids)

    async def merge_lines(
        self,
        updates: dict[Any, list[Document]],
        terms: Mapping[str, Document] | None = None,
        known: Mapping[str, PartnerLines] | None = None,
    ) -> tuple[dict[str, PartnerLines], set[str]]:
        """Add the revisions of ``updates`` (``$set`` of ``deals.<deal>.<revision>``) to the
        partners' lines, and set their ``terms``: each document rewritten once, conditional
        on its version, and only if something changed. Returns the lines as written, and
        the partners whose lines this call wrote or read from the server.

        A revision's content never changes, so adding is a set union: applying
        the same revisions in any order, any number of times, by any number of
        writers, gives the same document (see :meth:`PartnerLines.add` for
        contents that differ). The union is computed on the lines as cached or
        read (``known``: as just read) and written whole; a writer that lost to
        another reads the document again and adds its revisions to it. Terms
        are derived from the partner's facts, so setting them again is
        idempotent too.
        """
        added = _added_revisions(updates)
        terms = terms or {}
        written: dict[str, PartnerLines] = {}
        fresh: set[str] = set()
        partner_ids = set(added) | set(terms)
        # The first write may take the lines ``known``; a write again reads them.
        reuse = known is not None and partner_ids <= known.keys()

        async def write(pending: set[str]) -> set[str]:
            nonlocal reuse
            if reuse and known is not None:
                lines = {pid: known[pid] for pid in pending}
            else:
                fresh.update(pid for pid in pending if self._cache.get(pid) is None)
                lines = await self._lines_of(pending)
            reuse = False
            stored, lost = await self._write_merged(lines, added, terms)
            fresh.update(stored)
            written.update({pid: pl for pid, pl in lines.items() if pid not in lost})
            return lost

        await retry_until_written(partner_ids, write, what="the lines of this batch's partners")
        return written, fresh

    async def _write_merged(
        self,
        lines: dict[str, PartnerLines],
        added: Mapping[str, list[tuple[str, str, str]]],
        terms: Mapping[str, Document],
    ) -> tuple[set[str], set[str]]:
        """Merge into each partner's ``lines`` and write those that changed, conditional on
        the version they were read at; the partners whose write won, and those whose write
        lost."""
        try:
            changed = [
                pl for pid, pl in lines.items() if pl.merge(added.get(pid, []), terms.get(pid))
            ]
            lost: set[str] = await replace_if_unchanged(
                self["lines"], [(encode_lines(pl, pl.version + 1), pl.version) for pl in changed]
            )
        except BaseException:
            self._cache.forget(lines)  # merged in memory, perhaps not stored
            raise
        self._cache.forget(lost)
        stored = set()
        for pl in changed:
            if pl.partner_id not in lost:
                pl.version += 1
                self._cache.put(pl.partner_id, pl, pl.revisions)
                stored.add(pl.partner_id)
        return stored, lost

    async def _lines_of(self, partner_ids: set[str]) -> dict[str, PartnerLines]:
        found: dict[str, PartnerLines] = {}
        for pid in partner_ids:
            cached = self._cache.get(pid)
            if cached is not None:
                found[pid] = cached
        missing = [pid for pid in partner_ids if pid not in found]
        for pid, doc in (await find_by_ids(self["lines"], missing)).items():
            found[pid] = decode_lines(doc)
            self._cache.put(pid, found[pid], found[pid].revisions)
        for pid in missing:
            found.setdefault(pid, PartnerLines(pid, 0, {}))
        return found

    async def drop(self) -> None:
        for collection in COLLECTIONS:
            await self[collection].drop()

    async def snapshot(self) -> dict[str, list[Document]]:
        """Every document of every collection, sorted: for comparing generations.

        A ``lines`` document is given by its content (the revisions and the
        terms), not by how many writes made it (``version``) or which was last; a
        ``history`` bucket by its entries, not by how batches chunked them.
        """
        found = {
            collection: [doc async for doc in self[collection].find({}).sort("_id", ASCENDING)]
            for collection in COLLECTIONS
        }
        found["lines"] = [
            {
                "_id": doc["_id"],
                "deals": {
                    deal: {key: revision_fields(text) for key, text in revisions.items()}
                    for deal, revisions in line_revisions(doc).items()
                },
                "terms": decode_terms(doc["terms"]) if doc.get("terms") else None,
            }
            for doc in found["lines"]
        ]
        found["history"] = [
            {"_id": doc["_id"], "entries": in_order(decode_history([doc]), "", "~")}
            for doc in found["history"]
        ]
        return found


@dataclass(frozen=True)
class GenerationState:
    active: str
    building: str | None


async def generation_state(database: Database) -> GenerationState:
    doc = await database[META].find_one({"_id": GENERATIONS})
    if doc is None:
        return GenerationState(FIRST_GENERATION, None)
    return GenerationState(doc.get("active", FIRST_GENERATION), doc.get("building"))


async def set_generation_state(database: Database, state: GenerationState) -> None:
    await database[META].update_one(
        {"_id": GENERATIONS},
        {"$set": {"active": state.active, "building": state.building}},
        upsert=True,
    )


def next_generation(name: str) -> str:
    return f"g{int(name[1:]) + 1}"
