"""The enablement rules: passing, certification cycles, partners, materials, feedback and MDF."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.enablement.domain import (
    Award,
    CertificationDefinition,
    Completion,
    ContractTier,
    Course,
    DefinedDifferently,
    Feedback,
    MdfAlreadyDecided,
    MdfBudget,
    MdfRequest,
    MdfStatus,
    PartnerNotActive,
    PartnerStanding,
    PartnerStatus,
    SalesMaterial,
    Termination,
    TierChange,
    TierMismatch,
    UnknownPartner,
    approve_mdf_request,
    awards_due,
    awards_to_publish,
    certification_awards,
    define,
    materials_tier,
    passes,
    passing_completions,
    quarter_budget,
    quarter_of,
    remaining_mdf_budget,
    require_active_partner,
    submit_mdf_request,
    visible_materials,
)
from shared.events import (
    CertificationAwarded,
    MdfApproved,
    MdfRejected,
    Tier,
    TrainingCompleted,
    parse_event,
)
from tests.support.events import message

PARTNER = "P-100"
LEARNER = "L-1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
VERSION = (T0, "e-1")


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def done(course_id: str, days: float, score: int = 90, learner: str = LEARNER) -> Completion:
    return Completion(PARTNER, learner, course_id, at(days), score)


CLOUD = CertificationDefinition(
    certification_id="CERT-CLOUD",
    product_line="cloud",
    required_courses=frozenset({"C-1", "C-2"}),
    validity_days=365,
)
COURSES = {
    "C-1": Course("C-1", "Cloud basics", "cloud"),
    "C-2": Course("C-2", "Cloud selling", "cloud", passing_score=80),
    "C-9": Course("C-9", "Security basics", "security"),
}


def award(days: float, certification: CertificationDefinition = CLOUD) -> Award:
    return Award(
        partner_id=PARTNER,
        learner_id=LEARNER,
        certification_id=certification.certification_id,
        product_line=certification.product_line,
        awarded_at=at(days),
        expires_at=at(days) + certification.validity,
    )


# --------------------------------------------------------------------------- courses and passing


def test_a_course_passes_at_70_unless_told_otherwise() -> None:
    assert Course("C-1", "Cloud basics", "cloud").passing_score == 70


@pytest.mark.parametrize("score", [-1, 101])
def test_a_passing_score_outside_0_to_100_is_refused(score: int) -> None:
    with pytest.raises(ValueError, match="passing_score"):
        Course("C-1", "Cloud basics", "cloud", passing_score=score)


def test_a_completion_passes_at_exactly_the_passing_score() -> None:
    course = COURSES["C-2"]
    assert passes(done("C-2", 0, score=80), course)
    assert not passes(done("C-2", 0, score=79), course)


def test_a_completion_of_an_unknown_course_does_not_pass_until_the_course_is_defined() -> None:
    completion = done("C-NEW", 0, score=100)
    assert not passes(completion, None)
    assert passing_completions([completion], COURSES) == frozenset()
    courses = {**COURSES, "C-NEW": Course("C-NEW", "New", "cloud")}
    assert passing_completions([completion], courses) == {completion}


def test_a_completion_is_judged_only_against_its_own_course() -> None:
    with pytest.raises(ValueError, match="judged against"):
        passes(done("C-1", 0), COURSES["C-2"])


def test_a_completion_keeps_its_instant_in_utc_and_needs_an_offset() -> None:
    plus_two = timezone(timedelta(hours=2))
    completion = Completion(PARTNER, LEARNER, "C-1", datetime(2026, 1, 1, 2, tzinfo=plus_two), 90)
    assert completion.completed_at == T0
    assert completion.completed_at.tzinfo is UTC
    with pytest.raises(ValueError, match="UTC offset"):
        Completion(PARTNER, LEARNER, "C-1", datetime(2026, 1, 1), 90)  # noqa: DTZ001


@pytest.mark.parametrize("score", [-1, 101])
def test_a_score_outside_0_to_100_is_refused(score: int) -> None:
    with pytest.raises(ValueError, match="score"):
        done("C-1", 0, score=score)


def test_a_completion_round_trips_through_its_event() -> None:
    event = parse_event(message("TrainingCompleted")).data
    assert isinstance(event, TrainingCompleted)
    completion = Completion.from_event(event)
    assert completion.to_event() == event
    assert completion.learner == (event.partner_id, event.learner_id)


def test_a_definition_is_added_once_and_never_changed() -> None:
    courses: dict[str, Course] = {}
    assert define(courses, "C-1", COURSES["C-1"], "course")
    assert not define(courses, "C-1", Course("C-1", "Cloud basics", "cloud"), "course")
    with pytest.raises(DefinedDifferently, match="course C-1 is already defined differently"):
        define(courses, "C-1", Course("C-1", "Other title", "cloud"), "course")
    assert courses == {"C-1": COURSES["C-1"]}


def test_a_certification_needs_a_course_and_a_validity() -> None:
    with pytest.raises(ValueError, match="at least one course"):
        CertificationDefinition("X", "cloud", frozenset(), 365)
    with pytest.raises(ValueError, match="validity_days"):
        CertificationDefinition("X", "cloud", frozenset({"C-1"}), 0)


# --------------------------------------------------------------------------- award cycles


def test_the_award_is_dated_at_the_completion_that_finished_the_set() -> None:
    awards = certification_awards(CLOUD, [done("C-1", 10), done("C-2", 40)])
    assert awards == (award(40),)
    assert awards[0].expires_at == at(40 + 365)
    assert awards[0].key == (PARTNER, LEARNER, "CERT-CLOUD", at(40))


def test_no_award_until_every_required_course_is_passed() -> None:
    assert certification_awards(CLOUD, [done("C-1", 10), done("C-1", 20)]) == ()


def test_failed_completions_do_not_count() -> None:
    completions = [done("C-1", 10), done("C-2", 20, score=79), done("C-2", 30, score=80)]
    passing = passing_completions(completions, COURSES)
    assert certification_awards(CLOUD, passing) == (award(30),)


def test_completions_of_courses_the_certification_does_not_require_are_ignored() -> None:
    completions = [done("C-1", 10), done("C-9", 15), done("C-2", 20)]
    assert certification_awards(CLOUD, completions) == (award(20),)


def test_two_courses_finished_at_the_same_instant_award_at_that_instant() -> None:
    assert certification_awards(CLOUD, [done("C-2", 5), done("C-1", 5)]) == (award(5),)


def test_completions_within_the_validity_neither_renew_nor_count_for_the_next_cycle() -> None:
    completions = [done("C-1", 0), done("C-2", 10), done("C-1", 100), done("C-2", 300)]
    assert certification_awards(CLOUD, completions) == (award(10),)


def test_recertifying_after_expiry_needs_every_course_again_at_or_after_the_expiry() -> None:
    first = award(10)
    expiry = (first.expires_at - T0).days  # 375
    completions = [
        done("C-1", 0),
        done("C-2", 10),
        done("C-1", 370),  # before the expiry: does not count
        done("C-2", expiry),  # exactly at the expiry: counts
        done("C-1", expiry + 20),  # finishes the second cycle
    ]
    assert certification_awards(CLOUD, completions) == (first, award(expiry + 20))


def test_a_learner_who_lets_a_certification_lapse_gets_a_new_award_each_cycle() -> None:
    completions = [done(c, d) for d in (0, 400, 800) for c in ("C-1", "C-2")]
    assert certification_awards(CLOUD, completions) == (award(0), award(400), award(800))


def test_completions_of_several_learners_are_refused_together() -> None:
    with pytest.raises(ValueError, match="several learners"):
        certification_awards(CLOUD, [done("C-1", 0), done("C-2", 0, learner="L-2")])


def test_an_award_round_trips_through_its_event() -> None:
    event = award(40).to_event()
    assert isinstance(event, CertificationAwarded)
    assert event.expires_at == at(405)
    assert (event.certification_id, event.product_line, event.awarded_at) == (
        "CERT-CLOUD",
        "cloud",
        at(40),
    )
    assert award(40).valid_at(at(40))
    assert not award(40).valid_at(at(405))


def test_an_award_must_expire_after_it_is_awarded() -> None:
    with pytest.raises(ValueError, match="expires_at"):
        Award(PARTNER, LEARNER, "X", "cloud", at(1), at(1))


# A few instants around a 30-day validity so that cycles, expiries and ties all happen.
SHORT = CertificationDefinition("CERT-S", "cloud", frozenset({"C-1", "C-2", "C-3"}), 30)
completion_strategy = st.builds(
    done,
    st.sampled_from(["C-1", "C-2", "C-3", "C-9"]),
    st.integers(min_value=0, max_value=120),
)


@settings(max_examples=300)
@given(
    completions=st.lists(completion_strategy, max_size=25),
    data=st.data(),
)
def test_any_permutation_and_duplication_of_completions_gives_the_same_awards(
    completions: list[Completion], data: st.DataObject
) -> None:
    expected = certification_awards(SHORT, completions)
    duplicated = completions + data.draw(
        st.lists(st.sampled_from(completions), max_size=10) if completions else st.just([])
    )
    shuffled = data.draw(st.permutations(duplicated))
    assert certification_awards(SHORT, shuffled) == expected
    # awards never overlap, and each one is dated at one of the learner's completions
    for earlier, later in itertools.pairwise(expected):
        assert earlier.expires_at <= later.awarded_at
    assert {a.awarded_at for a in expected} <= {c.completed_at for c in completions}


# --------------------------------------------------------------------------- publishing awards


def test_awards_to_publish_are_those_not_published_yet() -> None:
    completions = [done(c, d) for d in (0, 400) for c in ("C-1", "C-2")]
    assert awards_to_publish(CLOUD, completions, []) == (award(0), award(400))
    assert awards_to_publish(CLOUD, completions, [award(0)]) == (award(400),)
    assert awards_to_publish(CLOUD, completions, [award(0), award(400)]) == ()


def test_a_late_earlier_completion_never_moves_or_duplicates_a_published_award() -> None:
    published = certification_awards(CLOUD, [done("C-1", 0), done("C-2", 50)])
    assert published == (award(50),)
    late = [done("C-1", 0), done("C-2", 50), done("C-2", 20)]
    # Ideally the award would be dated day 20, but day 50 is on Kafka and stays.
    assert certification_awards(CLOUD, late) == (award(20),)
    assert awards_to_publish(CLOUD, late, published) == ()


def test_the_next_cycle_runs_from_the_published_award_expiry() -> None:
    published = [award(50)]
    completions = [
        done("C-1", 0),
        done("C-2", 20),  # late: would have dated the first award at day 20
        done("C-2", 50),
        done("C-1", 390),  # after the ideal expiry (385) but before the published one (415)
        done("C-2", 400),
        done("C-1", 415),
        done("C-2", 420),
    ]
    assert awards_to_publish(CLOUD, completions, published) == (award(420),)


def test_a_late_completion_can_add_an_award_for_a_cycle_not_yet_awarded() -> None:
    published = certification_awards(CLOUD, [done("C-1", 0)])
    assert published == ()
    assert awards_to_publish(CLOUD, [done("C-1", 0), done("C-2", -5)], published) == (award(0),)


def test_published_awards_of_other_learners_and_certifications_are_ignored() -> None:
    other_learner = Award(PARTNER, "L-2", "CERT-CLOUD", "cloud", at(0), at(365))
    other_certification = award(0, SHORT)
    completions = [done("C-1", 0), done("C-2", 0)]
    assert awards_to_publish(CLOUD, completions, [other_learner, other_certification]) == (
        award(0),
    )


@settings(max_examples=300)
@given(completions=st.lists(completion_strategy, max_size=20), data=st.data())
def test_publishing_as_completions_arrive_in_any_order_never_overlaps_and_settles(
    completions: list[Completion], data: st.DataObject
) -> None:
    arrival = data.draw(st.permutations(completions))
    published: list[Award] = []
    for seen in range(1, len(arrival) + 1):
        new = awards_to_publish(SHORT, arrival[:seen], published)
        assert not {a.key for a in new} & {a.key for a in published}
        published.extend(new)
    assert awards_to_publish(SHORT, arrival, published) == ()
    ordered = sorted(published, key=lambda a: a.awarded_at)
    for earlier, later in itertools.pairwise(ordered):
        assert earlier.expires_at <= later.awarded_at


@settings(max_examples=200)
@given(completions=st.lists(completion_strategy, max_size=20))
def test_publishing_completions_in_date_order_gives_exactly_the_computed_awards(
    completions: list[Completion],
) -> None:
    arrival = sorted(completions, key=lambda c: (c.completed_at, c.course_id))
    published: list[Award] = []
    for seen in range(1, len(arrival) + 1):
        published.extend(awards_to_publish(SHORT, arrival[:seen], published))
    assert tuple(published) == certification_awards(SHORT, completions)


def test_awards_due_waits_for_the_course_and_certification_definitions() -> None:
    completions = [done("C-1", 0), done("C-NEW", 10, score=75)]
    certification = CertificationDefinition("CERT-NEW", "cloud", frozenset({"C-1", "C-NEW"}), 90)
    assert awards_due([CLOUD], COURSES, completions, []) == ()
    assert awards_due([CLOUD, certification], COURSES, completions, []) == ()
    courses = {**COURSES, "C-NEW": Course("C-NEW", "New", "cloud")}
    due = awards_due([CLOUD, certification], courses, completions, [])
    assert [(a.certification_id, a.awarded_at, a.expires_at) for a in due] == [
        ("CERT-NEW", at(10), at(100))
    ]
    assert awards_due([CLOUD, certification], courses, completions, due) == ()


def test_awards_due_covers_every_certification_in_date_order() -> None:
    completions = [done("C-1", 0), done("C-2", 5), done("C-3", 3)]
    due = awards_due(
        [CLOUD, SHORT], {**COURSES, "C-3": Course("C-3", "x", "cloud")}, completions, []
    )
    assert [(a.certification_id, a.awarded_at) for a in due] == [
        ("CERT-CLOUD", at(5)),
        ("CERT-S", at(5)),
    ]


def test_raising_a_passing_score_does_not_pass_an_earlier_failed_completion() -> None:
    completions = [done("C-1", 0, score=75), done("C-2", 1, score=85)]
    strict = {**COURSES, "C-1": Course("C-1", "Cloud basics", "cloud", passing_score=80)}
    assert awards_due([CLOUD], strict, completions, []) == ()
    assert [a.awarded_at for a in awards_due([CLOUD], COURSES, completions, [])] == [at(1)]


# --------------------------------------------------------------------------- partners


def contract(tier: Tier, start: date, end: date, contract_id: str = "C-1") -> ContractTier:
    return ContractTier(contract_id, start, end, tier, VERSION)


ACTIVE = (
    PartnerStanding(PARTNER)
    .with_approval()
    .with_contract(contract(Tier.GOLD, date(2026, 1, 1), date(2026, 12, 31)))
)


def test_an_unknown_partner_is_not_found() -> None:
    with pytest.raises(UnknownPartner) as caught:
        require_active_partner(None, "P-404", date(2026, 5, 1))
    assert "P-404" in caught.value.reason


def test_a_terminated_partner_may_not_act_from_the_effective_date() -> None:
    standing = ACTIVE.with_termination(Termination(date(2026, 6, 1), "breach of contract"))
    assert require_active_partner(standing, PARTNER, date(2026, 5, 31)) is standing
    with pytest.raises(PartnerNotActive) as caught:
        require_active_partner(standing, PARTNER, date(2026, 6, 1))
    assert "terminated" in caught.value.reason
    assert "breach of contract" in caught.value.reason
    assert standing.status_on(date(2026, 6, 1)) is PartnerStatus.TERMINATED


@pytest.mark.parametrize(
    ("standing", "words"),
    [
        (PartnerStanding(PARTNER).with_application(), "not approved"),
        (PartnerStanding(PARTNER).with_rejection(), "rejected"),
    ],
)
def test_a_partner_not_approved_may_not_act(standing: PartnerStanding, words: str) -> None:
    with pytest.raises(PartnerNotActive, match=words):
        require_active_partner(standing, PARTNER, date(2026, 5, 1))


def test_an_approved_partner_without_a_contract_may_act() -> None:
    standing = PartnerStanding(PARTNER).with_approval()
    assert standing.status_on(date(2026, 5, 1)) is PartnerStatus.APPROVED
    assert require_active_partner(standing, PARTNER, date(2026, 5, 1)) is standing
    assert ACTIVE.status_on(date(2026, 5, 1)) is PartnerStatus.ACTIVE


def test_the_tier_follows_the_governing_contract_and_tier_changes() -> None:
    standing = ACTIVE.with_tier_change(TierChange(date(2026, 7, 1), Tier.PLATINUM, VERSION))
    assert standing.tier_on(date(2025, 12, 31)) is None
    assert standing.tier_on(date(2026, 6, 30)) is Tier.GOLD
    assert standing.tier_on(date(2026, 7, 1)) is Tier.PLATINUM
    assert standing.tier_on(date(2027, 1, 1)) is None  # no contract in force
    renewed = standing.with_contract(
        contract(Tier.SILVER, date(2027, 1, 1), date(2027, 12, 31), "C-2")
    )
    assert renewed.tier_on(date(2027, 1, 1)) is Tier.SILVER


def test_the_earliest_termination_stands() -> None:
    late = Termination(date(2026, 9, 1), "late")
    early = Termination(date(2026, 6, 1), "early")
    assert ACTIVE.with_termination(late).with_termination(early).termination == early
    assert ACTIVE.with_termination(early).with_termination(late).termination == early


def test_partner_facts_merge_in_any_order_and_any_number_of_times() -> None:
    facts: list[Callable[[PartnerStanding], PartnerStanding]] = [
        PartnerStanding.with_approval,
        lambda s: s.with_contract(contract(Tier.GOLD, date(2026, 10, 1), date(2027, 9, 30))),
        lambda s: s.with_tier_change(TierChange(date(2027, 1, 1), Tier.PLATINUM, VERSION)),
        lambda s: s.with_termination(Termination(date(2027, 6, 1), "breach of contract")),
    ]
    standings = set()
    for order in itertools.permutations(range(len(facts))):
        standing = PartnerStanding(PARTNER)
        for i in [*order, order[0]]:
            standing = facts[i](standing)
        standings.add(standing)
    (standing,) = standings
    assert standing.tier_on(date(2026, 12, 1)) is Tier.GOLD
    assert standing.tier_on(date(2027, 1, 1)) is Tier.PLATINUM
    assert standing.status_on(date(2027, 6, 1)) is PartnerStatus.TERMINATED


def test_a_contract_keeps_its_latest_version() -> None:
    old = ContractTier("C-1", date(2026, 1, 1), date(2026, 12, 31), Tier.SILVER, (T0, "a"))
    new = ContractTier("C-1", date(2026, 1, 1), date(2026, 12, 31), Tier.GOLD, (at(1), "b"))
    base = PartnerStanding(PARTNER)
    assert base.with_contract(old).with_contract(new) == base.with_contract(new).with_contract(old)
    assert base.with_contract(new).with_contract(old).tier_on(date(2026, 5, 1)) is Tier.GOLD


# --------------------------------------------------------------------------- sales materials


def material(material_id: str, product_line: str, tiers: frozenset[Tier]) -> SalesMaterial:
    return SalesMaterial(
        material_id, f"Title {material_id}", product_line, "datasheet", "https://x.example", tiers
    )


MATERIALS = [
    material("M-3", "security", frozenset({Tier.GOLD, Tier.PLATINUM})),
    material("M-1", "cloud", frozenset(Tier)),
    material("M-2", "cloud", frozenset({Tier.PLATINUM})),
]


def ids(materials: list[SalesMaterial]) -> list[str]:
    return [m.material_id for m in materials]


def test_materials_are_filtered_by_product_line_and_tier() -> None:
    assert ids(visible_materials(MATERIALS, None, None)) == ["M-1", "M-2", "M-3"]
    assert ids(visible_materials(MATERIALS, "cloud", None)) == ["M-1", "M-2"]
    assert ids(visible_materials(MATERIALS, None, Tier.GOLD)) == ["M-1", "M-3"]
    assert ids(visible_materials(MATERIALS, "cloud", Tier.SILVER)) == ["M-1"]
    assert ids(visible_materials(MATERIALS, "cloud", Tier.PLATINUM)) == ["M-1", "M-2"]
    assert visible_materials(MATERIALS, "networking", None) == []


def test_a_partner_sees_the_materials_of_its_own_tier_and_asks_for_no_other() -> None:
    assert materials_tier(ACTIVE, None, date(2026, 5, 1)) is Tier.GOLD
    assert materials_tier(ACTIVE, Tier.GOLD, date(2026, 5, 1)) is Tier.GOLD
    with pytest.raises(TierMismatch, match="is gold, not platinum"):
        materials_tier(ACTIVE, Tier.PLATINUM, date(2026, 5, 1))
    without_contract = PartnerStanding(PARTNER).with_approval()
    assert materials_tier(without_contract, None, date(2026, 5, 1)) is None
    with pytest.raises(TierMismatch, match="is without a contract, not silver"):
        materials_tier(without_contract, Tier.SILVER, date(2026, 5, 1))


def test_a_material_is_visible_to_every_tier_by_default_and_needs_one() -> None:
    default = SalesMaterial("M-9", "Deck", "cloud", "presentation", "https://x.example")
    assert all(default.visible_to(tier) for tier in Tier)
    with pytest.raises(ValueError, match="at least one tier"):
        material("M-0", "cloud", frozenset())


# --------------------------------------------------------------------------- feedback


def feedback(rating: int, feedback_id: str = "F-1") -> Feedback:
    return Feedback(feedback_id, PARTNER, rating, "portal", "works well", T0)


@pytest.mark.parametrize("rating", [0, 6])
def test_a_rating_is_from_1_to_5(rating: int) -> None:
    with pytest.raises(ValueError, match="rating"):
        feedback(rating)


def test_feedback_becomes_its_event() -> None:
    event = feedback(4).to_event()
    assert (event.feedback_id, event.rating, event.topic_, event.text) == (
        "F-1",
        4,
        "portal",
        "works well",
    )
    assert event.submitted_at == T0


# --------------------------------------------------------------------------- MDF


def mdf(
    amount: str, days: float = 100, request_id: str = "R-1", currency: str = "USD"
) -> MdfRequest:
    return MdfRequest(request_id, PARTNER, "Spring launch", Decimal(amount), currency, at(days))


BUDGET = MdfBudget()


def test_the_default_budget_is_per_tier_in_one_currency() -> None:
    assert BUDGET.currency == "USD"
    assert [BUDGET.for_tier(t) for t in Tier] == [Decimal(n) for n in (0, 10000, 25000, 50000)]


def test_a_budget_is_read_from_a_setting() -> None:
    budget = MdfBudget.parse("EUR", "registered=0, silver=5000,GOLD=20000")
    assert budget.currency == "EUR"
    assert budget.for_tier(Tier.GOLD) == Decimal(20000)
    assert budget.for_tier(Tier.PLATINUM) == Decimal(0)
    with pytest.raises(ValueError, match="unknown tier"):
        MdfBudget.parse("EUR", "diamond=1")
    with pytest.raises(ValueError, match="not a decimal"):
        MdfBudget.parse("EUR", "gold=lots")
    with pytest.raises(ValueError, match="non-negative"):
        MdfBudget.parse("EUR", "gold=-1")


def test_quarters_are_calendar_quarters_in_utc() -> None:
    assert quarter_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == "2026-Q1"
    assert quarter_of(datetime(2026, 4, 1, 1, tzinfo=timezone(timedelta(hours=2)))) == "2026-Q1"
    assert quarter_of(datetime(2026, 12, 31, tzinfo=UTC)) == "2026-Q4"


def test_a_request_within_the_budget_awaits_a_decision() -> None:
    request = submit_mdf_request(mdf("25000"), ACTIVE, BUDGET, [])
    assert request.status is MdfStatus.REQUESTED
    assert request.quarter == "2026-Q2"
    event = request.requested_event()
    assert (event.amount, event.currency, event.campaign) == (
        Decimal(25000),
        "USD",
        "Spring launch",
    )


def test_a_request_beyond_the_remaining_budget_is_rejected_with_the_reason() -> None:
    approved = approve_mdf_request(mdf("20000", request_id="R-0"), at(101), ACTIVE, BUDGET, [])
    assert approved.status is MdfStatus.APPROVED
    request = submit_mdf_request(mdf("5000.01"), ACTIVE, BUDGET, [approved])
    assert request.status is MdfStatus.REJECTED
    assert request.decided_at == request.requested_at
    assert request.reason is not None
    assert request.reason.startswith("over_budget")
    assert "has 5000 USD left of its gold budget of 25000 USD" in request.reason
    assert "2026-Q2" in request.reason
    event = request.decision_event()
    assert isinstance(event, MdfRejected)
    assert event.reason == request.reason
    assert submit_mdf_request(mdf("5000"), ACTIVE, BUDGET, [approved]).status is MdfStatus.REQUESTED


def test_a_quarter_budget_says_what_is_approved_and_what_remains() -> None:
    approved = mdf("20000.50").approve(at(101))
    pending = mdf("3000", request_id="R-2")
    summed = quarter_budget(ACTIVE, "2026-Q2", date(2026, 4, 15), BUDGET, [approved, pending])
    assert (summed.tier, summed.currency) == (Tier.GOLD, "USD")
    assert (summed.budget, summed.approved, summed.remaining) == (
        Decimal(25000),
        Decimal("20000.50"),
        Decimal("4999.50"),
    )
    lowered = MdfBudget(quarterly={Tier.GOLD: Decimal(10000)})
    over = quarter_budget(ACTIVE, "2026-Q2", date(2026, 4, 15), lowered, [approved])
    assert (over.approved, over.remaining) == (Decimal("20000.50"), Decimal(0))
    none = quarter_budget(ACTIVE, "2026-Q2", date(2025, 4, 15), BUDGET, [approved])
    assert (none.tier, none.budget, none.approved, none.remaining) == (None, 0, 0, 0)


def test_only_approved_requests_of_the_partner_in_the_quarter_use_the_budget() -> None:
    approved_q2 = mdf("1000", days=100, request_id="A").approve(at(101))
    approved_q1 = mdf("2000", days=10, request_id="B").approve(at(11))
    pending = mdf("4000", days=100, request_id="C")
    rejected = mdf("8000", days=100, request_id="D").reject(at(101), "not now")
    other_partner = MdfRequest("E", "P-200", "x", Decimal(16000), "USD", at(100)).approve(at(101))
    requests = [approved_q2, approved_q1, pending, rejected, other_partner, approved_q2]
    assert remaining_mdf_budget(PARTNER, "2026-Q2", Tier.GOLD, BUDGET, requests) == Decimal(24000)
    assert remaining_mdf_budget(PARTNER, "2026-Q1", Tier.GOLD, BUDGET, requests) == Decimal(23000)


def test_a_request_in_another_currency_is_rejected() -> None:
    request = submit_mdf_request(mdf("100", currency="EUR"), ACTIVE, BUDGET, [])
    assert request.status is MdfStatus.REJECTED
    assert request.reason is not None
    assert request.reason.startswith("currency_mismatch")


def test_a_request_without_a_contract_in_force_is_rejected() -> None:
    standing = PartnerStanding(PARTNER).with_approval()
    request = submit_mdf_request(mdf("100"), standing, BUDGET, [])
    assert request.reason is not None
    assert request.reason.startswith("no_contract")


def test_a_registered_partner_has_no_budget() -> None:
    standing = PartnerStanding(PARTNER).with_contract(
        contract(Tier.REGISTERED, date(2026, 1, 1), date(2026, 12, 31))
    )
    assert submit_mdf_request(mdf("1"), standing, BUDGET, []).status is MdfStatus.REJECTED


def test_the_budget_is_the_tier_on_the_day_of_the_request() -> None:
    standing = ACTIVE.with_tier_change(TierChange(date(2026, 5, 1), Tier.PLATINUM, VERSION))
    assert submit_mdf_request(mdf("30000", days=100), standing, BUDGET, []).status is (
        MdfStatus.REJECTED
    )  # 2026-04-11: still gold
    assert submit_mdf_request(mdf("30000", days=130), standing, BUDGET, []).status is (
        MdfStatus.REQUESTED
    )  # 2026-05-11: platinum


def test_unknown_and_terminated_partners_may_not_request() -> None:
    with pytest.raises(UnknownPartner):
        submit_mdf_request(mdf("100"), None, BUDGET, [])
    terminated = ACTIVE.with_termination(Termination(date(2026, 3, 1), "insolvency"))
    with pytest.raises(PartnerNotActive, match="insolvency"):
        submit_mdf_request(mdf("100"), terminated, BUDGET, [])
    with pytest.raises(PartnerNotActive):
        approve_mdf_request(mdf("100", days=50), at(70), terminated, BUDGET, [])


def test_approval_publishes_the_amount_and_date() -> None:
    approved = approve_mdf_request(mdf("2500.50"), at(102), ACTIVE, BUDGET, [])
    event = approved.decision_event()
    assert isinstance(event, MdfApproved)
    assert (event.request_id, event.amount, event.currency, event.approved_at) == (
        "R-1",
        Decimal("2500.50"),
        "USD",
        at(102),
    )


def test_approval_rechecks_the_budget() -> None:
    first = submit_mdf_request(mdf("20000", request_id="R-1"), ACTIVE, BUDGET, [])
    second = submit_mdf_request(mdf("20000", request_id="R-2"), ACTIVE, BUDGET, [first])
    assert second.status is MdfStatus.REQUESTED  # pending requests do not use the budget
    first = approve_mdf_request(first, at(101), ACTIVE, BUDGET, [first, second])
    assert first.status is MdfStatus.APPROVED
    second = approve_mdf_request(second, at(102), ACTIVE, BUDGET, [first, second])
    assert second.status is MdfStatus.REJECTED
    assert second.decided_at == at(102)
    assert second.reason is not None
    assert second.reason.startswith("over_budget")


def test_a_request_does_not_count_against_itself() -> None:
    approved = mdf("25000").approve(at(101))
    assert submit_mdf_request(mdf("25000"), ACTIVE, BUDGET, [approved]).status is (
        MdfStatus.REQUESTED
    )


def test_a_decided_request_cannot_be_decided_again() -> None:
    approved = approve_mdf_request(mdf("100"), at(101), ACTIVE, BUDGET, [])
    with pytest.raises(MdfAlreadyDecided, match="already approved") as caught:
        approve_mdf_request(approved, at(102), ACTIVE, BUDGET, [approved])
    assert "R-1" in caught.value.reason
    with pytest.raises(MdfAlreadyDecided, match="already approved"):
        approved.reject(at(102), "changed my mind")
    rejected = mdf("100").reject(at(101), "off-brand campaign")
    with pytest.raises(MdfAlreadyDecided, match="already rejected"):
        approve_mdf_request(rejected, at(102), ACTIVE, BUDGET, [rejected])
    with pytest.raises(MdfAlreadyDecided, match="already rejected"):
        rejected.reject(at(102), "again")


def test_an_undecided_request_has_no_decision_event() -> None:
    with pytest.raises(ValueError, match="not decided"):
        mdf("100").decision_event()


@pytest.mark.parametrize("amount", ["0", "-5"])
def test_a_request_asks_for_a_positive_amount(amount: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        mdf(amount)
