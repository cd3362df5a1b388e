"""Reporting's read models in MongoDB, and the writes that build them.

**Every write commutes.** Each consumed event becomes upserts built only from
``$setOnInsert``, ``$set`` of a key that names the event's version (whose
content never changes), ``$max`` and ``$min``. Applying the same events in
any order, any number of times, leaves the same documents: exactly-once
effect and order independence with single-document atomic writes and no
conditions that can fail (FerretDB v1 stops a bulk write at the first
failed condition). The current value of a thing is the entry under the
greatest version key (see ``domain.current``).

The ``lines`` are the exception that keeps the property: a partner's
revisions are merged in memory (a set union, so still any order, any number
of times) and written whole, compressed, conditional on the document's
``version`` (:meth:`Generation.merge_lines`); a writer that loses reads the
document again and merges once more.

Collections (per *generation*, ``g<N>_<name>``, so a rebuild fills fresh ones
while readers keep using the active ones):

- ``partners``: lifecycle facts per partner, plus ``view``, the current
  profile, status, tier and contract derived from those facts;
- ``lines``: one document per partner holding, per deal, every
  CommissionCalculated revision: deal key → revision key → the revision's
  fields as JSON text, the whole mapping zlib-compressed JSON in ``state``
  (``domain.line_revisions`` reads it, and the earlier layout of a ``deals``
  field with the same mapping); beside it, ``terms``: what the period totals
  take from the partner's facts (its name and contracts), derived like
  ``view`` but small and compressed, so that a batch of commissions reads
  nothing but the lines it writes anyway. FerretDB decodes a stored
  document field by field on every read and update, so the compressed form
  costs a fraction of the nested one. The statements and the period totals of a partner are one
  lookup by ``_id``, the only lookup FerretDB v1 serves from an index (a
  revision takes about 300 bytes before compression: the 16 MB document
  limit allows well over 50 000 revisions per partner);
- ``period_totals``: per partner and period, derived from ``lines``;
- ``deals``: DealClosed versions and the earliest cancellation per deal;
- ``trainings``, ``certifications``, ``feedback``, ``mdf``: facts keyed by
  their natural identity;
- ``payouts``: one document per (settlement, partner), from PayoutSettled
  (its content never changes, so ``$setOnInsert`` alone), which the finance
  export reads by settlement;
- ``partner_payouts``: per partner, the same documents under
  ``settlements.<settlement key>`` (``$set`` of content that never changes),
  which statements and a partner's payouts read by ``_id`` (a query of
  ``payouts`` by partner decodes every payout on FerretDB: 0.6 s at 12 000).
  Generations written before it existed are filled from ``payouts`` once
  (:meth:`Generation.backfill_partner_payouts`).

``meta`` (not per generation) says which generation is active and which is
being built.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.reporting.domain import (
    configure_parsed_revisions,
    line_revisions,
    revision_fields,
    settlement_key,
)
from shared.cache import BoundedCache
from shared.mongo import (
    Document,
    bulk_write_chunked,
    create_lookup_indexes,
    find_by_ids,
    replace_if_unchanged,
    upsert_new,
)

COLLECTIONS = (
    "partners",
    # Terms were kept in a collection of their own before they moved into ``lines``;
    # nothing writes it any more, and it goes with its generation.
    "terms",
    "lines",
    "period_totals",
    "deals",
    "trainings",
    "certifications",
    "feedback",
    "mdf",
    "payouts",
    "partner_payouts",
)
META = "meta"
GENERATIONS = "generations"
#: ``meta`` document naming the generations whose ``partner_payouts`` have been backfilled.
BACKFILLS = "backfills"
FIRST_GENERATION = "g1"

INDEXES: dict[str, list[tuple[str, list[tuple[str, int]]]]] = {
    "partners": [
        ("by_status", [("view.status", ASCENDING), ("_id", ASCENDING)]),
        ("by_tier", [("view.tier", ASCENDING), ("_id", ASCENDING)]),
        ("by_region", [("view.region", ASCENDING), ("_id", ASCENDING)]),
        ("by_industry", [("view.industry", ASCENDING), ("_id", ASCENDING)]),
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
    "mdf": [
        ("by_partner", [("partner_id", ASCENDING)]),
        ("by_status", [("status_rank", ASCENDING)]),
    ],
    "payouts": [
        ("by_settlement", [("settlement_id", ASCENDING), ("partner_id", ASCENDING)]),
    ],
}


#: Collections whose documents a batch mostly creates (one per deal, training, …): their
#: upserts go through ``shared.mongo.upsert_new``, which inserts many in one command.
MOSTLY_NEW = frozenset({"deals", "trainings", "certifications", "feedback", "mdf", "payouts"})
MAX_ATTEMPTS = 20
#: Revisions whose partners' lines stay in memory between batches, per generation.
LINES_CACHE_REVISIONS = 200_000
#: zlib level of a lines document's stored state.
STATE_COMPRESSION = 1


@dataclass(slots=True)
class PartnerLines:
    """A partner's CommissionCalculated revisions (as JSON text) by deal and revision key."""

    partner_id: str
    version: int
    deals: dict[str, dict[str, Any]]
    revisions: int = 0
    #: What the period totals take from the partner's facts (``projection.partner_terms``);
    #: None in a document written before they were kept here.
    terms: Document | None = None

    def __post_init__(self) -> None:
        self.revisions = sum(len(revisions) for revisions in self.deals.values())

    def add(self, revisions: list[tuple[str, str, str]]) -> bool:
        """Set revisions (deal key, revision key, text), in the order consumed; whether any
        changed.

        A revision's content does not change, so setting it again changes
        nothing. Should two producers ever publish different contents under
        one revision, the one consumed last stands, as ``$set`` did: a
        rebuild, which consumes in the same order, then agrees.
        """
        changed = False
        for deal, revision, text in revisions:
            known = self.deals.setdefault(deal, {})
            if known.get(revision) != text:
                if revision not in known:
                    self.revisions += 1
                known[revision] = text
                changed = True
        return changed


def _merge_into(
    lines: PartnerLines, revisions: list[tuple[str, str, str]], terms: Document | None
) -> bool:
    """Add the revisions and set the terms (None: keep them); whether anything changed."""
    changed = lines.add(revisions)
    if terms is not None and lines.terms != terms:
        lines.terms = terms
        changed = True
    return changed


def encode_lines(lines: PartnerLines, version: int) -> Document:
    text = json.dumps(lines.deals, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    doc = {
        "_id": lines.partner_id,
        "version": version,
        "state": Binary(zlib.compress(text.encode(), STATE_COMPRESSION)),
    }
    if lines.terms is not None:
        doc["terms"] = encode_terms(lines.terms)
    return doc


def encode_terms(terms: Document) -> Binary:
    """A partner's ``terms`` (see ``projection.partner_terms``) as stored: compressed JSON,
    sorted, so equal terms are equal bytes."""
    text = json.dumps(terms, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return Binary(zlib.compress(text.encode(), STATE_COMPRESSION))


def decode_terms(stored: bytes) -> Document:
    terms: Document = json.loads(zlib.decompress(stored))
    return terms


def decode_lines(doc: Document) -> PartnerLines:
    deals = {deal: dict(revisions) for deal, revisions in line_revisions(doc).items()}
    terms = decode_terms(doc["terms"]) if doc.get("terms") else None
    return PartnerLines(doc["_id"], int(doc["version"]), deals, terms=terms)


_LINES_CACHES: dict[tuple[str, str], BoundedCache[str, PartnerLines]] = {}


def lines_cache(database: str, generation: str) -> BoundedCache[str, PartnerLines]:
    """The process's cache of one generation's lines (every write still checks the version)."""
    key = (database, generation)
    cache = _LINES_CACHES.get(key)
    if cache is None:
        cache = _LINES_CACHES[key] = BoundedCache(LINES_CACHE_REVISIONS)
    return cache


def configure_lines_cache(revisions: int) -> None:
    """Set the budget of the lines caches (``LINES_CACHE_REVISIONS``); drops what they hold.

    The lines parsed from the most recent half of that many revision texts
    are kept too (:func:`domain.configure_parsed_revisions`).
    """
    global LINES_CACHE_REVISIONS
    LINES_CACHE_REVISIONS = revisions
    configure_parsed_revisions(revisions // 2)
    _LINES_CACHES.clear()


@dataclass(slots=True)
class _Paths:
    """The paths one folded update sets, by operator, and every path that encloses one.

    Asking whether a new path overlaps one of them costs its depth, not their
    number: a partner's lines gather one path per revision, and comparing
    each new path with all of them made a batch quadratic in its size.
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
    """The upserts of one batch, by collection and document, and what they touched.

    Updates of one document are folded into one where that is the same as
    applying them in turn (see :func:`_fold`): a batch writes each document
    it touches about once; an update that would conflict with what is folded
    so far starts the next one.
    """

    by_collection: dict[str, dict[Any, list[Document]]] = field(default_factory=dict)
    partners: set[str] = field(default_factory=set)
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


class Generation:
    """The collections of one generation of the read models."""

    def __init__(self, database: AsyncDatabase[Document], name: str) -> None:
        self.name = name
        self.database = database

    def __getitem__(self, collection: str) -> AsyncCollection[Document]:
        return self.database[f"{self.name}_{collection}"]

    async def create_indexes(self) -> None:
        """The read API's query paths (see ``shared.mongo.create_lookup_indexes``)."""
        for collection, indexes in INDEXES.items():
            await create_lookup_indexes(self[collection], indexes)

    async def backfill_partner_payouts(self) -> int:
        """Fill ``partner_payouts`` from ``payouts``, once per generation (for those written
        before the former existed); how many payouts were copied. Each copy is the
        ``$set`` the projection makes (a list FerretDB left out of the stored payout is
        left out again, and readers take it as empty), so a consumer writing meanwhile,
        or a second replica doing the same, changes nothing."""
        done = await self.database[META].find_one({"_id": BACKFILLS})
        if done is not None and self.name in done.get("partner_payouts", []):
            return 0
        copies = [
            UpdateOne(
                {"_id": payout["partner_id"]},
                {"$set": {f"settlements.{settlement_key(payout['settlement_id'])}": payout}},
                upsert=True,
            )
            async for payout in self["payouts"].find({}, {"_id": 0})
        ]
        await bulk_write_chunked(self["partner_payouts"], copies)
        await self.database[META].update_one(
            {"_id": BACKFILLS}, {"$addToSet": {"partner_payouts": self.name}}, upsert=True
        )
        return len(copies)

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

    async def lines_of(
        self, partner_ids: Iterable[str]
    ) -> tuple[dict[str, PartnerLines], set[str]]:
        """The partners' lines as cached or stored (version 0 and no deals: none stored),
        and the partners whose lines were read from the server just now (not cached)."""
        cache = lines_cache(self.database.name, self.name)
        wanted = set(partner_ids)
        read = {pid for pid in wanted if cache.get(pid) is None}
        return await self._lines_of(self["lines"], cache, wanted), read

    def forget_lines(self, partner_ids: Iterable[str]) -> None:
        """Drop the partners' lines from this process's memory: read again next time."""
        lines_cache(self.database.name, self.name).forget(partner_ids)

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
        contents that differ). The union is computed here, on the
        lines as cached or read (``known``: as just read), and written whole
        and compressed (FerretDB reads a compressed document in a fraction of
        the time of the same revisions as fields); a writer that lost to
        another reads the document again and adds its revisions to it. Terms
        are derived from the partner's facts, so setting them again is
        idempotent too.
        """
        added: dict[str, list[tuple[str, str, str]]] = {}
        for partner_id, partner_updates in updates.items():
            for update in partner_updates:
                for path, text in update.get("$set", {}).items():
                    _, deal, revision = path.split(".")
                    added.setdefault(partner_id, []).append((deal, revision, text))
        terms = terms or {}
        collection = self["lines"]
        cache = lines_cache(self.database.name, self.name)
        written: dict[str, PartnerLines] = {}
        current: set[str] = set()
        pending = set(added) | set(terms)
        for attempt in range(MAX_ATTEMPTS):
            if attempt == 0 and known is not None and pending <= known.keys():
                lines = {pid: known[pid] for pid in pending}
            else:
                current |= {pid for pid in pending if cache.get(pid) is None}
                lines = await self._lines_of(collection, cache, pending)
            try:
                changed = [
                    pl
                    for pid, pl in lines.items()
                    if _merge_into(pl, added.get(pid, []), terms.get(pid))
                ]
                lost = await replace_if_unchanged(
                    collection, [(encode_lines(pl, pl.version + 1), pl.version) for pl in changed]
                )
            except BaseException:
                cache.forget(pending)  # merged in memory, perhaps not stored
                raise
            cache.forget(lost)
            for pl in changed:
                if pl.partner_id not in lost:
                    pl.version += 1
                    cache.put(pl.partner_id, pl, pl.revisions)
                    current.add(pl.partner_id)
            written.update({pid: pl for pid, pl in lines.items() if pid not in lost})
            pending = lost
            if not pending:
                return written, current
        raise RuntimeError(f"lines of {sorted(pending)} kept changing under us; retrying the batch")

    @staticmethod
    async def _lines_of(
        collection: AsyncCollection[Document],
        cache: BoundedCache[str, PartnerLines],
        partner_ids: set[str],
    ) -> dict[str, PartnerLines]:
        found: dict[str, PartnerLines] = {}
        for pid in partner_ids:
            cached = cache.get(pid)
            if cached is not None:
                found[pid] = cached
        missing = [pid for pid in partner_ids if pid not in found]
        for pid, doc in (await find_by_ids(collection, missing)).items():
            if "version" not in doc:
                # Written by upserts (the earlier layout): number it, so that
                # the conditional write below can replace it.
                await collection.update_one({"_id": pid}, {"$set": {"version": 1}})
                doc["version"] = 1
            found[pid] = decode_lines(doc)
            cache.put(pid, found[pid], found[pid].revisions)
        for pid in missing:
            found.setdefault(pid, PartnerLines(pid, 0, {}))
        return found

    async def drop(self) -> None:
        for collection in COLLECTIONS:
            await self[collection].drop()

    async def snapshot(self) -> dict[str, list[Document]]:
        """Every document of every collection, sorted: for comparing generations.

        A ``lines`` document is given by its content (the revisions and the
        terms), not by how many writes made it (``version``) or which was last.
        """
        found = {
            collection: [doc async for doc in self[collection].find({}).sort("_id", ASCENDING)]
            for collection in COLLECTIONS
        }
        found["lines"] = [
            {
                "_id": doc["_id"],
                "deals": {
                    deal: {key: revision_fields(value) for key, value in revisions.items()}
                    for deal, revisions in line_revisions(doc).items()
                },
                "terms": decode_terms(doc["terms"]) if doc.get("terms") else None,
            }
            for doc in found["lines"]
        ]
        return found


@dataclass(frozen=True)
class GenerationState:
    active: str
    building: str | None


async def generation_state(database: AsyncDatabase[Document]) -> GenerationState:
    doc = await database[META].find_one({"_id": GENERATIONS})
    if doc is None:
        return GenerationState(FIRST_GENERATION, None)
    return GenerationState(doc.get("active", FIRST_GENERATION), doc.get("building"))


async def set_generation_state(database: AsyncDatabase[Document], state: GenerationState) -> None:
    await database[META].update_one(
        {"_id": GENERATIONS},
        {"$set": {"active": state.active, "building": state.building}},
        upsert=True,
    )


def next_generation(name: str) -> str:
    return f"g{int(name[1:]) + 1}"
