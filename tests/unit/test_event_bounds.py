"""Every string, list and amount of the event contract is bounded (docs/rules/events.md,
"Bounds"): an event beyond a bound is invalid_data naming the field and the limit, so a
broken or hostile producer cannot fill the read models or a consumer's memory."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.events import (
    EXTRA_MAX_BYTES,
    LIST_MAX,
    PAYLOADS,
    SHORT_MAX,
    TEXT_MAX,
    InvalidEvent,
    InvalidReason,
    event_json_schema,
    parse_event,
)
from tests.support.events import DATA, message


def refused(
    event_type: str,
    data: dict[str, Any],
    reason: InvalidReason = InvalidReason.INVALID_DATA,
    **attributes: Any,
) -> str:
    with pytest.raises(InvalidEvent) as invalid:
        parse_event(message(event_type, data, **attributes))
    assert invalid.value.reason is reason
    return str(invalid.value)


STRING_FIELDS = [
    (event_type, field)
    for event_type, example in sorted(DATA.items())
    for field, value in example.items()
    if isinstance(value, str) and field != "partner_id"
]


@pytest.mark.parametrize(("event_type", "field"), STRING_FIELDS)
def test_every_string_of_every_event_is_bounded(event_type: str, field: str) -> None:
    data = copy.deepcopy(DATA[event_type])
    data[field] = "x" * (TEXT_MAX + 1)
    assert f"data.{field}" in refused(event_type, data)


def test_a_customer_of_900_000_characters_is_refused_naming_the_limit() -> None:
    data = {**DATA["DealClosed"], "customer": "x" * 900_000}
    said = refused("DealClosed", data)
    assert f"data.customer: String should have at most {SHORT_MAX} characters" in said


def test_free_text_may_be_longer_than_a_name_but_not_without_end() -> None:
    reason = {**DATA["PartnerRejected"], "reason": "y" * TEXT_MAX}
    parse_event(message("PartnerRejected", reason))
    reason["reason"] = "y" * (TEXT_MAX + 1)
    assert f"at most {TEXT_MAX} characters" in refused("PartnerRejected", reason)


def test_the_partner_id_and_the_envelope_are_bounded() -> None:
    """The envelope's attributes are the CloudEvent's own: beyond a bound, the message is
    not a CloudEvent of the contract (not_cloudevent), naming the attribute."""
    data = {**DATA["DealClosed"], "partner_id": "P" * (SHORT_MAX + 1)}
    said = refused("DealClosed", data, InvalidReason.NOT_CLOUDEVENT, subject=data["partner_id"])
    assert f"subject: String should have at most {SHORT_MAX} characters" in said
    long_id = "e" * (SHORT_MAX + 1)
    said = refused("DealClosed", DATA["DealClosed"], InvalidReason.NOT_CLOUDEVENT, id=long_id)
    assert said.startswith("not_cloudevent: id: ")


@pytest.mark.parametrize("amount", ["1000000000000000.00", "-1000000000000000", "9" * 40])
def test_money_is_bounded_in_magnitude(amount: str) -> None:
    data = {**DATA["DealClosed"], "amount": amount}
    assert "data.amount" in refused("DealClosed", data)


def test_the_largest_amount_allowed_is_read() -> None:
    data = {**DATA["DealClosed"], "amount": "999999999999999.99"}
    assert str(parse_event(message("DealClosed", data)).data.amount) == "999999999999999.99"


def test_lists_are_bounded() -> None:
    claim = copy.deepcopy(DATA["MdfClaimSubmitted"])
    one = claim["evidence"][0]
    claim["evidence"] = [{**one, "sha256": f"{n:064x}"} for n in range(LIST_MAX + 1)]
    assert "data.evidence" in refused("MdfClaimSubmitted", claim)


def test_fields_beyond_the_contract_are_kept_within_a_bound() -> None:
    kept = {**DATA["DealClosed"], "crm_note": "small"}
    assert parse_event(message("DealClosed", kept)).data.model_extra == {"crm_note": "small"}
    data = {**DATA["DealClosed"], "crm_blob": "z" * EXTRA_MAX_BYTES}
    said = refused("DealClosed", data)
    assert "crm_blob" in said
    assert f"at most {EXTRA_MAX_BYTES}" in said


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_the_json_schemas_carry_the_bounds(event_type: str) -> None:
    schema = event_json_schema(PAYLOADS[event_type])
    text = str(schema)
    assert "maxLength" in text, f"{event_type}: no string bound in its schema"
