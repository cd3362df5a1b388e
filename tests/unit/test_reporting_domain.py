from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from services.reporting.domain import (
    Line,
    current,
    governing_contract,
    health,
    last_close,
    last_deal_candidates,
    money,
    parse_instant,
    partner_view,
    period_bounds,
    period_totals,
    superseded_periods,
    target_for,
    utc_text,
    version_key,
)
from services.reporting.projection import partner_terms
from services.reporting.store import (
    LinesCache,
    PartnerLines,
    Writes,
    decode_lines,
    decode_terms,
    encode_lines,
    encode_terms,
    line_revisions,
    revision_fields,
    revision_key,
    revision_text,
)
from tests.support.events import CONTRACT


@pytest.mark.parametrize(
    ("label", "first", "last"),
    [
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_period_bounds(label: str, first: date, last: date) -> None:
    assert period_bounds(label) == (first, last)


def test_money_has_two_decimals_half_even() -> None:
    assert [money(Decimal(x)) for x in ("0", "1.005", "1.015", "290000")] == [
        "0.00",
        "1.00",
        "1.02",
        "290000.00",
    ]
    assert money(None) is None


def test_version_keys_order_by_time_then_id_and_have_no_dots() -> None:
    t = datetime(2026, 10, 5, 12, tzinfo=UTC)
    later_zone = datetime(2026, 10, 5, 14, 0, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    keys = [version_key(t, "b.1"), version_key(t, "a$2"), version_key(later_zone, "a")]
    assert sorted(keys) == [keys[1], keys[0], keys[2]]
    assert not any("." in k or "$" in k for k in keys)
    assert current({keys[0]: "x", keys[2]: "latest", keys[1]: "y"}) == "latest"
    assert utc_text(later_zone) == "2026-10-05T12:00:00.000001Z"


def _fields(deal: str, period: str, status: str, amount: str, commission: str) -> dict[str, str]:
    return {
        "deal_id": deal,
        "period": period,
        "currency": "USD",
        "amount": amount,
        "status": status,
        "base": commission,
        "uplift": "0",
        "commission": commission,
        "target_bonus": "0",
    }


@pytest.mark.parametrize("kept", [100_000, 0])
def test_the_highest_revision_stands(kept: int) -> None:
    """Revisions are stored as JSON text under their revision key; the highest is the line,
    and the periods of the others are known (their totals go when no line is left in them).
    Parsed lines are kept by text (or not: ``kept`` 0), which changes no answer."""
    lines = LinesCache(kept)
    revisions = {
        revision_key(9): revision_text(_fields("D", "2026-Q3", "clawed_back", "1", "0")),
        revision_key(10): revision_text(_fields("D", "2026-Q4", "commissionable", "1", "1")),
    }
    for _ in range(2):
        [line] = lines.current_lines("P", {"D": revisions})
        assert (line.revision, line.period, line.status) == (10, "2026-Q4", "commissionable")
        assert superseded_periods(lines.named_periods({"D": revisions}), [line]) == {"2026-Q3"}
    assert revision_fields(revisions[revision_key(9)])["period"] == "2026-Q3"
    # The same text under another partner or revision key is another line.
    [other] = lines.current_lines("Q", {"D": {revision_key(11): revisions[revision_key(10)]}})
    assert (other.partner_id, other.revision) == ("Q", 11)
    assert lines.current_lines("P", {"D": {}}) == []


def test_targets_follow_the_governing_contract_and_its_plan_period() -> None:
    contracts = [{**CONTRACT, "v": "1"}]
    assert target_for(contracts, "2026-Q4") == Decimal("300000")
    assert target_for(contracts, "2026-11") is None, "a quarterly target is not a monthly one"
    assert target_for(contracts, "2025-Q4") is None
    renewed = {**CONTRACT, "contract_id": "C-2", "start_date": "2026-11-01", "v": "2"}
    chosen = governing_contract([*contracts, renewed], date(2026, 12, 1))
    assert chosen is not None
    assert chosen["contract_id"] == "C-2"


def test_period_totals_count_revenue_of_commissionable_deals_only() -> None:
    a = {**_fields("A", "Q", "commissionable", "100", "11"), "uplift": "1", "base": "10"}
    lines = [
        Line.from_revision("P", 1, {**a, "target_bonus": "5"}),
        Line.from_revision("P", 2, _fields("B", "Q", "clawed_back", "50", "0")),
    ]
    totals = period_totals("P", "Q", lines, Decimal(300))
    assert (totals.revenue, totals.commission, totals.bonus, totals.payout) == (
        Decimal(100),
        Decimal(11),
        Decimal(5),
        Decimal(16),
    )
    assert totals.attainment == Decimal("0.3333")
    assert totals.deals == 2


def test_health_formula() -> None:
    best = health(
        attainment=Decimal("1.2"),
        days_since_last_deal=0,
        valid_certifications=3,
        average_rating=Decimal(5),
    )
    assert (best.score, best.at_risk) == (Decimal("100.0"), False)
    worst = health(
        attainment=Decimal(0),
        days_since_last_deal=None,
        valid_certifications=0,
        average_rating=Decimal(1),
    )
    assert (worst.score, worst.at_risk) == (Decimal("0.0"), True)
    unknown = health(
        attainment=None, days_since_last_deal=None, valid_certifications=0, average_rating=None
    )
    assert unknown.score == Decimal("27.5")  # 20 (no target) + 0 + 0 + 7.5 (no feedback)
    assert unknown.at_risk
    edge = health(
        attainment=Decimal("0.5"),
        days_since_last_deal=45,
        valid_certifications=0,
        average_rating=Decimal(3),
    )
    assert edge.score == Decimal("40.0")  # 20 + 12.5 + 0 + 7.5: exactly 40 is not at risk
    assert not edge.at_risk


def test_the_last_deal_is_looked_for_among_the_lines_closed_by_then_latest_first() -> None:
    def line(deal_id: str, closed_at: str | None) -> Line:
        fields = {
            "deal_id": deal_id,
            "period": "2026-Q4",
            "currency": "USD",
            "closed_at": closed_at,
            "amount": "1",
            "status": "commissionable",
            "base": "0",
            "uplift": "0",
            "commission": "0",
            "target_bonus": "0",
        }
        return Line.from_revision("P", 1, fields)

    lines = [
        line("D-a", "2026-11-01T12:00:00Z"),
        line("D-b", "2026-12-01T12:00:00+02:00"),
        line("D-c", "2026-12-20T00:00:00Z"),  # after as_of
        line("D-d", None),
        line("D-e", "2026-12-01T10:00:00Z"),  # the same instant as D-b
    ]
    moment = datetime(2026, 12, 16, tzinfo=UTC)
    assert last_deal_candidates(lines, moment) == ["D-e", "D-b", "D-a"]
    assert last_deal_candidates(lines, datetime(2026, 10, 1, tzinfo=UTC)) == []


def test_the_last_close_is_the_latest_qualifying_deal_document() -> None:
    def deal(*closed: str, cancelled: str | None = None) -> dict[str, Any]:
        versions = {f"v{n}": {"closed_at": c} for n, c in enumerate(closed)}
        return {"versions": versions, **({"cancelled_at": cancelled} if cancelled else {})}

    moment = datetime(2026, 12, 16, tzinfo=UTC)
    nov, dec, later = (
        "2026-11-01T12:00:00.000000Z",
        "2026-12-10T12:00:00.000000Z",
        "2026-12-20T12:00:00.000000Z",
    )
    assert last_close([deal(nov), deal(dec)], moment) == dec
    assert (
        last_close([deal(dec, cancelled="2027-01-01T00:00:00.000000Z"), deal(nov)], moment) == nov
    )
    assert last_close([deal(dec, later), deal(nov)], moment) == nov  # its latest version counts
    assert last_close([None, {"partner_id": "P"}, deal(later)], moment) is None
    assert last_close([], moment) is None


def test_a_batch_writes_each_document_about_once() -> None:
    writes = Writes()
    writes.add("lines", "P", {"$set": {"deals.D-1.r000000001": {"x": 1}}})
    writes.add("lines", "P", {"$set": {"deals.D-1.r000000002": {"x": 2}}})
    writes.add("partners", "P", {"$max": {"status_rank": 1}, "$set": {"profiles.v1": {}}})
    writes.add("partners", "P", {"$max": {"status_rank": 4}, "$addToSet": {"contracts": "c1"}})
    writes.add("partners", "P", {"$max": {"status_rank": 2}, "$addToSet": {"contracts": "c2"}})
    writes.add("partners", "P", {"$min": {"terminated_from": "2027-01-01"}})
    writes.add("partners", "P", {"$min": {"terminated_from": "2026-12-01"}})
    assert len(writes) == 2
    [lines] = writes.operations("lines")
    assert lines._doc == {
        "$set": {"deals.D-1.r000000001": {"x": 1}, "deals.D-1.r000000002": {"x": 2}}
    }
    [partners] = writes.operations("partners")
    assert partners._doc == {
        "$max": {"status_rank": 4},
        "$set": {"profiles.v1": {}},
        "$addToSet": {"contracts": {"$each": ["c1", "c2"]}},
        "$min": {"terminated_from": "2026-12-01"},
    }


def test_updates_that_would_conflict_in_one_command_stay_apart() -> None:
    writes = Writes()
    writes.add("partners", "P", {"$set": {"view": {"name": "A"}}})
    writes.add("partners", "P", {"$set": {"view.name": "B"}})  # a path inside another
    writes.add("partners", "P", {"$max": {"rank": 1}})
    writes.add("partners", "P", {"$min": {"rank": 0}})  # the same path, another operator
    assert [op._doc for op in writes.operations("partners")] == [
        {"$set": {"view": {"name": "A"}}},
        {"$set": {"view.name": "B"}, "$max": {"rank": 1}},
        {"$min": {"rank": 0}},
    ]


def test_a_path_enclosing_an_earlier_one_starts_another_update() -> None:
    writes = Writes()
    writes.add("lines", "P", {"$set": {"deals.D-1.r1": "a"}})
    writes.add("lines", "P", {"$set": {"deals.D-2.r1": "b"}})  # a sibling: folded
    writes.add("lines", "P", {"$set": {"deals.D-1": {}}})  # encloses an earlier path
    writes.add("lines", "P", {"$set": {"deals.D-1.r2": "c"}})  # inside the one just set
    writes.add("lines", "P", {"$set": {"deals.D-10.r1": "d"}})  # a prefix only as text
    assert [op._doc for op in writes.operations("lines")] == [
        {"$set": {"deals.D-1.r1": "a", "deals.D-2.r1": "b"}},
        {"$set": {"deals.D-1": {}}},
        {"$set": {"deals.D-1.r2": "c", "deals.D-10.r1": "d"}},
    ]


def test_partner_lines_merge_and_round_trip() -> None:
    a, b, b2, c = ('{"n":"a"}', '{"n":"b"}', '{"n":"b2"}', '{"n":"c"}')
    lines = PartnerLines("P", 0, {})
    assert lines.add([("D-1", revision_key(1), a), ("D-2", revision_key(1), b)])
    assert not lines.add([("D-1", revision_key(1), a)]), "the same revision again: no change"
    assert lines.add([("D-1", revision_key(2), c)])
    # Two contents under one revision (two producers): the one consumed last stands.
    assert lines.add([("D-2", revision_key(1), b2)])
    assert lines.deals == {
        "D-1": {revision_key(1): a, revision_key(2): c},
        "D-2": {revision_key(1): b2},
    }
    assert lines.revisions == 3
    stored = encode_lines(lines, 4)
    assert set(stored) == {"_id", "version", "state"}
    back = decode_lines(stored)
    assert (back.partner_id, back.version, back.deals, back.revisions) == ("P", 4, lines.deals, 3)
    assert line_revisions(stored) == lines.deals
    assert line_revisions(None) == {}


def test_a_revision_received_again_keeps_when_it_was_first_received() -> None:
    early, late = '{"n":"a","at":"2026-12-01"}', '{"n":"a","at":"2026-12-05"}'
    for order in ([early, late], [late, early], [late, early, late]):
        lines = PartnerLines("P", 0, {})
        for text in order:
            lines.add([("D-1", revision_key(1), text)])
        assert lines.deals == {"D-1": {revision_key(1): early}}, order
        assert lines.revisions == 1
    unknown = PartnerLines("P", 0, {})
    unknown.add([("D-1", revision_key(1), '{"n":"a"}')])
    assert unknown.add([("D-1", revision_key(1), late)]), "a known instant beats none"
    assert not unknown.add([("D-1", revision_key(1), '{"n":"a"}')])
    assert unknown.deals["D-1"][revision_key(1)] == late


def test_partner_terms_are_the_name_and_contracts_in_a_fixed_order() -> None:
    first = {**CONTRACT, "contract_id": "C-2", "v": "v2"}
    second = {**CONTRACT, "contract_id": "C-1", "v": "v9"}
    doc = {"profiles": {"v1": {"name": "Old"}, "v3": {"name": "New"}}, "contracts": [first, second]}
    swapped = {**doc, "contracts": [second, first]}
    terms = partner_terms(doc)
    assert terms == {"name": "New", "contracts": [second, first]}
    assert encode_terms(partner_terms(swapped)) == encode_terms(terms), "same facts, same bytes"
    assert decode_terms(encode_terms(terms)) == terms
    assert partner_terms(None) == {"name": None, "contracts": []}


def test_instants_parse_in_utc_whatever_their_spelling() -> None:
    expected = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for text in (
        "2026-12-01T12:00:00Z",
        "2026-12-01T12:00:00.000000Z",
        "2026-12-01T13:00:00+01:00",
        "2026-12-01T12:00:00",
    ):
        parsed = parse_instant(text)
        assert parsed == expected
        assert parsed.utcoffset() == timedelta(0), text
    assert parse_instant(utc_text(expected)) == expected


def test_a_partner_view_is_its_latest_facts() -> None:
    facts = {
        "profiles": {"v1": {"name": "Old", "region": "EMEA"}, "v3": {"name": "New"}},
        "tiers": {"v1": "silver", "v2": "gold"},
        "status_rank": 4,
        "contracts": [
            {**CONTRACT, "v": "v1"},
            {**CONTRACT, "contract_id": "C-2", "start_date": "2027-10-01", "v": "v2"},
        ],
        "terminated_from": None,
    }
    view = partner_view(facts)
    assert (view["name"], view["region"], view["status"], view["tier"]) == (
        "New",
        None,
        "active",
        "gold",
    )
    assert view["contract"] == {**CONTRACT, "contract_id": "C-2", "start_date": "2027-10-01"}
    assert partner_view({})["status"] == "applied"
