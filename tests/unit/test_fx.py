"""Deals in another currency (docs/rules/fx.md): converted at the plan's fixed rate or the
pair's rate of the day they closed, before every other rule; fx_pending without a rate,
then a new revision once one arrives; corrections by the greatest version; any order and
any duplicates give the same results."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.incentives.domain import (
    DealResult,
    ExchangeRate,
    ExchangeRates,
    PartnerBook,
    apply_event,
    exchange_rate,
    next_revision,
)
from services.incentives.rates import RatesConsumer
from shared.events import (
    CloudEvent,
    CommissionPlan,
    CommissionStatus,
    ExchangeRateSet,
    InvalidEvent,
    Payload,
    describe_errors,
    new_rate_event,
    parse_event,
    parse_rate_event,
)
from tests.support.events import CONTRACT, PROFILE, message
from tests.unit.test_commission_engine import P, closed, event, signed
from tests.unit.test_incentives_service import OWN, Incentives, Service, service


def signed_for(partner_id: str) -> CloudEvent[Payload]:
    data = {"partner_id": partner_id, **PROFILE, "contract": CONTRACT}
    return parse_event(message("PartnerSigned", data, time="2026-09-01T00:00:00Z"))


def closed_for(partner_id: str, deal_id: str, currency: str) -> CloudEvent[Payload]:
    data = {
        "partner_id": partner_id,
        "deal_id": deal_id,
        "customer": "Globex",
        "product_line": "cloud",
        "amount": "10000.00",
        "currency": currency,
        "closed_at": "2026-10-05T12:00:00Z",
    }
    return parse_event(message("DealClosed", data, time="2026-10-05T12:00:01Z"))


_clock = itertools.count()
EUR_PLAN: dict[str, Any] = {"currency": "EUR"}


def rate(
    base: str, quote: str, day: str, value: str, *, later: int | None = None, source: str = "ECB"
) -> ExchangeRate:
    """A rate fact; ``later`` orders versions (a greater one is a later correction)."""
    moment = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=later or next(_clock))
    return ExchangeRate(
        base, quote, date.fromisoformat(day), Decimal(value), (moment, f"r-{moment}"), source
    )


Fact = CloudEvent[Payload] | ExchangeRate


def run(facts: list[Fact]) -> PartnerBook:
    book = PartnerBook(P)
    for fact in facts:
        if isinstance(fact, ExchangeRate):
            book.add_rate(fact)
        else:
            apply_event(book, fact)
    book.settle()
    return book


def result(book: PartnerBook, deal_id: str) -> DealResult:
    found = book.result(deal_id)
    assert found is not None
    return found


# --------------------------------------------------------------------------- the rates


def test_the_rate_of_a_day_is_the_latest_valid_from_it_and_corrections_win() -> None:
    rates = ExchangeRates()
    first = rate("EUR", "USD", "2026-10-01", "1.0800")
    november = rate("EUR", "USD", "2026-11-01", "1.0850", later=100)
    corrected = rate("EUR", "USD", "2026-11-01", "1.0860", later=200)
    for fact in (corrected, first, november, corrected):
        rates.add(fact)
    assert rates.on("EUR", "USD", date(2026, 9, 30)) is None, "before any rate"
    assert rates.on("EUR", "USD", date(2026, 10, 31)) == first
    assert rates.on("EUR", "USD", date(2026, 11, 1)) == corrected, "the day itself counts"
    assert rates.on("USD", "EUR", date(2026, 11, 5)) is None, "no inverse rate"
    assert len(rates) == 2


# --------------------------------------------------------------------------- the engine


def test_the_worked_example_converts_at_the_corrected_rate_of_the_day() -> None:
    book = run(
        [
            signed(),
            rate("EUR", "USD", "2026-10-01", "1.0800"),
            rate("EUR", "USD", "2026-11-01", "1.0850", later=100),
            closed("D-EUR", "2026-11-05", "10000.00", currency="EUR"),
            rate("EUR", "USD", "2026-11-01", "1.0860", later=200),
        ]
    )
    converted = result(book, "D-EUR")
    assert (converted.status, converted.amount, converted.currency) == (
        CommissionStatus.COMMISSIONABLE,
        Decimal("10860.00"),
        "USD",
    )
    assert (converted.original_amount, converted.original_currency, converted.fx_rate) == (
        Decimal("10000.00"),
        "EUR",
        Decimal("1.0860"),
    )
    assert converted.commission == Decimal("1086.00"), "10 % of 10 860.00"
    assert "converted at 1.0860 (EUR/USD from 2026-11-01 (ECB))" in converted.reason


def test_the_converted_amount_is_rounded_half_even_to_cents() -> None:
    book = run(
        [
            signed(),
            rate("GBP", "USD", "2026-10-01", "1.25"),
            closed("D-1", "2026-10-05", "0.02", currency="GBP"),  # 0.025 → 0.02
            closed("D-2", "2026-10-06", "0.06", currency="GBP"),  # 0.075 → 0.08
        ]
    )
    assert result(book, "D-1").amount == Decimal("0.02")
    assert result(book, "D-2").amount == Decimal("0.08")


def test_conversion_comes_before_the_brackets() -> None:
    """A USD deal on a EUR plan crosses the 100 000 bracket at its converted amount."""
    book = run(
        [
            signed(currency="EUR"),
            rate("USD", "EUR", "2026-10-01", "0.9"),
            closed("D-EUR", "2026-10-02", "90000.00", currency="EUR"),
            closed("D-USD", "2026-10-03", "20000.00", currency="USD"),  # 18 000.00 EUR
        ]
    )
    usd = result(book, "D-USD")
    assert (usd.amount, usd.currency, usd.cum_before) == (
        Decimal("18000.00"),
        "EUR",
        Decimal("90000.00"),
    )
    # 10 000.00 at 10 % and 8 000.00 at 12 %.
    assert usd.base == Decimal("1960.00")


def test_without_a_rate_a_deal_is_pending_and_not_revenue_until_one_arrives() -> None:
    facts: list[Fact] = [
        signed(commission_plan={**_plan(), "target_amount": "20000", "target_bonus": "500"}),
        closed("D-GBP", "2026-10-02", "10000.00", currency="GBP"),
        closed("D-USD", "2026-10-03", "15000.00"),
    ]
    book = run(facts)
    pending = result(book, "D-GBP")
    assert (pending.status, pending.commission, pending.currency, pending.amount) == (
        CommissionStatus.FX_PENDING,
        Decimal(0),
        "GBP",
        Decimal("10000.00"),
    )
    assert "no GBP/USD rate for 2026-10-02 yet" in pending.reason
    assert result(book, "D-USD").cum_before == 0, "a pending deal is not revenue"
    assert result(book, "D-USD").target_bonus == 0

    published = {d: next_revision(None, r) for d, r in book.results().items()}
    book.add_rate(rate("GBP", "USD", "2026-09-01", "1.2500"))
    changed = book.settle()
    assert sorted(changed) == ["D-GBP", "D-USD"], "the converted deal, and the one after it"
    revised = next_revision(published["D-GBP"], changed["D-GBP"])
    assert revised is not None
    assert (revised.revision, revised.result.status, revised.result.amount) == (
        2,
        CommissionStatus.COMMISSIONABLE,
        Decimal("12500.00"),
    )
    assert changed["D-USD"].target_bonus == Decimal("500"), "12 500 + 15 000 reach the target"


def test_a_correction_revises_exactly_the_deals_it_changes() -> None:
    book = run(
        [
            signed(),
            rate("EUR", "USD", "2026-10-01", "1.08", later=10),
            rate("EUR", "USD", "2026-11-01", "1.09", later=11),
            closed("OCT", "2026-10-15", "1000.00", currency="EUR"),
            closed("NOV", "2026-11-15", "1000.00", currency="EUR"),
        ]
    )
    book.add_rate(rate("EUR", "USD", "2026-11-01", "1.10", later=20))
    changed = book.settle()
    assert sorted(changed) == ["NOV"]
    assert changed["NOV"].amount == Decimal("1100.00")
    assert not book.add_rate(rate("EUR", "USD", "2026-11-01", "1.05", later=15)), (
        "an older version changes nothing"
    )


def test_the_plans_fixed_rate_overrides_the_topic() -> None:
    plan = {"fx_rates": {"EUR": "1.2000"}}
    book = run(
        [
            signed(commission_plan={**_plan(), **plan}),
            rate("EUR", "USD", "2026-10-01", "1.0800"),
            closed("D-EUR", "2026-10-05", "1000.00", currency="EUR"),
            closed("D-GBP", "2026-10-06", "1000.00", currency="GBP"),
        ]
    )
    fixed = result(book, "D-EUR")
    assert (fixed.amount, fixed.fx_rate) == (Decimal("1200.00"), Decimal("1.2000"))
    assert "the plan's fixed rate" in fixed.reason
    assert result(book, "D-GBP").status is CommissionStatus.FX_PENDING, "the plan names EUR only"
    assert book.pairs_needed() == {("GBP", "USD")}, "a fixed rate needs no rate from the topic"


def _plan() -> dict[str, Any]:
    plan: dict[str, Any] = dict(CONTRACT["commission_plan"])
    return plan


def test_any_order_and_any_duplicates_give_the_same_results() -> None:
    facts: list[Fact] = [
        signed(),
        rate("EUR", "USD", "2026-10-01", "1.08", later=1),
        rate("EUR", "USD", "2026-11-01", "1.09", later=2),
        rate("EUR", "USD", "2026-11-01", "1.095", later=3),
        rate("GBP", "USD", "2026-10-20", "1.27", later=4),
        closed("A", "2026-10-02", "50000.00", currency="EUR"),
        closed("B", "2026-10-21", "60000.00", currency="GBP"),
        closed("C", "2026-11-02", "70000.00", currency="EUR"),
        closed("D", "2026-11-03", "80000.00"),
        closed("E", "2026-10-03", "1000.00", currency="JPY"),
    ]
    expected = run(facts).results()
    assert expected["E"].status is CommissionStatus.FX_PENDING
    shuffler = random.Random(26)
    for _ in range(30):
        order = facts + shuffler.sample(facts, 4)
        shuffler.shuffle(order)
        assert run(order).results() == expected


def test_a_rate_event_reads_and_bad_ones_name_the_field() -> None:
    made = new_rate_event(
        ExchangeRateSet(
            base="EUR",
            quote="USD",
            rate=Decimal("1.0850"),
            valid_from=date(2026, 11, 1),
            source="ECB",
        ),
        source="test",
    )
    read = parse_rate_event(made.to_bytes())
    assert (read.subject, read.key, read.data.rate) == ("EUR/USD", b"EUR/USD", Decimal("1.0850"))
    assert exchange_rate(read.data, (read.time, read.id)).rate == Decimal("1.0850")
    body = made.model_dump(mode="json")
    for change, named in (
        ({"rate": "0"}, "data.rate"),
        ({"rate": "-1.2"}, "data.rate"),
        ({"rate": 1.2}, "data.rate"),
        ({"rate": "lots"}, "data.rate"),
        ({"base": "XXQ"}, "data.base"),
        ({"quote": "EUR", "base": "EUR"}, "data"),
        ({"valid_from": "2026-13-01"}, "data.valid_from"),
    ):
        bad = {**body, "data": {**body["data"], **change}}
        if "base" in change:
            bad["subject"] = f"{bad['data']['base']}/{bad['data']['quote']}"
        with pytest.raises(InvalidEvent) as refused:
            parse_rate_event(str(bad).replace("'", '"'))
        assert refused.value.reason.value == "invalid_data"
        assert named in str(refused.value), (change, str(refused.value))
    other = {**body, "type": "DealClosed"}
    with pytest.raises(InvalidEvent) as unknown:
        parse_rate_event(str(other).replace("'", '"'))
    assert unknown.value.reason.value == "unknown_type"


def test_a_rate_event_for_a_deal_event_on_the_wrong_topic_is_refused() -> None:
    deal = event("PartnerTierChanged", {"tier": "gold", "effective_date": "2026-10-01"})
    with pytest.raises(InvalidEvent):
        parse_rate_event(deal.to_bytes())


# --------------------------------------------------------------------------- the service


def rate_event(day: str, value: str, *, at: str, pair: tuple[str, str] = ("EUR", "USD")) -> Any:
    base, quote = pair
    return new_rate_event(
        ExchangeRateSet(
            base=base,
            quote=quote,
            rate=Decimal(value),
            valid_from=date.fromisoformat(day),
            source="treasury",
        ),
        source="test",
        time=datetime.fromisoformat(at),
        event_id=f"rate-{day}-{value}-{at}",
    )


def revisions(svc: Service, deal_id: str) -> list[dict[str, Any]]:
    found = [e["data"] for e in svc.publisher.of_type("CommissionCalculated")]
    return [d for d in found if d["deal_id"] == deal_id]


async def test_a_rate_arriving_after_the_deal_publishes_its_new_revision() -> None:
    svc = service()
    rates = RatesConsumer(svc.ledgers, svc.store)
    await svc.deliver([signed_for("P-1"), closed_for("P-1", "D-EUR", "EUR")])
    (pending,) = revisions(svc, "D-EUR")
    assert (pending["status"], pending["commission"], pending["revision"]) == (
        "fx_pending",
        "0",
        1,
    )
    assert "fx_rate" not in pending
    first = rate_event("2026-10-01", "1.0800", at="2026-10-01T06:00:00+00:00")
    await rates.handle([first, first])
    svc.publisher.flush()
    converted = revisions(svc, "D-EUR")[-1]
    assert (converted["revision"], converted["status"], converted["amount"]) == (
        2,
        "commissionable",
        "10800.00",
    )
    assert (converted["original_amount"], converted["original_currency"]) == ("10000.00", "EUR")
    assert (converted["fx_rate"], converted["currency"]) == ("1.0800", "USD")
    await rates.handle([first])
    svc.publisher.flush()
    assert len(revisions(svc, "D-EUR")) == 2, "a rate known already changes nothing"

    correction = rate_event("2026-10-01", "1.0900", at="2026-10-02T06:00:00+00:00")
    await rates.handle([correction])
    svc.publisher.flush()
    assert revisions(svc, "D-EUR")[-1]["amount"] == "10900.00"


async def test_a_rate_known_before_the_deal_converts_it_at_once() -> None:
    svc = service()
    rates = RatesConsumer(svc.ledgers, svc.store)
    await rates.handle([rate_event("2026-10-01", "1.0800", at="2026-10-01T06:00:00+00:00")])
    await svc.deliver([signed_for("P-1"), closed_for("P-1", "D-EUR", "EUR")])
    (only,) = revisions(svc, "D-EUR")
    assert (only["status"], only["amount"], only["fx_rate"]) == (
        "commissionable",
        "10800.00",
        "1.0800",
    )


async def test_rates_are_listed_as_they_stand() -> None:
    incentives = Incentives()
    rates = RatesConsumer(incentives.service.ledgers, incentives.service.store)
    await rates.handle(
        [
            rate_event("2026-10-01", "1.0800", at="2026-10-01T06:00:00+00:00"),
            rate_event("2026-10-01", "1.0900", at="2026-10-02T06:00:00+00:00"),
            rate_event("2026-11-01", "1.2500", at="2026-11-01T06:00:00+00:00", pair=("GBP", "USD")),
        ]
    )
    listed = incentives.get("/rates", key=OWN)
    assert listed.status_code == 200, listed.text
    assert [
        (r["base"], r["valid_from"], r["rate"], r["versions"]) for r in listed.json()["rates"]
    ] == [
        ("EUR", "2026-10-01", "1.0900", 2),
        ("GBP", "2026-11-01", "1.2500", 1),
    ]
    only = incentives.get("/rates", key=OWN, base="GBP", quote="USD").json()
    assert [r["rate"] for r in only["rates"]] == ["1.2500"]
    bad = incentives.get("/rates", key=OWN, base="euro")
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["detail"]] == [["query", "base"]]


def test_a_plans_fixed_rates_are_checked_naming_the_currency() -> None:
    good = CommissionPlan.model_validate({**_plan(), "fx_rates": {"EUR": "1.0850"}})
    assert good.fx_rates == {"EUR": Decimal("1.0850")}
    assert "fx_rates" not in CommissionPlan.model_validate(_plan()).model_dump(), (
        "a plan without fixed rates reads and writes as before"
    )
    for rates, named in (
        ({"EUR": "0"}, "fx_rates.EUR"),
        ({"EUR": 1.08}, "fx_rates.EUR"),
        ({"EURO": "1.08"}, "fx_rates.EURO"),
    ):
        with pytest.raises(ValidationError) as refused:
            CommissionPlan.model_validate({**_plan(), "fx_rates": rates})
        assert named in describe_errors(refused.value), describe_errors(refused.value)


async def test_a_rate_goes_to_a_partner_that_noted_its_pair_before_its_ledger_shows_it() -> None:
    """The consumer notes a pair, then reads the rates, then writes the ledger: a rate
    stored in between reaches the ledger all the same, and the consumer's write, finding
    the ledger changed, decides again with it."""
    svc = service()
    await svc.store.need_rates({"P-1": {("EUR", "USD")}})  # the consumer's batch, under way
    await RatesConsumer(svc.ledgers, svc.store).handle(
        [rate_event("2026-10-01", "1.0800", at="2026-10-01T06:00:00+00:00")]
    )
    (ledger,) = (await svc.ledgers.fresh(["P-1"])).values()
    assert ledger.version == 1, "written, so a write from an older read loses"
    assert ledger.rate_pairs == {("EUR", "USD")}
    assert [r.rate for r in ledger.book.rates] == [Decimal("1.0800")]
    await svc.deliver([signed_for("P-1"), closed_for("P-1", "D-EUR", "EUR")])
    (only,) = revisions(svc, "D-EUR")
    assert (only["status"], only["amount"]) == ("commissionable", "10800.00")
