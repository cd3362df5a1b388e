"""Explaining a number (docs/rules/commissions.md, "Explaining a number"): a statement as
known at an instant, and the changes received since, whose deltas add up exactly to the
change of its payout total."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.domain import (
    Adjustment,
    Line,
    StatedRevision,
    known_lines,
    statement_changes,
    utc_text,
    version_event,
    version_key,
)
from services.reporting.projection import Projection, received_at
from services.reporting.queries import ReportingQueries
from shared.events import CloudEvent, Payload, parse_event
from tests.support.events import envelope
from tests.support.reporting import D1, D2, D3, D4, PERIOD, P, events
from tests.unit.test_reporting_service import FakeDatabase

T1 = datetime(2027, 1, 2, tzinfo=UTC)
T2 = datetime(2027, 1, 20, tzinfo=UTC)
T3 = datetime(2027, 1, 25, tzinfo=UTC)


def parsed(raw: list[dict[str, Any]]) -> list[CloudEvent[Payload]]:
    return [parse_event(json.dumps(event)) for event in raw]


async def projected() -> FakeDatabase:
    """The worked example: everything received at T1 but the revisions D-2's cancellation
    brought (received at T2), and an adjustment of +250.00 received at T3."""
    everything = parsed([event for _, event in events()])
    later = [
        e
        for e in everything
        if e.type == "CommissionCalculated" and e.data.model_dump()["revision"] == 2
    ]
    first = [e for e in everything if e not in later]
    adjusted = parsed(
        [
            envelope(
                "CommissionAdjusted",
                {
                    "partner_id": P,
                    "adjustment_id": "ADJ-x",
                    "deal_id": D3,
                    "period": PERIOD,
                    "currency": "USD",
                    "amount": "250.00",
                    "reason": "goodwill",
                    "adjusted_at": "2027-01-25T00:00:00Z",
                },
            )
        ]
    )
    database = FakeDatabase()
    projection = Projection(database)  # type: ignore[arg-type]
    for batch, at in ((first, T1), (later, T2), (adjusted, T3)):
        stamp = int(at.timestamp() * 1000)
        await projection.project(batch, received_at((e.id, stamp) for e in batch))
    return database


async def test_the_statement_as_known_then_and_what_changed_it_since() -> None:
    queries = ReportingQueries(await projected())  # type: ignore[arg-type]
    before = T1 + timedelta(days=1)
    then = await queries.statement(P, PERIOD, as_of=before)
    assert [(line.deal_id, line.revision) for line in then.lines] == [
        (D1, 1),
        (D2, 1),
        (D3, 1),
        (D4, 1),
    ]
    assert then.payout_total == Decimal("50600.00")
    assert (await queries.statement(P, PERIOD, as_of=T1 - timedelta(days=1))).lines == []

    found = await queries.changes(P, PERIOD, before)
    assert (found.then.payout_total, found.now.payout_total) == (
        Decimal("50600.00"),
        Decimal("38350.00"),
    )
    said = [(c.type, c.deal_id, c.delta) for c in found.changes]
    assert said == [
        ("CommissionCalculated", D2, Decimal("-5600.00")),
        ("CommissionCalculated", D3, Decimal("-6900.00")),
        ("CommissionAdjusted", D3, Decimal("250.00")),
    ]
    assert sum(c.delta for c in found.changes) == found.now.payout_total - found.then.payout_total
    d2, d3, adjusted = (c.explanation for c in found.changes)
    assert d2 == f"{D2}: now clawed back: −5600.00"
    assert "base 26400.00 → 24500.00" in d3
    assert "the target bonus no longer reached with it" in d3
    assert adjusted == "adjusted: goodwill: +250.00"
    assert found.changes[0].event_id == f"reporting-test/{P}/{D2}/2"
    assert found.changes[0].received_at == utc_text(T2)

    # Nothing received since: no change, the same totals.
    none = await queries.changes(P, PERIOD, T3)
    assert (none.changes, none.then.payout_total) == ([], none.now.payout_total)


def test_a_version_key_names_its_event() -> None:
    time = datetime(2026, 11, 3, 9, 30, 1, 250, tzinfo=UTC)
    assert version_event(version_key(time, "e.v-1/ü")) == (utc_text(time), "e.v-1/ü")


# --------------------------------------------------------------------------- any history

OTHER = "2027-Q1"


def line(deal: str, revision: int, period: str, payout: int) -> Line:
    return Line(
        deal_id=deal,
        partner_id="P",
        period=period,
        currency="USD",
        closed_at=None,
        amount=Decimal(1000),
        status="commissionable",
        base=Decimal(payout),
        uplift=Decimal(0),
        commission=Decimal(payout),
        target_bonus=Decimal(0),
        revision=revision,
    )


def at(minute: int) -> str:
    return utc_text(T1 + timedelta(minutes=minute))


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[StatedRevision], list[Any], int]:
    """Revisions of a few deals, each received at some minute (a later revision may come
    first; some never have a known instant), adjustments, and an instant to ask about."""
    revisions = []
    for deal in ("A", "B", "C"):
        for revision in range(1, draw(st.integers(min_value=1, max_value=4)) + 1):
            period = draw(st.sampled_from([PERIOD, PERIOD, OTHER]))
            payout = draw(st.integers(min_value=0, max_value=5000))
            received = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=60)))
            revisions.append(
                StatedRevision(
                    line(deal, revision, period, payout),
                    None if received is None else at(received),
                    f"{deal}-{revision}",
                )
            )
    adjustments = [
        (
            Adjustment(
                f"ADJ-{n}",
                None,
                draw(st.sampled_from([PERIOD, OTHER])),
                "USD",
                Decimal(draw(st.integers(min_value=-500, max_value=500))),
                "r",
                at(0),
                None,
                None,
            ),
            at(draw(st.integers(min_value=0, max_value=60))),
            f"ADJ-{n}",
        )
        for n in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    return revisions, adjustments, draw(st.integers(min_value=-1, max_value=61))


def total(revisions: list[StatedRevision], adjustments: list[Any], instant: str | None) -> Decimal:
    lines = known_lines(revisions, instant)
    paid = sum((x.commission + x.target_bonus for x in lines if x.period == PERIOD), Decimal(0))
    return paid + sum(
        (
            a.amount
            for a, when, _ in adjustments
            if a.period == PERIOD and (instant is None or when <= instant)
        ),
        Decimal(0),
    )


@settings(max_examples=300, deadline=None)
@given(histories())
def test_the_deltas_add_up_to_the_change_whatever_the_history(
    history: tuple[list[StatedRevision], list[Any], int],
) -> None:
    revisions, adjustments, minute = history
    since = at(minute)
    changes = statement_changes(revisions, adjustments, PERIOD, "USD", since)
    assert sum((c.delta for c in changes), Decimal(0)) == total(
        revisions, adjustments, None
    ) - total(revisions, adjustments, since)
    assert all(c.received_at is not None and c.received_at > since for c in changes)
    assert [c.received_at for c in changes] == sorted(c.received_at for c in changes)


def test_adjustments_are_read_in_the_order_made_whatever_the_stored_order() -> None:
    from services.reporting.store import adjustment_key, received_adjustments

    def fields(adjustment_id: str, adjusted_at: str) -> dict[str, Any]:
        return {
            "adjustment_id": adjustment_id,
            "period": PERIOD,
            "currency": "USD",
            "amount": "1.00",
            "reason": "r",
            "adjusted_at": adjusted_at,
        }

    late, early = ("A-late", "2027-01-03T00:00:00Z"), ("A-early", "2027-01-01T00:00:00Z")
    doc = {
        "adjustments": {
            adjustment_key(i): {version_key(T1, f"e-{i}"): fields(i, at)} for i, at in (late, early)
        },
        "received": {adjustment_key("A-late"): utc_text(T2)},
    }
    found = received_adjustments(doc)
    assert [(a.adjustment_id, at, event_id) for a, at, event_id in found] == [
        ("A-early", None, "e-A-early"),
        ("A-late", utc_text(T2), "e-A-late"),
    ]
