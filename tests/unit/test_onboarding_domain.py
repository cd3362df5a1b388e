"""The onboarding rules: scorecard arithmetic and the partner lifecycle (docs/rules/scorecard.md)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.onboarding.domain import (
    CRITERIA,
    DEFAULT_NOTICE_DAYS,
    DEFAULT_WEIGHTS,
    IllegalTransition,
    InvalidCommand,
    InvalidWeights,
    PartnerProfile,
    PartnerRecord,
    ScorecardWeights,
    assess,
    recommend,
    score,
    termination_window,
)
from shared.commands import Conflict, InvalidField
from shared.events import (
    Contract,
    ContractRenewed,
    PartnerApplied,
    PartnerApproved,
    PartnerRejected,
    PartnerSigned,
    PartnerStatus,
    PartnerTerminated,
    PartnerTierChanged,
    Payload,
    Recommendation,
    Scorecard,
    Tier,
    new_event,
    parse_event,
)
from tests.support.events import CONTRACT

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
TODAY = date(2026, 10, 15)


def card(
    customer_base: int = 0,
    sales_network: int = 0,
    expertise: int = 0,
    track_record: int = 0,
    fit: int = 0,
) -> Scorecard:
    return Scorecard(
        customer_base=customer_base,
        sales_network=sales_network,
        expertise=expertise,
        track_record=track_record,
        fit=fit,
    )


def weights(**values: str) -> ScorecardWeights:
    return ScorecardWeights(**{name: Decimal(values.get(name, "0")) for name in CRITERIA})


# --------------------------------------------------------------------------- scorecard


def test_default_weights_are_the_spec_ones() -> None:
    assert DEFAULT_WEIGHTS.as_dict() == {
        "customer_base": Decimal("0.25"),
        "sales_network": Decimal("0.20"),
        "expertise": Decimal("0.25"),
        "track_record": Decimal("0.20"),
        "fit": Decimal("0.10"),
    }
    assert list(DEFAULT_WEIGHTS.as_dict()) == list(CRITERIA)


def test_all_fours_score_80() -> None:
    result = score(card(4, 4, 4, 4, 4))
    assert result == Decimal("80.0")
    assert str(result) == "80.0"


def test_mixed_scorecard_computed_by_hand() -> None:
    # 0.25×4 + 0.20×3 + 0.25×5 + 0.20×3 + 0.10×4 = 1 + 0.6 + 1.25 + 0.6 + 0.4 = 3.85
    # 3.85 / 5 × 100 = 77.0
    result = assess(card(customer_base=4, sales_network=3, expertise=5, track_record=3, fit=4))
    assert str(result.score) == "77.0"
    assert result.recommendation is Recommendation.APPROVE
    assert result.weights == DEFAULT_WEIGHTS


def test_extremes() -> None:
    assert str(score(card(5, 5, 5, 5, 5))) == "100.0"
    assert str(score(card())) == "0.0"


@pytest.mark.parametrize(
    ("scorecard", "expected_score", "expected"),
    [
        # default weights give 5·cb + 4·sn + 5·ex + 4·tr + 2·fit points
        (card(4, 3, 4, 3, 3), "70.0", Recommendation.APPROVE),
        (card(5, 3, 4, 3, 0), "69.0", Recommendation.REVIEW),
        (card(2, 3, 2, 3, 3), "50.0", Recommendation.REVIEW),
        (card(3, 2, 2, 4, 0), "49.0", Recommendation.REJECT),
    ],
)
def test_recommendation_boundaries_through_the_scorecard(
    scorecard: Scorecard, expected_score: str, expected: Recommendation
) -> None:
    result = assess(scorecard)
    assert str(result.score) == expected_score
    assert result.recommendation is expected


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ("100.0", Recommendation.APPROVE),
        ("70.0", Recommendation.APPROVE),
        ("69.9", Recommendation.REVIEW),
        ("50.0", Recommendation.REVIEW),
        ("49.9", Recommendation.REJECT),
        ("0.0", Recommendation.REJECT),
    ],
)
def test_recommend_thresholds(points: str, expected: Recommendation) -> None:
    assert recommend(Decimal(points)) is expected


def test_rounding_is_half_up_not_half_even() -> None:
    # 0.0125 × 1 / 5 × 100 = 0.25 exactly: half-up gives 0.3 (half-even would give 0.2)
    tilted = weights(customer_base="0.0125", sales_network="0.9875")
    assert str(score(card(customer_base=1), tilted)) == "0.3"
    # 0.0075 × 1 × 20 = 0.15 → 0.2 either way; 0.0025 × 20 = 0.05 → 0.1
    assert str(score(card(customer_base=1), weights(customer_base="0.0075", fit="0.9925"))) == "0.2"
    assert str(score(card(customer_base=1), weights(customer_base="0.0025", fit="0.9975"))) == "0.1"


def test_recommendation_follows_the_rounded_score() -> None:
    # 20 × (0.24875 × 5 + 0.75125 × 3) = 69.95 → 70.0 → approve
    tilted = weights(customer_base="0.24875", sales_network="0.75125")
    result = assess(card(customer_base=5, sales_network=3), tilted)
    assert str(result.score) == "70.0"
    assert result.recommendation is Recommendation.APPROVE


def test_custom_weights() -> None:
    equal = weights(**dict.fromkeys(CRITERIA, "0.2"))
    # 0.2 × (4 + 3 + 5 + 3 + 4) = 3.8 → 76.0
    result = assess(card(4, 3, 5, 3, 4), equal)
    assert str(result.score) == "76.0"
    assert result.weights is equal
    only_fit = weights(fit="1")
    assert str(score(card(5, 5, 5, 5, 3), only_fit)) == "60.0"
    assert recommend(score(card(5, 5, 5, 5, 3), only_fit)) is Recommendation.REVIEW


def test_negative_weight_is_named() -> None:
    with pytest.raises(InvalidWeights, match="'fit' must not be negative") as caught:
        weights(customer_base="0.35", sales_network="0.20", expertise="0.25",
                track_record="0.30", fit="-0.10")  # fmt: skip
    assert caught.value.weight == "fit"


def test_weights_not_summing_to_one_list_every_weight() -> None:
    with pytest.raises(InvalidWeights) as caught:
        weights(customer_base="0.25", sales_network="0.25", expertise="0.25",
                track_record="0.20", fit="0.10")  # fmt: skip
    assert caught.value.weight is None
    message = str(caught.value)
    assert "must sum to 1, got 1.05" in message
    assert "sales_network=0.25" in message
    with pytest.raises(InvalidWeights, match="must sum to 1, got 0"):
        weights()


def test_weights_must_be_decimals() -> None:
    with pytest.raises(InvalidWeights, match="'expertise' must be a Decimal") as caught:
        ScorecardWeights(
            customer_base=Decimal("0.25"),
            sales_network=Decimal("0.20"),
            expertise=0.25,  # type: ignore[arg-type]
            track_record=Decimal("0.20"),
            fit=Decimal("0.10"),
        )
    assert caught.value.weight == "expertise"
    with pytest.raises(InvalidWeights, match="'track_record' must be a finite number"):
        weights(customer_base="1", track_record="NaN")


def test_weights_from_configuration() -> None:
    given_values: dict[str, object] = {
        "customer_base": "0.25",
        "sales_network": 0.2,
        "expertise": Decimal("0.25"),
        "track_record": "0.2",
        "fit": 0.1,
    }
    assert ScorecardWeights.from_mapping(given_values) == DEFAULT_WEIGHTS
    assert ScorecardWeights.from_mapping({**dict.fromkeys(CRITERIA, 0), "fit": 1}) == weights(
        fit="1"
    )


@pytest.mark.parametrize(
    ("values", "weight", "message"),
    [
        ({**DEFAULT_WEIGHTS.as_dict(), "price": "0"}, "price", "unknown weight 'price'"),
        ({"customer_base": "0.5", "sales_network": "0.5"}, "expertise", "'expertise' is missing"),
        ({**DEFAULT_WEIGHTS.as_dict(), "fit": "a tenth"}, "fit", "'fit' must be a decimal"),
        ({**DEFAULT_WEIGHTS.as_dict(), "fit": True}, "fit", "'fit' must be a number"),
        ({**DEFAULT_WEIGHTS.as_dict(), "fit": None}, "fit", "'fit' must be a number"),
    ],
)
def test_bad_weights_from_configuration_are_named(
    values: dict[str, object], weight: str, message: str
) -> None:
    with pytest.raises(InvalidWeights, match=message) as caught:
        ScorecardWeights.from_mapping(values)
    assert caught.value.weight == weight


@st.composite
def any_weights(draw: st.DrawFn) -> ScorecardWeights:
    """Five thousandths that add up to exactly 1: the gaps between four sorted cuts of 0..1000."""
    cuts = sorted(draw(st.lists(st.integers(0, 1000), min_size=4, max_size=4)))
    bounds = [0, *cuts, 1000]
    parts = [Decimal(b - a) / 1000 for a, b in pairwise(bounds)]
    return ScorecardWeights(**dict(zip(CRITERIA, parts, strict=True)))


criteria_values = st.lists(st.integers(0, 5), min_size=5, max_size=5)


@given(any_weights(), criteria_values)
def test_score_is_bounded_and_monotone_in_each_criterion(
    chosen: ScorecardWeights, values: list[int]
) -> None:
    marks = dict(zip(CRITERIA, values, strict=True))
    points = score(Scorecard(**marks), chosen)
    assert Decimal(0) <= points <= Decimal(100)
    assert points.as_tuple().exponent == -1
    for name in CRITERIA:
        if marks[name] < 5:
            better = score(Scorecard(**{**marks, name: marks[name] + 1}), chosen)
            assert better >= points, name


@given(any_weights(), st.integers(0, 5))
def test_equal_marks_score_the_same_under_any_weights(chosen: ScorecardWeights, mark: int) -> None:
    assert score(Scorecard(**dict.fromkeys(CRITERIA, mark)), chosen) == Decimal(20 * mark)


# --------------------------------------------------------------------------- lifecycle fixtures

PROFILE = PartnerProfile(
    name="Acme Cloud Resellers",
    partner_type="reseller",
    region="EMEA",
    industry="IT",
    contact_email="channel@acme.example",
)


def contract(contract_id: str = "C-1", **changes: Any) -> Contract:
    # CONTRACT: 2026-10-01 to 2027-09-30, USD, gold
    return Contract.model_validate(
        {**copy.deepcopy(CONTRACT), "contract_id": contract_id, **changes}
    )


def applied() -> PartnerRecord:
    record, _ = PartnerRecord.apply(
        partner_id="P-1",
        application_id="A-1",
        profile=PROFILE,
        scorecard=card(4, 3, 5, 3, 4),
        applied_at=NOW,
    )
    return record


def approved() -> PartnerRecord:
    record = applied()
    record.approve(now=NOW + timedelta(days=1))
    return record


def rejected() -> PartnerRecord:
    record = applied()
    record.reject(reason="no cloud practice", now=NOW + timedelta(days=1))
    return record


def active() -> PartnerRecord:
    record = approved()
    record.sign(contract("C-1"))
    return record


def terminated() -> PartnerRecord:
    record = active()
    record.terminate(reason="breach of contract", effective_date=date(2026, 12, 1), today=TODAY)
    return record


IN_STATUS: dict[PartnerStatus, Callable[[], PartnerRecord]] = {
    PartnerStatus.APPLIED: applied,
    PartnerStatus.APPROVED: approved,
    PartnerStatus.REJECTED: rejected,
    PartnerStatus.ACTIVE: active,
    PartnerStatus.TERMINATED: terminated,
}


def round_trips(payload: Payload) -> None:
    """The payload is a valid event of the contract, as the adapter will publish it."""
    event = new_event(payload, source="/onboarding", time=NOW, event_id="e-1")
    again = parse_event(event.to_bytes())
    assert again.data.model_dump() == payload.model_dump()
    assert again.subject == payload.partner_id


# --------------------------------------------------------------------------- legal steps


def test_apply_scores_and_announces_the_application() -> None:
    record, event = PartnerRecord.apply(
        partner_id="P-1",
        application_id="A-1",
        profile=PROFILE,
        scorecard=card(4, 3, 5, 3, 4),
        applied_at=NOW,
    )
    assert record.status is PartnerStatus.APPLIED
    assert record.assessment.score == Decimal("77.0")
    assert isinstance(event, PartnerApplied)
    assert event.partner_id == "P-1"
    assert event.application_id == "A-1"
    assert event.score == 77.0
    assert event.recommendation is Recommendation.APPROVE
    assert event.contact_email == "channel@acme.example"
    assert event.applied_at == NOW
    round_trips(event)


def test_apply_with_custom_weights_keeps_them() -> None:
    only_fit = weights(fit="1")
    record, event = PartnerRecord.apply(
        partner_id="P-2",
        application_id="A-2",
        profile=PROFILE,
        scorecard=card(fit=2),
        applied_at=NOW,
        weights=only_fit,
    )
    assert record.assessment.weights is only_fit
    assert event.score == 40.0
    assert event.recommendation is Recommendation.REJECT


def test_approve() -> None:
    record = applied()
    event = record.approve(now=NOW + timedelta(days=1))
    assert event == PartnerApproved(
        partner_id="P-1", application_id="A-1", approved_at=NOW + timedelta(days=1)
    )
    assert record.status is PartnerStatus.APPROVED
    assert record.decided_at == NOW + timedelta(days=1)
    round_trips(event)


def test_reject() -> None:
    record = applied()
    event = record.reject(reason="no cloud practice", now=NOW + timedelta(days=2))
    assert event == PartnerRejected(
        partner_id="P-1",
        application_id="A-1",
        rejected_at=NOW + timedelta(days=2),
        reason="no cloud practice",
    )
    assert record.status is PartnerStatus.REJECTED
    assert record.rejection_reason == "no cloud practice"
    round_trips(event)


def test_sign_makes_the_partner_active() -> None:
    record = approved()
    event = record.sign(contract("C-1"))
    assert isinstance(event, PartnerSigned)
    assert event.contract == contract("C-1")
    assert (event.name, event.partner_type, event.region, event.industry) == (
        "Acme Cloud Resellers",
        "reseller",
        "EMEA",
        "IT",
    )
    assert record.status is PartnerStatus.ACTIVE
    assert record.tier is Tier.GOLD
    assert record.current_contract == contract("C-1")
    round_trips(event)


def test_renew_follows_the_current_contract() -> None:
    record = active()
    renewal = contract(
        "C-2", start_date="2027-10-01", end_date="2028-09-30", tier="platinum", currency="EUR"
    )
    event = record.renew(renewed_contract_id="C-1", contract=renewal)
    assert isinstance(event, ContractRenewed)
    assert event.contract == renewal
    assert event.model_dump()["renewed_contract_id"] == "C-1"
    assert record.status is PartnerStatus.ACTIVE
    assert record.tier is Tier.PLATINUM
    assert [c.contract_id for c in record.contracts] == ["C-1", "C-2"]
    assert record.current_contract == renewal
    round_trips(event)
    # and the renewal can itself be renewed
    record.renew(
        renewed_contract_id="C-2",
        contract=contract("C-3", start_date="2028-10-01", end_date="2029-09-30"),
    )
    assert [c.contract_id for c in record.contracts] == ["C-1", "C-2", "C-3"]


def test_early_renewal_may_overlap_and_a_late_one_may_leave_a_gap() -> None:
    early = active()
    early.renew(
        renewed_contract_id="C-1",
        contract=contract("C-2", start_date="2027-04-01", end_date="2028-03-31"),
    )
    late = active()
    late.renew(
        renewed_contract_id="C-1",
        contract=contract("C-2", start_date="2027-11-01", end_date="2028-10-31"),
    )
    assert early.status is late.status is PartnerStatus.ACTIVE


def test_change_tier() -> None:
    record = active()
    event = record.change_tier(
        tier=Tier.PLATINUM, effective_date=date(2027, 1, 1), reason="target exceeded"
    )
    assert event == PartnerTierChanged(
        partner_id="P-1",
        tier=Tier.PLATINUM,
        effective_date=date(2027, 1, 1),
        reason="target exceeded",
    )
    assert (record.tier, record.status) == (Tier.PLATINUM, PartnerStatus.ACTIVE)
    round_trips(event)
    record.change_tier(tier=Tier.SILVER, effective_date=date(2027, 9, 30))
    assert record.tier is Tier.SILVER


def test_terminate() -> None:
    record = active()
    event = record.terminate(
        reason="breach of contract", effective_date=date(2026, 11, 14), today=TODAY
    )
    assert event == PartnerTerminated(
        partner_id="P-1", effective_date=date(2026, 11, 14), reason="breach of contract"
    )
    assert record.status is PartnerStatus.TERMINATED
    assert record.termination is not None
    assert record.termination.effective_date == date(2026, 11, 14)
    assert record.termination.noticed_on == TODAY
    round_trips(event)


def test_terminate_after_a_renewal_uses_the_current_contract() -> None:
    record = active()
    record.renew(
        renewed_contract_id="C-1",
        contract=contract("C-2", start_date="2027-10-01", end_date="2028-09-30"),
    )
    record.terminate(reason="merger", effective_date=date(2028, 10, 1), today=TODAY)
    assert record.status is PartnerStatus.TERMINATED


# --------------------------------------------------------------------------- illegal steps

STEPS: dict[str, Callable[[PartnerRecord], object]] = {
    "approve": lambda r: r.approve(now=NOW),
    "reject": lambda r: r.reject(reason="not a fit", now=NOW),
    "sign": lambda r: r.sign(contract("C-9", start_date="2027-01-01", end_date="2027-12-31")),
    "renew": lambda r: r.renew(
        renewed_contract_id="C-1",
        contract=contract("C-9", start_date="2027-10-01", end_date="2028-09-30"),
    ),
    "change_tier": lambda r: r.change_tier(tier=Tier.SILVER, effective_date=date(2027, 1, 1)),
    "terminate": lambda r: r.terminate(
        reason="not a fit", effective_date=date(2026, 12, 1), today=TODAY
    ),
}
ALLOWED_FROM = {
    "approve": PartnerStatus.APPLIED,
    "reject": PartnerStatus.APPLIED,
    "sign": PartnerStatus.APPROVED,
    "renew": PartnerStatus.ACTIVE,
    "change_tier": PartnerStatus.ACTIVE,
    "terminate": PartnerStatus.ACTIVE,
}
ILLEGAL = [(s, step) for step in STEPS for s in PartnerStatus if ALLOWED_FROM[step] is not s]


@pytest.mark.parametrize(("status", "step"), ILLEGAL)
def test_every_illegal_step_is_refused_and_changes_nothing(
    status: PartnerStatus, step: str
) -> None:
    record = IN_STATUS[status]()
    assert record.status is status
    before = copy.deepcopy(record)
    with pytest.raises(IllegalTransition) as caught:
        STEPS[step](record)
    assert record == before
    assert "P-1" in caught.value.reason or "A-1" in caught.value.reason
    assert str(caught.value) == caught.value.reason, "the 409's detail is the reason"
    assert isinstance(caught.value, Conflict), "answered 409 like every service's refusals"


@pytest.mark.parametrize(("status", "step"), [(s, step) for step, s in ALLOWED_FROM.items()])
def test_every_legal_step_is_accepted(status: PartnerStatus, step: str) -> None:
    record = IN_STATUS[status]()
    STEPS[step](record)


@pytest.mark.parametrize(
    ("status", "step", "reason"),
    [
        (PartnerStatus.APPROVED, "approve", "application A-1 is already approved (partner P-1)"),
        (
            PartnerStatus.REJECTED,
            "approve",
            "cannot approve application A-1: partner P-1 is rejected; "
            "only an application awaiting a decision can be approved",
        ),
        (
            PartnerStatus.ACTIVE,
            "approve",
            "cannot approve application A-1: partner P-1 is active under a contract; "
            "only an application awaiting a decision can be approved",
        ),
        (PartnerStatus.REJECTED, "reject", "application A-1 is already rejected (partner P-1)"),
        (
            PartnerStatus.APPROVED,
            "reject",
            "cannot reject application A-1: partner P-1 is approved but has not signed a "
            "contract; only an application awaiting a decision can be rejected",
        ),
        (
            PartnerStatus.APPLIED,
            "sign",
            "cannot sign contract C-9: partner P-1 is an applicant awaiting a decision; "
            "only an approved partner can sign a contract",
        ),
        (
            PartnerStatus.REJECTED,
            "sign",
            "cannot sign contract C-9: partner P-1 is rejected; "
            "only an approved partner can sign a contract",
        ),
        (
            PartnerStatus.ACTIVE,
            "sign",
            "cannot sign contract C-9: partner P-1 is already active under contract C-1; "
            "renew it instead",
        ),
        (
            PartnerStatus.TERMINATED,
            "sign",
            "cannot sign contract C-9: partner P-1 is terminated (effective 2026-12-01); "
            "only an approved partner can sign a contract",
        ),
        (
            PartnerStatus.TERMINATED,
            "renew",
            "cannot renew contract C-1: partner P-1 is terminated (effective 2026-12-01); "
            "only an active partner's contract can be renewed",
        ),
        (
            PartnerStatus.APPROVED,
            "renew",
            "cannot renew contract C-1: partner P-1 is approved but has not signed a contract; "
            "only an active partner's contract can be renewed",
        ),
        (
            PartnerStatus.TERMINATED,
            "change_tier",
            "cannot change the tier to silver: partner P-1 is terminated (effective "
            "2026-12-01); only an active partner's tier can change",
        ),
        (
            PartnerStatus.APPROVED,
            "terminate",
            "cannot terminate: partner P-1 is approved but has not signed a contract; "
            "only an active partner can be terminated",
        ),
        (
            PartnerStatus.TERMINATED,
            "terminate",
            "cannot terminate: partner P-1 is terminated (effective 2026-12-01); "
            "only an active partner can be terminated",
        ),
        (
            PartnerStatus.APPLIED,
            "terminate",
            "cannot terminate: partner P-1 is an applicant awaiting a decision; "
            "only an active partner can be terminated",
        ),
    ],
)
def test_refusals_say_why(status: PartnerStatus, step: str, reason: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        STEPS[step](IN_STATUS[status]())
    assert caught.value.reason == reason


def test_renewing_an_unknown_contract_is_refused() -> None:
    record = active()
    with pytest.raises(IllegalTransition) as caught:
        record.renew(
            renewed_contract_id="C-404",
            contract=contract("C-2", start_date="2027-10-01", end_date="2028-09-30"),
        )
    assert caught.value.reason == (
        "cannot renew contract C-404: partner P-1 has no such contract (its contracts: C-1)"
    )
    assert [c.contract_id for c in record.contracts] == ["C-1"]


def test_renewing_a_contract_already_renewed_is_refused() -> None:
    record = active()
    record.renew(
        renewed_contract_id="C-1",
        contract=contract("C-2", start_date="2027-10-01", end_date="2028-09-30"),
    )
    with pytest.raises(IllegalTransition, match="current contract of partner P-1 is C-2"):
        record.renew(
            renewed_contract_id="C-1",
            contract=contract("C-3", start_date="2028-10-01", end_date="2029-09-30"),
        )


def test_a_renewal_needs_a_new_contract_id() -> None:
    record = active()
    with pytest.raises(IllegalTransition, match="already has a contract with that id"):
        record.renew(
            renewed_contract_id="C-1",
            contract=contract("C-1", start_date="2027-10-01", end_date="2028-09-30"),
        )


def test_changing_to_the_same_tier_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="partner P-1 is already gold"):
        active().change_tier(tier=Tier.GOLD, effective_date=date(2027, 1, 1))


# --------------------------------------------------------------------------- contract rules


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2026-10-01", "2028-09-30", "start_date", "must start after the renewed contract C-1"),
        ("2026-09-01", "2028-09-30", "start_date", "starts (2026-10-01), got 2026-09-01"),
        ("2027-01-01", "2027-09-30", "end_date", "must end after the renewed contract C-1"),
        ("2027-01-01", "2027-06-30", "end_date", "ends (2027-09-30), got 2027-06-30"),
    ],
)
def test_renewal_dates(start: str, end: str, field: str, message: str) -> None:
    record = active()
    before = copy.deepcopy(record)
    with pytest.raises(InvalidCommand, match=re.escape(message)) as caught:
        record.renew(
            renewed_contract_id="C-1", contract=contract("C-2", start_date=start, end_date=end)
        )
    assert caught.value.field == field
    assert record == before


@pytest.mark.parametrize("effective", [date(2026, 9, 30), date(2027, 10, 1)])
def test_tier_change_falls_within_the_current_contract(effective: date) -> None:
    record = active()
    with pytest.raises(InvalidCommand, match="within the current contract C-1") as caught:
        record.change_tier(tier=Tier.SILVER, effective_date=effective)
    assert caught.value.field == "effective_date"
    assert record.tier is Tier.GOLD


def test_a_broken_rule_is_an_invalid_field_named_in_the_steps_data() -> None:
    with pytest.raises(InvalidField) as caught:
        applied().reject(reason="  ", now=NOW)
    assert isinstance(caught.value, InvalidCommand)
    assert (caught.value.location, caught.value.message) == (("reason",), "must not be blank")


def test_blank_reasons_are_refused() -> None:
    with pytest.raises(InvalidCommand, match="reason: must not be blank"):
        applied().reject(reason="  ", now=NOW)
    with pytest.raises(InvalidCommand, match="reason: must not be blank"):
        active().terminate(reason="", effective_date=date(2026, 12, 1), today=TODAY)
    with pytest.raises(InvalidCommand, match="reason: must not be blank"):
        active().change_tier(tier=Tier.SILVER, effective_date=date(2027, 1, 1), reason=" ")


def test_instants_need_an_offset() -> None:
    naive = datetime(2026, 9, 2, 9, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidCommand) as caught:
        applied().approve(now=naive)
    assert caught.value.field == "approved_at"
    with pytest.raises(InvalidCommand, match="applied_at"):
        PartnerRecord.apply(
            partner_id="P-1",
            application_id="A-1",
            profile=PROFILE,
            scorecard=card(),
            applied_at=naive,
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"region": ""}, "region"),
        ({"contact_email": "channel.acme.example"}, "contact_email"),
        ({"contact_email": "channel@"}, "contact_email"),
        ({"contact_email": "chan nel@acme.example"}, "contact_email"),
    ],
)
def test_profile_is_checked(changes: dict[str, str], field: str) -> None:
    values = {
        "name": PROFILE.name,
        "partner_type": PROFILE.partner_type,
        "region": PROFILE.region,
        "industry": PROFILE.industry,
        "contact_email": PROFILE.contact_email,
        **changes,
    }
    with pytest.raises(InvalidCommand) as caught:
        PartnerProfile(**values)
    assert caught.value.field == field


# --------------------------------------------------------------------------- termination notice


def test_notice_default_is_30_days() -> None:
    assert DEFAULT_NOTICE_DAYS == 30
    assert termination_window(contract(), TODAY) == (date(2026, 11, 14), date(2027, 10, 1))


def test_termination_needs_notice() -> None:
    record = active()
    with pytest.raises(InvalidCommand) as caught:
        record.terminate(reason="breach", effective_date=date(2026, 11, 13), today=TODAY)
    assert caught.value.field == "effective_date"
    assert caught.value.reason == (
        "must be on or after 2026-11-14 (30 days' notice from 2026-10-15), got 2026-11-13"
    )
    assert record.status is PartnerStatus.ACTIVE
    event = record.terminate(reason="breach", effective_date=date(2026, 11, 14), today=TODAY)
    assert event.effective_date == date(2026, 11, 14)
    assert record.termination is not None


def test_notice_days_are_configurable() -> None:
    with pytest.raises(InvalidCommand, match="60 days' notice"):
        active().terminate(
            reason="breach", effective_date=date(2026, 12, 13), today=TODAY, notice_days=60
        )
    active().terminate(
        reason="breach", effective_date=date(2026, 12, 14), today=TODAY, notice_days=60
    )
    active().terminate(reason="breach", effective_date=TODAY, today=TODAY, notice_days=0)
    with pytest.raises(InvalidCommand, match="notice_days: must not be negative"):
        active().terminate(reason="breach", effective_date=TODAY, today=TODAY, notice_days=-1)


def test_termination_takes_effect_no_later_than_the_day_after_the_contract_ends() -> None:
    active().terminate(reason="non-renewal", effective_date=date(2027, 10, 1), today=TODAY)
    record = active()
    with pytest.raises(InvalidCommand) as caught:
        record.terminate(reason="non-renewal", effective_date=date(2027, 10, 2), today=TODAY)
    assert caught.value.reason == (
        "must be on or before 2027-10-01, the day after contract C-1 ends (2027-09-30), "
        "got 2027-10-02"
    )
    assert record.status is PartnerStatus.ACTIVE


def test_when_the_contract_ends_inside_the_notice_period_only_its_end_is_allowed() -> None:
    late = date(2027, 9, 20)  # notice runs out 2027-10-20, the contract ends 2027-09-30
    assert termination_window(contract(), late) == (date(2027, 10, 20), date(2027, 10, 20))
    with pytest.raises(InvalidCommand, match="the end of the notice period"):
        active().terminate(reason="exit", effective_date=date(2027, 10, 21), today=late)
    with pytest.raises(InvalidCommand, match="must be on or after 2027-10-20"):
        active().terminate(reason="exit", effective_date=date(2027, 10, 1), today=late)
    active().terminate(reason="exit", effective_date=date(2027, 10, 20), today=late)
