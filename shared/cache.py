"""A bounded in-memory cache of documents a service read or wrote, least recently used out.

Incentives keeps partners' ledgers and reporting partners' lines in one, so a
batch does not read again a document it wrote a moment ago (a read of a large
document is costly on the local store: docs/architecture.md, "The store
boundary"). What is cached carries the ``version`` it was
stored at, and every write still checks that version: a stale entry makes
the write lose, and the writer drops it and reads the document again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``budget`` units (deals, revisions: whatever ``size`` counts) of values."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Remember ``value`` (again, after it changed: its size is counted anew)."""
        self.forget([key])
        size = max(1, size)
        self._entries[key] = (value, size)
        self.size += size
        while self.size > self.budget and self._entries:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.size -= evicted

    def forget(self, keys: Iterable[K]) -> None:
        for key in keys:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self.size -= entry[1]

    def clear(self) -> None:
        self._entries.clear()
        self.size = 0

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
