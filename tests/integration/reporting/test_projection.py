"""Reporting's projection on the real server: where a batch reads and writes, and what it
does with lines that lack their terms and with a write that fails."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase

import services.reporting.store as store
from services.reporting.projection import partner_terms, project_into, writes_for
from services.reporting.store import (
    Generation,
    deal_key,
    decode_lines,
    decode_terms,
    encode_lines,
    revision_key,
    revision_text,
)
from shared.events import parse_event
from shared.mongo import Document, make_mongo_client
from shared.settings import Settings
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.reporting import PERIOD, calculated


def _batch(*raw: dict[str, Any]) -> Any:
    """The writes of a batch of these events, as the consumer makes them."""
    return writes_for(parse_event(json.dumps(event)) for event in raw)


def _commissionable(partner: str, deal: str, amount: str, commission: str) -> dict[str, Any]:
    """Revision 1 of a commissionable deal of PERIOD, its commission all base."""
    return calculated(
        partner,
        deal,
        1,
        PERIOD,
        amount,
        "commissionable",
        commission,
        "0.00",
        commission,
        "0",
        commission,
        "2026-10-05",
    )


class Finds(monitoring.CommandListener):
    """The collections ``find`` commands read, in order."""

    def __init__(self) -> None:
        self.collections: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.collections.append(event.command["find"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_period_totals_take_the_terms_the_lines_carry_and_keep_them_current(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    """A batch of commissions reads no partner document: the partner's ``terms`` (name
    and contracts) travel in its lines document. They are written with the first
    commission, follow every lifecycle change, and a lines document without them gets
    them at its next batch."""
    generation = Generation(database, "g1")
    partner = "P-terms"

    async def stored_terms() -> Any:
        doc = await generation["lines"].find_one({"_id": partner})
        return None if doc is None or "terms" not in doc else decode_terms(doc["terms"])

    async def totals() -> tuple[Any, ...]:
        doc = await generation["period_totals"].find_one({"_id": f"{partner}|{PERIOD}"})
        assert doc is not None
        return doc["name"], doc["target"], doc["revenue"], doc["deals"]

    signed = envelope("PartnerSigned", {"partner_id": partner, **PROFILE, "contract": CONTRACT})
    await project_into(generation, _batch(signed))
    assert await generation["lines"].find_one({"_id": partner}) is None, "no commission yet"
    profile = await generation["partners"].find_one({"_id": partner})
    assert profile is not None
    assert profile["view"]["name"] == PROFILE["name"]

    await project_into(generation, _batch(_commissionable(partner, "D-T1", "80000.00", "8000.00")))
    assert await stored_terms() == partner_terms(profile)
    assert await totals() == (PROFILE["name"], "300000.00", "80000.00", 1)

    # A new name (a renewal): the terms in the lines, and the totals, follow.
    renewed = envelope(
        "ContractRenewed",
        {
            "partner_id": partner,
            **PROFILE,
            "name": "Acme Renamed",
            "contract": {
                **CONTRACT,
                "contract_id": "C-T2",
                "start_date": "2027-10-01",
                "end_date": "2028-09-30",
            },
        },
        time="2026-11-30T10:00:00Z",
    )
    await project_into(generation, _batch(renewed))
    profile = await generation["partners"].find_one({"_id": partner})
    assert profile is not None
    assert await stored_terms() == partner_terms(profile)
    assert [c["contract_id"] for c in (await stored_terms())["contracts"]] == [
        CONTRACT["contract_id"],
        "C-T2",
    ]
    assert await totals() == ("Acme Renamed", "300000.00", "80000.00", 1)

    # A batch of commissions reads no partner document: only its lines' version and, after
    # the write, its write token.
    finds = Finds()
    watched = make_mongo_client(settings, event_listeners=[finds])
    try:
        await project_into(
            Generation(watched[database.name], "g1", generation.lines),
            _batch(_commissionable(partner, "D-T3", "1000.00", "100.00")),
        )
    finally:
        await watched.close()
    # (On FerretDB the version is read before the write; MongoDB checks it in the write.)
    assert finds.collections in (["g1_lines", "g1_lines"], ["g1_lines"]), finds.collections
    assert await totals() == ("Acme Renamed", "300000.00", "81000.00", 2)

    # Lines without terms (and not in this process's memory) get them from the partner.
    await generation["lines"].update_one({"_id": partner}, {"$unset": {"terms": ""}})
    generation.lines.clear()
    await project_into(generation, _batch(_commissionable(partner, "D-T2", "20000.00", "2000.00")))
    assert await stored_terms() == partner_terms(profile), "written again from the partner"
    assert await totals() == ("Acme Renamed", "300000.00", "101000.00", 3)


async def test_totals_come_only_from_lines_read_or_written_in_the_batch(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that changes nothing for a partner leaves its totals alone: the lines this
    process holds may be older than another writer's. A batch that failed after writing
    its lines recomputes the totals when it is delivered again."""
    generation = Generation(database, "g1")
    partner = "P-fresh"

    async def totals() -> tuple[Any, ...]:
        doc = await generation["period_totals"].find_one({"_id": f"{partner}|{PERIOD}"})
        assert doc is not None
        return doc["revenue"], doc["deals"]

    signed = envelope("PartnerSigned", {"partner_id": partner, **PROFILE, "contract": CONTRACT})
    first = _commissionable(partner, "D-F1", "80000.00", "8000.00")
    await project_into(generation, _batch(signed))
    await project_into(generation, _batch(first))
    assert await totals() == ("80000.00", 1)

    # Another writer (a replica overlapping this one) adds a deal, then its totals.
    stored = await generation["lines"].find_one({"_id": partner})
    assert stored is not None
    other = decode_lines(stored)
    data = _commissionable(partner, "D-F2", "20000.00", "2000.00")["data"]
    fields = {k: data[k] for k in ("deal_id", "period", "currency", "amount", "status")}
    fields |= {k: data[k] for k in ("base", "uplift", "commission", "target_bonus")}
    fields["closed_at"] = "2026-10-05T12:00:00.000000Z"
    other.add([(deal_key("D-F2"), revision_key(1), revision_text(fields))])
    await generation["lines"].replace_one({"_id": partner}, encode_lines(other, other.version + 1))
    await generation["period_totals"].update_one(
        {"_id": f"{partner}|{PERIOD}"}, {"$set": {"revenue": "100000.00", "deals": 2}}
    )

    # D-F1's revision delivered again: nothing changes here, and the totals stand.
    await project_into(generation, _batch(first))
    assert await totals() == ("100000.00", 2)
    # The next change finds the newer version, reads it again and adds to it.
    await project_into(generation, _batch(_commissionable(partner, "D-F3", "5000.00", "500.00")))
    assert await totals() == ("105000.00", 3)

    # The totals' write fails once, after the lines were written; delivered again, the
    # batch changes no lines but recomputes the totals.
    real = store.bulk_write_chunked
    failures = []

    async def failing_once(collection: Any, operations: Any) -> None:
        if collection.name.endswith("period_totals") and not failures:
            failures.append(collection.name)
            raise RuntimeError("the server went away")
        await real(collection, operations)

    monkeypatch.setattr(store, "bulk_write_chunked", failing_once)
    with pytest.raises(RuntimeError, match="went away"):
        await project_into(
            generation, _batch(_commissionable(partner, "D-F4", "1000.00", "100.00"))
        )
    assert await totals() == ("105000.00", 3)
    await project_into(generation, _batch(_commissionable(partner, "D-F4", "1000.00", "100.00")))
    assert failures == ["g1_period_totals"]
    assert await totals() == ("106000.00", 4)
