"""Incentives' service layer against an in-memory store and publisher: no Kafka, no MongoDB.

The consumer gets batches as the subscriber would hand them over; what it
publishes is read back from the shared in-memory publisher
(:class:`tests.support.fakes.InMemoryPublisher`), and a registration decision
it publishes on deals.v1 is delivered back to it, as Kafka would. A
settlement hands its ledgers over to the relay, whose step (``flush``) the
tests run where the relay would have. The HTTP
routes run in the real app (``create_app`` with the fakes swapped in) through
FastAPI's TestClient, without starting it, so nothing connects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from services.incentives.app import create_app
from services.incentives.commands import IncentivesCommands, RegistrationBody
from services.incentives.domain import MERGES, ExchangeRate, PartnerBook
from services.incentives.handlers import HANDLERS, IncentivesConsumer
from services.incentives.inquiries import Inquiries
from services.incentives.ledgers import Ledgers
from services.incentives.settings import IncentivesSettings
from services.incentives.settlements import Settlements
from services.incentives.store import (
    LEDGERS,
    REGISTRATION_REQUESTS,
    REGISTRATIONS,
    PartnerLedger,
    RegistrationBook,
    RegistrationRequest,
    RegistrationState,
    decode_ledger,
    decode_rate,
    decode_registration_book,
    decode_registration_request,
    encode_ledger,
    encode_rate,
    encode_registration_book,
    encode_registration_request,
    pair_text,
    rate_key,
)
from shared import access, topics
from shared import events as contract
from shared.commands import CommandKey
from shared.consuming import Consumed
from shared.events import CloudEvent, Payload, parse_event
from shared.outbox import OutboxEntry, decode_outbox
from tests.support.events import message
from tests.support.fakes import InMemoryPublisher, ServiceHarness
from tests.support.tokens import Issuer
from tests.support.worked_example import WorkedExample

NOW = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
ADMIN, OWN, OTHER = "admin-key", "p1-key", "p2-key"
Document = dict[str, Any]


# ----------------------------------------------------------------- the fakes


class InMemoryStore:
    """incentives' store in memory, each document encoded as MongoDB would hold it."""

    def __init__(self) -> None:
        self.ledgers: dict[str, Document] = {}
        self.books: dict[str, Document] = {}
        self.requests: dict[str, Document] = {}
        self.inquiry_partners: dict[str, str] = {}
        self.rates: dict[str, Document] = {}
        self.rate_needs: set[tuple[str, str]] = set()  # (pair text, partner id)
        self.lost_writes = 0

    async def create_indexes(self) -> None:
        pass

    async def add_rates(self, rates: Sequence[ExchangeRate]) -> None:
        for rate in rates:
            self.rates.setdefault(rate_key(rate), encode_rate(rate))

    async def rates_of(self, pairs: Iterable[tuple[str, str]]) -> list[ExchangeRate]:
        wanted = {pair_text(*pair) for pair in pairs}
        return [decode_rate(doc) for doc in self.rates.values() if doc["pair"] in wanted]

    async def rates_matching(self, base: str | None, quote: str | None) -> list[ExchangeRate]:
        return [
            decode_rate(doc)
            for doc in self.rates.values()
            if base in (None, doc["base"]) and quote in (None, doc["quote"])
        ]

    async def need_rates(self, pairs: Mapping[str, Iterable[tuple[str, str]]]) -> None:
        for partner_id, needed in pairs.items():
            self.rate_needs |= {(pair_text(*pair), partner_id) for pair in needed}

    async def partners_needing(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[str, set[tuple[str, str]]]:
        found: dict[str, set[tuple[str, str]]] = {}
        for pair in pairs:
            for text, partner in self.rate_needs:
                if text == pair_text(*pair):
                    found.setdefault(partner, set()).add(pair)
        return found

    async def add_inquiry_partner(self, inquiry_id: str, partner_id: str) -> None:
        self.inquiry_partners.setdefault(inquiry_id, partner_id)

    async def partner_of_inquiry(self, inquiry_id: str) -> str | None:
        return self.inquiry_partners.get(inquiry_id)

    async def partners_with_inquiries(self, partner_id: str | None) -> list[str]:
        found = set(self.inquiry_partners.values())
        return sorted(found if partner_id is None else found & {partner_id})

    async def load_ledgers(self, partner_ids: Iterable[str]) -> dict[str, PartnerLedger]:
        return {
            pid: decode_ledger(self.ledgers[pid])
            if pid in self.ledgers
            else PartnerLedger(pid, 0, PartnerBook(pid))
            for pid in sorted(set(partner_ids))
        }

    async def save_ledgers(self, ledgers: Sequence[PartnerLedger]) -> set[str]:
        lost = set()
        for ledger in ledgers:
            if self.ledgers.get(ledger.partner_id, {"version": 0})["version"] != ledger.version:
                lost.add(ledger.partner_id)
                continue
            ledger.indexed |= ledger.published.keys()
            self.ledgers[ledger.partner_id] = encode_ledger(ledger, ledger.version + 1)
            ledger.version += 1
        self.lost_writes += len(lost)
        return lost

    async def load_ledger(self, partner_id: str) -> PartnerLedger | None:
        doc = self.ledgers.get(partner_id)
        return None if doc is None else decode_ledger(doc)

    async def ledger_of_deal(self, deal_id: str) -> PartnerLedger | None:
        found = [decode_ledger(doc) for doc in self.ledgers.values()]
        return next((ledger for ledger in found if deal_id in ledger.published), None)

    async def partner_ids(self) -> list[str]:
        return sorted(self.ledgers)

    async def load_registration_books(self, keys: Iterable[str]) -> dict[str, RegistrationBook]:
        return {
            key: decode_registration_book(self.books[key])
            if key in self.books
            else RegistrationBook(key, 0)
            for key in sorted(set(keys))
        }

    async def save_registration_books(self, books: Sequence[RegistrationBook]) -> set[str]:
        lost = set()
        for book in books:
            if self.books.get(book.key, {"version": 0})["version"] != book.version:
                lost.add(book.key)
                continue
            self.books[book.key] = encode_registration_book(book, book.version + 1)
            book.version += 1
        return lost

    async def registration_book_of(self, registration_id: str) -> RegistrationBook | None:
        for doc in self.books.values():
            book = decode_registration_book(doc)
            if registration_id in book.registrations:
                return book
        return None

    async def registration(self, registration_id: str) -> RegistrationState | None:
        book = await self.registration_book_of(registration_id)
        if book is not None:
            return book.state(registration_id)
        received = self.requests.get(registration_id)
        return (
            None
            if received is None
            else RegistrationState(decode_registration_request(received).registration)
        )

    async def registrations_of(self, partner_id: str | None) -> list[RegistrationState]:
        found: dict[str, RegistrationState] = {}
        for doc in self.books.values():
            book = decode_registration_book(doc)
            for registration_id, r in book.registrations.items():
                if partner_id is None or r.partner_id == partner_id:
                    found[registration_id] = book.state(registration_id)
        for doc in self.requests.values():
            r = decode_registration_request(doc).registration
            if partner_id is None or r.partner_id == partner_id:
                found.setdefault(r.registration_id, RegistrationState(r))
        return list(found.values())

    async def add_registration_request(
        self, request: RegistrationRequest, answers: Document, outbox: Sequence[OutboxEntry]
    ) -> bool:
        registration_id = request.registration.registration_id
        if registration_id in self.requests:
            return False
        self.requests[registration_id] = encode_registration_request(request, answers, outbox)
        return True

    async def registration_request_answers(self, registration_id: str) -> Document | None:
        doc = self.requests.get(registration_id)
        return None if doc is None else dict(doc["answers"])

    def documents(self) -> dict[str, dict[str, Document]]:
        """Every document by collection, as stored."""
        return {
            LEDGERS: self.ledgers,
            REGISTRATIONS: self.books,
            REGISTRATION_REQUESTS: self.requests,
        }


@dataclass
class Service:
    """The consumer side and the settlements wired as app.py wires them, over the fakes."""

    store: InMemoryStore
    publisher: InMemoryPublisher
    ledgers: Ledgers
    consumer: IncentivesConsumer
    settlements: Settlements
    clock: Callable[[], datetime] = lambda: NOW

    async def deliver(self, events: Iterable[CloudEvent[Payload]]) -> None:
        """One batch; then the registration decisions it published, as Kafka delivers them."""
        start = len(self.publisher.events)
        await self.consumer.handle(batch(events))
        decisions = [e for e in self.publisher.events[start:] if e.topic == topics.DEALS]
        if decisions:
            await self.consumer.handle(batch(decisions))

    def app(self, issuer: str | None = None) -> TestClient:
        keys = f"{ADMIN}=admin,{OWN}=partner:P-1,{OTHER}=partner:P-2"
        settings = IncentivesSettings(
            api_keys=keys,  # type: ignore[arg-type]
            oidc_issuer=issuer,
            oidc_jwks_cooldown_seconds=0,
        )
        app = create_app(settings, store=self.store, publisher=self.publisher, clock=self.clock)
        return TestClient(app)  # not started: nothing connects


def service(clock: Callable[[], datetime] = lambda: NOW) -> Service:
    """The service over the fakes; ``clock`` is its time, the consumer's and the app's."""
    store = InMemoryStore()
    publisher = InMemoryPublisher(store.documents())
    ledgers = Ledgers(store, publisher, cache_deals=1000)
    return Service(
        store,
        publisher,
        ledgers,
        IncentivesConsumer(ledgers, store, publisher, clock=clock),
        Settlements(ledgers, clock=clock),
        clock,
    )


@dataclass(frozen=True)
class Record:
    topic: str


def batch(events: Iterable[CloudEvent[Payload]]) -> list[Consumed]:
    return [Consumed(Record(e.topic), e) for e in events]


EXAMPLE = WorkedExample("P-1", "x")


def example_events(*, with_cancellation: bool = True) -> list[CloudEvent[Payload]]:
    return [parse_event(m.value) for m in EXAMPLE.messages(with_cancellation=with_cancellation)]


def latest(events: Iterable[CloudEvent[Payload]]) -> dict[str, dict[str, Any]]:
    """Each deal's latest CommissionCalculated (as JSON)."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.type == "CommissionCalculated":
            data = event.data.model_dump(mode="json")
            if data["revision"] > found.get(data["deal_id"], {"revision": 0})["revision"]:
                found[data["deal_id"]] = data
    return found


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ----------------------------------------------------------------- the consumer


async def test_the_worked_example_gives_its_commissions_revision_by_revision() -> None:
    s = service()
    *before, cancellation = example_events()
    await s.deliver(before)
    commissions = {
        d: (row["status"], row["commission"], row["target_bonus"])
        for d, row in latest(s.publisher.events).items()
    }
    assert commissions == {
        EXAMPLE.deal(1): ("commissionable", "8000.00", "0"),
        EXAMPLE.deal(2): ("commissionable", "5600.00", "0"),
        EXAMPLE.deal(3): ("commissionable", "30400.00", "5000"),
        EXAMPLE.deal(4): ("commissionable", "1600.00", "0"),
    }

    await s.deliver([cancellation])
    final = latest(s.publisher.events)
    for deal_id, row in EXAMPLE.expected_final().items():
        assert final[deal_id]["status"] == row.pop("status"), deal_id
        assert {k: Decimal(final[deal_id][k]) for k in row} == {
            k: Decimal(v) for k, v in row.items()
        }, deal_id
    deltas = sum(Decimal(e["data"]["delta"]) for e in s.publisher.of_type("CommissionCalculated"))
    assert deltas == Decimal("38100.00"), "the deltas add up to the final payout"
    assert final[EXAMPLE.deal(3)]["revision"] == 2, "D-3 revised once, by the cancellation"


async def test_a_redelivered_batch_changes_nothing() -> None:
    s = service()
    events = example_events()
    await s.deliver(events)
    published = [e.id for e in s.publisher.events]
    stored = {pid: doc["version"] for pid, doc in s.store.ledgers.items()}

    await s.deliver(events)
    assert [e.id for e in s.publisher.events] == published, "nothing published again"
    assert {pid: doc["version"] for pid, doc in s.store.ledgers.items()} == stored, "no write"

    # A restart finds the published entries still in the ledger (they leave it lazily):
    # published again, they are the same events, which readers de-duplicate on their id.
    await restarted(s).handle(batch(events))
    assert {e.id for e in s.publisher.events} == set(published)
    assert {pid: doc["version"] for pid, doc in s.store.ledgers.items()} == stored

    # Once removed from the documents, nothing is published again at all.
    assert await s.ledgers.remove_published(older_than=0) > 0
    assert all(decode_outbox(doc) == [] for doc in s.store.ledgers.values())
    count = len(s.publisher.events)
    await restarted(s).handle(batch(events))
    assert len(s.publisher.events) == count


def test_the_handler_table_covers_what_incentives_consumes() -> None:
    """Registrations are decided from their lifecycle's events; what bears on
    commissions goes through the domain's table of merges; both tables are keyed by
    payload class."""
    assert set(HANDLERS) == {
        contract.DealRegistered,
        contract.DealRegistrationExtensionRequested,
        *MERGES,
    }
    assert contract.DealRegistered not in MERGES
    assert contract.DealRegistrationExtensionRequested not in MERGES


async def test_an_event_type_the_table_does_not_list_is_counted_as_ignored() -> None:
    s = service()
    applied = parse_event(message("PartnerApplied"))
    labels = {"service": "incentives", "topic": topics.PARTNERS, "type": "PartnerApplied"}

    def counted(outcome: str) -> float:
        return (
            REGISTRY.get_sample_value(
                "partnerhub_events_consumed_total", {**labels, "outcome": outcome}
            )
            or 0.0
        )

    before = counted("ignored"), counted("processed")
    await s.consumer.handle(batch([applied]))
    assert (counted("ignored"), counted("processed")) == (before[0] + 1, before[1])
    assert s.publisher.events == []
    assert s.store.ledgers == {}


def restarted(s: Service) -> IncentivesConsumer:
    """A consumer on the same store and publisher with nothing in memory, as after a restart."""
    ledgers = Ledgers(s.store, s.publisher, cache_deals=1000)
    return IncentivesConsumer(ledgers, s.store, s.publisher, clock=lambda: NOW)


def registered(partner: str, registration: str, day: str, customer: str = "Globex") -> Any:
    data = {
        "partner_id": partner,
        "registration_id": registration,
        "deal_id": f"D-{registration}",
        "customer": customer,
        "product_line": "security",
        "expected_amount": "10000.00",
        "registered_at": f"{day}T00:00:00Z",
    }
    return parse_event(message("DealRegistered", data))


async def test_a_registration_is_approved_and_a_channel_conflict_rejected() -> None:
    s = service()
    # The later registration arrives first: approved, until the earlier one arrives.
    await s.deliver([registered("P-2", "R-late", "2026-11-20")])
    await s.deliver([registered("P-1", "R-early", "2026-11-01")])
    decisions = [
        (e.type, e.data.model_dump()["registration_id"], e.data.model_dump().get("reason"))
        for e in s.publisher.events
        if e.type.startswith("DealRegistration")
    ]
    assert decisions == [
        ("DealRegistrationApproved", "R-late", None),
        ("DealRegistrationApproved", "R-early", None),
        ("DealRegistrationRejected", "R-late", "channel_conflict"),
    ]
    first, correction = (e for e in s.publisher.events if "R-late" in e.model_dump_json())
    assert correction.id != first.id, "a correction is a new event for the same registration"

    client = s.app()
    late = client.get("/registrations/R-late", headers=headers(ADMIN))
    assert late.status_code == 200
    assert late.json() == {
        "registration_id": "R-late",
        "deal_id": "D-R-late",
        "partner_id": "P-2",
        "customer": "Globex",
        "product_line": "security",
        "registered_at": "2026-11-20T00:00:00+00:00",
        "status": "rejected",
        "reason": "channel_conflict",
        "decided_at": NOW.isoformat(),
        "expires_at": None,
        "conflicting_registration_id": "R-early",
        "decided_by_hand": False,
        "decided_by": {"kind": "system", "id": "incentives"},
        "extensions": [],
        "extension_waiting": False,
        "may_request_extension": False,
    }
    assert client.get("/registrations/R-late", headers=headers(OTHER)).status_code == 200
    assert client.get("/registrations/R-late", headers=headers(OWN)).status_code == 403
    assert client.get("/registrations/R-none", headers=headers(ADMIN)).status_code == 404


# ----------------------------------------------------------------- registering through the API


class Incentives(ServiceHarness):
    """The app over the fakes (the relay runs after each command) and the consumer, which
    gets what incentives published on deals.v1 back as Kafka delivers it."""

    admin_key = ADMIN

    def __init__(self, issuer: str | None = None) -> None:
        self.service = service()
        self.kafka = self.service.publisher
        self.client = self.service.app(issuer)

    async def consume_published(self) -> None:
        """Deliver every DealRegistered published so far to the consumer, as one batch."""
        registered = [e for e in self.kafka.events if e.type == "DealRegistered"]
        await self.service.deliver(registered)


DEAL = {"deal_id": "D-77", "customer": "Initech", "product_line": "cloud"}
REGISTRATION = {**DEAL, "expected_amount": "80000.00"}


def field_errors(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]


async def test_a_partner_registers_a_deal_for_itself_and_it_is_decided() -> None:
    incentives = Incentives()
    answer = incentives.post("/registrations", REGISTRATION, key=OWN)
    assert answer.status_code == 202, answer.text
    registration_id = answer.json()["registration_id"]
    url = f"/registrations/{registration_id}"
    assert answer.json() == {"registration_id": registration_id, "status": "pending", "url": url}

    pending = incentives.get(url, key=OWN)
    assert pending.status_code == 200
    assert (pending.json()["status"], pending.json()["registered_at"]) == (
        "pending",
        NOW.isoformat(),
    )
    assert incentives.get(url, key=OTHER).status_code == 403
    (event,) = incentives.kafka.published
    assert (event["type"], event["subject"], event["source"], event["time"]) == (
        "DealRegistered",
        "P-1",
        "/partnerhub/incentives",
        "2027-01-10T09:00:00Z",
    )
    assert event["data"] == {
        "partner_id": "P-1",
        "actor": {"kind": "key", "id": access.key_id(OWN)},
        "registration_id": registration_id,
        **REGISTRATION,
        "registered_at": "2027-01-10T09:00:00Z",
    }

    await incentives.consume_published()  # the decision is the consumer's, as for a CRM's
    decided = incentives.get(url, key=OWN).json()
    assert (decided["status"], decided["decided_at"], decided["partner_id"]) == (
        "approved",
        NOW.isoformat(),
        "P-1",
    )
    (approval,) = incentives.kafka.of_type("DealRegistrationApproved")
    assert approval["data"]["registration_id"] == registration_id
    assert approval["data"]["actor"] == {"kind": "system", "id": "incentives"}, (
        "incentives decided by itself"
    )


async def test_staff_register_for_the_partner_they_name_and_a_conflict_is_decided_as_ever() -> None:
    incentives = Incentives()
    first = incentives.post("/registrations", REGISTRATION, key=OWN)
    missing = incentives.post("/registrations", REGISTRATION)
    assert field_errors(missing) == ["body.partner_id"]
    second = incentives.post("/registrations", {**REGISTRATION, "partner_id": "P-2"})
    assert (first.status_code, second.status_code) == (202, 202)
    (_, theirs) = incentives.kafka.of_type("DealRegistered")
    assert (theirs["subject"], theirs["data"]["actor"]) == (
        "P-2",
        {"kind": "key", "id": access.key_id(ADMIN)},
    )
    await incentives.consume_published()
    decided = [incentives.get(answer.json()["url"]).json() for answer in (first, second)]
    assert [d["partner_id"] for d in decided] == ["P-1", "P-2"]
    # Registered at the same instant: the registration id decides which claimed the pair first.
    assert sorted((d["status"], d["reason"]) for d in decided) == [
        ("approved", None),
        ("rejected", "channel_conflict"),
    ]


def test_a_partner_registering_for_another_is_refused_and_nothing_is_stored() -> None:
    incentives = Incentives()
    refused = incentives.post("/registrations", {**REGISTRATION, "partner_id": "P-2"}, key=OWN)
    assert refused.status_code == 403
    assert "a partner may act only for itself" in refused.json()["detail"]
    assert "body.partner_id" in refused.json()["detail"]
    assert incentives.kafka.published == []
    assert incentives.service.store.requests == {}
    itself = incentives.post("/registrations", {**REGISTRATION, "partner_id": "P-1"}, key=OWN)
    assert itself.status_code == 202, "naming itself is fine"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_amount": 80000}, "body.expected_amount"),
        ({"expected_amount": 80000.5}, "body.expected_amount"),
        ({"expected_amount": "-1.00"}, "body.expected_amount"),
        ({"expected_amount": "eighty"}, "body.expected_amount"),
        ({"expected_amount": None}, "body.expected_amount"),
        ({"deal_id": ""}, "body.deal_id"),
        ({"customer": "  "}, "body.customer"),
    ],
)
def test_a_bad_registration_is_422_naming_the_field(change: dict[str, Any], field: str) -> None:
    incentives = Incentives()
    assert field_errors(incentives.post("/registrations", {**REGISTRATION, **change}, key=OWN)) == [
        field
    ]
    assert incentives.kafka.published == []


def test_a_retried_registration_answers_once_and_a_partners_key_is_its_own() -> None:
    incentives = Incentives()
    first = incentives.post("/registrations", REGISTRATION, key=OWN, idempotency="reg-1")
    again = incentives.post("/registrations", REGISTRATION, key=OWN, idempotency="reg-1")
    assert first.status_code == 202, first.text
    assert (again.status_code, again.json()) == (202, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(incentives.kafka.of_type("DealRegistered")) == 1
    changed = incentives.post(
        "/registrations", {**REGISTRATION, "customer": "Globex"}, key=OWN, idempotency="reg-1"
    )
    assert field_errors(changed) == ["header.Idempotency-Key"]
    theirs = incentives.post("/registrations", REGISTRATION, key=OTHER, idempotency="reg-1")
    assert theirs.status_code == 202
    assert theirs.json()["registration_id"] != first.json()["registration_id"]
    assert [e["subject"] for e in incentives.kafka.of_type("DealRegistered")] == ["P-1", "P-2"]


async def test_a_registration_that_meets_another_delivery_answers_what_that_one_stored() -> None:
    """Two deliveries of one command race: the second finds the id taken and replays."""
    s = service()
    inquiries = Inquiries(s.ledgers, s.store, clock=lambda: NOW)
    commands = IncentivesCommands(s.store, s.publisher, s.settlements, inquiries, clock=lambda: NOW)
    body = RegistrationBody.model_validate(REGISTRATION)
    key = CommandKey.of("reg-1", "/registrations", REGISTRATION, partner_id="P-1")
    answers_of = s.store.registration_request_answers
    calls = 0

    async def nothing_yet(registration_id: str) -> Document | None:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await answers_of(registration_id)

    actor = contract.Actor(kind=contract.ActorKind.KEY, id="k")
    first = await commands.register(body, key, partner_id="P-1", actor=actor)
    s.store.registration_request_answers = nothing_yet  # type: ignore[method-assign]
    second = await commands.register(body, key, partner_id="P-1", actor=actor)
    assert (second.status, second.body, second.replayed) == (202, first.body, True)
    assert len(s.store.requests) == 1


async def test_a_registration_answered_reaches_kafka_even_if_the_process_dies() -> None:
    s = service()
    answer = s.app().post("/registrations", json=REGISTRATION, headers=headers(OWN))
    assert answer.status_code == 202
    assert s.publisher.of_type("DealRegistered") == [], "the relay did not run"
    restarted = InMemoryPublisher(s.store.documents())
    await restarted.publish_pending()
    (event,) = restarted.of_type("DealRegistered")
    assert event["data"]["registration_id"] == answer.json()["registration_id"]
    assert restarted.pending() == 0


def test_a_person_signed_in_is_the_actor_of_what_they_register(issuer: Issuer) -> None:
    incentives = Incentives(issuer.url)
    pat = issuer.token(partnerhub_role="partner", partner_id="P-1", sub="pat")
    assert incentives.post("/registrations", REGISTRATION, key=pat).status_code == 202
    (event,) = incentives.kafka.of_type("DealRegistered")
    assert event["data"]["actor"] == {"kind": "person", "id": "pat"}
    assert event["subject"] == "P-1"
    other = incentives.post("/registrations", {**REGISTRATION, "partner_id": "P-2"}, key=pat)
    assert other.status_code == 403
    maria = issuer.token(partnerhub_role="channel_manager", sub="maria")
    staff = incentives.post("/registrations", {**REGISTRATION, "partner_id": "P-2"}, key=maria)
    assert staff.status_code == 202
    assert incentives.kafka.of_type("DealRegistered")[-1]["data"]["actor"] == {
        "kind": "person",
        "id": "maria",
    }


# ----------------------------------------------------------------- the registrations listed


async def registrations_of_two_partners() -> Incentives:
    """P-1's R-a (approved) and its registration through the API (pending, registered at
    NOW); P-2's R-b (rejected: R-a holds the pair) and R-c (approved, another pair)."""
    incentives = Incentives()
    await incentives.service.deliver(
        [
            registered("P-1", "R-a", "2026-11-01"),
            registered("P-2", "R-b", "2026-11-20"),
            registered("P-2", "R-c", "2026-12-01", customer="Initech"),
        ]
    )
    assert incentives.post("/registrations", REGISTRATION, key=OWN).status_code == 202
    return incentives


def listed(answer: Any) -> list[tuple[str, str, str | None]]:
    assert answer.status_code == 200, answer.text
    return [
        (r["registration_id"], r["status"], r["reason"]) for r in answer.json()["registrations"]
    ]


async def test_registrations_are_listed_newest_first_decided_and_pending() -> None:
    incentives = await registrations_of_two_partners()
    [pending_id] = incentives.service.store.requests
    everything = incentives.get("/registrations")
    assert listed(everything) == [
        (pending_id, "pending", None),
        ("R-c", "approved", None),
        ("R-b", "rejected", "channel_conflict"),
        ("R-a", "approved", None),
    ]
    assert everything.json()["next_cursor"] is None
    pending = everything.json()["registrations"][0]
    assert (pending["partner_id"], pending["decided_at"], pending["registered_at"]) == (
        "P-1",
        None,
        NOW.isoformat(),
    )
    assert listed(incentives.get("/registrations", status="rejected")) == [
        ("R-b", "rejected", "channel_conflict")
    ]
    open_ones = incentives.get("/registrations", status=["pending", "approved"])
    assert [r for r, _, _ in listed(open_ones)] == [pending_id, "R-c", "R-a"]
    assert [r for r, _, _ in listed(incentives.get("/registrations", partner_id="P-2"))] == [
        "R-c",
        "R-b",
    ]
    assert listed(incentives.get("/registrations", partner_id="P-9")) == []
    assert field_errors(incentives.get("/registrations", status="decided")) == ["query.status.0"]

    # Once decided, the registration sent through the API is listed once, with its decision.
    await incentives.consume_published()
    decided = listed(incentives.get("/registrations", partner_id="P-1"))
    assert decided == [(pending_id, "approved", None), ("R-a", "approved", None)]


async def test_a_partner_lists_only_its_own_registrations() -> None:
    incentives = await registrations_of_two_partners()
    [pending_id] = incentives.service.store.requests
    own = [(pending_id, "pending", None), ("R-a", "approved", None)]
    assert listed(incentives.get("/registrations", key=OWN)) == own
    assert listed(incentives.get("/registrations", key=OWN, partner_id="P-1")) == own
    refused = incentives.get("/registrations", key=OWN, partner_id="P-2")
    assert refused.status_code == 403
    assert "R-b" not in refused.text
    assert listed(incentives.get("/registrations", key=OTHER, status="rejected")) == [
        ("R-b", "rejected", "channel_conflict")
    ]


async def test_registrations_are_paged_by_cursor() -> None:
    incentives = await registrations_of_two_partners()
    expected = [r for r, _, _ in listed(incentives.get("/registrations"))]
    seen: list[str] = []
    cursor = None
    while True:
        page = incentives.get("/registrations", limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [r for r, _, _ in listed(page)]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    first = incentives.get("/registrations", limit=2, status="approved").json()
    assert [r["registration_id"] for r in first["registrations"]] == ["R-c", "R-a"]
    assert first["next_cursor"] is None, "no more approved registrations after R-a"
    first = incentives.get("/registrations", limit=1, status="approved").json()
    rest = incentives.get(
        "/registrations", limit=1, status="approved", cursor=first["next_cursor"]
    ).json()
    assert [r["registration_id"] for r in rest["registrations"]] == ["R-a"]
    assert rest["next_cursor"] is None
    for cursor in ("garbage!", "bm90IGpzb24", "WyIyMDI2LTExLTAxIiwgIlItYSJd"):
        assert field_errors(incentives.get("/registrations", cursor=cursor)) == ["query.cursor"]
    for limit in (0, 501):
        assert field_errors(incentives.get("/registrations", limit=limit)) == ["query.limit"]


# ----------------------------------------------------------------- the HTTP reads


async def test_the_commission_reads_explain_each_line_to_whom_may_read_it() -> None:
    s = service()
    *before, cancellation = example_events()
    await s.deliver(before)
    await s.deliver([cancellation])
    client = s.app()

    d3 = client.get(f"/commissions/{EXAMPLE.deal(3)}", headers=headers(OWN))
    assert d3.status_code == 200
    body = d3.json()
    assert (body["partner_id"], body["status"], body["commission"]) == (
        "P-1",
        "commissionable",
        "28500.00",
    )
    assert body["uplift_reasons"] == ["certified for cloud"]
    assert [(p["from"], p["to"], p["amount"], p["rate"]) for p in body["portions"]] == [
        ("0", "100000", "20000.00", "0.10"),
        ("100000", "250000", "150000", "0.12"),
        ("250000", None, "30000.00", "0.15"),
    ]
    assert body["revision"] == len(body["history"]) == 2
    assert body["history"][-1]["event_id"] in {e.id for e in s.publisher.events}
    assert client.get(f"/commissions/{EXAMPLE.deal(3)}", headers=headers(OTHER)).status_code == 403
    assert client.get("/commissions/D-none", headers=headers(ADMIN)).status_code == 404

    quarter = client.get(
        "/partners/P-1/commissions", params={"period": "2026-Q4"}, headers=headers(OWN)
    )
    assert quarter.status_code == 200
    statement = quarter.json()
    assert (statement["revenue"], statement["commission"], statement["target_bonus"]) == (
        "290000.00",
        "38100.00",
        "0.00",
    )
    assert [line["deal_id"] for line in statement["lines"]] == [
        EXAMPLE.deal(n) for n in (1, 2, 3, 4)
    ]
    assert client.get("/partners/P-1/commissions", headers=headers(OTHER)).status_code == 403
    assert client.get("/partners/P-9/commissions", headers=headers(ADMIN)).json() == {
        "detail": "no commission data for partner P-9"
    }


async def test_a_simulation_sets_a_draft_plan_beside_what_was_paid() -> None:
    s = service()
    await s.deliver(example_events())
    plan = {
        "period": "quarter",
        "brackets": [{"from": "0", "rate": "0.05"}],
        "certification_bonus_rate": "0.02",
        "registered_deal_bonus_rate": "0.01",
        "period_cap": None,
        "clawback_days": 90,
        "target_amount": None,
        "target_bonus": None,
    }
    published = len(s.publisher.events)
    answer = s.app().post(
        "/simulations",
        json={"plan": plan, "partner_ids": ["P-1", "P-9"], "period": "2026-Q4"},
        headers=headers(ADMIN),
    )
    assert answer.status_code == 200
    simulated, unknown = answer.json()["partners"]
    assert simulated["actual"]["commission"] == "38100.00"
    # 5 % of 290 000 plus the unchanged uplifts (4 000 certification, 100 registration).
    assert simulated["simulated"]["commission"] == "18600.00"
    assert unknown == {"partner_id": "P-9", "error": "no commission data for this partner"}
    assert len(s.publisher.events) == published, "a simulation publishes nothing"


# ----------------------------------------------------------------- settlements


async def test_a_dry_run_records_nothing_and_a_settlement_pays_once() -> None:
    s = service()
    await s.deliver(example_events(with_cancellation=False))
    client = s.app()
    before = dict(s.store.ledgers["P-1"])
    settle = {"period": "2026-Q4", "partner_ids": ["P-1"], "settlement_id": "S-1"}

    dry = client.post("/settlements", json={**settle, "dry_run": True}, headers=headers(ADMIN))
    assert dry.status_code == 200
    assert [(p["amount_paid"], p["replayed"]) for p in dry.json()["payouts"]] == [
        ("50600.00", False)
    ]
    assert s.store.ledgers["P-1"] == before, "a dry run records nothing"
    assert s.publisher.of_type("PayoutSettled") == []

    paid = client.post("/settlements", json=settle, headers=headers(ADMIN))
    assert paid.status_code == 201
    body = paid.json()
    assert (body["settlement_id"], body["dry_run"], body["totals"], body["skipped"]) == (
        "S-1",
        False,
        {"USD": "50600.00"},
        [],
    )
    (payout,) = body["payouts"]
    assert (payout["period_amount"], payout["carried_adjustments"], payout["pending_after"]) == (
        "50600.00",
        [],
        {},
    )
    assert s.publisher.of_type("PayoutSettled") == [], "the answer does not wait for Kafka"
    assert s.publisher.flush() == 1, "the relay, woken by the settlement"
    (event,) = s.publisher.of_type("PayoutSettled")
    assert (event["id"], event["data"]["amount_paid"]) == (payout["event_id"], "50600.00")
    assert event["data"]["actor"] == {"kind": "key", "id": access.key_id(ADMIN)}

    replay = client.post("/settlements", json=settle, headers=headers(ADMIN))
    assert replay.status_code == 200
    assert replay.json()["payouts"][0]["replayed"] is True
    refused = client.post(
        "/settlements", json={"period": "2026-Q4", "partner_ids": ["P-1"]}, headers=headers(ADMIN)
    )
    assert refused.status_code == 409
    assert refused.json()["refused"] == [
        {"partner_id": "P-1", "period": "2026-Q4", "settled_by": ["S-1"]}
    ]
    s.publisher.flush()
    assert len(s.publisher.of_type("PayoutSettled")) == 1, "paid once"
    unknown = client.post(
        "/settlements", json={"period": "2026-Q4", "partner_ids": ["P-9"]}, headers=headers(ADMIN)
    )
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"detail": "no commission data for partner(s) P-9"},
    )
    assert client.post("/settlements", json=settle, headers=headers(OWN)).status_code == 403

    # D-2 is cancelled after the settlement: the difference is pending against 2026-Q4.
    await s.deliver(example_events()[-1:])
    settled = client.get("/partners/P-1/settlements", headers=headers(OWN)).json()
    assert [x["settlement_id"] for x in settled["settlements"]] == ["S-1"]
    assert settled["pending_adjustments"] == [
        {"period": "2026-Q4", "currency": "USD", "amount": "-12500.00"}
    ]


async def test_a_payout_recorded_reaches_kafka_even_if_the_process_dies_after_answering() -> None:
    """The PayoutSettled is in the ledger's outbox once the settlement is written: a
    process that dies before its relay ran publishes it at its next start."""
    s = service()
    await s.deliver(example_events(with_cancellation=False))
    run = await s.settlements.settle("2026-Q4", ["P-1"], settlement_id="S-1")
    (payout,) = run.payouts
    assert s.publisher.of_type("PayoutSettled") == []

    restarted = InMemoryPublisher(s.store.documents())
    await restarted.publish_pending()
    (event,) = restarted.of_type("PayoutSettled")
    assert event["id"] == payout.event_id
    assert restarted.pending() == 0, "published, then removed from the ledger"


async def test_the_consumer_reads_again_what_a_settlement_wrote() -> None:
    """One Ledgers for both sides: a settlement's write is not lost to the consumer's next
    write of the partner, and the consumer's ledger in memory is not stale after it."""
    s = service()
    await s.deliver(example_events(with_cancellation=False))
    run = await s.settlements.settle("2026-Q4", ["P-1"], settlement_id="S-1")
    assert run.recorded
    await s.deliver(example_events()[-1:])
    assert s.store.lost_writes == 0, "the consumer did not write over a ledger it held stale"
    ledger = await s.store.load_ledger("P-1")
    assert ledger is not None
    assert [x.settlement_id for x in ledger.settlements] == ["S-1"]
    assert ledger.published[EXAMPLE.deal(2)].result.status.value == "clawed_back"


async def test_a_lost_write_is_done_again_from_what_won() -> None:
    """Two replicas on one store: the one whose ledger in memory is stale loses its write,
    reads the partner again and merges its events into what the other wrote."""
    s = service()
    events = example_events()
    await s.consumer.handle(batch(events[:3]))
    await restarted(s).handle(batch(events[3:5]))  # reads what the first wrote
    await s.consumer.handle(batch(events[5:]))  # stale in memory: loses once, then redoes
    assert s.store.lost_writes == 1
    ledger = await s.store.load_ledger("P-1")
    assert ledger is not None
    assert set(ledger.book.deals) == {EXAMPLE.deal(n) for n in (1, 2, 3, 4)}
    assert EXAMPLE.deal(2) in ledger.book.cancellations
