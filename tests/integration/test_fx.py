"""Deals in another currency on real Kafka and FerretDB (docs/rules/fx.md).

A USD partner closes deals in EUR and GBP before any rate is known: both are fx_pending.
A finance system then publishes a file of rates with ``partnerhub publish`` (EUR/USD, a
correction of it, and a bad rate, which goes to ``rates.v1.dlq`` naming the field and
stops the file from being published until it is fixed). The EUR deal is converted at
the corrected rate, in incentives' revisions and in reporting's statement, exactly; the
GBP deal stays fx_pending. ``GET /rates`` lists the rates as they stand.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared import topics
from shared.events import ExchangeRateSet, new_rate_event
from shared.infra import start_group_at_end
from shared.settings import Settings
from tests.integration.test_cli import partnerhub
from tests.support.events import CONTRACT, DATA, PROFILE, envelope, send
from tests.support.eventually import eventually
from tests.support.incentives import from_now_on, incentives
from tests.support.kafka import collect
from tests.support.processes import ServiceProcess
from tests.support.services import drop_database, service_env


@pytest.fixture
async def services(
    settings: Settings, unique: str
) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    await from_now_on(settings, unique)
    await start_group_at_end(settings, f"reporting-{unique}", topics.CONSUMED["reporting"])
    engine = incentives(settings, unique).start()
    reads = ServiceProcess(
        "reporting", service_env(settings, f"test_fx_reporting_{unique}", f"reporting-{unique}")
    )
    try:
        reads.start()
        yield engine, reads
    finally:
        reads.stop()
        engine.stop()
        for database in (f"test_incentives_{unique}", f"test_fx_reporting_{unique}"):
            await drop_database(settings, database)


def rate(day: str, value: str, event_id: str, time: str, base: str = "EUR") -> dict[str, Any]:
    made = new_rate_event(
        ExchangeRateSet.model_validate(
            {"base": base, "quote": "USD", "rate": value, "valid_from": day, "source": "treasury"}
        ),
        source="/finance/treasury",
        event_id=event_id,
    )
    body: dict[str, Any] = made.model_dump(mode="json")
    body["time"] = time
    return body


async def test_deals_wait_for_their_rate_and_are_converted_exactly_when_it_comes(
    settings: Settings,
    producer: AIOKafkaProducer,
    services: tuple[ServiceProcess, ServiceProcess],
    unique: str,
    tmp_path: Path,
) -> None:
    engine, reads = services
    partner = f"P-fx-{unique}"
    signed = {
        "partner_id": partner,
        **PROFILE,
        "contract": {**CONTRACT, "contract_id": f"C-{unique}"},
    }
    await send(producer, topics.PARTNERS, envelope("PartnerSigned", signed))
    for deal_id, currency in ((f"D-EUR-{unique}", "EUR"), (f"D-GBP-{unique}", "GBP")):
        deal = {
            **DATA["DealClosed"],
            "partner_id": partner,
            "deal_id": deal_id,
            "amount": "10000.00",
            "currency": currency,
            "closed_at": "2026-11-05T12:00:00Z",
        }
        await send(producer, topics.DEALS, envelope("DealClosed", deal))

    def revisions(records: list[Any]) -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for record in records:
            data = json.loads(record.value)["data"]
            if data["revision"] > latest.get(data["deal_id"], {"revision": 0})["revision"]:
                latest[data["deal_id"]] = data
        return latest

    key = partner.encode()
    pending = revisions(
        await collect(
            settings,
            topics.INCENTIVES,
            lambda r: r.key == key and b"CommissionCalculated" in r.value,
            lambda found: len(revisions(found)) == 2,
        )
    )
    assert {d["status"] for d in pending.values()} == {"fx_pending"}

    # A file with a bad rate is refused whole, naming the field: nothing published.
    day = "2026-11-01"
    good = [
        rate(day, "1.0850", f"R1-{unique}", "2026-11-01T06:00:00Z"),
        rate(day, "1.0860", f"R2-{unique}", "2026-11-01T18:00:00Z"),  # the correction
    ]
    bad_file = tmp_path / "rates-bad.json"
    bad_file.write_text(json.dumps([*good, rate(day, "1", f"R3-{unique}", "2026-11-02T00:00:00Z")]))
    broken = json.loads(bad_file.read_text())
    broken[2]["data"]["rate"] = "-1.2"
    bad_file.write_text(json.dumps(broken))
    code, out = await partnerhub(settings, "publish", str(bad_file))
    assert code == 1, out
    assert "[2] data.rate" in out, out

    # A bad rate sent straight to the topic goes to its dead-letter topic, named.
    zero = rate(day, "1", f"R0-{unique}", "2026-11-02T00:00:00Z")
    zero["data"]["rate"] = "0"
    await send(producer, topics.RATES, zero)

    rates_file = tmp_path / "rates.json"
    rates_file.write_text(json.dumps(list(reversed(good))))  # the correction first
    code, out = await partnerhub(settings, "publish", str(rates_file))
    assert code == 0, out
    assert out.count("published ExchangeRateSet") == 2, out

    converted = revisions(
        await collect(
            settings,
            topics.INCENTIVES,
            lambda r: r.key == key and b"CommissionCalculated" in r.value,
            lambda found: revisions(found).get(f"D-EUR-{unique}", {}).get("revision") == 2,
        )
    )
    eur = converted[f"D-EUR-{unique}"]
    assert (eur["status"], eur["amount"], eur["currency"], eur["commission"]) == (
        "commissionable",
        "10860.00",
        "USD",
        "1086.00",
    )
    assert (eur["original_amount"], eur["original_currency"], eur["fx_rate"]) == (
        "10000.00",
        "EUR",
        "1.0860",
    )
    assert converted[f"D-GBP-{unique}"]["status"] == "fx_pending"

    dead = await collect(
        settings,
        topics.dead_letter_topic(topics.RATES),
        lambda r: f"R0-{unique}".encode() in (r.value or b""),
        lambda found: len(found) >= 1,
    )
    headers = dict(dead[0].headers)
    assert b"data.rate" in headers["dlq-error"], headers

    listed = engine.get("/rates", base="EUR", quote="USD").json()["rates"]
    mine = [r for r in listed if r["event_id"] in (f"R1-{unique}", f"R2-{unique}")]
    assert [(r["valid_from"], r["rate"]) for r in mine] == [(day, "1.0860")]

    def statement() -> dict[str, Any]:
        answer = reads.get(f"/partners/{partner}/statements/2026-Q4")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        lines = {line["deal_id"]: line for line in body["lines"]}
        assert lines[f"D-EUR-{unique}"]["status"] == "commissionable", lines
        return body

    shown = await eventually(statement)
    lines = {line["deal_id"]: line for line in shown["lines"]}
    line = lines[f"D-EUR-{unique}"]
    assert (line["amount"], line["original_amount"], line["original_currency"]) == (
        "10860.00",
        "10000.00",
        "EUR",
    )
    assert Decimal(line["fx_rate"]) == Decimal("1.0860")
    assert lines[f"D-GBP-{unique}"]["status"] == "fx_pending"
    assert Decimal(shown["revenue"]) == Decimal("10860.00"), "the GBP deal is no revenue yet"
