"""A partner's history (docs/rules/events.md, "A partner's history"): every event about a
partner becomes one entry with its sentence and its actor; the entries read back are the
same whatever the order and however often the events arrive (received again later, an
event keeps its first receipt); ``GET /partners/{partner_id}/history`` serves a window
of days, in the order received, to the partner itself and to staff."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.reporting.history import SUMMARIES, summary
from services.reporting.projection import PROJECTIONS, Projection, received_at
from services.reporting.queries import ReportingQueries
from shared import events as contract
from shared.events import parse_event
from tests.support.events import DATA, envelope
from tests.support.reporting import P
from tests.unit.test_reporting_service import PARTNER_KEY, FakeDatabase, Reporting

#: What the history says of each example event of tests/support/events.py.
SENTENCES = {
    "PartnerApplied": (
        "Application A-1 received from Acme Cloud Resellers: scored 77 of 100, "
        "recommendation approve"
    ),
    "PartnerApproved": "Application A-1 approved",
    "PartnerRejected": "Application A-2 rejected: no expertise in our product lines",
    "PartnerSigned": "Contract C-100-1 signed: gold tier, paid in USD, from 2026-10-01 to 2027-09-30",
    "ContractRenewed": (
        "Contract C-100-2 signed as a renewal: gold tier, paid in USD, "
        "from 2027-10-01 to 2028-09-30"
    ),
    "PartnerTierChanged": "Tier changed to platinum from 2027-01-01",
    "PartnerTerminated": "Partnership terminated from 2027-12-31: breach of contract",
    "DealRegistered": (
        "Deal D-4 registered as R-4 for Globex, security: expected 10,000.00 (currency not stated)"
    ),
    "DealRegistrationApproved": "Registration R-4 approved",
    "DealRegistrationRejected": "Registration R-5 rejected: channel conflict",
    "DealClosed": "Deal D-1 closed: 80,000.00 USD (Initech, cloud)",
    "DealCancelled": "Deal D-2 cancelled: customer withdrew",
    "TrainingCompleted": "Learner L-1 completed course CLOUD-101 with a score of 88",
    "CertificationAwarded": (
        "Learner L-1 awarded certification CERT-CLOUD (cloud), valid until 2027-11-01"
    ),
    "PartnerFeedbackSubmitted": "Feedback F-1 sent on training: rated 4 of 5",
    "CustomerSurveyCompleted": "Customer Initech answered survey S-1: 9 of 10 (deal D-1)",
    "MdfRequested": "MDF of 12,000.00 EUR asked for Cloud roadshow (request M-1)",
    "MdfApproved": "MDF request M-1 approved: 12,000.00 EUR",
    "MdfRejected": "MDF request M-2 rejected: over the quarterly budget",
    "CommissionCalculated": (
        "Commission of D-3 calculated, revision 1: 30,400.00 USD and a target bonus of 5,000.00 USD"
    ),
    "PayoutSettled": (
        "Paid 38,100.00 USD for 2026-Q4 (settlement S-2026-Q4-P-100), "
        "including -250.00 USD carried for 2026-Q3"
    ),
    "DealRegistrationExtensionRequested": (
        "Registration R-4: 30 more days of protection asked for: "
        "procurement moved the signature to next quarter"
    ),
    "DealRegistrationExtended": "Registration R-4 extended by 30 days, protected until 2027-03-15",
    "DealRegistrationExtensionRejected": (
        "Extension of registration R-4 refused: the customer chose another partner"
    ),
    "CommissionInquiryOpened": (
        "Inquiry I-1 on the commission of D-1 opened: the registered-deal bonus is missing"
    ),
    "CommissionInquiryResolved": (
        "Inquiry I-1 resolved, adjusted: the registration was approved late by mistake"
    ),
    "CommissionAdjusted": (
        "2026-Q4 adjusted by 800.00 USD on D-1: registered-deal bonus approved late by mistake"
    ),
    "MdfClaimSubmitted": (
        "MDF claim MC-1 of 7,500.00 EUR sent on request M-1, with 1 piece of evidence"
    ),
    "MdfClaimApproved": "MDF claim MC-1 approved: 7,000.00 EUR",
    "MdfClaimRejected": "MDF claim MC-2 rejected: the invoice is not the roadshow's",
    "MdfFundsReleased": (
        "MDF request M-1: 1,250.00 USD unclaimed in all, released to the 2026-Q3 budget"
    ),
}

#: More sentences: what the examples leave out (a renewal naming its contract, a
#: commission line that is not commissionable, one waiting for an exchange rate, one
#: converted from another currency, a re-run paying nothing carried, a tier change with
#: its reason).
VARIANTS = [
    (
        "ContractRenewed",
        {"renewed_contract_id": "C-100-1"},
        "Contract C-100-2 signed as a renewal following C-100-1: gold tier, paid in USD, "
        "from 2027-10-01 to 2028-09-30",
    ),
    (
        "CommissionCalculated",
        {"deal_id": "D-1", "revision": 2, "status": "clawed_back", "commission": "0"},
        "Commission of D-1 calculated, revision 2: 0.00 USD "
        "and a target bonus of 5,000.00 USD (clawed back)",
    ),
    (
        "CommissionCalculated",
        {"deal_id": "D-1", "revision": 2, "commission": "8000", "target_bonus": "0.00"},
        "Commission of D-1 calculated, revision 2: 8,000.00 USD",
    ),
    (
        "CommissionCalculated",
        {
            "deal_id": "D-9",
            "status": "fx_pending",
            "currency": "EUR",
            "amount": "10000.00",
            "base": "0",
            "uplift": "0",
            "commission": "0",
            "target_bonus": "0",
        },
        "Commission of D-9 calculated, revision 1: 0.00 EUR "
        "(no exchange rate for its currency yet)",
    ),
    (
        "CommissionCalculated",
        {
            "deal_id": "D-9",
            "revision": 2,
            "amount": "10860.00",
            "commission": "1086.00",
            "target_bonus": "0",
            "original_amount": "10000.00",
            "original_currency": "EUR",
            "fx_rate": "1.0860",
        },
        "Commission of D-9 calculated, revision 2: 1,086.00 USD "
        "(the deal's 10,860.00 USD converted from 10,000.00 EUR at 1.0860 USD per EUR)",
    ),
    (
        "CommissionCalculated",
        {
            "deal_id": "D-9",
            "revision": 3,
            "status": "clawed_back",
            "amount": "10860.00",
            "commission": "0",
            "target_bonus": "0",
            "original_amount": "10000.00",
            "original_currency": "EUR",
            "fx_rate": "0.92",
        },
        "Commission of D-9 calculated, revision 3: 0.00 USD (clawed back; "
        "the deal's 10,860.00 USD converted from 10,000.00 EUR at 0.92 USD per EUR)",
    ),
    (
        "CommissionCalculated",
        {
            "deal_id": "D-8",
            "status": "currency_mismatch",
            "currency": "EUR",
            "commission": "0",
            "target_bonus": "0",
        },
        "Commission of D-8 calculated, revision 1: 0.00 EUR (its currency is not the contract's)",
    ),
    (
        "PayoutSettled",
        {"settlement_id": "S-1", "carried_adjustments": [], "rerun": True},
        "Paid 38,100.00 USD for 2026-Q4 (settlement S-1, a re-run)",
    ),
    (
        "PayoutSettled",
        {"settlement_id": "S-2", "carried_adjustments": [], "mdf_reimbursed": "7000.00"},
        "Paid 38,100.00 USD for 2026-Q4 (settlement S-2); and 7,000.00 USD for MDF claims",
    ),
    (
        "PayoutSettled",
        {
            "settlement_id": "S-3",
            "carried_adjustments": [],
            "mdf_other_currencies": [{"currency": "EUR", "amount": "900", "claims": ["MC-9"]}],
        },
        "Paid 38,100.00 USD for 2026-Q4 (settlement S-3); and 900.00 EUR for MDF claims, apart",
    ),
    (
        "PartnerTierChanged",
        {"reason": "yearly review"},
        "Tier changed to platinum from 2027-01-01: yearly review",
    ),
    (
        "DealRegistrationRejected",
        {"actor": {"kind": "person", "id": "maria"}, "reason": "entered twice"},
        "Registration R-5 rejected by hand: entered twice",
    ),
    (
        "DealRegistrationRejected",
        {"actor": {"kind": "system", "id": "incentives"}, "conflicting_registration_id": "R-4"},
        "Registration R-5 rejected: channel conflict with R-4",
    ),
]

PERSON = {"kind": "person", "id": "pat"}
DAY = datetime(2027, 1, 10, 9, tzinfo=UTC)


async def deliver(database: FakeDatabase, raw: list[dict[str, Any]], at: datetime) -> None:
    """One batch, received at ``at``."""
    batch = [parse_event(json.dumps(event)) for event in raw]
    stamp = int(at.timestamp() * 1000)
    await Projection(database).project(batch, received_at((e.id, stamp) for e in batch))  # type: ignore[arg-type]


async def read(database: FakeDatabase, partner_id: str, days: int = 30) -> list[dict[str, Any]]:
    queries = ReportingQueries(database)  # type: ignore[arg-type]
    return await queries.history(partner_id, DAY - timedelta(days=days), DAY + timedelta(days=1))


# --------------------------------------------------------------------------- every event type


def test_every_event_type_has_a_sentence_and_every_example_one_here() -> None:
    assert set(SUMMARIES) == set(contract.PAYLOAD_TYPES)
    assert set(SENTENCES) == set(DATA) == set(contract.PAYLOADS)
    assert set(PROJECTIONS) < set(SUMMARIES), "the read models' types are in the history too"


@pytest.mark.parametrize("event_type", sorted(SENTENCES))
async def test_each_event_type_becomes_one_entry_with_its_sentence(event_type: str) -> None:
    database = FakeDatabase()
    event = envelope(event_type, time="2026-11-29T10:00:00+01:00", source="/crm/emea")
    await deliver(database, [event], DAY)
    partner = DATA[event_type]["partner_id"]
    assert await read(database, partner) == [
        {
            "id": event["id"],
            "type": event_type,
            "time": "2026-11-29T09:00:00.000000Z",
            "at": "2027-01-10T09:00:00.000000Z",
            "source": "/crm/emea",
            "actor": DATA[event_type].get("actor"),
            "summary": SENTENCES[event_type],
        }
    ]


@pytest.mark.parametrize(
    ("event_type", "changes", "sentence"),
    VARIANTS,
    ids=[f"{t}-{n}" for n, (t, _, _) in enumerate(VARIANTS)],
)
def test_the_sentences_say_what_the_examples_do_not_show(
    event_type: str, changes: dict[str, Any], sentence: str
) -> None:
    event = parse_event(json.dumps(envelope(event_type, {**DATA[event_type], **changes})))
    assert summary(event.data) == sentence


#: A money figure in a sentence: two decimals, thousands grouped (an exchange rate of
#: more decimals, such as 1.0860, is none).
MONEY = re.compile(r"-?\d{1,3}(?:,\d{3})*\.\d{2}(?!\d)")


def test_money_is_always_said_with_its_currency() -> None:
    sentences = [*SENTENCES.values(), *(sentence for _, _, sentence in VARIANTS)]
    figures = [(m[0], s[m.end() :]) for s in sentences for m in MONEY.finditer(s)]
    assert len(figures) >= 10
    for figure, after in figures:
        assert re.match(r" ([A-Z]{3}\b|\(currency not stated\))", after), (figure, after)


# --------------------------------------------------------------------------- how it is kept


async def test_a_batch_is_one_write_per_partner_and_day_and_duplicates_read_once() -> None:
    """Received in any order, in any batches, some twice (later), the history reads the
    same: each event once, at its first receipt, in the order received."""
    raw = [envelope(t, {**DATA[t], "partner_id": "P-1"}) for t in sorted(DATA)]
    natural = FakeDatabase()
    for n, event in enumerate(raw):
        await deliver(natural, [event], DAY + timedelta(minutes=n))
    expected = await read(natural, "P-1")
    assert [e["type"] for e in expected] == sorted(DATA)

    shuffled = FakeDatabase()
    order = list(enumerate(raw))
    random.Random(7).shuffle(order)
    for start in range(0, len(order), 4):
        for n, event in order[start : start + 4]:
            await deliver(shuffled, [event], DAY + timedelta(minutes=n))
    for n, event in order[:6]:  # published again, received later: read once
        await deliver(shuffled, [event], DAY + timedelta(days=1, minutes=n))
    assert await read(shuffled, "P-1") == expected
    one = FakeDatabase()
    await deliver(one, raw, DAY)
    (bucket,) = one.documents("history").values()
    assert len(bucket["chunks"]) == 1, "one batch: one chunk of the partner's day"


async def test_an_entry_names_the_actor_its_event_names() -> None:
    database = FakeDatabase()
    asked = envelope("MdfRequested", {**DATA["MdfRequested"], "actor": PERSON})
    key = {"kind": "key", "id": "0123456789ab"}
    registered = envelope("DealRegistered", {**DATA["DealRegistered"], "actor": key})
    decided = envelope(
        "DealRegistrationApproved",
        {**DATA["DealRegistrationApproved"], "actor": {"kind": "system", "id": "incentives"}},
    )
    await deliver(database, [asked, registered, decided], DAY)
    entries = {e["type"]: e["actor"] for e in await read(database, "P-100")}
    assert entries == {
        "MdfRequested": PERSON,
        "DealRegistered": key,
        "DealRegistrationApproved": {"kind": "system", "id": "incentives"},
    }


# --------------------------------------------------------------------------- the API


async def test_the_history_is_served_a_window_at_a_time_to_the_partner_and_staff() -> None:
    database = FakeDatabase()
    partner = DATA["DealClosed"]["partner_id"]
    await deliver(database, [envelope("PartnerSigned")], DAY - timedelta(days=40))
    await deliver(database, [envelope("DealClosed")], DAY)
    reporting = Reporting(database)
    until = (DAY + timedelta(days=1)).isoformat()
    recent = reporting.json(f"/partners/{partner}/history", until=until)
    assert [e["type"] for e in recent["entries"]] == ["DealClosed"]
    assert recent["entries"][0]["received_at"] == "2027-01-10T09:00:00.000000Z"
    older = reporting.get(recent["earlier"]).json()
    assert [e["type"] for e in older["entries"]] == ["PartnerSigned"]
    wide = reporting.json(
        f"/partners/{partner}/history", since=(DAY - timedelta(days=60)).isoformat(), until=until
    )
    assert [e["type"] for e in wide["entries"]] == ["PartnerSigned", "DealClosed"]

    too_long = reporting.get(
        f"/partners/{partner}/history", since=(DAY - timedelta(days=400)).isoformat(), until=until
    )
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["query", "since"]
    naive = reporting.get(f"/partners/{partner}/history", until="2027-01-10T00:00:00")
    assert naive.status_code == 422
    assert reporting.get("/partners/P-none/history", until=until).status_code == 404
    assert reporting.get(f"/partners/{partner}/history", key=PARTNER_KEY).status_code == 403
    await deliver(database, [envelope("DealClosed", {**DATA["DealClosed"], "partner_id": P})], DAY)
    own = reporting.get(f"/partners/{P}/history", key=PARTNER_KEY, until=until)
    assert [e["type"] for e in own.json()["entries"]] == ["DealClosed"]
