"""How incentives' store lists registrations for ``GET /registrations`` on a real
MongoDB-protocol server: decided ones from the registration books, pending ones from the
requests sent through the API, each once, a partner's only when one is named."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pymongo.asynchronous.database import AsyncDatabase

from services.incentives.domain import Registration, RegistrationFacts
from services.incentives.queries import IncentivesQueries
from services.incentives.store import (
    DecisionRecord,
    IncentivesStore,
    RegistrationBook,
    RegistrationRequest,
    registration_key,
)
from shared.mongo import Document


def registered(partner_id: str, registration_id: str, day: int, customer: str) -> Registration:
    return Registration(
        registration_id=registration_id,
        deal_id=f"D-{registration_id}",
        partner_id=partner_id,
        customer=customer,
        product_line="cloud",
        registered_at=datetime(2026, 11, day, tzinfo=UTC),
    )


def facts_of(*registrations: Registration) -> RegistrationFacts:
    facts = RegistrationFacts()
    for r in registrations:
        facts.add_registration(r, (r.registered_at, r.registration_id))
    return facts


def decided(registration: Registration, approved: bool) -> DecisionRecord:
    return DecisionRecord(
        registration_id=registration.registration_id,
        approved=approved,
        reason=None if approved else "channel_conflict",
        number=1,
        event_id=f"E-{registration.registration_id}",
        decided_at=registration.registered_at,
    )


async def test_registrations_are_listed_from_the_books_and_the_pending_requests(
    database: AsyncDatabase[Document],
) -> None:
    store = IncentivesStore(database)
    await store.create_indexes()
    a1 = registered("P-1", "R-a1", 1, "Globex")
    b1 = registered("P-2", "R-b1", 5, "Globex")
    a2 = registered("P-1", "R-a2", 9, "Initech")
    pending = registered("P-1", "R-a3", 20, "Umbrella")
    book = RegistrationBook(
        registration_key("Globex", "cloud"),
        0,
        facts=facts_of(a1, b1),
        decisions={a1.registration_id: decided(a1, True), b1.registration_id: decided(b1, False)},
    )
    other = RegistrationBook(
        registration_key("Initech", "cloud"),
        0,
        facts=facts_of(a2),
        decisions={a2.registration_id: decided(a2, True)},
    )
    assert await store.save_registration_books([book, other]) == set()
    # R-a2 was sent through the API and is decided since; R-a3 is not decided yet.
    for request in (a2, pending):
        assert await store.add_registration_request(
            RegistrationRequest(request, Decimal("1000.00")), {}, []
        )

    everyone = {
        s.registration.registration_id: s.decision for s in await store.registrations_of(None)
    }
    assert set(everyone) == {"R-a1", "R-b1", "R-a2", "R-a3"}
    assert everyone["R-a3"] is None
    assert everyone["R-a2"] is not None
    assert everyone["R-a2"].approved
    assert everyone["R-b1"] is not None
    assert everyone["R-b1"].reason == "channel_conflict"
    own = sorted(s.registration.registration_id for s in await store.registrations_of("P-1"))
    assert own == ["R-a1", "R-a2", "R-a3"]
    assert await store.registrations_of("P-9") == []

    queries = IncentivesQueries(store)
    page = await queries.registrations("P-1", None, 2, None)
    assert [(r.registration_id, r.status) for r in page.registrations] == [
        ("R-a3", "pending"),
        ("R-a2", "approved"),
    ]
    assert page.next_cursor is not None
    rest = await queries.registrations("P-1", None, 2, page.next_cursor)
    assert [r.registration_id for r in rest.registrations] == ["R-a1"]
    assert rest.next_cursor is None
    rejected = await queries.registrations(None, ["rejected"], 50, None)
    assert [(r.registration_id, r.reason) for r in rejected.registrations] == [
        ("R-b1", "channel_conflict")
    ]
