"""Reporting's read models in MongoDB, and the writes that build them.

**Every write commutes.** Each consumed event becomes upserts built only from
``$setOnInsert``, ``$set`` of a key that names the event's version (whose
content never changes), ``$max`` and ``$min``. Applying the same events in
any order, any number of times, leaves the same documents: exactly-once
effect and order independence with single-document atomic writes and no
conditions that can fail (FerretDB v1 stops a bulk write at the first
failed condition). The current value of a thing is the entry under the
greatest version key (see ``domain.current``).

Collections (per *generation*, ``g<N>_<name>``, so a rebuild fills fresh ones
while readers keep using the active ones):

- ``partners``: lifecycle facts per partner, plus ``view``, the current
  profile, status, tier and contract derived from those facts;
- ``lines``: one document per partner holding, per deal, every
  CommissionCalculated revision (``deals.<deal key>.<revision key>``, the
  revision's fields as JSON text: FerretDB reads one string about five times
  faster than the same fields as a nested document): the statements and the
  period totals of a partner are one lookup by ``_id``, the only lookup
  FerretDB v1 serves from an index (a revision takes about 300 bytes: the
  16 MB document limit allows some 50 000 revisions per partner);
- ``period_totals``: per partner and period, derived from ``lines``;
- ``deals``: DealClosed versions and the earliest cancellation per deal;
- ``trainings``, ``certifications``, ``feedback``, ``mdf``: facts keyed by
  their natural identity;
- ``payouts``: one document per (settlement, partner), from PayoutSettled
  (its content never changes, so ``$setOnInsert`` alone).

``meta`` (not per generation) says which generation is active and which is
being built.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import LOOKUP_CONCURRENCY, Document, bulk_write_chunked

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
)
META = "meta"
GENERATIONS = "generations"
FIRST_GENERATION = "g1"

INDEXES: dict[str, list[tuple[str, list[tuple[str, int]]]]] = {
    "partners": [
        ("by_status", [("view.status", ASCENDING), ("_id", ASCENDING)]),
        ("by_tier", [("view.tier", ASCENDING), ("_id", ASCENDING)]),
        ("by_region", [("view.region", ASCENDING), ("_id", ASCENDING)]),
        ("by_industry", [("view.industry", ASCENDING), ("_id", ASCENDING)]),
    ],
    "period_totals": [
        ("by_partner", [("partner_id", ASCENDING)]),
        ("by_revenue", [("period", ASCENDING), ("revenue_sort", DESCENDING)]),
        ("by_commission", [("period", ASCENDING), ("commission_sort", DESCENDING)]),
        ("by_attainment", [("period", ASCENDING), ("attainment_sort", DESCENDING)]),
    ],
    "deals": [("by_partner", [("partner_id", ASCENDING)])],
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
        ("by_partner", [("partner_id", ASCENDING)]),
        ("by_settlement", [("settlement_id", ASCENDING), ("partner_id", ASCENDING)]),
    ],
}


def _overlap(a: str, b: str) -> bool:
    """Whether two update paths touch the same field (equal, or one inside the other)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _merge(into: Document, update: Document) -> bool:
    """Fold ``update`` into ``into`` when the result equals applying both in turn.

    ``$set``/``$setOnInsert`` keep the later value, ``$max``/``$min`` the
    greater/lesser, ``$addToSet`` collects ``$each``. Refused (False, nothing
    changed) when a path of ``update`` overlaps a path of ``into`` under a
    different operator or a different spelling, which MongoDB rejects in one
    update.
    """
    for op, fields in update.items():
        for path in fields:
            for other_op, other_fields in into.items():
                for other in other_fields:
                    same = op == other_op and path == other
                    if not same and _overlap(path, other):
                        return False
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
    return True


@dataclass
class Writes:
    """The upserts of one batch, by collection and document, and what they touched.

    Updates of one document are folded into one where that is the same as
    applying them in turn (see :func:`_merge`): a batch writes each document
    it touches about once.
    """

    by_collection: dict[str, dict[Any, list[Document]]] = field(default_factory=dict)
    partners: set[str] = field(default_factory=set)

    def add(self, collection: str, doc_id: Any, update: Document) -> None:
        updates = self.by_collection.setdefault(collection, {}).setdefault(doc_id, [])
        if not updates or not _merge(updates[-1], update):
            updates.append({})
            _merge(updates[-1], update)

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
        for collection, indexes in INDEXES.items():
            for name, keys in indexes:
                await self[collection].create_index(keys, name=name)

    async def apply(self, writes: Writes) -> dict[Any, Document]:
        """One unordered bulk write per collection touched; ``lines`` returned as written.

        Each ``lines`` document is upserted with ``findAndModify``, which
        answers with the document after the update: :func:`derive` needs
        every touched partner's lines, and this saves reading them again
        (on FerretDB every read decodes the whole document).
        """
        written: dict[Any, Document] = {}
        for collection, docs in writes.by_collection.items():
            if collection == "lines":
                written = await self._upsert_returning(self[collection], docs)
                continue
            operations = writes.operations(collection)
            if operations:
                await bulk_write_chunked(self[collection], operations)
        return written

    @staticmethod
    async def _upsert_returning(
        collection: AsyncCollection[Document], docs: dict[Any, list[Document]]
    ) -> dict[Any, Document]:
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(doc_id: Any, updates: list[Document]) -> Document | None:
            async with gate:
                doc = None
                for update in updates:
                    doc = await collection.find_one_and_update(
                        {"_id": doc_id}, update, upsert=True, return_document=ReturnDocument.AFTER
                    )
                return doc

        found = await asyncio.gather(*(one(doc_id, updates) for doc_id, updates in docs.items()))
        return {doc["_id"]: doc for doc in found if doc is not None}

    async def drop(self) -> None:
        for collection in COLLECTIONS:
            await self[collection].drop()

    async def snapshot(self) -> dict[str, list[Document]]:
        """Every document of every collection, sorted: for comparing generations."""
        return {
            collection: [doc async for doc in self[collection].find({}).sort("_id", ASCENDING)]
            for collection in COLLECTIONS
        }


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
