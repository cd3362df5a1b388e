"""``shared.mongo.as_inserted``: the document an upsert creates, or None when not certain."""

from __future__ import annotations

from typing import Any

import pytest

from shared.mongo import as_inserted


def test_operators_set_their_paths_and_dotted_paths_nest() -> None:
    update = {
        "$setOnInsert": {"partner_id": "P"},
        "$set": {"versions.v1.amount": "10.00", "versions.v1.currency": "USD", "name": "A"},
        "$max": {"status_rank": 4},
        "$min": {"cancelled_at": "2026-11-01"},
        "$addToSet": {"tags": {"$each": ["t", {"k": 1}, "u", "t", {"k": 1}]}},
    }
    assert as_inserted("D-1", update) == {
        "_id": "D-1",
        "partner_id": "P",
        "versions": {"v1": {"amount": "10.00", "currency": "USD"}},
        "name": "A",
        "status_rank": 4,
        "cancelled_at": "2026-11-01",
        "tags": ["t", {"k": 1}, "u"],
    }


@pytest.mark.parametrize(
    "update",
    [
        {"$inc": {"n": 1}},  # not a creating operator
        {"$set": {"a": 1}, "$max": {"a": 2}},  # one path twice
        {"$set": {"a": 1, "a.b": 2}},  # a path inside a value
        {"$setOnInsert": {"items": []}},  # FerretDB v1 does not store it
        {"$set": {"doc": {"inner": {}}}},
        {"$addToSet": {"tags": "t"}},  # without $each: not how reporting writes it
    ],
)
def test_not_certain_gives_none(update: dict[str, Any]) -> None:
    assert as_inserted("x", update) is None
