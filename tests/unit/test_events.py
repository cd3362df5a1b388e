"""The event contract: every type parses, serialises money as strings, and bad input names its field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import topics
from shared.events import (
    PAYLOADS,
    CloudEvent,
    DealClosed,
    InvalidEvent,
    InvalidReason,
    new_event,
    parse_event,
)
from tests.support.events import DATA, envelope, message


def test_every_event_type_has_an_example() -> None:
    assert set(DATA) == set(PAYLOADS)


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_example_parses_and_round_trips(event_type: str) -> None:
    event = parse_event(message(event_type))
    assert isinstance(event.data, PAYLOADS[event_type])
    assert event.type == event_type
    again = parse_event(event.to_bytes())
    assert again == event
    assert event.topic in topics.EVENT_TOPICS
    assert event.key == DATA[event_type]["partner_id"].encode()


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_every_event_type_is_refused_on_another_topic(event_type: str) -> None:
    home = PAYLOADS[event_type].kafka_topic
    elsewhere = next(t for t in topics.EVENT_TOPICS if t != home)
    parse_event(message(event_type), topic=home)
    with pytest.raises(InvalidEvent) as caught:
        parse_event(message(event_type), topic=elsewhere)
    assert caught.value.reason is InvalidReason.UNKNOWN_TYPE
    assert home in str(caught.value)


def test_money_is_decimal_in_python_and_a_string_on_the_wire() -> None:
    event = parse_event(message("DealClosed"))
    assert isinstance(event.data, DealClosed)
    assert event.data.amount == Decimal("80000.00")
    wire = json.loads(event.to_bytes())
    assert wire["data"]["amount"] == "80000.00"
    signed = json.loads(parse_event(message("PartnerSigned")).to_bytes())
    plan = signed["data"]["contract"]["commission_plan"]
    assert plan["brackets"][1] == {"from": "100000", "rate": "0.12"}
    assert plan["period_cap"] is None


def test_extra_fields_are_kept() -> None:
    data = {**DATA["DealClosed"], "crm_opportunity": "OPP-7"}
    event = parse_event(message("DealClosed", data), topic=topics.DEALS)
    assert json.loads(event.to_bytes())["data"]["crm_opportunity"] == "OPP-7"


def test_new_event_fills_type_subject_and_topic() -> None:
    closed_at = datetime(2026, 10, 5, tzinfo=UTC)
    deal = DealClosed(
        partner_id="P-7",
        deal_id="D-9",
        customer="Initech",
        product_line="cloud",
        amount=Decimal("10.50"),
        currency="EUR",
        closed_at=closed_at,
    )
    event = new_event(deal, source="/crm/emea", event_id="e-1")
    assert (event.type, event.subject, event.topic, event.id) == (
        "DealClosed",
        "P-7",
        "deals.v1",
        "e-1",
    )
    assert parse_event(event.to_bytes()) == event


def _bad(event: dict[str, Any]) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(json.dumps(event).encode())
    return caught.value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", InvalidReason.NOT_JSON),
        (b"\xff\xfe\x00", InvalidReason.NOT_JSON),
        (b"", InvalidReason.NOT_JSON),
        (b"[1, 2]", InvalidReason.NOT_CLOUDEVENT),
        (b'"a string"', InvalidReason.NOT_CLOUDEVENT),
    ],
)
def test_not_json_or_not_an_object(raw: bytes, reason: InvalidReason) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    "attribute", ["specversion", "id", "source", "type", "time", "subject", "data"]
)
def test_missing_envelope_attribute_is_named(attribute: str) -> None:
    event = envelope("DealClosed")
    del event[attribute]
    error = _bad(event)
    assert error.reason is InvalidReason.NOT_CLOUDEVENT
    assert attribute in error.message


def test_wrong_specversion_and_naive_time() -> None:
    error = _bad(envelope("DealClosed", specversion="0.3"))
    assert error.reason is InvalidReason.NOT_CLOUDEVENT
    assert "specversion" in error.message
    error = _bad(envelope("DealClosed", time="2026-11-29T10:00:00"))
    assert "time" in error.message


def test_unknown_type() -> None:
    error = _bad(envelope("DealClosed", type="DealWon"))
    assert error.reason is InvalidReason.UNKNOWN_TYPE
    assert "DealWon" in error.message


def _with(event_type: str, path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(DATA[event_type])
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return envelope(event_type, data)


_DELETE = object()


@pytest.mark.parametrize(
    ("event_type", "path", "value", "named"),
    [
        ("DealClosed", "amount", 80000.5, "data.amount"),
        ("DealClosed", "amount", 80000, "data.amount"),
        ("DealClosed", "amount", "80,000", "data.amount"),
        ("DealClosed", "amount", "NaN", "data.amount"),
        ("DealClosed", "amount", "-5.00", "data.amount"),
        ("DealClosed", "currency", "usd", "data.currency"),
        ("DealClosed", "currency", "XYZ", "data.currency"),
        ("DealClosed", "closed_at", "yesterday", "data.closed_at"),
        ("DealClosed", "closed_at", "2026-10-05T12:00:00", "data.closed_at"),
        ("DealClosed", "deal_id", _DELETE, "data.deal_id"),
        ("DealClosed", "deal_id", "", "data.deal_id"),
        ("PartnerSigned", "contract.end_date", "2026-09-30", "data.contract"),
        ("PartnerSigned", "contract.tier", "diamond", "data.contract.tier"),
        (
            "PartnerSigned",
            "contract.commission_plan.period",
            "week",
            "data.contract.commission_plan.period",
        ),
        (
            "PartnerSigned",
            "contract.commission_plan.brackets.0.from",
            "10",
            "data.contract.commission_plan.brackets",
        ),
        (
            "PartnerSigned",
            "contract.commission_plan.brackets.1.from",
            "0",
            "data.contract.commission_plan.brackets",
        ),
        (
            "PartnerSigned",
            "contract.commission_plan.brackets.1.rate",
            "1.5",
            "data.contract.commission_plan.brackets.1.rate",
        ),
        (
            "PartnerSigned",
            "contract.commission_plan.brackets.1.rate",
            0.12,
            "data.contract.commission_plan.brackets.1.rate",
        ),
        (
            "PartnerSigned",
            "contract.commission_plan.brackets",
            [],
            "data.contract.commission_plan.brackets",
        ),
        (
            "PartnerSigned",
            "contract.commission_plan.clawback_days",
            -1,
            "data.contract.commission_plan.clawback_days",
        ),
        (
            "PartnerSigned",
            "contract.commission_plan.period_cap",
            "-1",
            "data.contract.commission_plan.period_cap",
        ),
        (
            "PartnerSigned",
            "contract.commission_plan.target_bonus",
            5000.0,
            "data.contract.commission_plan.target_bonus",
        ),
        ("TrainingCompleted", "score", 101, "data.score"),
        ("PartnerFeedbackSubmitted", "rating", 0, "data.rating"),
        ("CertificationAwarded", "expires_at", "2026-10-01T00:00:00Z", "data"),
        ("CommissionCalculated", "revision", 0, "data.revision"),
        ("CommissionCalculated", "period", "2026-Q5", "data.period"),
        ("CommissionCalculated", "status", "paid", "data.status"),
        ("PayoutSettled", "carried_adjustments.0.amount", 1.5, "data.carried_adjustments.0.amount"),
        ("PartnerApplied", "scorecard.fit", 6, "data.scorecard.fit"),
    ],
)
def test_invalid_data_names_the_field(event_type: str, path: str, value: Any, named: str) -> None:
    error = _bad(_with(event_type, path, value))
    assert error.reason is InvalidReason.INVALID_DATA
    assert named in error.message, error.message


def test_float_money_is_refused_with_a_clear_message() -> None:
    error = _bad(_with("DealClosed", "amount", 80000.5))
    assert "must be a JSON string holding a decimal" in error.message


def test_subject_must_be_the_partner() -> None:
    error = _bad(envelope("DealClosed", subject="P-999"))
    assert error.reason is InvalidReason.INVALID_DATA
    assert "subject" in error.message


@given(
    st.decimals(
        min_value=Decimal(0),
        max_value=Decimal("1e12"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_any_two_place_amount_survives_the_wire_exactly(amount: Decimal) -> None:
    data = {**DATA["DealClosed"], "amount": str(amount)}
    event = parse_event(message("DealClosed", data))
    assert isinstance(event.data, DealClosed)
    assert event.data.amount == amount
    assert json.loads(event.to_bytes())["data"]["amount"] == str(amount)


def test_generic_envelope_type_matches_payload() -> None:
    event = parse_event(message("PartnerTerminated"))
    assert isinstance(event, CloudEvent)
    assert event.data.partner_id == "P-100"
