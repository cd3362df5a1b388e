"""MDF claims with proof of performance (docs/rules/enablement.md, "Claims"): the rules,
pure, then the service in memory (the fakes of :mod:`tests.unit.test_enablement_service`).

An approved request is paid only against claims. A claim is refused (422 naming the field,
its message starting with the rule) when the request is not approved, the currency
differs, the claims would exceed the approved amount, today is after activity_end + the
claim window, there is no evidence, or an evidence digest was used by an earlier claim of
the partner. A channel manager approves all or part of a claim, or rejects it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.enablement.awards import AwardSettling
from services.enablement.commands import (
    EnablementCommands,
    MdfClaimBody,
    MdfRequestBody,
)
from services.enablement.domain import (
    DEFAULT_CLAIM_WINDOW_DAYS,
    ClaimRule,
    Evidence,
    MdfBudget,
    MdfClaim,
    MdfClaimAlreadyDecided,
    MdfClaimRefused,
    MdfClaimStatus,
    MdfRequest,
    MdfStatus,
    check_mdf_claim,
    claim_window_closes,
    claims_summary,
)
from services.enablement.handlers import EnablementConsumer
from services.enablement.publishing import mdf_claim_decision_event, mdf_claim_submitted_event
from services.enablement.store import (
    MDF_CLAIMS,
    MdfClaimBook,
    decode_claim_book,
    encode_claim_book,
)
from shared import access
from shared.commands import Conflict, InvalidField
from shared.events import Actor, ActorKind, MdfClaimApproved, MdfClaimRejected, Tier, parse_event
from tests.unit.test_enablement_service import (
    ADMIN_KEY,
    KEYED_PARTNER,
    NOW,
    OTHER_PARTNER_KEY,
    PARTNER_KEY,
    DeadLetters,
    Enablement,
    InMemoryStore,
    consumed,
    field_errors,
    ok,
    publisher_of,
    signed,
    ticking,
)

PARTNER = "P-100"
MANAGER = Actor(kind=ActorKind.PERSON, id="maria")
APPROVED_AT = datetime(2026, 10, 12, 8, tzinfo=UTC)
ACTIVITY_END = date(2026, 11, 20)
#: The last day a claim for ACTIVITY_END may be made under the default window (60 days).
LAST_DAY = date(2027, 1, 19)


def digest(n: int) -> str:
    """A made-up SHA-256 digest, different for each ``n``."""
    return f"{n:064x}"


def evidence(*numbers: int) -> tuple[Evidence, ...]:
    return tuple(
        Evidence("invoice", f"https://files.example.com/{n}.pdf", digest(n)) for n in numbers
    )


def request(
    status: MdfStatus = MdfStatus.APPROVED,
    amount: str = "1000.00",
    request_id: str = "M-1",
) -> MdfRequest:
    made = MdfRequest(
        request_id,
        PARTNER,
        "Cloud roadshow",
        Decimal(amount),
        "USD",
        datetime(2026, 10, 10, 8, tzinfo=UTC),
    )
    if status is MdfStatus.APPROVED:
        return made.approve(APPROVED_AT)
    if status is MdfStatus.REJECTED:
        return made.reject(APPROVED_AT, "over_budget: no")
    return made


def claim(
    amount: str,
    *,
    claim_id: str = "MC-new",
    request_id: str = "M-1",
    currency: str = "USD",
    activity_end: date = ACTIVITY_END,
    proof: tuple[Evidence, ...] | None = None,
) -> MdfClaim:
    return MdfClaim(
        claim_id=claim_id,
        request_id=request_id,
        partner_id=PARTNER,
        amount=Decimal(amount),
        currency=currency,
        activity_end=activity_end,
        evidence=evidence(999) if proof is None else proof,
        submitted_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
    )


def refusal(
    new: MdfClaim,
    *,
    of: MdfRequest | None = None,
    earlier: tuple[MdfClaim, ...] = (),
    today: date = date(2026, 12, 1),
    window_days: int = DEFAULT_CLAIM_WINDOW_DAYS,
) -> MdfClaimRefused:
    with pytest.raises(MdfClaimRefused) as refused:
        check_mdf_claim(new, of or request(), earlier, today, window_days)
    return refused.value


def allowed(
    new: MdfClaim,
    *,
    of: MdfRequest | None = None,
    earlier: tuple[MdfClaim, ...] = (),
    today: date = date(2026, 12, 1),
    window_days: int = DEFAULT_CLAIM_WINDOW_DAYS,
) -> None:
    check_mdf_claim(new, of or request(), earlier, today, window_days)


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize("status", [MdfStatus.REQUESTED, MdfStatus.REJECTED])
def test_only_an_approved_request_is_claimed_against(status: MdfStatus) -> None:
    refused = refusal(claim("10.00"), of=request(status))
    assert (refused.rule, refused.location) == (ClaimRule.NOT_APPROVED, ("path", "request_id"))
    assert refused.message == (
        f"not_approved: MDF request M-1 is {status}: only an approved request is claimed against"
    )


def test_a_claim_is_in_the_requests_currency() -> None:
    refused = refusal(claim("10.00", currency="EUR"))
    assert (refused.rule, refused.location) == (ClaimRule.CURRENCY_MISMATCH, ("body", "currency"))
    assert "M-1 is in USD, the claim in EUR" in refused.message


def test_a_claim_needs_evidence() -> None:
    refused = refusal(claim("10.00", proof=()))
    assert (refused.rule, refused.location) == (ClaimRule.NO_EVIDENCE, ("body", "evidence"))


def test_the_claim_window_ends_its_last_day_included() -> None:
    assert claim_window_closes(ACTIVITY_END, 60) == LAST_DAY
    allowed(claim("10.00"), today=LAST_DAY)
    early = refusal(claim("10.00"), today=ACTIVITY_END - timedelta(days=1))
    assert (early.rule, early.location) == (ClaimRule.ACTIVITY_NOT_ENDED, ("body", "activity_end"))
    assert early.message == (
        "activity_not_ended: the activity ends on 2026-11-20: it is claimed once it has "
        "ended, today is 2026-11-19"
    )
    allowed(claim("10.00"), today=ACTIVITY_END)
    refused = refusal(claim("10.00"), today=LAST_DAY + timedelta(days=1))
    assert (refused.rule, refused.location) == (
        ClaimRule.CLAIM_WINDOW_CLOSED,
        ("body", "activity_end"),
    )
    assert refused.message == (
        "claim_window_closed: an activity that ended on 2026-11-20 could be claimed until "
        "2027-01-19 (60 days)"
    )


def test_the_claim_window_is_a_setting() -> None:
    allowed(claim("10.00"), today=ACTIVITY_END, window_days=0)
    refused = refusal(claim("10.00"), today=ACTIVITY_END + timedelta(days=1), window_days=0)
    assert refused.rule is ClaimRule.CLAIM_WINDOW_CLOSED
    allowed(claim("10.00"), today=LAST_DAY + timedelta(days=30), window_days=90)


def test_claims_summing_exactly_to_the_approved_amount_are_allowed_a_cent_more_is_not() -> None:
    earlier = (claim("600.00", claim_id="MC-1", proof=evidence(1)),)
    allowed(claim("400.00"), earlier=earlier)
    refused = refusal(claim("400.01"), earlier=earlier)
    assert (refused.rule, refused.location) == (
        ClaimRule.OVER_APPROVED_AMOUNT,
        ("body", "amount"),
    )
    assert refused.message == (
        "over_approved_amount: 400.01 USD claimed but only 400.00 USD of the 1000.00 USD "
        "approved is left to claim"
    )
    alone = refusal(claim("1000.01"))
    assert alone.rule is ClaimRule.OVER_APPROVED_AMOUNT


def test_a_rejected_claim_holds_nothing_and_a_partly_approved_one_what_was_approved() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    earlier = (
        claim("600.00", claim_id="MC-1", proof=evidence(1)).approve(at, Decimal("500.00")),
        claim("300.00", claim_id="MC-2", proof=evidence(2)).reject(at, "not the roadshow's"),
        claim("100.00", claim_id="MC-3", proof=evidence(3)),
    )
    assert claims_summary(request(), earlier) == claims_summary(request(), earlier[::-1])
    summary = claims_summary(request(), earlier)
    assert (summary.claimed, summary.approved, summary.claimable) == (
        Decimal("600.00"),
        Decimal("500.00"),
        Decimal("400.00"),
    )
    allowed(claim("400.00"), earlier=earlier)
    assert refusal(claim("400.01"), earlier=earlier).rule is ClaimRule.OVER_APPROVED_AMOUNT


def test_claims_of_other_requests_do_not_count_against_this_one() -> None:
    elsewhere = (claim("900.00", claim_id="MC-9", request_id="M-2", proof=evidence(1)),)
    allowed(claim("1000.00"), earlier=elsewhere)
    summary = claims_summary(request(), elsewhere)
    assert (summary.claimed, summary.claimable) == (Decimal(0), Decimal("1000.00"))
    pending = claims_summary(request(MdfStatus.REQUESTED), ())
    assert pending.claimable == 0, "nothing to claim before the approval"


def test_evidence_used_by_any_earlier_claim_of_the_partner_is_refused() -> None:
    rejected = claim("10.00", claim_id="MC-1", request_id="M-2", proof=evidence(1, 2))
    earlier = (rejected.reject(datetime(2026, 12, 2, tzinfo=UTC), "blurred"),)
    refused = refusal(claim("10.00", proof=evidence(7, 2)), earlier=earlier)
    assert (refused.rule, refused.location) == (
        ClaimRule.EVIDENCE_REUSED,
        ("body", "evidence", 1, "sha256"),
    )
    assert refused.message == (
        f"evidence_reused: evidence {digest(2)} was already used by claim MC-1"
    )
    allowed(claim("10.00", proof=evidence(7, 8)), earlier=earlier)


def test_the_same_evidence_twice_in_one_claim_is_refused() -> None:
    refused = refusal(claim("10.00", proof=evidence(4, 5, 4)))
    assert (refused.rule, refused.location) == (
        ClaimRule.EVIDENCE_REUSED,
        ("body", "evidence", 2, "sha256"),
    )
    assert "listed twice" in refused.message


def test_a_digest_is_the_same_evidence_in_either_case() -> None:
    upper = Evidence("invoice", "https://files.example.com/x.pdf", "ABCDEF" + "0" * 58)
    assert upper.sha256 == "abcdef" + "0" * 58
    earlier = (claim("10.00", claim_id="MC-1", proof=(upper,)),)
    lower = Evidence("photo", "https://files.example.com/y.jpg", "abcdef" + "0" * 58)
    assert refusal(claim("10.00", proof=(lower,)), earlier=earlier).rule is (
        ClaimRule.EVIDENCE_REUSED
    )
    for bad in ("abc", "g" * 64, "0" * 65):
        with pytest.raises(ValueError, match="sha256"):
            Evidence("invoice", "https://files.example.com/x.pdf", bad)


def test_the_first_rule_broken_is_the_one_named() -> None:
    everything_wrong = claim("5000.00", currency="EUR", activity_end=date(2020, 1, 1), proof=())
    assert refusal(everything_wrong, of=request(MdfStatus.REQUESTED)).rule is (
        ClaimRule.NOT_APPROVED
    )
    assert refusal(everything_wrong).rule is ClaimRule.CURRENCY_MISMATCH


def test_a_refusal_is_a_422_naming_the_field() -> None:
    refused = refusal(claim("10.00", proof=evidence(3, 3)))
    assert isinstance(refused, InvalidField)
    assert list(refused.location) == ["body", "evidence", 1, "sha256"], "FastAPI's loc"
    assert str(refused).startswith("body.evidence.1.sha256: evidence_reused:")


# --------------------------------------------------------------------------- decisions


def test_a_claim_is_approved_all_or_part() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    whole = claim("400.00").approve(at)
    assert (whole.status, whole.approved_amount, whole.decided_at) == (
        MdfClaimStatus.APPROVED,
        Decimal("400.00"),
        at,
    )
    part = claim("400.00").approve(at, Decimal("250.50"))
    assert (part.approved_amount, part.held) == (Decimal("250.50"), Decimal("250.50"))
    exactly = claim("400.00").approve(at, Decimal("400.00"))
    assert exactly.approved_amount == Decimal("400.00")


def test_approving_more_than_claimed_is_refused() -> None:
    with pytest.raises(MdfClaimRefused) as refused:
        claim("400.00").approve(datetime(2026, 12, 2, tzinfo=UTC), Decimal("400.01"))
    assert (refused.value.rule, refused.value.location) == (
        ClaimRule.MORE_THAN_CLAIMED,
        ("body", "approved_amount"),
    )
    assert refused.value.message == (
        "more_than_claimed: 400.01 USD is more than the 400.00 USD claim MC-new asks for"
    )


def test_a_decided_claim_is_not_decided_again() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    approved = claim("400.00").approve(at)
    rejected = claim("400.00").reject(at, "no proof of attendance")
    assert (rejected.status, rejected.reason, rejected.held) == (
        MdfClaimStatus.REJECTED,
        "no proof of attendance",
        0,
    )
    for decided in (approved, rejected):
        for decide in (lambda c: c.approve(at), lambda c: c.reject(at, "again")):
            with pytest.raises(MdfClaimAlreadyDecided, match="already") as caught:
                decide(decided)
            assert isinstance(caught.value, Conflict), "HTTP 409"


def test_a_claim_keeps_its_invariants() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    for amount in ("0", "-1"):
        with pytest.raises(ValueError, match="amount"):
            claim(amount)
    approved = claim("10.00").approve(at)
    with pytest.raises(ValueError, match="approved_amount"):
        MdfClaim(**{**_fields(approved), "approved_amount": Decimal("10.01")})
    with pytest.raises(ValueError, match="decided_at"):
        MdfClaim(**{**_fields(approved), "decided_at": None})
    with pytest.raises(ValueError, match="reason"):
        claim("10.00").reject(at, " ")


def _fields(c: MdfClaim) -> dict[str, Any]:
    return {name: getattr(c, name) for name in MdfClaim.__dataclass_fields__}


# --------------------------------------------------------------------------- events and storage


def test_the_events_of_a_claim() -> None:
    at = datetime(2026, 12, 2, 9, tzinfo=UTC)
    submitted = claim("400.00", proof=evidence(1, 2))
    event = mdf_claim_submitted_event(submitted, MANAGER)
    wire = json.loads(event.to_bytes())
    assert (wire["type"], wire["subject"]) == ("MdfClaimSubmitted", PARTNER)
    assert wire["data"] == {
        "partner_id": PARTNER,
        "actor": {"kind": "person", "id": "maria"},
        "request_id": "M-1",
        "claim_id": "MC-new",
        "amount": "400.00",
        "currency": "USD",
        "activity_end": "2026-11-20",
        "evidence": [
            {"kind": "invoice", "url": f"https://files.example.com/{n}.pdf", "sha256": digest(n)}
            for n in (1, 2)
        ],
        "submitted_at": "2026-12-01T09:00:00Z",
    }
    assert parse_event(event.to_bytes(), topic="enablement.v1") == event
    approved = mdf_claim_decision_event(submitted.approve(at, Decimal("300")), MANAGER)
    assert isinstance(approved.data, MdfClaimApproved)
    assert json.loads(approved.to_bytes())["data"]["approved_amount"] == "300"
    rejected = mdf_claim_decision_event(submitted.reject(at, "no"), MANAGER)
    assert isinstance(rejected.data, MdfClaimRejected)
    assert rejected.id == approved.id, "a claim is decided once: one decision id"
    assert event.id == mdf_claim_submitted_event(submitted, MANAGER).id, "deterministic"
    with pytest.raises(ValueError, match="not decided"):
        submitted.decision_event()


def test_a_claim_book_is_stored_as_it_was() -> None:
    at = datetime(2026, 12, 2, 9, tzinfo=UTC)
    book = MdfClaimBook(
        PARTNER,
        version=3,
        claims={
            c.claim_id: c
            for c in (
                claim("400.00", claim_id="MC-1", proof=evidence(1)),
                claim("10.00", claim_id="MC-2", proof=evidence(2, 3)).approve(at, Decimal("5")),
                claim("20.00", claim_id="MC-3", proof=evidence(4)).reject(at, "blurred"),
            )
        },
    )
    again = decode_claim_book(encode_claim_book(book, 3))
    assert (again.partner_id, again.version, again.claims) == (PARTNER, 3, book.claims)


# --------------------------------------------------------------------------- the service

TODAY = NOW.date()


def proof(*numbers: int) -> list[dict[str, str]]:
    return [
        {"kind": "invoice", "url": f"https://files.example.com/{n}.pdf", "sha256": digest(n)}
        for n in numbers
    ]


def claim_body(amount: str, *numbers: int, **changes: Any) -> dict[str, Any]:
    body = {
        "amount": amount,
        "activity_end": (TODAY - timedelta(days=3)).isoformat(),
        "evidence": proof(*numbers),
    }
    return {**body, **changes}


@pytest.fixture
def enablement() -> Iterator[Enablement]:
    service = Enablement()
    service.sign(KEYED_PARTNER, "gold")  # 1000 USD a quarter here
    yield service
    service.client.close()


def approved_request(
    enablement: Enablement, amount: str = "600.00", partner_id: str = KEYED_PARTNER
) -> str:
    body = {
        "partner_id": partner_id,
        "campaign": "Roadshow",
        "amount": amount,
        "currency": "USD",
    }
    made = ok(enablement.post("/mdf-requests", body), 201)
    ok(enablement.post(f"/mdf-requests/{made['request_id']}/approve"))
    return str(made["request_id"])


def claims_path(request_id: str, *rest: str) -> str:
    return "/".join([f"/mdf-requests/{request_id}/claims", *rest])


def test_a_request_is_claimed_against_approved_partly_and_rejected(enablement: Enablement) -> None:
    request_id = approved_request(enablement)
    submitted = ok(
        enablement.post(claims_path(request_id), claim_body("400.00", 1), key=PARTNER_KEY), 201
    )
    assert submitted == {
        "claim_id": submitted["claim_id"],
        "request_id": request_id,
        "partner_id": KEYED_PARTNER,
        "amount": "400.00",
        "currency": "USD",
        "activity_end": (TODAY - timedelta(days=3)).isoformat(),
        "evidence": proof(1),
        "status": "submitted",
        "submitted_at": submitted["submitted_at"],
        "decided_at": None,
        "approved_amount": None,
        "reason": None,
    }
    first = submitted["claim_id"]
    part = ok(
        enablement.post(claims_path(request_id, first, "approve"), {"approved_amount": "350.00"})
    )
    assert (part["status"], part["amount"], part["approved_amount"]) == (
        "approved",
        "400.00",
        "350.00",
    )

    # What the approval left out is claimable again: 600 − 350.
    second = ok(enablement.post(claims_path(request_id), claim_body("250.00", 2)), 201)
    whole = ok(enablement.post(claims_path(request_id, second["claim_id"], "approve")))
    assert whole["approved_amount"] == "250.00", "no body: all of it"
    third = ok(enablement.post(claims_path(request_id), claim_body("0.01", 3)), 422)
    assert third["detail"][0]["msg"].startswith("over_approved_amount:")

    detail = ok(enablement.get(f"/mdf-requests/{request_id}", key=PARTNER_KEY))
    assert [(c["claim_id"], c["status"], c["approved_amount"]) for c in detail["claims"]] == [
        (first, "approved", "350.00"),
        (second["claim_id"], "approved", "250.00"),
    ]
    assert (detail["claimed"], detail["claims_approved"], detail["claimable"]) == (
        "600.00",
        "600.00",
        "0.00",
    )

    events = [e for e in enablement.kafka.about(KEYED_PARTNER) if "Claim" in e["type"]]
    assert [(e["type"], e["data"]["claim_id"]) for e in events] == [
        ("MdfClaimSubmitted", first),
        ("MdfClaimApproved", first),
        ("MdfClaimSubmitted", second["claim_id"]),
        ("MdfClaimApproved", second["claim_id"]),
    ]
    assert events[0]["data"]["actor"] == {"kind": "key", "id": access.key_id(PARTNER_KEY)}
    assert events[1]["data"] == {
        "partner_id": KEYED_PARTNER,
        "actor": {"kind": "key", "id": access.key_id(ADMIN_KEY)},
        "request_id": request_id,
        "claim_id": first,
        "approved_amount": "350.00",
        "currency": "USD",
        "approved_at": events[1]["data"]["approved_at"],
    }
    assert enablement.kafka.pending() == 0, "every event left its outbox"


def test_a_rejected_claim_frees_what_it_asked_for(enablement: Enablement) -> None:
    request_id = approved_request(enablement)
    claimed = ok(enablement.post(claims_path(request_id), claim_body("600.00", 1)), 201)
    over = enablement.post(claims_path(request_id), claim_body("0.01", 2))
    assert field_errors(over) == ["body.amount"], "a claim waiting holds all it asks for"
    rejected = ok(
        enablement.post(
            claims_path(request_id, claimed["claim_id"], "reject"), {"reason": "blurred"}
        )
    )
    assert (rejected["status"], rejected["reason"], rejected["approved_amount"]) == (
        "rejected",
        "blurred",
        None,
    )
    (event,) = enablement.kafka.of_type("MdfClaimRejected")
    assert event["data"] == {
        "partner_id": KEYED_PARTNER,
        "actor": {"kind": "key", "id": access.key_id(ADMIN_KEY)},
        "request_id": request_id,
        "claim_id": claimed["claim_id"],
        "reason": "blurred",
        "rejected_at": event["data"]["rejected_at"],
    }
    ok(enablement.post(claims_path(request_id), claim_body("500.00", 2)), 201)
    reused = enablement.post(claims_path(request_id), claim_body("1.00", 1))
    assert field_errors(reused) == ["body.evidence.0.sha256"], "a rejected claim's proof is used"
    default = ok(enablement.post(claims_path(request_id), claim_body("100.00", 3)), 201)
    rejected = ok(enablement.post(claims_path(request_id, default["claim_id"], "reject")))
    assert rejected["reason"] == "rejected by the channel manager", "the default reason"
    detail = ok(enablement.get(f"/mdf-requests/{request_id}"))
    assert [c["status"] for c in detail["claims"]] == ["rejected", "submitted", "rejected"]
    assert (detail["claimed"], detail["claims_approved"], detail["claimable"]) == (
        "500.00",
        "0",
        "100.00",
    )


def test_each_refusal_names_its_field_and_rule(enablement: Enablement) -> None:
    request_id = approved_request(enablement)
    other_id = approved_request(enablement, "100.00")
    ok(enablement.post(claims_path(other_id), claim_body("10.00", 1, 2)), 201)
    waiting = ok(
        enablement.post(
            "/mdf-requests",
            {"partner_id": KEYED_PARTNER, "campaign": "c", "amount": "10", "currency": "USD"},
        ),
        201,
    )["request_id"]
    late = (TODAY - timedelta(days=61)).isoformat()
    cases = [
        (waiting, claim_body("1.00", 5), ["path", "request_id"], "not_approved"),
        (
            request_id,
            claim_body("1.00", 5, currency="EUR"),
            ["body", "currency"],
            "currency_mismatch",
        ),
        (request_id, claim_body("600.01", 5), ["body", "amount"], "over_approved_amount"),
        (
            request_id,
            claim_body("1.00", 5, activity_end=late),
            ["body", "activity_end"],
            "claim_window_closed",
        ),
        (request_id, claim_body("1.00"), ["body", "evidence"], "no_evidence"),
        (request_id, {"amount": "1.00", "activity_end": late}, ["body", "evidence"], "no_evidence"),
        (
            request_id,
            claim_body("1.00", 5, 2),
            ["body", "evidence", 1, "sha256"],
            "evidence_reused",
        ),
    ]
    published = len(enablement.kafka.published)
    for path_id, body, loc, rule in cases:
        answer = enablement.post(claims_path(path_id), body, key=PARTNER_KEY)
        assert answer.status_code == 422, (rule, answer.text)
        (error,) = answer.json()["detail"]
        assert (error["loc"], error["msg"].split(":")[0]) == (loc, rule), answer.text
    assert len(enablement.kafka.published) == published, "a refused claim publishes nothing"
    detail = ok(enablement.get(f"/mdf-requests/{request_id}"))
    assert detail["claims"] == [], "and stores nothing"
    edge = (TODAY - timedelta(days=60)).isoformat()
    ok(enablement.post(claims_path(request_id), claim_body("600.00", 5, activity_end=edge)), 201)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 12.5}, "body.amount"),
        ({"amount": "0"}, "body.amount"),
        ({"currency": "ZZZ"}, "body.currency"),
        ({"activity_end": "soon"}, "body.activity_end"),
        (
            {"evidence": [{"kind": "invoice", "url": "https://x.example/a", "sha256": "abc"}]},
            "body.evidence.0.sha256",
        ),
        (
            {"evidence": [{"kind": "invoice", "url": "ftp://x.example/a", "sha256": digest(1)}]},
            "body.evidence.0.url",
        ),
        (
            {"evidence": [{"kind": " ", "url": "https://x.example/a", "sha256": digest(1)}]},
            "body.evidence.0.kind",
        ),
    ],
)
def test_a_malformed_claim_names_its_field(
    enablement: Enablement, change: dict[str, Any], field: str
) -> None:
    request_id = approved_request(enablement)
    answer = enablement.post(claims_path(request_id), {**claim_body("1.00", 1), **change})
    assert field_errors(answer) == [field]


def test_a_digest_in_upper_case_is_kept_in_lower_case(enablement: Enablement) -> None:
    request_id = approved_request(enablement)
    body = claim_body("1.00", evidence=[{**proof(10)[0], "sha256": digest(10).upper()}])
    made = ok(enablement.post(claims_path(request_id), body), 201)
    assert made["evidence"][0]["sha256"] == digest(10)
    again = enablement.post(claims_path(request_id), claim_body("1.00", 10))
    assert field_errors(again) == ["body.evidence.0.sha256"]


def test_a_retried_claim_answers_the_first_answer(enablement: Enablement) -> None:
    request_id = approved_request(enablement)
    body = claim_body("100.00", 1)
    first = enablement.post(claims_path(request_id), body, key=PARTNER_KEY, idempotency="claim-1")
    assert first.status_code == 201, first.text
    published = len(enablement.kafka.published)
    again = enablement.post(claims_path(request_id), body, key=PARTNER_KEY, idempotency="claim-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert len(enablement.kafka.published) == published, "nothing new published"
    other = {**body, "amount": "5.00"}
    reused = enablement.post(claims_path(request_id), other, key=PARTNER_KEY, idempotency="claim-1")
    assert field_errors(reused) == ["header.Idempotency-Key"]
    # Another partner's same key is its own (and that partner may not claim here anyway).
    assert (
        enablement.post(
            claims_path(request_id), body, key=OTHER_PARTNER_KEY, idempotency="claim-1"
        ).status_code
        == 403
    )
    claim_id = first.json()["claim_id"]
    approve = claims_path(request_id, claim_id, "approve")
    decided = enablement.post(approve, {"approved_amount": "90"}, idempotency="ok-1")
    replayed = enablement.post(approve, {"approved_amount": "90"}, idempotency="ok-1")
    assert (replayed.status_code, replayed.json()) == (200, decided.json())
    assert replayed.headers["idempotent-replayed"] == "true"
    assert enablement.post(approve, {"approved_amount": "90"}).status_code == 409
    detail = ok(enablement.get(f"/mdf-requests/{request_id}"))
    assert [c["claim_id"] for c in detail["claims"]] == [claim_id], "one claim however often sent"
    assert enablement.kafka.types(KEYED_PARTNER).count("MdfClaimSubmitted") == 1
    assert enablement.kafka.types(KEYED_PARTNER).count("MdfClaimApproved") == 1


def test_a_partner_claims_for_its_own_requests_only_staff_for_any(enablement: Enablement) -> None:
    request_id = approved_request(enablement)
    refused = enablement.post(claims_path(request_id), claim_body("1.00", 1), key=OTHER_PARTNER_KEY)
    assert refused.status_code == 403, refused.text
    assert ok(enablement.get(f"/mdf-requests/{request_id}"))["claims"] == [], "nothing stored"
    assert enablement.get(f"/mdf-requests/{request_id}", key=OTHER_PARTNER_KEY).status_code == 403
    own = ok(enablement.post(claims_path(request_id), claim_body("1.00", 1), key=PARTNER_KEY), 201)
    staff = ok(enablement.post(claims_path(request_id), claim_body("1.00", 2)), 201)
    assert own["partner_id"] == staff["partner_id"] == KEYED_PARTNER
    for decision in ("approve", "reject"):
        by_partner = enablement.post(
            claims_path(request_id, own["claim_id"], decision), key=PARTNER_KEY
        )
        assert by_partner.status_code == 403, "only staff decide"
    assert enablement.post(claims_path("M-none"), claim_body("1.00", 3)).status_code == 404
    assert (
        enablement.post(claims_path("M-none"), claim_body("1.00", 3), key=PARTNER_KEY).status_code
        == 404
    )


def test_deciding_a_claim_twice_or_beyond_it_is_refused(enablement: Enablement) -> None:
    request_id = approved_request(enablement)
    other_id = approved_request(enablement, "100.00")
    made = ok(enablement.post(claims_path(request_id), claim_body("100.00", 1)), 201)
    approve = claims_path(request_id, made["claim_id"], "approve")
    too_much = enablement.post(approve, {"approved_amount": "100.01"})
    assert field_errors(too_much) == ["body.approved_amount"]
    assert too_much.json()["detail"][0]["msg"].startswith("more_than_claimed:")
    assert field_errors(enablement.post(approve, {"approved_amount": "0"})) == [
        "body.approved_amount"
    ]
    elsewhere = claims_path(other_id, made["claim_id"], "approve")
    assert enablement.post(elsewhere).status_code == 404, "a claim is decided under its request"
    assert enablement.post(claims_path(request_id, "MC-none", "reject")).status_code == 404
    ok(enablement.post(approve))
    for decision in ("approve", "reject"):
        again = enablement.post(claims_path(request_id, made["claim_id"], decision))
        assert again.status_code == 409
        assert "already approved" in again.json()["detail"]


# --------------------------------------------------------------------------- the listing

#: The partner OTHER_PARTNER_KEY reads for.
OTHER_PARTNER = "P-other"


def listed(enablement: Enablement, key: str = ADMIN_KEY, **query: Any) -> list[str]:
    """The claim ids ``GET /mdf-claims`` answers, in its order."""
    return [c["claim_id"] for c in ok(enablement.get("/mdf-claims", key=key, **query))["claims"]]


def test_claims_are_listed_across_requests_and_partners_oldest_first(
    enablement: Enablement,
) -> None:
    enablement.sign(OTHER_PARTNER, "gold")
    roadshow, webinar = approved_request(enablement), approved_request(enablement, "100.00")
    elsewhere = approved_request(enablement, partner_id=OTHER_PARTNER)
    first = ok(
        enablement.post(claims_path(roadshow), claim_body("400.00", 1), key=PARTNER_KEY), 201
    )
    second = ok(enablement.post(claims_path(elsewhere), claim_body("50.00", 2)), 201)
    third = ok(enablement.post(claims_path(webinar), claim_body("80.00", 3), key=PARTNER_KEY), 201)
    approved = ok(
        enablement.post(
            claims_path(roadshow, first["claim_id"], "approve"), {"approved_amount": "300.00"}
        )
    )
    rejected = ok(
        enablement.post(
            claims_path(webinar, third["claim_id"], "reject"), {"reason": "no attendee list"}
        )
    )

    waiting = ok(enablement.get("/mdf-claims", status="submitted"))
    assert waiting == {"partner_id": None, "status": "submitted", "claims": [second]}, (
        "each claim as its own answer: request, partner, amounts, evidence, decision"
    )
    assert ok(enablement.get("/mdf-claims", status="approved"))["claims"] == [approved]
    assert (approved["approved_amount"], approved["decided_at"] is not None) == ("300.00", True)
    everything = ok(enablement.get("/mdf-claims"))
    assert everything["claims"] == [approved, second, rejected], "oldest first, any status"
    assert {c["partner_id"] for c in everything["claims"]} == {KEYED_PARTNER, OTHER_PARTNER}
    assert [c["request_id"] for c in everything["claims"]] == [roadshow, elsewhere, webinar]
    assert listed(enablement, limit=2) == [first["claim_id"], second["claim_id"]]

    one = ok(enablement.get("/mdf-claims", partner_id=KEYED_PARTNER))
    assert (one["partner_id"], one["status"]) == (KEYED_PARTNER, None)
    assert one["claims"] == [approved, rejected]
    assert ok(enablement.get("/mdf-claims", partner_id=KEYED_PARTNER, status="rejected"))[
        "claims"
    ] == [rejected]
    assert rejected["reason"] == "no attendee list"
    assert listed(enablement, partner_id="P-none") == [], "no claim book: no claim"
    assert listed(enablement, partner_id=OTHER_PARTNER, status="approved") == []


def test_a_partner_lists_its_own_claims_only(enablement: Enablement) -> None:
    enablement.sign(OTHER_PARTNER, "gold")
    own = ok(enablement.post(claims_path(approved_request(enablement)), claim_body("1.00", 1)), 201)
    elsewhere = approved_request(enablement, partner_id=OTHER_PARTNER)
    other = ok(enablement.post(claims_path(elsewhere), claim_body("1.00", 2)), 201)

    assert listed(enablement, PARTNER_KEY) == [own["claim_id"]], "left out: its own partner"
    assert listed(enablement, PARTNER_KEY, status="submitted") == [own["claim_id"]]
    assert listed(enablement, PARTNER_KEY, partner_id=KEYED_PARTNER) == [own["claim_id"]]
    assert ok(enablement.get("/mdf-claims", key=PARTNER_KEY))["partner_id"] == KEYED_PARTNER
    refused = enablement.get("/mdf-claims", key=PARTNER_KEY, partner_id=OTHER_PARTNER)
    assert refused.status_code == 403, refused.text
    assert listed(enablement, OTHER_PARTNER_KEY) == [other["claim_id"]]
    assert listed(enablement) == [own["claim_id"], other["claim_id"]], "staff: every partner's"


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "requested"}, "query.status"), ({"limit": "0"}, "query.limit")],
)
def test_a_listing_asked_wrongly_names_its_parameter(
    enablement: Enablement, query: dict[str, str], field: str
) -> None:
    assert field_errors(enablement.get("/mdf-claims", **query)) == [field]


# --------------------------------------------------------------------------- races


async def commands_over(store: InMemoryStore, window_days: int = 60) -> EnablementCommands:
    kafka = publisher_of(store)
    award_settling = AwardSettling(store, kafka)
    consumer = EnablementConsumer(store, kafka, award_settling, DeadLetters())
    await consumer.handle([consumed(signed(PARTNER))])
    return EnablementCommands(
        store,
        kafka,
        award_settling,
        MdfBudget("USD", {Tier.GOLD: Decimal(1000)}),
        claim_window_days=window_days,
        clock=ticking(),
    )


async def approved_request_of(commands: EnablementCommands, amount: str) -> str:
    body = MdfRequestBody.model_validate(
        {"partner_id": PARTNER, "campaign": "c", "amount": amount, "currency": "USD"}
    )
    made = await commands.request_mdf(body, None, partner_id=PARTNER, actor=MANAGER)
    await commands.approve_mdf(made.body["request_id"], None, MANAGER)
    return str(made.body["request_id"])


def body_of(amount: str, *numbers: int) -> MdfClaimBody:
    return MdfClaimBody.model_validate(claim_body(amount, *numbers))


async def test_two_claims_racing_for_the_last_of_a_request_are_decided_one_after_the_other() -> (
    None
):
    store = InMemoryStore()
    commands = await commands_over(store)
    request_id = await approved_request_of(commands, "600")
    # Another claim is written just before this one: this one is decided again, refused.
    store.before_next_write = lambda: commands.submit_mdf_claim(
        request_id, body_of("400", 1), None, MANAGER
    )
    with pytest.raises(MdfClaimRefused) as refused:
        await commands.submit_mdf_claim(request_id, body_of("300", 2), None, MANAGER)
    assert refused.value.rule is ClaimRule.OVER_APPROVED_AMOUNT
    (book,) = store.docs[MDF_CLAIMS].values()
    assert [c["amount"] for c in book["claims"]] == ["400"]


async def test_the_same_evidence_racing_on_two_requests_is_claimed_once() -> None:
    store = InMemoryStore()
    commands = await commands_over(store)
    first, second = (
        await approved_request_of(commands, "300"),
        await approved_request_of(commands, "300"),
    )
    store.before_next_write = lambda: commands.submit_mdf_claim(
        first, body_of("10", 7), None, MANAGER
    )
    with pytest.raises(MdfClaimRefused) as refused:
        await commands.submit_mdf_claim(second, body_of("10", 7), None, MANAGER)
    assert (refused.value.rule, refused.value.location) == (
        ClaimRule.EVIDENCE_REUSED,
        ("body", "evidence", 0, "sha256"),
    )
    (book,) = store.docs[MDF_CLAIMS].values()
    assert [c["request_id"] for c in book["claims"]] == [first]


async def test_the_claim_window_comes_from_the_commands_setting() -> None:
    store = InMemoryStore()
    commands = await commands_over(store, window_days=2)
    request_id = await approved_request_of(commands, "300")
    edge = (TODAY - timedelta(days=2)).isoformat()
    made = await commands.submit_mdf_claim(
        request_id,
        MdfClaimBody.model_validate(claim_body("1", 1, activity_end=edge)),
        None,
        MANAGER,
    )
    assert made.status == 201
    late = (TODAY - timedelta(days=3)).isoformat()
    with pytest.raises(MdfClaimRefused, match="claim_window_closed"):
        await commands.submit_mdf_claim(
            request_id,
            MdfClaimBody.model_validate(claim_body("1", 2, activity_end=late)),
            None,
            MANAGER,
        )
