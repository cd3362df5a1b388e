"""What the reporting tests share: the worked example of docs/rules/commissions.md as
reporting receives it, the statement it must serve, and a reporting process.

CommissionCalculated revisions are published by a plain Kafka client (as
incentives would), shuffled and duplicated, with the partner and enablement
events around them. The worked example's partner and deals get ids of their
own each run: an incentives service of another test reading the same broker
would otherwise publish its own revisions of these deals. The leaderboard's
partners (no deals, so no incentives revisions) keep fixed ids and event ids:
a second run publishes the same events again, which changes nothing.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from shared.settings import Settings
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.processes import ServiceProcess
from tests.support.services import service_env

RUN = uuid.uuid4().hex[:8]
P = f"P-100-{RUN}"
D1, D2, D3, D4 = (f"D-{n}-{RUN}" for n in range(1, 5))
PERIOD = "2026-Q4"
CLOSED = {D1: "2026-10-05", D2: "2026-10-20", D3: "2026-11-10", D4: "2026-12-01"}
AMOUNT = {D1: "80000.00", D2: "50000.00", D3: "200000.00", D4: "10000.00"}

# (deal, revision, status, base, uplift, commission, target_bonus, delta): what incentives
# publishes for the worked example in its natural order, then after D-2's cancellation.
REVISIONS = [
    (D1, 1, "commissionable", "8000.00", "0.00", "8000.00", "0", "8000.00"),
    (D2, 1, "commissionable", "5600.00", "0.00", "5600.00", "0", "5600.00"),
    (D3, 1, "commissionable", "26400.00", "4000.00", "30400.00", "5000", "35400.00"),
    (D4, 1, "commissionable", "1500.00", "100.00", "1600.00", "0", "1600.00"),
    (D2, 2, "clawed_back", "0", "0", "0", "0", "-5600.00"),
    (D3, 2, "commissionable", "24500.00", "4000.00", "28500.00", "0", "-6900.00"),
]

EXPECTED_STATEMENT = {
    "partner_id": P,
    "period": PERIOD,
    "currency": "USD",
    "lines": [
        {
            "deal_id": D1,
            "closed_at": "2026-10-05T12:00:00.000000Z",
            "amount": "80000.00",
            "status": "commissionable",
            "base": "8000.00",
            "uplift": "0.00",
            "commission": "8000.00",
            "target_bonus": "0.00",
            "revision": 1,
        },
        {
            "deal_id": D2,
            "closed_at": "2026-10-20T12:00:00.000000Z",
            "amount": "50000.00",
            "status": "clawed_back",
            "base": "0.00",
            "uplift": "0.00",
            "commission": "0.00",
            "target_bonus": "0.00",
            "revision": 2,
        },
        {
            "deal_id": D3,
            "closed_at": "2026-11-10T12:00:00.000000Z",
            "amount": "200000.00",
            "status": "commissionable",
            "base": "24500.00",
            "uplift": "4000.00",
            "commission": "28500.00",
            "target_bonus": "0.00",
            "revision": 2,
        },
        {
            "deal_id": D4,
            "closed_at": "2026-12-01T12:00:00.000000Z",
            "amount": "10000.00",
            "status": "commissionable",
            "base": "1500.00",
            "uplift": "100.00",
            "commission": "1600.00",
            "target_bonus": "0.00",
            "revision": 1,
        },
    ],
    "revenue": "290000.00",
    "commission_total": "38100.00",
    "bonus_total": "0.00",
    "adjustments": [],
    "adjustment_total": "0.00",
    "payout_total": "38100.00",
    "target": "300000.00",
    "attainment": "0.9667",
    "settled": False,
    "paid": "0.00",
    "pending_adjustment": "0.00",
    "inquiries": [],
}

# A period only this test writes, for an exact leaderboard.
BOARD_PERIOD = "2019-Q2"
BOARD = {"P-400": "120000.00", "P-200": "250000.00", "P-300": "90000.50"}


def calculated(
    partner: str,
    deal: str,
    revision: int,
    period: str,
    amount: str,
    status: str,
    base: str,
    uplift: str,
    commission: str,
    bonus: str,
    delta: str,
    closed: str,
) -> dict[str, Any]:
    return envelope(
        "CommissionCalculated",
        {
            "partner_id": partner,
            "deal_id": deal,
            "period": period,
            "currency": "USD",
            "amount": amount,
            "status": status,
            "base": base,
            "uplift": uplift,
            "commission": commission,
            "target_bonus": bonus,
            "delta": delta,
            "revision": revision,
            "closed_at": f"{closed}T12:00:00Z",
        },
        id=f"reporting-test/{partner}/{deal}/{revision}",
    )


PAT = {"kind": "person", "id": "pat"}
MARIA = {"kind": "person", "id": "maria"}
FINANCE_KEY = {"kind": "key", "id": "0123456789ab"}
#: The adjustment-only period of the worked example's partner.
ADJUSTED_PERIOD = "2027-Q1"
I1, I2, I3 = (f"I-{n}-{RUN}" for n in range(1, 4))
ADJ1, ADJ2, ADJ3 = (f"ADJ-{n}-{RUN}" for n in range(1, 4))


def adjusted(
    partner: str,
    adjustment_id: str,
    period: str,
    amount: str,
    at: str,
    *,
    deal: str | None = None,
    inquiry: str | None = None,
    currency: str = "USD",
    reason: str = "adjusted by hand",
    actor: dict[str, str] = MARIA,
) -> dict[str, Any]:
    """A CommissionAdjusted as incentives publishes it (its id derived from the
    adjustment's, so publishing it again is the same event)."""
    data: dict[str, Any] = {
        "partner_id": partner,
        "actor": actor,
        "adjustment_id": adjustment_id,
        "period": period,
        "currency": currency,
        "amount": amount,
        "reason": reason,
        "adjusted_at": at,
    }
    data |= {"deal_id": deal} if deal else {}
    data |= {"inquiry_id": inquiry} if inquiry else {}
    return envelope(
        "CommissionAdjusted", data, id=f"reporting-test/{partner}/{adjustment_id}", time=at
    )


def inquiry_opened(
    partner: str, inquiry_id: str, deal: str, period: str, message: str, at: str
) -> dict[str, Any]:
    data = {
        "partner_id": partner,
        "actor": PAT,
        "inquiry_id": inquiry_id,
        "deal_id": deal,
        "period": period,
        "message": message,
        "opened_at": at,
    }
    return envelope(
        "CommissionInquiryOpened", data, id=f"reporting-test/{partner}/{inquiry_id}/o", time=at
    )


def inquiry_resolved(
    partner: str,
    inquiry_id: str,
    deal: str,
    period: str,
    at: str,
    *,
    note: str = "explained",
    adjustment_id: str | None = None,
) -> dict[str, Any]:
    """Resolved: ``adjusted`` with an ``adjustment_id``, else ``explained``."""
    data: dict[str, Any] = {
        "partner_id": partner,
        "actor": MARIA,
        "inquiry_id": inquiry_id,
        "deal_id": deal,
        "period": period,
        "resolution": "explained" if adjustment_id is None else "adjusted",
        "note": note,
        "resolved_at": at,
    }
    data |= {"adjustment_id": adjustment_id} if adjustment_id else {}
    return envelope(
        "CommissionInquiryResolved", data, id=f"reporting-test/{partner}/{inquiry_id}/r", time=at
    )


def corrections(partner: str = P) -> list[dict[str, Any]]:
    """What the worked example's partner asks and is adjusted after the quarter: I-3 on
    D-1, explained; I-1 on D-3, adjusted by ADJ-1 (+800.00); ADJ-2 on the quarter as a
    whole (−150.25); I-2 on D-4, left open; ADJ-3 (+1000.00) in ADJUSTED_PERIOD, where
    the partner has no deal. ``partner``: another partner with the same deals."""
    q4 = PERIOD

    def at(day: int) -> str:
        return f"2027-01-{day:02d}T09:00:00Z"

    return [
        inquiry_opened(partner, I3, D1, q4, "is D-1 in the right bracket?", at(2)),
        inquiry_resolved(partner, I3, D1, q4, at(3), note="the first 100 000 earn 10 %"),
        inquiry_opened(partner, I1, D3, q4, "the registration uplift is missing", at(3)),
        inquiry_resolved(partner, I1, D3, q4, at(4), note="approved late", adjustment_id=ADJ1),
        adjusted(
            partner, ADJ1, q4, "800.00", at(4), deal=D3, inquiry=I1,
            reason="registered-deal uplift approved late",
        ),
        adjusted(
            partner, ADJ2, q4, "-150.25", at(6), reason="co-marketing fee", actor=FINANCE_KEY
        ),
        inquiry_opened(partner, I2, D4, q4, "why no certification uplift?", at(7)),
        adjusted(partner, ADJ3, ADJUSTED_PERIOD, "1000.00", "2027-04-02T10:00:00Z", reason="spiff"),
    ]  # fmt: skip


#: The statement's adjustments and inquiries after :func:`corrections`.
EXPECTED_ADJUSTMENTS: list[dict[str, Any]] = [
    {
        "adjustment_id": ADJ1,
        "deal_id": D3,
        "amount": "800.00",
        "currency": "USD",
        "reason": "registered-deal uplift approved late",
        "adjusted_at": "2027-01-04T09:00:00.000000Z",
        "inquiry_id": I1,
        "actor": MARIA,
    },
    {
        "adjustment_id": ADJ2,
        "deal_id": None,
        "amount": "-150.25",
        "currency": "USD",
        "reason": "co-marketing fee",
        "adjusted_at": "2027-01-06T09:00:00.000000Z",
        "inquiry_id": None,
        "actor": FINANCE_KEY,
    },
]
EXPECTED_INQUIRIES: list[dict[str, Any]] = [
    {
        "inquiry_id": I3,
        "deal_id": D1,
        "period": PERIOD,
        "message": "is D-1 in the right bracket?",
        "opened_at": "2027-01-02T09:00:00.000000Z",
        "actor": PAT,
        "status": "resolved",
        "resolution": "explained",
        "note": "the first 100 000 earn 10 %",
        "resolved_at": "2027-01-03T09:00:00.000000Z",
        "resolved_by": MARIA,
        "adjustment_id": None,
    },
    {
        "inquiry_id": I1,
        "deal_id": D3,
        "period": PERIOD,
        "message": "the registration uplift is missing",
        "opened_at": "2027-01-03T09:00:00.000000Z",
        "actor": PAT,
        "status": "resolved",
        "resolution": "adjusted",
        "note": "approved late",
        "resolved_at": "2027-01-04T09:00:00.000000Z",
        "resolved_by": MARIA,
        "adjustment_id": ADJ1,
    },
    {
        "inquiry_id": I2,
        "deal_id": D4,
        "period": PERIOD,
        "message": "why no certification uplift?",
        "opened_at": "2027-01-07T09:00:00.000000Z",
        "actor": PAT,
        "status": "open",
        "resolution": None,
        "note": None,
        "resolved_at": None,
        "resolved_by": None,
        "adjustment_id": None,
    },
]
#: The partner 360's open inquiries after :func:`corrections`.
EXPECTED_OPEN_INQUIRIES: list[dict[str, Any]] = [
    {
        key: EXPECTED_INQUIRIES[2][key]
        for key in ("inquiry_id", "deal_id", "period", "message", "opened_at", "actor")
    }
]
#: The worked example's statement after :func:`corrections`, before any settlement.
EXPECTED_CORRECTED_STATEMENT: dict[str, Any] = {
    **EXPECTED_STATEMENT,
    "adjustments": EXPECTED_ADJUSTMENTS,
    "adjustment_total": "649.75",  # 800.00 − 150.25
    "payout_total": "38749.75",  # 38 100.00 + 0.00 + 649.75
    "inquiries": EXPECTED_INQUIRIES,
}
#: The statement of ADJUSTED_PERIOD: no line, ADJ-3 only.
EXPECTED_ADJUSTMENT_ONLY_STATEMENT: dict[str, Any] = {
    "partner_id": P,
    "period": ADJUSTED_PERIOD,
    "currency": "USD",
    "lines": [],
    "revenue": "0.00",
    "commission_total": "0.00",
    "bonus_total": "0.00",
    "adjustments": [
        {
            "adjustment_id": ADJ3,
            "deal_id": None,
            "amount": "1000.00",
            "currency": "USD",
            "reason": "spiff",
            "adjusted_at": "2027-04-02T10:00:00.000000Z",
            "inquiry_id": None,
            "actor": MARIA,
        }
    ],
    "adjustment_total": "1000.00",
    "payout_total": "1000.00",
    "target": "300000.00",
    "attainment": "0.0000",
    "settled": False,
    "paid": "0.00",
    "pending_adjustment": "0.00",
    "inquiries": [],
}


def events() -> list[tuple[str, dict[str, Any]]]:
    """Every event of the worked example's partner and of the leaderboard's, with their topics."""
    return [*_partner_events(), *_revisions(), *_leaderboard()]


def _partner_events() -> list[tuple[str, dict[str, Any]]]:
    """What the worked example's partner does besides its deals: signs, trains, gets
    certified, gives feedback; and the DealClosed of D-4."""
    return [
        (
            topics.PARTNERS,
            envelope(
                "PartnerSigned",
                {"partner_id": P, **PROFILE, "contract": CONTRACT},
                id=f"reporting-test/{P}/signed",
            ),
        ),
        (
            topics.ENABLEMENT,
            envelope(
                "TrainingCompleted",
                {
                    "partner_id": P,
                    "learner_id": "L-1",
                    "course_id": "CLOUD-101",
                    "completed_at": "2026-10-20T15:00:00Z",
                    "score": 88,
                },
                id=f"reporting-test/{P}/t1",
            ),
        ),
        (
            topics.ENABLEMENT,
            envelope(
                "TrainingCompleted",
                {
                    "partner_id": P,
                    "learner_id": "L-1",
                    "course_id": "CLOUD-201",
                    "completed_at": "2026-10-28T15:00:00Z",
                    "score": 91,
                },
                id=f"reporting-test/{P}/t2",
            ),
        ),
        (
            topics.ENABLEMENT,
            envelope(
                "CertificationAwarded",
                {
                    "partner_id": P,
                    "learner_id": "L-1",
                    "certification_id": "CERT-CLOUD",
                    "product_line": "cloud",
                    "awarded_at": "2026-11-01T00:00:00Z",
                    "expires_at": "2027-11-01T00:00:00Z",
                },
                id=f"reporting-test/{P}/cert",
            ),
        ),
        (
            topics.ENABLEMENT,
            envelope(
                "PartnerFeedbackSubmitted",
                {
                    "partner_id": P,
                    "feedback_id": f"reporting-test-F1-{RUN}",
                    "rating": 4,
                    "topic": "training",
                    "text": "",
                    "submitted_at": "2026-11-03T10:00:00Z",
                },
                id=f"reporting-test/{P}/f1",
            ),
        ),
        (
            topics.DEALS,
            envelope(
                "DealClosed",
                {
                    "partner_id": P,
                    "deal_id": D4,
                    "customer": "Globex",
                    "product_line": "security",
                    "amount": "10000.00",
                    "currency": "USD",
                    "closed_at": "2026-12-01T12:00:00Z",
                },
                id=f"reporting-test/{P}/d4",
            ),
        ),
    ]


def _revisions(partner: str = P) -> list[tuple[str, dict[str, Any]]]:
    """What incentives publishes for the worked example (REVISIONS)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for deal, revision, status, base, uplift, commission, bonus, delta in REVISIONS:
        out.append(
            (
                topics.INCENTIVES,
                calculated(
                    partner,
                    deal,
                    revision,
                    PERIOD,
                    AMOUNT[deal],
                    status,
                    base,
                    uplift,
                    commission,
                    bonus,
                    delta,
                    CLOSED[deal],
                ),
            )
        )
    return out


def corrected_partner(partner: str) -> list[tuple[str, dict[str, Any]]]:
    """Another partner with the worked example's contract and commission lines (not its
    deals, enablement or settlement), and :func:`corrections`: its statements are
    EXPECTED_CORRECTED_STATEMENT and EXPECTED_ADJUSTMENT_ONLY_STATEMENT with its id."""
    signed = envelope(
        "PartnerSigned",
        {"partner_id": partner, **PROFILE, "contract": CONTRACT},
        id=f"reporting-test/{partner}/signed",
    )
    return [
        (topics.PARTNERS, signed),
        *_revisions(partner),
        *((topics.INCENTIVES, event) for event in corrections(partner)),
    ]


def _leaderboard() -> list[tuple[str, dict[str, Any]]]:
    """The leaderboard's partners: signed, each with one commissionable deal of BOARD_PERIOD."""
    out: list[tuple[str, dict[str, Any]]] = []
    for partner, revenue in BOARD.items():
        out.append(
            (
                topics.INCENTIVES,
                calculated(
                    partner,
                    f"{partner}-Q2-2019",
                    1,
                    BOARD_PERIOD,
                    revenue,
                    "commissionable",
                    "0.00",
                    "0.00",
                    "0.00",
                    "0",
                    "0.00",
                    "2019-05-01",
                ),
            )
        )
        out.append(
            (
                topics.PARTNERS,
                envelope(
                    "PartnerSigned",
                    {
                        "partner_id": partner,
                        **PROFILE,
                        "name": f"Partner {partner}",
                        "contract": {**CONTRACT, "contract_id": f"C-{partner}"},
                    },
                    id=f"reporting-test/{partner}/signed",
                ),
            )
        )
    return out


def reporting_process(settings: Settings, unique: str) -> ServiceProcess:
    """A reporting process (not started) with a database and a consumer group of its own."""
    return ServiceProcess(
        "reporting",
        service_env(settings, f"test_reporting_{unique}", f"reporting-{unique}"),
    )


async def publish_shuffled(producer: AIOKafkaProducer) -> None:
    items = events()
    rng = random.Random(11)
    shuffled = rng.sample(items, len(items)) + rng.sample(items, 6)  # and a few duplicates
    for topic, event in shuffled:
        await producer.send(topic, json.dumps(event).encode(), key=event["subject"].encode())
    await producer.flush()
