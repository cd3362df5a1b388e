"""The store boundary: the MongoDB client, and every FerretDB specific, in one place.

Services reach MongoDB through PyMongo's async API (``AsyncMongoClient``) and
the helpers here. The same code runs on MongoDB and on FerretDB v1 (the
embedded default), so services use single-document atomic writes only: no
multi-document transactions, no change streams. Where FerretDB v1 behaves
differently (conditional updates that are not atomic, queries other than by
``_id`` that decode the whole collection, update iterators held open until a
command ends, duplicate keys that stop an unordered bulk write), the helper
that designs around it lives here and says so (:func:`is_ferretdb`); what a
service's ``store.py`` does about it is named there as FerretDB's. The rules
are in docs/architecture.md ("The store boundary").
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import AsyncMongoClient, ReplaceOne, UpdateOne, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.metrics import MONGODB_COMMAND_SECONDS
from shared.settings import Settings

Document = dict[str, Any]


class CommandMetrics(monitoring.CommandListener):
    """Times every command into ``partnerhub_mongodb_command_duration_seconds``.

    By command and collection, so an operator (or a profile) sees which
    reads and writes the server spends its time on.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._collections: dict[tuple[Any, int], str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = "collection" if event.command_name == "getMore" else event.command_name
        target = event.command.get(name)
        if isinstance(target, str):
            self._collections[(event.connection_id, event.request_id)] = target

    def _observe(
        self,
        event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent,
        outcome: str,
    ) -> None:
        collection = self._collections.pop((event.connection_id, event.request_id), "")
        MONGODB_COMMAND_SECONDS.labels(
            self.service, event.command_name, collection, outcome
        ).observe(event.duration_micros / 1e6)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event, "ok")

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event, "failed")


def make_mongo_client(settings: Settings, **options: Any) -> AsyncMongoClient[Document]:
    """A client for ``MONGODB_URL``; it connects lazily on first use.

    Decimal money is stored as a string (exact, and sortable only where the
    read model says so), so the client needs no Decimal128 codec. Writes are
    acknowledged by the majority; ``tz_aware`` returns instants in UTC.
    """
    defaults: dict[str, Any] = {
        "appname": settings.service_name,
        "tz_aware": True,
        "serverSelectionTimeoutMS": 10_000,
        # An operation that takes this long is stuck (FerretDB v1 can wedge a
        # database): fail it, so the batch is retried instead of hanging.
        "socketTimeoutMS": 60_000,
        "w": "majority",
        "event_listeners": [CommandMetrics(settings.service_name)],
    }
    defaults.update(options)
    return AsyncMongoClient(settings.mongodb_url.get_secret_value(), **defaults)


def service_database(
    client: AsyncMongoClient[Document], settings: Settings
) -> AsyncDatabase[Document]:
    """The service's own database (``MONGODB_DATABASE``); no service reads another's."""
    return client[settings.mongodb_database]


async def ping(client: AsyncMongoClient[Document]) -> bool:
    """True when the server answers; used by ``/readyz``."""
    try:
        await client.admin.command("ping")
    except Exception:
        return False
    return True


_FERRETDB: weakref.WeakKeyDictionary[AsyncMongoClient[Document], bool] = weakref.WeakKeyDictionary()


async def is_ferretdb(collection: AsyncCollection[Document]) -> bool:
    """Whether the server is FerretDB (its ``buildInfo`` says so); asked once per client."""
    client = collection.database.client
    known = _FERRETDB.get(client)
    if known is None:
        info = await client.admin.command("buildInfo")
        known = _FERRETDB[client] = "ferretdbVersion" in info
    return known


async def create_lookup_indexes(
    collection: AsyncCollection[Document], indexes: Sequence[tuple[str, list[tuple[str, int]]]]
) -> bool:
    """Create non-unique indexes (name, keys) that serve queries; not on FerretDB v1.

    FerretDB v1 (SQLite) answers every filter other than one ``_id``
    equality by decoding the whole collection, indexed or not, while each
    index still costs every write a parse of the whole document. Unique
    indexes, which constrain what may be written, are not created here.
    Returns whether the indexes were created.
    """
    if await is_ferretdb(collection):
        return False
    for name, keys in indexes:
        await collection.create_index(keys, name=name)
    return True


#: Lookups by ``_id`` in flight at once in :func:`find_by_ids` (FerretDB).
LOOKUP_CONCURRENCY = 16
#: ``_id``s per ``$in`` query in :func:`find_by_ids` (MongoDB).
IN_CHUNK = 1000


async def find_by_ids(
    collection: AsyncCollection[Document],
    ids: Iterable[Any],
    projection: Document | None = None,
) -> dict[Any, Document]:
    """The documents with these ``_id``s that exist, by ``_id``.

    On MongoDB one ``{"_id": {"$in": ids}}`` query per :data:`IN_CHUNK` ids,
    served by the ``_id`` index. FerretDB v1 uses an index only for a filter
    that is exactly one ``_id`` equality, and answers ``$in`` by decoding
    every document of the collection: there, one lookup per ``_id``, a few
    in flight at once, which costs a fraction of that once a collection
    holds more than a few hundred documents.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    if not await is_ferretdb(collection):
        found: dict[Any, Document] = {}
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            async for doc in collection.find({"_id": {"$in": chunk}}, projection):
                found[doc["_id"]] = doc
        return found
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def one(doc_id: Any) -> Document | None:
        async with gate:
            return await collection.find_one({"_id": doc_id}, projection)

    looked_up = await asyncio.gather(*(one(doc_id) for doc_id in wanted))
    return {doc["_id"]: doc for doc in looked_up if doc is not None}


#: FerretDB v1 keeps every update operation's query iterator and pooled connection open
#: until the whole command ends, and hangs the database when a command holds as many as
#: its pool (SQLite: 100): on FerretDB bulk writes go in chunks well below that.
BULK_CHUNK = 50


async def bulk_write_chunked(
    collection: AsyncCollection[Document], operations: Sequence[Any]
) -> int:
    """``bulk_write(ordered=False)``; returns how many documents the updates and replaces
    matched. On FerretDB in chunks of :data:`BULK_CHUNK` operations; on MongoDB in one
    call (the driver splits it at the server's own batch limit)."""
    if not operations:
        return 0
    chunk = BULK_CHUNK if await is_ferretdb(collection) else len(operations)
    matched = 0
    for start in range(0, len(operations), chunk):
        result = await collection.bulk_write(list(operations[start : start + chunk]), ordered=False)
        matched += result.matched_count
    return matched


#: Documents per insert command in :func:`upsert_new` and :func:`insert_new`.
INSERT_CHUNK = 500
DUPLICATE_KEY = 11000
_INSERTABLE = ("$setOnInsert", "$set", "$max", "$min", "$addToSet")


def as_inserted(doc_id: Any, update: Document) -> Document | None:
    """The document an upsert of ``update`` creates where none exists; None when that is
    not certain.

    ``$setOnInsert``, ``$set``, ``$max`` and ``$min`` set their paths (dotted
    paths nest); ``$addToSet`` with ``$each`` stores the distinct values.
    None for any other operator, for paths that overlap, and for empty
    arrays or documents, which FerretDB v1 does not store through an upsert.
    """
    doc: Document = {"_id": doc_id}
    for op, fields in update.items():
        if op not in _INSERTABLE:
            return None
        for path, value in fields.items():
            if op == "$addToSet":
                if not isinstance(value, dict) or set(value) != {"$each"}:
                    return None
                # Equal as MongoDB compares them here: same fields in the same order.
                value = list({repr(v): v for v in value["$each"]}.values())
            if _empty(value):
                return None
            *parents, leaf = path.split(".")
            node = doc
            for name in parents:
                node = node.setdefault(name, {})
                if not isinstance(node, dict):
                    return None
            if leaf in node:
                return None
            node[leaf] = value
    return doc


def _empty(value: Any) -> bool:
    if isinstance(value, list | dict):
        values = value.values() if isinstance(value, dict) else value
        return not value or any(_empty(v) for v in values)
    return False


async def upsert_new(
    collection: AsyncCollection[Document], updates: Sequence[tuple[Any, Document]]
) -> int:
    """Upserts ``(_id, update)`` expected to create their documents: inserted many at a time,
    and upserted only where the document already exists; returns how many were upserted.

    FerretDB v1 applies each upsert in a transaction of its own, but inserts
    a command's documents in one, and reports each duplicate ``_id`` of an
    unordered insert in its place; the duplicates then get the upsert
    itself, which gives the same document as on MongoDB. Updates whose
    created document is not certain (:func:`as_inserted`) are upserted.
    """
    inserts: list[tuple[Document, UpdateOne]] = []
    upserts: list[UpdateOne] = []
    for doc_id, update in updates:
        upsert = UpdateOne({"_id": doc_id}, update, upsert=True)
        doc = as_inserted(doc_id, update)
        if doc is None:
            upserts.append(upsert)
        else:
            inserts.append((doc, upsert))
    duplicates = await _insert_skipping_duplicates(collection, [doc for doc, _ in inserts])
    upserts.extend(inserts[i][1] for i in duplicates)
    await bulk_write_chunked(collection, upserts)
    return len(upserts)


async def insert_new(collection: AsyncCollection[Document], docs: Sequence[Document]) -> int:
    """Insert the documents whose ``_id`` is not there yet, many per command; leave the
    others as they are. Returns how many were inserted."""
    return len(docs) - len(await _insert_skipping_duplicates(collection, docs))


async def _insert_skipping_duplicates(
    collection: AsyncCollection[Document], docs: Sequence[Document]
) -> list[int]:
    """Unordered inserts, on FerretDB in chunks of :data:`INSERT_CHUNK` (a duplicate key
    stops the rest of its command there), on MongoDB in one call; the indexes (in
    ``docs``) of the documents whose ``_id`` existed. Any other write error is raised."""
    duplicates: list[int] = []
    if not docs:
        return duplicates
    chunk = INSERT_CHUNK if await is_ferretdb(collection) else len(docs)
    for start in range(0, len(docs), chunk):
        try:
            await collection.insert_many(list(docs[start : start + chunk]), ordered=False)
        except BulkWriteError as failed:
            errors = failed.details.get("writeErrors", [])
            if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            duplicates.extend(start + e["index"] for e in errors)
    return duplicates


_WRITE_LOCKS: dict[tuple[str, str], asyncio.Lock] = {}


def write_lock(collection: AsyncCollection[Document]) -> asyncio.Lock:
    """The lock a process's writers of one collection take turns with.

    FerretDB v1 applies an update as a read of the document and then a write
    of the whole document, not atomically: an outbox clean-up (``$pullAll``)
    racing a command's conditional replace can write back the document as it
    was before the command. Within a process, writers of a collection that
    may touch the same document hold this lock (``replace_if_unchanged`` and
    the outbox do); across processes, the services partition their documents
    (one partner's events go to one consumer).
    """
    key = (collection.database.name, collection.name)
    lock = _WRITE_LOCKS.get(key)
    if lock is None:
        lock = _WRITE_LOCKS[key] = asyncio.Lock()
    return lock


async def replace_if_unchanged(
    collection: AsyncCollection[Document], writes: list[tuple[Document, int]]
) -> set[Any]:
    """Optimistic concurrency: write each ``(document, version read)`` only if the stored
    document still has that version (0: it did not exist); return the ``_id``s that lost.

    Each ``document`` carries its new ``version``. Existing documents are
    replaced with ``{_id, version}`` as the filter and no upsert, so a lost race
    is a silent no-op rather than an error; new ones are inserted many per
    command, unordered, a duplicate key meaning another writer created it
    first (both servers report each duplicate in its place). A read-back of
    a per-call token then says which writes won; on MongoDB, whose
    conditional replace is atomic, only when some replace matched nothing.
    """
    if not writes:
        return set()
    async with write_lock(collection):
        return await _replace_if_unchanged(collection, writes)


async def _replace_if_unchanged(
    collection: AsyncCollection[Document], writes: list[tuple[Document, int]]
) -> set[Any]:
    token = uuid.uuid4().hex
    lost: set[Any] = set()
    existing = [(doc, read) for doc, read in writes if read > 0]
    created = [{**doc, "write_token": token} for doc, read in writes if read <= 0]
    for index in await _insert_skipping_duplicates(collection, created):
        lost.add(created[index]["_id"])
    if not existing:
        return lost
    ids = [doc["_id"] for doc, _ in existing]
    if await is_ferretdb(collection):
        # A filter of _id and version would make FerretDB decode the whole
        # collection for every replace. Its conditional update is a read and
        # a whole-document write anyway, not atomic; so read the versions by
        # _id and replace by _id. The write lock held here orders this
        # process's writers; across replicas the token read-back below still
        # tells who won.
        current = await find_by_ids(collection, ids, {"version": 1})
        replaces = [
            ReplaceOne({"_id": doc["_id"]}, {**doc, "write_token": token})
            for doc, read in existing
            if current.get(doc["_id"], {}).get("version") == read
        ]
        if replaces:
            await bulk_write_chunked(collection, replaces)
    else:
        replaces = [
            ReplaceOne({"_id": doc["_id"], "version": read}, {**doc, "write_token": token})
            for doc, read in existing
        ]
        # MongoDB replaces a document only at the version read, atomically, and each
        # filter matches at most its one document: when every replace matched, every
        # write won, and there is nothing to read back.
        if await bulk_write_chunked(collection, replaces) == len(replaces):
            return lost
    written = await find_by_ids(collection, ids, {"write_token": 1})
    lost.update(i for i in ids if written.get(i, {}).get("write_token") != token)
    return lost
