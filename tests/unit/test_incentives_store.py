"""Incentives' stored ledgers and registration books: what is written is what is read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

import services.incentives.store as store
from services.incentives.domain import (
    ExtensionAnswer,
    ExtensionRequest,
    ManualDecision,
    PartnerBook,
    Registration,
    RegistrationFacts,
    apply_event,
    next_revision,
)
from services.incentives.handlers import commission_event
from services.incentives.store import (
    DecisionRecord,
    PartnerLedger,
    RegistrationBook,
    _ledger_state,
    decode_ledger,
    decode_registration_book,
    encode_ledger,
    encode_registration_book,
    ledger_text,
    registration_key,
)
from shared.cache import BoundedCache
from shared.events import Actor, ActorKind
from shared.outbox import OutboxEntry
from tests.unit.test_commission_engine import P, cancelled, closed, signed

NOW = datetime(2027, 2, 1, tzinfo=UTC)


def a_ledger() -> PartnerLedger:
    book = PartnerBook(P)
    for event in (
        signed(),
        closed("D-1", "2027-01-10", "40000.00"),
        closed("D-2", "2027-01-20", "80000.00"),
        cancelled("D-1", "2027-01-25"),
    ):
        apply_event(book, event)
    ledger = PartnerLedger(P, 3, book)
    for deal_id, result in sorted(book.settle().items()):
        revision = next_revision(None, result)
        assert revision is not None
        ledger.published[deal_id] = revision
        event = commission_event(P, revision, NOW)
        ledger.history[deal_id] = [{"revision": revision.revision, "event_id": event.id}]
        ledger.outbox.append(OutboxEntry.of(event))
    return ledger


def same(a: PartnerLedger, b: PartnerLedger) -> None:
    assert (a.partner_id, a.version) == (b.partner_id, b.version)
    assert a.book.results() == b.book.results()
    assert a.book.contracts == b.book.contracts
    assert a.book.cancellations == b.book.cancellations
    # A published revision keeps its outcome, not the bracket breakdown (recomputed from facts).
    assert a.published.keys() == b.published.keys()
    for deal_id, revision in a.published.items():
        back = b.published[deal_id]
        assert (back.revision, back.delta) == (revision.revision, revision.delta)
        assert back.result.same_outcome(revision.result)
    assert a.history == b.history
    assert a.outbox == b.outbox
    assert a.settlements == b.settlements


def test_a_ledger_reads_back_as_written() -> None:
    ledger = a_ledger()
    stored = encode_ledger(ledger, 3)
    assert set(stored) == {"_id", "version", "state", "outbox", "outbox_events"}
    assert stored["outbox"] == [{"id": e.id} for e in ledger.outbox]
    assert isinstance(stored["state"], bytes)
    back = decode_ledger(stored)
    same(ledger, back)
    assert back.indexed == {"D-1", "D-2"}, "a stored ledger's published deals are indexed"
    cancelled_line = back.book.result("D-1")
    assert cancelled_line is not None
    assert cancelled_line.commission == Decimal("0.00")


def test_a_registration_book_reads_back_as_written() -> None:
    registration = Registration(
        "R-1", "D-1", P, "Globex", "security", datetime(2026, 11, 15, tzinfo=UTC)
    )
    facts = RegistrationFacts()
    facts.add_registration(registration, (NOW, "E-1"))
    facts.add_request(ExtensionRequest("X-1", "R-1", 30, "signature slipped", NOW, (NOW, "E-3")))
    facts.add_answer(ExtensionAnswer("X-1", "R-1", "D-1", True, 30, NOW, (NOW, "E-4"), "fine"))
    facts.add_manual(
        ManualDecision(
            "R-1", False, "duplicate", (NOW, "E-5"), Actor(kind=ActorKind.PERSON, id="maria")
        )
    )
    book = RegistrationBook(
        registration_key("Globex", "security"),
        2,
        facts=facts,
        decisions={
            "R-1": DecisionRecord(
                "R-1",
                False,
                "duplicate",
                2,
                "E-5",
                NOW,
                expires_at=NOW,
                conflicting_registration_id="R-0",
                decided_by=Actor(kind=ActorKind.PERSON, id="maria"),
            )
        },
    )
    back = decode_registration_book(encode_registration_book(book, 2))
    assert back == book


def test_the_state_text_is_the_state_and_follows_every_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ledger_text keeps each deal's and revision's text; a change must show, a repeat not cost."""
    ledger = a_ledger()
    assert json.loads(ledger_text(ledger)) == _ledger_state(ledger)

    encodes: list[str] = []
    for name in ("_deal_doc", "_published_doc"):
        original = getattr(store, name)

        def counted(*args: object, _original=original, _name=name) -> object:
            encodes.append(_name)
            return _original(*args)

        monkeypatch.setattr(store, name, counted)
    text = ledger_text(ledger)
    assert encodes == [], "nothing changed, nothing encoded again"
    assert json.loads(text) == _ledger_state(ledger)

    # A new deal, a new revision of an old one (with its history grown), a cancellation.
    apply_event(ledger.book, closed("D-3", "2027-01-28", "10000.00"))
    apply_event(ledger.book, cancelled("D-2", "2027-01-30"))
    results = ledger.book.settle()
    for deal_id in ("D-2", "D-3"):
        revision = next_revision(ledger.published.get(deal_id), results[deal_id])
        assert revision is not None
        ledger.published[deal_id] = revision
        ledger.history.setdefault(deal_id, []).append({"revision": revision.revision})
    # History appended to without a new revision changes the text too.
    ledger.history["D-1"].append({"revision": 1, "note": "appended"})
    encodes.clear()
    text = ledger_text(ledger)
    assert sorted(encodes) == ["_deal_doc"] + ["_published_doc"] * 3
    assert json.loads(text) == _ledger_state(ledger)
    back = decode_ledger(encode_ledger(ledger, 4))
    assert back.published["D-2"].revision == 2
    assert back.history["D-1"][-1] == {"revision": 1, "note": "appended"}


def test_the_cache_keeps_the_most_recent_within_its_budget() -> None:
    cache: BoundedCache[str, str] = BoundedCache(10)
    cache.put("A", "a", 4)
    cache.put("B", "b", 4)
    assert cache.get("A") == "a"  # A is now the most recently used
    cache.put("C", "c", 4)  # 12 > 10: B, the least recently used, goes
    assert "B" not in cache
    assert (cache.get("A"), cache.get("C"), cache.size) == ("a", "c", 8)


def test_the_cache_counts_a_value_again_when_it_grew() -> None:
    cache: BoundedCache[str, str] = BoundedCache(10)
    cache.put("A", "a", 2)
    cache.put("B", "b", 2)
    cache.put("A", "a, grown", 9)  # with B's 2, over the budget; B was used least recently
    assert "B" not in cache
    assert (cache.get("A"), cache.size) == ("a, grown", 9)
    cache.forget(["A"])
    assert (len(cache), cache.size) == (0, 0)
    cache.put("A", "a", 1)
    cache.clear()
    assert (len(cache), cache.size) == (0, 0)


def test_a_cache_of_no_budget_keeps_nothing() -> None:
    cache: BoundedCache[str, str] = BoundedCache(0)
    cache.put("A", "a", 1)
    assert cache.get("A") is None
    assert cache.size == 0
