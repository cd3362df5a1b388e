"""Industry fit: capabilities, each industry's required capabilities and own scorecard
weights, and the warnings they give (docs/rules/scorecard.md, "Industry fit")."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.onboarding.domain import (
    DEFAULT_INDUSTRY_FIT,
    DEFAULT_REQUIRED_CAPABILITIES,
    DEFAULT_WEIGHTS,
    IndustryFit,
    InvalidCommand,
    InvalidIndustryFit,
    PartnerProfile,
    PartnerRecord,
    ScorecardWeights,
    capabilities_of,
)
from services.onboarding.store import decode_record, encode_record
from shared.events import (
    Capability,
    PartnerApplied,
    Recommendation,
    Scorecard,
    new_event,
    parse_event,
)

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
#: 77.0 (approve) under the default weights; 68.0 (review) under MANUFACTURING_WEIGHTS.
SCORECARD = Scorecard(customer_base=4, sales_network=3, expertise=5, track_record=3, fit=4)
#: 0.10×4 + 0.40×3 + 0.10×5 + 0.30×3 + 0.10×4 = 3.4; 3.4 / 5 × 100 = 68.0.
MANUFACTURING_WEIGHTS = ScorecardWeights(
    customer_base=Decimal("0.10"),
    sales_network=Decimal("0.40"),
    expertise=Decimal("0.10"),
    track_record=Decimal("0.30"),
    fit=Decimal("0.10"),
)

T, L, A, C = (
    Capability.TECHNICAL_SUPPORT,
    Capability.LOGISTICS,
    Capability.AFTER_SALES,
    Capability.CONSULTING,
)


def profile(industry: str, *capabilities: Capability | str) -> PartnerProfile:
    return PartnerProfile(
        name="Acme",
        partner_type="distributor",
        region="EMEA",
        industry=industry,
        contact_email="channel@acme.example",
        capabilities=capabilities,
    )


def apply(
    industry: str,
    *capabilities: Capability,
    industry_fit: IndustryFit = DEFAULT_INDUSTRY_FIT,
    weights: ScorecardWeights = DEFAULT_WEIGHTS,
) -> tuple[PartnerRecord, PartnerApplied]:
    return PartnerRecord.apply(
        partner_id="P-1",
        application_id="A-1",
        profile=profile(industry, *capabilities),
        scorecard=SCORECARD,
        applied_at=NOW,
        weights=weights,
        industry_fit=industry_fit,
    )


# --------------------------------------------------------------------------- the defaults


def test_the_default_requirements_are_the_playbooks() -> None:
    assert DEFAULT_REQUIRED_CAPABILITIES == {
        "it": (T,),
        "manufacturing": (L, A),
        "services": (C,),
    }
    assert DEFAULT_INDUSTRY_FIT.required == DEFAULT_REQUIRED_CAPABILITIES
    assert DEFAULT_INDUSTRY_FIT.weights == {}


def test_manufacturing_without_logistics_is_warned_about_logistics() -> None:
    record, event = apply("manufacturing", A, Capability.TRAINING)
    warning = (
        "missing_capability: logistics (manufacturing partners need logistics and after_sales)"
    )
    assert record.assessment.warnings == (warning,)
    assert event.warnings == [warning]
    assert event.capabilities == [A, Capability.TRAINING]


def test_manufacturing_without_either_is_warned_about_both_in_the_requirements_order() -> None:
    record, _ = apply("manufacturing")
    need = "(manufacturing partners need logistics and after_sales)"
    assert record.assessment.warnings == (
        f"missing_capability: logistics {need}",
        f"missing_capability: after_sales {need}",
    )


def test_manufacturing_with_both_has_no_warning() -> None:
    record, event = apply("manufacturing", L, A)
    assert record.assessment.warnings == ()
    assert (event.capabilities, event.warnings) == ([L, A], [])


def test_it_without_technical_support_is_warned_and_the_industry_is_matched_as_given() -> None:
    record, event = apply(" IT ", Capability.IMPLEMENTATION)
    assert event.warnings == [
        "missing_capability: technical_support (IT partners need technical_support)"
    ]
    assert record.profile.industry == " IT ", "the profile keeps what was given"
    assert apply("it", T)[1].warnings == []
    assert apply("It", T)[1].warnings == []


def test_services_without_consulting_is_warned() -> None:
    assert apply("Services", T)[1].warnings == [
        "missing_capability: consulting (Services partners need consulting)"
    ]


@pytest.mark.parametrize("industry", ["retail", "public sector", "information technology"])
def test_an_industry_without_requirements_has_no_warning(industry: str) -> None:
    assert apply(industry)[1].warnings == []


def test_warnings_change_neither_the_score_nor_the_recommendation() -> None:
    lacking, _ = apply("manufacturing")
    complete, _ = apply("manufacturing", L, A)
    assert lacking.assessment.warnings
    assert not complete.assessment.warnings
    for record in (lacking, complete):
        assert (record.assessment.score, record.assessment.recommendation) == (
            Decimal("77.0"),
            Recommendation.APPROVE,
        )


# --------------------------------------------------------------------------- capabilities


def test_capabilities_are_kept_once_in_the_order_of_the_list() -> None:
    stated = profile("IT", "training", C, T, "consulting", Capability.TRAINING)
    assert stated.capabilities == (T, C, Capability.TRAINING)
    assert capabilities_of([]) == ()
    assert list(Capability) == [
        T,
        Capability.IMPLEMENTATION,
        L,
        A,
        C,
        Capability.TRAINING,
    ]


def test_an_unknown_capability_names_the_field() -> None:
    with pytest.raises(InvalidCommand) as caught:
        profile("IT", "technical_support", "juggling")
    assert caught.value.field == "capabilities"
    assert "unknown capability 'juggling'" in caught.value.reason


# --------------------------------------------------------------------------- configured


def test_configured_requirements_replace_the_default_ones() -> None:
    fit = IndustryFit(required={"Retail": ["training", C], "it": ()})
    assert fit.required == {"retail": (Capability.TRAINING, C), "it": ()}
    assert apply("IT", industry_fit=fit)[1].warnings == []
    assert apply("manufacturing", industry_fit=fit)[1].warnings == [], "not listed: nothing"
    assert apply("retail", C, industry_fit=fit)[1].warnings == [
        "missing_capability: training (retail partners need training and consulting)"
    ]


def test_an_industry_is_scored_with_its_own_weights_and_the_others_with_the_default() -> None:
    fit = IndustryFit(weights={"Manufacturing": MANUFACTURING_WEIGHTS})
    manufacturing, event = apply("manufacturing", L, A, industry_fit=fit)
    assert manufacturing.assessment.score == Decimal("68.0")
    assert manufacturing.assessment.recommendation is Recommendation.REVIEW
    assert manufacturing.assessment.weights == MANUFACTURING_WEIGHTS
    assert (event.score, event.recommendation) == (68.0, Recommendation.REVIEW)

    it, _ = apply("IT", T, industry_fit=fit)
    assert it.assessment.score == Decimal("77.0")
    assert it.assessment.weights == DEFAULT_WEIGHTS

    only_fit = ScorecardWeights.from_mapping(
        {"customer_base": 0, "sales_network": 0, "expertise": 0, "track_record": 0, "fit": 1}
    )
    services, _ = apply("services", C, industry_fit=fit, weights=only_fit)
    assert services.assessment.score == Decimal("80.0"), "the given default weights: 4 / 5"
    assert apply("manufacturing", industry_fit=fit, weights=only_fit)[0].assessment.score == (
        Decimal("68.0")
    ), "an industry's own weights win over the default"


@pytest.mark.parametrize(
    ("fit", "message"),
    [
        ({"required": {"IT": (T,), " it": (C,)}}, "industry 'it' is given twice"),
        ({"required": {" ": (T,)}}, "must not be blank"),
        ({"required": {"it": ("support",)}}, "unknown capability 'support'"),
        ({"weights": {"it": DEFAULT_WEIGHTS, "IT": DEFAULT_WEIGHTS}}, "given twice"),
    ],
)
def test_a_table_naming_an_industry_twice_or_badly_is_refused(
    fit: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidIndustryFit, match=message):
        IndustryFit(**fit)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- kept and published


def test_the_event_carries_capabilities_and_warnings_through_the_wire() -> None:
    _, applied = apply("manufacturing", Capability.TRAINING, L)
    event = new_event(applied, source="/onboarding", time=NOW, event_id="e-1")
    data = parse_event(event.to_bytes()).data
    assert isinstance(data, PartnerApplied)
    assert data.capabilities == [L, Capability.TRAINING]
    assert data.warnings == [
        "missing_capability: after_sales (manufacturing partners need logistics and after_sales)"
    ]


def test_the_record_keeps_capabilities_and_warnings() -> None:
    record, _ = apply("manufacturing", A)
    again = decode_record(encode_record(record))
    assert again == record
    assert again.profile.capabilities == (A,)
    assert again.assessment.warnings == record.assessment.warnings != ()


def test_a_record_without_capabilities_or_warnings_has_none() -> None:
    record, _ = apply("manufacturing", A)
    document = encode_record(record)
    del document["profile"]["capabilities"]
    del document["assessment"]["warnings"]
    again = decode_record(document)
    assert (again.profile.capabilities, again.assessment.warnings) == ((), ())
