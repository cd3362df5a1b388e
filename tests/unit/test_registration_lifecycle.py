"""The deal-registration lifecycle (docs/rules/deal-registration.md, "Lifecycle"):
protection that ends, extensions asked for and answered, decisions by hand, and the
registered-deal uplift only inside the protection. The rule in the domain first, then
the service over its in-memory fakes."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.incentives.domain import (
    Deal,
    ExtensionAnswer,
    ManualDecision,
    PartnerBook,
    Registration,
    RegistrationDecision,
    RegistrationFacts,
    decide_registrations,
    extended_end,
)
from shared import access, topics
from shared.events import Actor, ActorKind, CloudEvent, Payload, parse_event
from tests.support.events import DATA, message
from tests.unit.test_incentives_service import ADMIN, NOW, OTHER, OWN, Incentives, batch, service

T0 = datetime(2026, 1, 10, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
MARIA = Actor(kind=ActorKind.PERSON, id="maria")


def reg(rid: str, partner: str, at: datetime, customer: str = "Globex") -> Registration:
    return Registration(rid, f"D-{rid}", partner, customer, "cloud", at)


def granted(rid: str, ext: str, days: int, at: datetime) -> ExtensionAnswer:
    return ExtensionAnswer(ext, rid, f"D-{rid}", True, days, at, (at, ext))


def decided(registrations: list[Registration], **kwargs: Any) -> dict[str, tuple[bool, Any]]:
    return {
        d.registration.registration_id: (d.approved, d.conflicting_registration_id)
        for d in decide_registrations(registrations, **kwargs)
    }


# --------------------------------------------------------------------------- the rule


def test_a_conflict_is_only_with_a_registration_still_protecting() -> None:
    a = reg("A", "P-1", T0)  # protects to T0 + 90 days, both ends included
    at_the_end = reg("B", "P-2", T0 + 90 * DAY)
    after = reg("C", "P-3", T0 + 90 * DAY + SECOND)
    assert decided([after, at_the_end, a]) == {
        "A": (True, None),
        "B": (False, "A"),
        "C": (True, None),
    }
    # The same partner never conflicts with itself; the tie goes to the smaller id.
    assert decided([reg("A", "P-1", T0), reg("A2", "P-1", T0)]) == {
        "A": (True, None),
        "A2": (True, None),
    }
    assert decided([reg("Y", "P-2", T0), reg("X", "P-1", T0)]) == {
        "X": (True, None),
        "Y": (False, "X"),
    }


def test_protection_days_is_a_setting_and_an_extension_moves_the_end() -> None:
    a, b = reg("A", "P-1", T0), reg("B", "P-2", T0 + 40 * DAY)
    assert decided([a, b], protection_days=30)["B"] == (True, None)
    extension = {"A": [granted("A", "X-1", 10, T0 + 20 * DAY)]}
    assert decided([a, b], protection_days=30, extensions=extension)["B"] == (False, "A")
    (first, _) = decide_registrations([a, b], protection_days=30, extensions=extension)
    assert first.expires_at == T0 + 40 * DAY


def test_only_two_extensions_count_and_each_at_most_90_days() -> None:
    answers = [
        granted("A", "X-3", 5, T0 + 3 * DAY),
        granted("A", "X-1", 200, T0 + DAY),
        granted("A", "X-2", 10, T0 + 2 * DAY),
        ExtensionAnswer("X-0", "A", "D-A", False, 0, T0, (T0, "X-0")),
    ]
    assert extended_end(T0, answers) == T0 + (90 + 10) * DAY


def test_a_decision_by_hand_stands_over_the_rule_and_protects_when_approved() -> None:
    a, b, c = reg("A", "P-1", T0), reg("B", "P-2", T0 + DAY), reg("C", "P-3", T0 + 2 * DAY)
    assert decided([a, b, c]) == {"A": (True, None), "B": (False, "A"), "C": (False, "A")}
    # Rejecting A by hand frees the pair: B is approved by the rule, and C conflicts with B.
    manual = {"A": ManualDecision("A", False, "duplicate", (T0 + 5 * DAY, "M-1"), MARIA)}
    assert decided([a, b, c], manual=manual) == {
        "A": (False, None),
        "B": (True, None),
        "C": (False, "B"),
    }
    # Approving C by hand as well: C stands approved, beside A.
    manual = {"C": ManualDecision("C", True, "joint bid", (T0 + 5 * DAY, "M-2"), MARIA)}
    assert decided([a, b, c], manual=manual) == {
        "A": (True, None),
        "B": (False, "A"),
        "C": (True, None),
    }
    (made,) = [d for d in decide_registrations([a, b, c], manual=manual) if d.manual]
    assert (made.registration.registration_id, made.reason) == ("C", "joint bid")


def test_the_latest_decision_by_hand_and_answer_stand_whatever_the_order() -> None:
    early = ManualDecision("A", True, "first", (T0, "M-1"))
    late = ManualDecision("A", False, "second", (T0 + DAY, "M-2"))
    grant = granted("A", "X-1", 30, T0)
    refuse = ExtensionAnswer("X-1", "A", "D-A", False, 0, T0 + DAY, (T0 + DAY, "X-1r"))
    outcomes = set()
    facts_in: list[ManualDecision | ExtensionAnswer] = [early, late, grant, refuse, early, grant]
    for order in itertools.permutations(facts_in):
        facts = RegistrationFacts()
        facts.add_registration(reg("A", "P-1", T0), (T0, "A"))
        for fact in order:
            if isinstance(fact, ManualDecision):
                facts.add_manual(fact)
            else:
                facts.add_answer(fact)
        (decision,) = facts.decide()
        outcomes.add((decision.approved, decision.reason, decision.expires_at))
    assert outcomes == {(False, "second", T0 + 90 * DAY)}


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Registration], list[Any]]:
    """Registrations of a few partners on two pairs, with extensions and decisions by hand."""
    count = draw(st.integers(min_value=1, max_value=7))
    registrations = [
        reg(
            f"R{i}",
            draw(st.sampled_from(["P-1", "P-2", "P-3"])),
            T0 + draw(st.integers(min_value=0, max_value=200)) * DAY,
            draw(st.sampled_from(["Globex", "Initech"])),
        )
        for i in range(count)
    ]
    facts: list[Any] = []
    for i, r in enumerate(registrations):
        for n in range(draw(st.integers(min_value=0, max_value=3))):
            at = r.registered_at + draw(st.integers(min_value=1, max_value=100)) * DAY
            days = draw(st.integers(min_value=1, max_value=120))
            facts.append(
                ExtensionAnswer(
                    f"X{i}-{n}",
                    r.registration_id,
                    r.deal_id,
                    draw(st.booleans()),
                    days,
                    at,
                    (at, f"X{i}-{n}"),
                )
            )
        if draw(st.booleans()):
            at = r.registered_at + DAY
            facts.append(
                ManualDecision(r.registration_id, draw(st.booleans()), "by hand", (at, f"M{i}"))
            )
    return registrations, facts


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_decisions_are_a_function_of_the_facts_in_any_order_and_any_duplication(
    history: tuple[list[Registration], list[Any]], shuffle: random.Random
) -> None:
    registrations, facts = history

    def decide(items: list[Any]) -> list[tuple[str, bool, Any, datetime]]:
        book = RegistrationFacts()
        for item in items:
            if isinstance(item, Registration):
                book.add_registration(item, (item.registered_at, item.registration_id))
            elif isinstance(item, ManualDecision):
                book.add_manual(item)
            else:
                book.add_answer(item)
        return sorted(
            (
                d.registration.registration_id,
                d.approved,
                d.conflicting_registration_id,
                d.expires_at,
            )
            for d in book.decide()
        )

    natural = decide([*registrations, *facts])
    mixed = [*registrations, *facts, *shuffle.sample([*registrations, *facts], k=len(facts) // 2)]
    shuffle.shuffle(mixed)
    assert decide(mixed) == natural


# --------------------------------------------------------------------------- the uplift


def book_with(decision: RegistrationDecision, closed_at: datetime) -> PartnerBook:
    book = PartnerBook("P-1")
    book.add_deal(Deal("D-A", Decimal("1000.00"), "USD", "cloud", closed_at, (T0, "d")))
    book.add_registration_decision(decision)
    return book


def approval(**kwargs: Any) -> RegistrationDecision:
    return RegistrationDecision(
        "A", "D-A", True, T0, (T0, "auto-1"), expires_at=T0 + 90 * DAY, **kwargs
    )


def test_the_uplift_window_includes_both_ends_and_follows_extensions() -> None:
    end = T0 + 90 * DAY
    assert book_with(approval(), end).uplift_windows("D-A") == [(T0, end)]
    book = book_with(approval(), end + SECOND)
    assert book.uplift_windows("D-A") == [(T0, end)]
    book.add_extension_answer(granted("A", "X-1", 1, T0 + 10 * DAY))
    assert book.uplift_windows("D-A") == [(T0, end + DAY)]
    # An extension known before the decision counts the same.
    early = PartnerBook("P-1")
    early.add_extension_answer(granted("A", "X-1", 1, T0 + 10 * DAY))
    early.add_registration_decision(approval())
    assert early.uplift_windows("D-A") == [(T0, end + DAY)]


def test_a_decision_by_hand_stands_over_a_later_automatic_one_in_the_commissions() -> None:
    by_hand = RegistrationDecision("A", "D-A", False, T0, (T0 + DAY, "M-1"), manual=True)
    later_auto = RegistrationDecision(
        "A", "D-A", True, T0, (T0 + 5 * DAY, "auto-2"), expires_at=T0 + 90 * DAY
    )
    for order in ([by_hand, later_auto], [later_auto, by_hand]):
        book = PartnerBook("P-1")
        for decision in order:
            book.add_registration_decision(decision)
        assert book.uplift_windows("D-A") == []


# --------------------------------------------------------------------------- the service


def event(event_type: str, **data: Any) -> CloudEvent[Payload]:
    return parse_event(message(event_type, {**DATA[event_type], **data}))


def registered(
    rid: str, partner: str, at: datetime, deal: str | None = None
) -> CloudEvent[Payload]:
    return event(
        "DealRegistered",
        partner_id=partner,
        registration_id=rid,
        deal_id=deal or f"D-{rid}",
        customer="Globex",
        product_line="cloud",
        registered_at=at.isoformat(),
    )


class Lifecycle(Incentives):
    """Incentives over its fakes with a clock the test moves (and that moves on by itself
    a little at each reading, as time does); :meth:`consume` gives the
    consumer what was published on deals.v1 since it last did, as Kafka would."""

    def __init__(self) -> None:
        self.now = NOW
        self.service = service(self.tick)
        self.kafka = self.service.publisher
        self.client = self.service.app()
        self.delivered = 0

    def tick(self) -> datetime:
        """The time now; each reading is a millisecond later than the one before."""
        self.now += timedelta(milliseconds=1)
        return self.now

    async def consume(self, *extra: CloudEvent[Payload]) -> None:
        while True:
            fresh = [e for e in self.kafka.events[self.delivered :] if e.topic == topics.DEALS]
            self.delivered = len(self.kafka.events)
            if not fresh and not extra:
                return
            await self.service.consumer.handle(batch([*extra, *fresh]))
            extra = ()

    def types(self) -> list[str]:
        return [e.type for e in self.kafka.events]


async def test_a_partner_asks_for_an_extension_and_a_channel_manager_answers() -> None:
    incentives = Lifecycle()
    registered_at = NOW - 10 * DAY
    await incentives.consume(registered("R-A", "P-1", registered_at))
    url = "/registrations/R-A"
    view = incentives.get(url, key=OWN).json()
    assert (view["status"], view["expires_at"], view["may_request_extension"]) == (
        "approved",
        (registered_at + 90 * DAY).isoformat(),
        True,
    )

    assert field_names(
        incentives.post(f"{url}/extension", {"days": 91, "reason": "x"}, key=OWN)
    ) == ["body.days"]
    assert (
        incentives.post(f"{url}/extension", {"days": 30, "reason": "x"}, key=OTHER).status_code
        == 403
    )
    asked = incentives.post(
        f"{url}/extension",
        {"days": 30, "reason": "procurement slipped"},
        key=OWN,
        idempotency="e-1",
    )
    assert asked.status_code == 202, asked.text
    again = incentives.post(
        f"{url}/extension",
        {"days": 30, "reason": "procurement slipped"},
        key=OWN,
        idempotency="e-1",
    )
    assert (again.status_code, again.json()) == (202, asked.json())
    extension_id = asked.json()["extension_id"]
    (requested,) = incentives.kafka.of_type("DealRegistrationExtensionRequested")
    assert requested["data"] | {"requested_at": None} == {
        "partner_id": "P-1",
        "actor": {"kind": "key", "id": access.key_id(OWN)},
        "registration_id": "R-A",
        "extension_id": extension_id,
        "deal_id": "D-R-A",
        "customer": "Globex",
        "product_line": "cloud",
        "days": 30,
        "reason": "procurement slipped",
        "requested_at": None,
    }
    waiting = incentives.post(f"{url}/extension", {"days": 5, "reason": "more"}, key=OWN)
    assert waiting.status_code == 409
    assert "still waiting" in waiting.json()["detail"]
    assert incentives.post(f"{url}/extension/approve", {}, key=OWN).status_code == 403

    granted_view = incentives.post(f"{url}/extension/approve", {"note": "fine"})
    assert granted_view.status_code == 200, granted_view.text
    body = granted_view.json()
    assert body["expires_at"] == (registered_at + 120 * DAY).isoformat()
    assert [
        (x["extension_id"], x["status"], x["days"], x["answer"]) for x in body["extensions"]
    ] == [(extension_id, "granted", 30, "fine")]
    (extended,) = incentives.kafka.of_type("DealRegistrationExtended")
    assert extended["data"]["expires_at"] == (registered_at + 120 * DAY).isoformat().replace(
        "+00:00", "Z"
    )
    assert incentives.post(f"{url}/extension/approve", {}).status_code == 409, "none waits"
    before = len(incentives.kafka.events)
    await incentives.consume()
    assert len(incentives.kafka.events) == before, "the book knew what came back"

    # A second extension, refused; a third asked for, granted: then no more.
    incentives.post(f"{url}/extension", {"days": 10, "reason": "again"}, key=OWN)
    refused = incentives.post(f"{url}/extension/reject", {"reason": "enough"})
    assert [x["status"] for x in refused.json()["extensions"]] == ["granted", "rejected"]
    incentives.post(f"{url}/extension", {"days": 90, "reason": "last"}, key=OWN)
    incentives.post(f"{url}/extension/approve", {})
    last = incentives.get(url, key=OWN).json()
    assert last["expires_at"] == (registered_at + 210 * DAY).isoformat()
    assert last["may_request_extension"] is False
    most = incentives.post(f"{url}/extension", {"days": 1, "reason": "one more"}, key=OWN)
    assert most.status_code == 409
    assert "2 times" in most.json()["detail"]

    # Past the end: expired, and no request is taken.
    incentives.now = registered_at + 210 * DAY + SECOND
    assert incentives.get(url, key=OWN).json()["status"] == "expired"
    assert [
        r["registration_id"]
        for r in incentives.get("/registrations", status="expired").json()["registrations"]
    ] == ["R-A"]


async def test_an_expired_registration_cannot_be_extended() -> None:
    incentives = Lifecycle()
    await incentives.consume(registered("R-A", "P-1", NOW - 91 * DAY))
    late = incentives.post("/registrations/R-A/extension", {"days": 5, "reason": "x"}, key=OWN)
    assert late.status_code == 409
    assert "ended at" in late.json()["detail"]
    assert incentives.kafka.of_type("DealRegistrationExtensionRequested") == []


async def test_a_pending_or_unknown_registration_is_409_or_404() -> None:
    incentives = Lifecycle()
    pending = incentives.post(
        "/registrations",
        {
            "deal_id": "D-1",
            "customer": "Globex",
            "product_line": "cloud",
            "expected_amount": "1.00",
        },
        key=OWN,
    ).json()["url"]
    assert (
        incentives.post(f"{pending}/decision", {"decision": "approve", "reason": "x"}).status_code
        == 409
    )
    assert (
        incentives.post(
            "/registrations/nope/decision", {"decision": "approve", "reason": "x"}
        ).status_code
        == 404
    )
    assert field_names(
        incentives.post("/registrations/nope/decision", {"decision": "maybe", "reason": "x"})
    ) == ["body.decision"]


async def test_a_manual_reject_frees_the_pair_and_removes_the_uplift() -> None:
    incentives = Lifecycle()
    first_at = NOW - 20 * DAY
    await incentives.consume(
        event("PartnerSigned", partner_id="P-1"),
        registered("R-A", "P-1", first_at, deal="D-9"),
        registered("R-B", "P-2", first_at + DAY),
        event(
            "DealClosed",
            partner_id="P-1",
            deal_id="D-9",
            closed_at=(NOW - 5 * DAY).isoformat(),
            amount="10000.00",
            customer="Globex",
        ),
    )
    before = revisions(incentives)
    assert before[-1][1] == "100.00", "approved before it closed: the registered-deal uplift"
    assert incentives.get("/registrations/R-B").json()["conflicting_registration_id"] == "R-A"

    answer = incentives.post(
        "/registrations/R-A/decision", {"decision": "reject", "reason": "duplicate opportunity"}
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["decided_by_hand"], answer.json()["reason"]) == (
        "rejected",
        True,
        "duplicate opportunity",
    )
    rejected = incentives.kafka.of_type("DealRegistrationRejected")[-1]
    assert rejected["data"]["actor"] == {"kind": "key", "id": access.key_id(ADMIN)}
    corrected = incentives.kafka.of_type("DealRegistrationApproved")[-1]
    assert (corrected["data"]["registration_id"], corrected["data"]["actor"]["kind"]) == (
        "R-B",
        "system",
    )
    await incentives.consume()
    assert revisions(incentives)[len(before) :] == [(before[-1][0] + 1, "0.00", "-100.00")]
    assert incentives.get("/registrations/R-B").json()["status"] == "approved"


def revisions(incentives: Lifecycle) -> list[tuple[int, str, str]]:
    """D-9's CommissionCalculated revisions: (revision, uplift, delta)."""
    return [
        (e["data"]["revision"], e["data"]["uplift"], e["data"]["delta"])
        for e in incentives.kafka.of_type("CommissionCalculated")
        if e["data"]["deal_id"] == "D-9"
    ]


def field_names(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]


@pytest.mark.parametrize("route", ["extension/approve", "extension/reject", "decision"])
def test_a_partner_may_not_answer_or_decide(route: str) -> None:
    incentives = Lifecycle()
    answer = incentives.post(
        f"/registrations/R-A/{route}", {"reason": "x", "decision": "approve"}, key=OWN
    )
    assert answer.status_code == 403


async def test_a_decision_by_hand_naming_no_pair_is_applied_to_its_registrations_book() -> None:
    """An outside producer's decision by hand without customer and product line finds its
    book through the registration."""
    incentives = Lifecycle()
    await incentives.consume(
        registered("R-A", "P-1", NOW - 5 * DAY), registered("R-B", "P-2", NOW - 4 * DAY)
    )
    assert incentives.get("/registrations/R-B").json()["status"] == "rejected"
    by_hand = event(
        "DealRegistrationRejected",
        partner_id="P-1",
        actor={"kind": "person", "id": "maria"},
        registration_id="R-A",
        deal_id="D-R-A",
        rejected_at=(NOW - 5 * DAY).isoformat(),
        reason="entered twice",
    )
    await incentives.consume(by_hand)
    assert incentives.get("/registrations/R-A").json()["decided_by_hand"] is True
    assert incentives.get("/registrations/R-B").json()["status"] == "approved"
