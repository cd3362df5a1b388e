"""A partner's MDF position served by a real reporting process (Kafka and the store),
from events a plain Kafka client publishes shuffled and duplicated, as enablement and
incentives would: per quarter (of the request, UTC) and currency, what was requested,
approved, claimed, approved in claims and reimbursed by settlements, to the cent; the
partner 360's summary and the programme summary's claimed and reimbursed figures
(docs/rules/enablement.md, "The partner's MDF position")."""

from __future__ import annotations

import json
import random
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.eventually import eventually
from tests.support.processes import ServiceProcess
from tests.support.reporting import RUN

#: The quarters of these tests' requests: no other test files MDF requests in 2025.
Q2, Q3 = "2025-Q2", "2025-Q3"
EVIDENCE = [{"kind": "invoice", "url": "https://files.example.com/i.pdf", "sha256": "b" * 64}]

Item = tuple[str, dict[str, Any]]


def _event(partner: str, event_type: str, name: str, at: str, **data: Any) -> Item:
    """An event of ``partner`` on enablement's topic (incentives' for a payout), with an
    id of its own per partner, so that publishing it again is a duplicate."""
    topic = topics.INCENTIVES if event_type == "PayoutSettled" else topics.ENABLEMENT
    event = envelope(
        event_type, {"partner_id": partner, **data}, id=f"mdf-it/{partner}/{name}", time=at
    )
    return topic, event


def mdf_partner(partner: str) -> list[Item]:
    """A partner's MDF requests, claims and the settlements that paid them (ids of its
    own, so that several partners of one run do not meet in the ``mdf`` collection):

    - M-1, 2025-04-10, 10 000.00 USD, approved: C-1 claims 6 000.00, 5 500.00 approved
      and paid by S-1; C-2 claims 4 000.00, rejected; C-3 claims 4 000.00, approved;
    - M-2, 2025-06-30 22:00 at −05:00, so 2025-07-01 03:00 UTC, in 2025-Q3: 2 500.50
      USD, approved; C-4 claims 1 234.56, approved and paid by S-2;
    - M-3, 2025-05-01, 4 000.00 USD, rejected;
    - M-4, 2025-04-20, 3 000.00 EUR, approved: C-5 claims 2 999.99, 1 000.01 approved
      and paid by S-3.
    """
    m1, m2, m3, m4 = (f"{partner}-M-{n}" for n in range(1, 5))
    c1, c2, c3, c4, c5 = (f"{partner}-C-{n}" for n in range(1, 6))

    def request(request: str, amount: str, currency: str, at: str) -> Item:
        return _event(
            partner,
            "MdfRequested",
            f"{request}/requested",
            at,
            request_id=request,
            campaign="Roadshow",
            amount=amount,
            currency=currency,
            requested_at=at,
        )

    def approve(request: str, amount: str, currency: str, at: str) -> Item:
        return _event(
            partner,
            "MdfApproved",
            f"{request}/approved",
            at,
            request_id=request,
            amount=amount,
            currency=currency,
            approved_at=at,
        )

    def claim(request: str, claim_id: str, amount: str, currency: str, at: str) -> Item:
        return _event(
            partner,
            "MdfClaimSubmitted",
            f"{claim_id}/submitted",
            at,
            request_id=request,
            claim_id=claim_id,
            amount=amount,
            currency=currency,
            activity_end=at[:10],
            evidence=EVIDENCE,
            submitted_at=at,
        )

    def approve_claim(request: str, claim_id: str, amount: str, currency: str, at: str) -> Item:
        return _event(
            partner,
            "MdfClaimApproved",
            f"{claim_id}/approved",
            at,
            request_id=request,
            claim_id=claim_id,
            approved_amount=amount,
            currency=currency,
            approved_at=at,
        )

    def pay(settlement: str, currency: str, amount: str, claims: list[str], at: str) -> Item:
        return _event(
            partner,
            "PayoutSettled",
            f"{settlement}/settled",
            at,
            settlement_id=f"{partner}-{settlement}",
            period=Q2,
            currency=currency,
            amount_paid="0.00",
            settled_at=at,
            mdf_reimbursed=amount,
            mdf_claims=claims,
        )

    return [
        (
            topics.PARTNERS,
            envelope(
                "PartnerSigned",
                {"partner_id": partner, **PROFILE, "contract": CONTRACT},
                id=f"mdf-it/{partner}/signed",
            ),
        ),
        request(m1, "10000.00", "USD", "2025-04-10T08:00:00Z"),
        approve(m1, "10000.00", "USD", "2025-04-12T08:00:00Z"),
        request(m2, "2500.50", "USD", "2025-06-30T22:00:00-05:00"),
        approve(m2, "2500.50", "USD", "2025-07-02T08:00:00Z"),
        request(m3, "4000.00", "USD", "2025-05-01T08:00:00Z"),
        _event(
            partner,
            "MdfRejected",
            f"{m3}/rejected",
            "2025-05-01T08:00:00Z",
            request_id=m3,
            rejected_at="2025-05-01T08:00:00Z",
            reason="over_budget: 4000.00 > 0.00",
        ),
        request(m4, "3000.00", "EUR", "2025-04-20T08:00:00Z"),
        approve(m4, "3000.00", "EUR", "2025-04-21T08:00:00Z"),
        claim(m1, c1, "6000.00", "USD", "2025-05-28T09:00:00Z"),
        approve_claim(m1, c1, "5500.00", "USD", "2025-06-02T09:00:00Z"),
        claim(m1, c2, "4000.00", "USD", "2025-06-03T09:00:00Z"),
        _event(
            partner,
            "MdfClaimRejected",
            f"{c2}/rejected",
            "2025-06-04T09:00:00Z",
            request_id=m1,
            claim_id=c2,
            reason="the invoice is another event's",
            rejected_at="2025-06-04T09:00:00Z",
        ),
        claim(m1, c3, "4000.00", "USD", "2025-06-05T09:00:00Z"),
        approve_claim(m1, c3, "4000.00", "USD", "2025-07-06T09:00:00Z"),
        claim(m2, c4, "1234.56", "USD", "2025-08-01T09:00:00Z"),
        approve_claim(m2, c4, "1234.56", "USD", "2025-08-02T09:00:00Z"),
        claim(m4, c5, "2999.99", "EUR", "2025-05-15T09:00:00Z"),
        approve_claim(m4, c5, "1000.01", "EUR", "2025-05-16T09:00:00Z"),
        pay("S-1", "USD", "5500.00", [c1], "2025-07-05T00:00:00Z"),
        pay("S-2", "USD", "1234.56", [c4], "2025-10-05T00:00:00Z"),
        pay("S-3", "EUR", "1000.01", [c5], "2025-07-05T00:00:00Z"),
    ]


def _quarter(quarter: str, currency: str, *amounts: str) -> dict[str, str]:
    names = ("requested", "approved", "claimed", "claims_approved", "reimbursed")
    return {
        "quarter": quarter,
        "currency": currency,
        **dict(zip(names, amounts, strict=True)),
        "released": "0.00",
    }


#: The position of :func:`mdf_partner`'s partner.
EXPECTED_QUARTERS = [
    _quarter(Q2, "EUR", "3000.00", "3000.00", "2999.99", "1000.01", "1000.01"),
    # M-1 and M-3 (rejected); C-1 6 000.00 + C-2 4 000.00 (rejected) + C-3 4 000.00
    # claimed, 5 500.00 + 4 000.00 approved, C-1's 5 500.00 paid.
    _quarter(Q2, "USD", "14000.00", "10000.00", "14000.00", "9500.00", "5500.00"),
    _quarter(Q3, "USD", "2500.50", "2500.50", "1234.56", "1234.56", "1234.56"),
]


async def _publish(producer: AIOKafkaProducer, partner: str, items: list[Item]) -> None:
    for topic, event in items:
        await producer.send(topic, json.dumps(event).encode(), key=partner.encode())
    await producer.flush()


async def test_the_mdf_position_is_exact_per_quarter_and_currency(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    """Shuffled, eight of them twice (payouts among them, perhaps): each claim is counted,
    and reimbursed, once."""
    reporting = reporting_from_now
    partner = f"P-mdf-{RUN}"
    items = mdf_partner(partner)
    rng = random.Random(31)
    await _publish(producer, partner, rng.sample(items, len(items)) + rng.sample(items, 8))

    def position_matches() -> None:
        answer = reporting.get(f"/partners/{partner}/mdf")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"partner_id": partner, "quarters": EXPECTED_QUARTERS}

    await eventually(position_matches)

    partner_view = reporting.get(f"/partners/{partner}").json()
    assert partner_view["mdf"] == [
        {
            "currency": "EUR",
            "requested": "3000.00",
            "approved": "3000.00",
            "claimed": "2999.99",
            "claims_approved": "1000.01",
            "reimbursed": "1000.01",
            "released": "0.00",
        },
        {
            "currency": "USD",
            "requested": "16500.50",
            "approved": "12500.50",
            "claimed": "15234.56",
            "claims_approved": "10734.56",
            "reimbursed": "6734.56",
            "released": "0.00",
        },
    ]

    # This reporting process sees this test's events only, and no other files requests in
    # 2025: the programme's figures of the quarter are this partner's.
    summary = reporting.get("/programme/summary", period=Q2).json()
    assert (summary["mdf_claimed"], summary["mdf_reimbursed"]) == (
        {"EUR": "2999.99", "USD": "14000.00"},
        {"EUR": "1000.01", "USD": "5500.00"},
    )
    assert reporting.get("/partners/P-nobody/mdf").status_code == 404


async def test_a_claim_approved_and_paid_before_its_submission_arrives_counts_once(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess
) -> None:
    reporting = reporting_from_now
    partner = f"P-mdf-early-{RUN}"
    request, claim_id = f"{partner}-M-1", f"{partner}-C-1"
    at = "2025-04-10T08:00:00Z"
    asked = _event(
        partner,
        "MdfRequested",
        "requested",
        at,
        request_id=request,
        campaign="Webinar",
        amount="1000.00",
        currency="USD",
        requested_at=at,
    )
    approved = _event(
        partner,
        "MdfClaimApproved",
        "claim-approved",
        "2025-05-02T08:00:00Z",
        request_id=request,
        claim_id=claim_id,
        approved_amount="250.25",
        currency="USD",
        approved_at="2025-05-02T08:00:00Z",
    )
    paid = _event(
        partner,
        "PayoutSettled",
        "settled",
        "2025-07-05T00:00:00Z",
        settlement_id=f"{partner}-S-1",
        period=Q2,
        currency="USD",
        amount_paid="0.00",
        settled_at="2025-07-05T00:00:00Z",
        mdf_reimbursed="250.25",
        mdf_claims=[claim_id],
    )
    await _publish(producer, partner, [approved, paid, asked, paid])

    def figures() -> dict[str, str]:
        answer = reporting.get(f"/partners/{partner}/mdf")
        assert answer.status_code == 200, answer.text
        quarters = answer.json()["quarters"]
        assert len(quarters) == 1, quarters  # none until the request arrives
        quarter = quarters[0]
        return {k: v for k, v in quarter.items() if k not in ("quarter", "currency")}

    def approved_and_paid_without_the_submission() -> None:
        assert figures() == {
            "requested": "1000.00",
            "approved": "0.00",
            "claimed": "0.00",
            "claims_approved": "250.25",
            "reimbursed": "250.25",
            "released": "0.00",
        }

    await eventually(approved_and_paid_without_the_submission)

    submitted = _event(
        partner,
        "MdfClaimSubmitted",
        "claim-submitted",
        "2025-05-01T08:00:00Z",
        request_id=request,
        claim_id=claim_id,
        amount="300.00",
        currency="USD",
        activity_end="2025-04-30",
        evidence=EVIDENCE,
        submitted_at="2025-05-01T08:00:00Z",
    )
    await _publish(producer, partner, [submitted, paid])

    def with_the_submission() -> None:
        found = figures()
        assert (found["claimed"], found["claims_approved"], found["reimbursed"]) == (
            "300.00",
            "250.25",
            "250.25",
        )

    await eventually(with_the_submission)
