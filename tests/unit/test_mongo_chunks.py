"""``shared.mongo``'s bulk writes and inserts: in chunks on FerretDB (its held iterators,
its duplicate keys), in one call on MongoDB."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import InsertOne
from pymongo.errors import BulkWriteError

from shared import mongo
from shared.mongo import BULK_CHUNK, INSERT_CHUNK, bulk_write_chunked, insert_new


@dataclass
class Result:
    matched_count: int


@dataclass
class FakeCollection:
    """What the two helpers use of a collection, recording each call's size; ``taken``
    ids answer as duplicate keys."""

    ferretdb: bool
    calls: list[int] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)

    async def bulk_write(self, operations: list[Any], ordered: bool) -> Result:
        assert ordered is False
        self.calls.append(len(operations))
        return Result(matched_count=len(operations))

    async def insert_many(self, docs: list[dict[str, Any]], ordered: bool) -> None:
        assert ordered is False
        self.calls.append(len(docs))
        errors = [
            {"index": i, "code": mongo.DUPLICATE_KEY}
            for i, d in enumerate(docs)
            if d["_id"] in self.taken
        ]
        if errors:
            raise BulkWriteError({"writeErrors": errors})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> None:
    async def is_ferretdb(collection: FakeCollection) -> bool:
        return collection.ferretdb

    monkeypatch.setattr(mongo, "is_ferretdb", is_ferretdb)


@pytest.mark.usefixtures("server")
@pytest.mark.parametrize(
    ("ferretdb", "calls"), [(True, [BULK_CHUNK, BULK_CHUNK, 20]), (False, [120])]
)
async def test_bulk_writes_are_chunked_on_ferretdb_only(ferretdb: bool, calls: list[int]) -> None:
    collection = FakeCollection(ferretdb)
    operations = [InsertOne({"_id": n}) for n in range(2 * BULK_CHUNK + 20)]
    assert await bulk_write_chunked(collection, operations) == len(operations)  # type: ignore[arg-type]
    assert collection.calls == calls
    assert await bulk_write_chunked(collection, []) == 0  # type: ignore[arg-type]
    assert collection.calls == calls, "nothing to write: no call"


@pytest.mark.usefixtures("server")
@pytest.mark.parametrize(
    ("ferretdb", "calls"), [(True, [INSERT_CHUNK, 1]), (False, [INSERT_CHUNK + 1])]
)
async def test_inserts_skip_duplicates_in_either_form(ferretdb: bool, calls: list[int]) -> None:
    docs = [{"_id": f"D-{n}"} for n in range(INSERT_CHUNK + 1)]
    collection = FakeCollection(ferretdb, taken={"D-3", f"D-{INSERT_CHUNK}"})
    assert await insert_new(collection, docs) == len(docs) - 2  # type: ignore[arg-type]
    assert collection.calls == calls
