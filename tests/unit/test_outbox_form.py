"""The outbox's stored form (``shared.outbox.encode_outbox``), without a server."""

from __future__ import annotations

import pytest

from shared.outbox import EVENTS, WITHOUT_OUTBOX, OutboxEntry, decode_outbox, encode_outbox

ENTRIES = [
    OutboxEntry("E-1", "Example", "example.v1", "P-1", '{"id":"E-1","note":"quote \\" é"}'),
    OutboxEntry("E-2", "Example", "example.v1", "P-2", '{"id":"E-2"}'),
]


def test_ids_in_the_outbox_and_the_events_beside_it() -> None:
    stored = {"_id": "doc", **encode_outbox(ENTRIES)}
    assert stored["outbox"] == [{"id": "E-1"}, {"id": "E-2"}]
    assert decode_outbox(stored) == ENTRIES
    assert encode_outbox(ENTRIES) == encode_outbox(list(ENTRIES)), "the same bytes each time"
    assert encode_outbox([]) == {"outbox": [], EVENTS: None}
    assert decode_outbox({"_id": "doc", **encode_outbox([])}) == []
    assert decode_outbox({"_id": "doc"}) == []


def test_an_id_without_its_event_is_an_error_that_names_both() -> None:
    stored = {"_id": "doc", **encode_outbox(ENTRIES[:1])}
    stored["outbox"].append({"id": "E-2"})
    with pytest.raises(ValueError, match=r"'doc'.*'E-2'"):
        decode_outbox(stored)


def test_the_listing_projection_leaves_out_every_stored_outbox_field() -> None:
    assert set(WITHOUT_OUTBOX) == set(encode_outbox(ENTRIES))
    assert set(WITHOUT_OUTBOX.values()) == {0}
