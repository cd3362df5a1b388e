"""Enablement's service layer in memory: the HTTP app, the command side and the consumer
against fakes.

``create_app`` takes the store and the publisher as parameters; here they are
an in-memory store (:class:`InMemoryStore`, keeping documents in the form
:class:`~services.enablement.store.EnablementStore` writes them) and the
shared in-memory publisher (:class:`tests.support.fakes.InMemoryPublisher`),
which checks each event against the contract and removes it from its
document, as the outbox does; its relay step (``flush``) runs after each
request, as the outbox relay does once a command has handed its document
over. The app's lifespan is not entered, so neither Kafka nor MongoDB is
touched: every test runs in milliseconds. The same behaviour on the real
infrastructure is in the integration tests of enablement.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.enablement.app import create_app
from services.enablement.awards import AwardSettling
from services.enablement.commands import (
    CertificationBody,
    CompletionBody,
    CourseBody,
    EnablementCommands,
    MdfRequestBody,
)
from services.enablement.domain import (
    Feedback,
    MdfBudget,
    MdfClaim,
    MdfClaimStatus,
    MdfStatus,
    PartnerStanding,
    SalesMaterial,
    quarter_last_day,
    quarter_of,
)
from services.enablement.handlers import HANDLERS, EnablementConsumer
from services.enablement.settings import EnablementSettings
from services.enablement.store import (
    CATALOGUE,
    CATALOGUE_ID,
    FEEDBACK,
    LEARNERS,
    MATERIALS,
    MDF_CLAIMS,
    MDF_LEDGERS,
    PARTNERS,
    Answers,
    Catalogue,
    Learner,
    MdfClaimBook,
    MdfLedger,
    StandingRecord,
    decode_catalogue,
    decode_claim_book,
    decode_feedback,
    decode_learner,
    decode_ledger,
    decode_material,
    decode_standing,
    encode_catalogue,
    encode_claim_book,
    encode_feedback,
    encode_learner,
    encode_ledger,
    encode_material,
    encode_standing,
    feedback_query,
    learner_key,
    ledger_key,
)
from shared import access, topics
from shared.commands import CommandKey, KeptLosing
from shared.consuming import Consumed
from shared.events import PAYLOADS, Actor, ActorKind, Tier, TrainingCompleted, parse_event
from shared.mongo import Document
from shared.outbox import OutboxEntry
from tests.support.events import CONTRACT, PROFILE, envelope
from tests.support.fakes import InMemoryPublisher, ServiceHarness
from tests.support.tokens import Issuer

ADMIN_KEY, PARTNER_KEY, OTHER_PARTNER_KEY = "admin-key", "partner-key", "other-partner-key"
#: Who the events of the commands called directly (without HTTP) name.
MANAGER = Actor(kind=ActorKind.PERSON, id="maria")
#: The partner PARTNER_KEY reads for (silver).
KEYED_PARTNER = "P-keyed"
#: Small enough to exhaust in a test.
BUDGETS = "registered=0,silver=500,gold=1000,platinum=5000"
#: The tests' now: where the service's clock starts, so a run across midnight sees one day.
NOW = datetime.now(UTC)
TODAY = NOW.date()


def ticking(start: datetime = NOW) -> Callable[[], datetime]:
    """A clock from ``start`` that moves on a millisecond at each reading."""
    at = [start]

    def now() -> datetime:
        at[0] += timedelta(milliseconds=1)
        return at[0]

    return now


# --------------------------------------------------------------------------- the fakes


class InMemoryStore:
    """A :class:`~services.enablement.store.Store` in memory.

    Documents are kept as the MongoDB store writes them (``encode_*``), so what
    a command stores is read back the way the service reads it. ``lose_writes``
    makes that many next writes lose to another writer; ``before_next_write``
    runs once, just before the next write (another writer getting there first).
    """

    def __init__(self) -> None:
        self.docs: defaultdict[str, dict[str, Document]] = defaultdict(dict)
        self.lose_writes = 0
        self.before_next_write: Callable[[], Awaitable[Any]] | None = None

    def _read(self, collection: str) -> list[Document]:
        return [copy.deepcopy(doc) for doc in self.docs[collection].values()]

    async def _wins(self, collection: str, doc_id: str, version: int) -> bool:
        if self.before_next_write is not None:
            interfere, self.before_next_write = self.before_next_write, None
            await interfere()
        current = self.docs[collection].get(doc_id)
        if self.lose_writes or (0 if current is None else current["version"]) != version:
            self.lose_writes = max(0, self.lose_writes - 1)
            return False
        return True

    def _write(self, collection: str, doc: Document) -> None:
        self.docs[collection][doc["_id"]] = copy.deepcopy(doc)

    # ------------------------------------------------------------- catalogue

    async def load_catalogue(self) -> Catalogue:
        doc = self.docs[CATALOGUE].get(CATALOGUE_ID)
        return Catalogue() if doc is None else decode_catalogue(copy.deepcopy(doc))

    async def definitions_version(self) -> int:
        return (await self.load_catalogue()).definitions_version

    async def save_catalogue(self, catalogue: Catalogue) -> bool:
        if not await self._wins(CATALOGUE, CATALOGUE_ID, catalogue.version):
            return False
        self._write(CATALOGUE, encode_catalogue(catalogue, catalogue.version + 1))
        catalogue.version += 1
        return True

    # ------------------------------------------------------------- learners

    async def load_learners(self, keys: Iterable[tuple[str, str]]) -> dict[str, Learner]:
        found = {}
        for partner_id, learner_id in keys:
            key = learner_key(partner_id, learner_id)
            doc = self.docs[LEARNERS].get(key)
            found[key] = (
                Learner(partner_id, learner_id)
                if doc is None
                else decode_learner(copy.deepcopy(doc))
            )
        return found

    async def load_learner(self, partner_id: str, learner_id: str) -> Learner:
        return (await self.load_learners([(partner_id, learner_id)]))[
            learner_key(partner_id, learner_id)
        ]

    async def find_learner(self, partner_id: str, learner_id: str) -> Learner | None:
        doc = self.docs[LEARNERS].get(learner_key(partner_id, learner_id))
        return None if doc is None else decode_learner(copy.deepcopy(doc))

    async def learner_with_answer(self, digest: str) -> Learner | None:
        found = [decode_learner(d) for d in self._read(LEARNERS) if digest in d["answers"]]
        return found[0] if found else None

    async def learners_of(self, partner_id: str) -> list[Learner]:
        found = [decode_learner(d) for d in self._read(LEARNERS) if d["partner_id"] == partner_id]
        return sorted(found, key=lambda x: x.learner_id)

    async def stale_learners(self, definitions_version: int, limit: int) -> list[Learner]:
        docs = self._read(LEARNERS)
        return [decode_learner(d) for d in docs if d["catalogue_version"] < definitions_version][
            :limit
        ]

    async def save_learners(self, learners: Iterable[Learner]) -> set[str]:
        lost = set()
        for learner in learners:
            if await self._wins(LEARNERS, learner.key, learner.version):
                self._write(LEARNERS, encode_learner(learner, learner.version + 1))
                learner.version += 1
            else:
                lost.add(learner.key)
        return lost

    # ------------------------------------------------------------- partners

    async def load_standings(self, partner_ids: Iterable[str]) -> dict[str, StandingRecord]:
        found = {}
        for partner_id in set(partner_ids):
            doc = self.docs[PARTNERS].get(partner_id)
            found[partner_id] = (
                StandingRecord(PartnerStanding(partner_id))
                if doc is None
                else decode_standing(copy.deepcopy(doc))
            )
        return found

    async def standing(self, partner_id: str) -> PartnerStanding | None:
        doc = self.docs[PARTNERS].get(partner_id)
        return None if doc is None else decode_standing(copy.deepcopy(doc)).standing

    async def save_standings(self, records: Iterable[StandingRecord]) -> set[str]:
        lost = set()
        for record in records:
            partner_id = record.standing.partner_id
            if await self._wins(PARTNERS, partner_id, record.version):
                self._write(PARTNERS, encode_standing(record, record.version + 1))
                record.version += 1
            else:
                lost.add(partner_id)
        return lost

    # ------------------------------------------------------------- MDF

    async def load_ledger(self, partner_id: str, quarter: str) -> MdfLedger:
        doc = self.docs[MDF_LEDGERS].get(ledger_key(partner_id, quarter))
        return MdfLedger(partner_id, quarter) if doc is None else decode_ledger(copy.deepcopy(doc))

    async def ledger_with_answer(self, digest: str) -> MdfLedger | None:
        found = [decode_ledger(d) for d in self._read(MDF_LEDGERS) if digest in d["answers"]]
        return found[0] if found else None

    async def ledger_of_request(self, request_id: str) -> MdfLedger | None:
        found = [decode_ledger(d) for d in self._read(MDF_LEDGERS)]
        return next((x for x in found if request_id in x.requests), None)

    async def ledgers_of(self, partner_id: str) -> list[MdfLedger]:
        found = [decode_ledger(d) for d in self._read(MDF_LEDGERS)]
        return sorted((x for x in found if x.partner_id == partner_id), key=lambda x: x.quarter)

    async def ledgers_with_status(self, status: MdfStatus, limit: int) -> list[MdfLedger]:
        found = [decode_ledger(d) for d in sorted(self._read(MDF_LEDGERS), key=lambda d: d["_id"])]
        return [x for x in found if any(r.status is status for r in x.requests.values())][:limit]

    async def approved_ledgers_through(self, quarter: str) -> list[MdfLedger]:
        found = [decode_ledger(d) for d in sorted(self._read(MDF_LEDGERS), key=lambda d: d["_id"])]
        return [
            x
            for x in found
            if x.quarter <= quarter
            and any(r.status is MdfStatus.APPROVED for r in x.requests.values())
        ]

    async def save_ledger(self, ledger: MdfLedger) -> bool:
        if not await self._wins(MDF_LEDGERS, ledger.key, ledger.version):
            return False
        self._write(MDF_LEDGERS, encode_ledger(ledger, ledger.version + 1))
        ledger.version += 1
        return True

    # ------------------------------------------------------------- MDF claims

    async def load_claim_book(self, partner_id: str) -> MdfClaimBook:
        doc = self.docs[MDF_CLAIMS].get(partner_id)
        return MdfClaimBook(partner_id) if doc is None else decode_claim_book(copy.deepcopy(doc))

    async def save_claim_book(self, book: MdfClaimBook) -> bool:
        if not await self._wins(MDF_CLAIMS, book.key, book.version):
            return False
        self._write(MDF_CLAIMS, encode_claim_book(book, book.version + 1))
        book.version += 1
        return True

    async def claims_with_status(self, status: MdfClaimStatus | None) -> list[MdfClaim]:
        books = [
            decode_claim_book(d) for d in sorted(self._read(MDF_CLAIMS), key=lambda d: d["_id"])
        ]
        return [
            c
            for book in books
            for c in book.claims.values()
            if status is None or c.status is status
        ]

    # ------------------------------------------------------------- materials and feedback

    async def add_material(
        self, material: SalesMaterial, created_at: datetime, answers: Answers
    ) -> bool:
        if material.material_id in self.docs[MATERIALS]:
            return False
        self._write(MATERIALS, encode_material(material, created_at, answers))
        return True

    async def material_answers(self, material_id: str) -> Answers | None:
        doc = self.docs[MATERIALS].get(material_id)
        return None if doc is None else copy.deepcopy(doc["answers"])

    async def materials_matching(
        self, product_line: str | None, tier: Tier | None, limit: int
    ) -> list[SalesMaterial]:
        found = [
            decode_material(d)
            for d in self._read(MATERIALS)
            if (product_line is None or d["product_line"] == product_line)
            and (tier is None or tier.value in d["tiers"])
        ]
        return sorted(found, key=lambda m: (m.product_line, m.title, m.material_id))[:limit]

    async def add_feedback(
        self, feedback: Feedback, answers: Answers, outbox: list[OutboxEntry]
    ) -> bool:
        if feedback.feedback_id in self.docs[FEEDBACK]:
            return False
        self._write(FEEDBACK, encode_feedback(feedback, answers, outbox))
        return True

    async def feedback_answers(self, feedback_id: str) -> Answers | None:
        doc = self.docs[FEEDBACK].get(feedback_id)
        return None if doc is None else copy.deepcopy(doc["answers"])

    async def feedback_of(self, partner_id: str, limit: int) -> list[Feedback]:
        found = [decode_feedback(d) for d in self._read(FEEDBACK) if d["partner_id"] == partner_id]
        return sorted(found, key=lambda f: f.submitted_at, reverse=True)[:limit]

    async def feedback_between(
        self, since: datetime | None, until: datetime | None, product_line: str | None
    ) -> list[Feedback]:
        """The store's own filter, compared as MongoDB compares the stored text."""
        query = feedback_query(since, until, product_line)
        span = query.get("submitted_at", {})
        found = [
            decode_feedback(d)
            for d in self._read(FEEDBACK)
            if ("product_line" not in query or d.get("product_line") == query["product_line"])
            and ("$gte" not in span or d["submitted_at"] >= span["$gte"])
            and ("$lt" not in span or d["submitted_at"] < span["$lt"])
        ]
        return sorted(found, key=lambda f: (f.submitted_at, f.feedback_id))


def publisher_of(store: InMemoryStore) -> InMemoryPublisher:
    """The in-memory publisher over the store's documents."""
    return InMemoryPublisher(store.docs)


class DeadLetters(list[tuple[str, str]]):
    """The consumer's dead letters, as (event type, why), in order."""

    async def __call__(self, consumed: Consumed, error: str) -> None:
        self.append((consumed.event.type, error))


@dataclass(frozen=True)
class Record:
    """What the consumer and its dead letters need of a Kafka record."""

    topic: str
    value: bytes
    key: bytes = b""
    partition: int = 0
    offset: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()


def consumed(event: dict[str, Any]) -> Consumed:
    """``event`` (a whole CloudEvent) as the consumer gets it from its topic."""
    topic = PAYLOADS[event["type"]].kafka_topic
    raw = json.dumps(event).encode()
    return Consumed(Record(topic, raw, event["subject"].encode()), parse_event(raw, topic=topic))


class Enablement(ServiceHarness):
    """The app with its fakes, a client for it that sends a key, and the consumer."""

    admin_key = ADMIN_KEY

    def __init__(
        self, issuer: str | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = InMemoryStore()
        self.kafka = publisher_of(self.store)
        self.dead_letters = DeadLetters()
        keys = f"{ADMIN_KEY}=admin,{PARTNER_KEY}=partner:{KEYED_PARTNER}"
        settings = EnablementSettings(
            api_keys=SecretStr(f"{keys},{OTHER_PARTNER_KEY}=partner:P-other"),
            api_keys_file=None,
            mdf_budget_currency="USD",
            mdf_quarterly_budgets=BUDGETS,
            oidc_issuer=issuer,
            oidc_jwks_cooldown_seconds=0,
        )
        self.client = TestClient(
            create_app(settings, store=self.store, publisher=self.kafka, clock=clock or ticking())
        )
        self.award_settling = AwardSettling(self.store, self.kafka)
        self.consumer = EnablementConsumer(
            self.store, self.kafka, self.award_settling, self.dead_letters
        )

    def consume(self, *events: dict[str, Any]) -> None:
        asyncio.run(self.consumer.handle([consumed(e) for e in events]))

    def sign(self, partner_id: str, tier: str = "gold") -> None:
        self.consume(signed(partner_id, tier))


@pytest.fixture
def enablement() -> Iterator[Enablement]:
    service = Enablement()
    yield service
    service.client.close()


# --------------------------------------------------------------------------- helpers


def signed(partner_id: str, tier: str = "gold") -> dict[str, Any]:
    """PartnerSigned for a contract running from a month ago for a year."""
    contract = {
        **CONTRACT,
        "contract_id": f"C-{partner_id}",
        "tier": tier,
        "start_date": (TODAY - timedelta(days=30)).isoformat(),
        "end_date": (TODAY + timedelta(days=335)).isoformat(),
    }
    return envelope("PartnerSigned", {"partner_id": partner_id, **PROFILE, "contract": contract})


def terminated(partner_id: str, reason: str) -> dict[str, Any]:
    return envelope(
        "PartnerTerminated",
        {
            "partner_id": partner_id,
            "effective_date": (TODAY - timedelta(days=1)).isoformat(),
            "reason": reason,
        },
    )


def completed(
    partner_id: str, learner_id: str, course_id: str, days_ago: float, score: int = 90
) -> dict[str, Any]:
    return {
        "partner_id": partner_id,
        "learner_id": learner_id,
        "course_id": course_id,
        "completed_at": (NOW - timedelta(days=days_ago)).isoformat(),
        "score": score,
    }


def lms(data: dict[str, Any]) -> dict[str, Any]:
    """TrainingCompleted as an external LMS sends it."""
    return envelope("TrainingCompleted", data, source="/lms/acme")


def ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


def field_errors(answer: Any) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]]


def define_courses(enablement: Enablement, *courses: tuple[str, int]) -> None:
    for course_id, passing in courses:
        body = {"course_id": course_id, "title": course_id, "product_line": "cloud"}
        ok(enablement.post("/courses", {**body, "passing_score": passing}), 201)


def define_certification(
    enablement: Enablement, certification_id: str, courses: list[str], days: int = 30
) -> None:
    body = {
        "certification_id": certification_id,
        "product_line": "cloud",
        "required_courses": courses,
        "validity_days": days,
    }
    ok(enablement.post("/certifications", body), 201)


# --------------------------------------------------------------------------- the catalogue


def test_a_course_is_defined_once_and_never_changed(enablement: Enablement) -> None:
    body = {"course_id": "C-1", "title": "Cloud basics", "product_line": "cloud"}
    created = ok(enablement.post("/courses", body), 201)
    assert created == {**body, "passing_score": 70}, "the default passing score"
    assert ok(enablement.post("/courses", body)) == created, "the same again changes nothing"
    conflicting = enablement.post("/courses", {**body, "title": "Other"})
    assert conflicting.status_code == 409
    assert conflicting.json() == {"detail": "course C-1 is already defined differently"}
    refused = enablement.post("/courses", {**body, "course_id": "C-2", "passing_score": 101})
    assert field_errors(refused) == ["body.passing_score"]
    other_line = {"course_id": "C-0", "title": "Security", "product_line": "security"}
    ok(enablement.post("/courses", other_line), 201)
    assert ok(enablement.get("/courses", product_line="cloud")) == {"courses": [created]}


def test_a_certification_needs_courses_already_defined(enablement: Enablement) -> None:
    define_courses(enablement, ("C-1", 70))
    body = {
        "certification_id": "CERT-1",
        "product_line": "cloud",
        "required_courses": ["C-1", "NOPE"],
        "validity_days": 365,
    }
    unknown = enablement.post("/certifications", body)
    assert field_errors(unknown) == ["body.required_courses"]
    assert "NOPE" in unknown.json()["detail"][0]["msg"]
    body["required_courses"] = ["C-1"]
    assert ok(enablement.post("/certifications", body), 201) == body
    assert ok(enablement.get("/certifications")) == {"certifications": [body]}


# --------------------------------------------------------------------------- learning


def test_completions_award_a_certification_once(enablement: Enablement) -> None:
    enablement.sign("P-1")
    define_courses(enablement, ("A", 70), ("B", 80))
    define_certification(enablement, "CERT-AB", ["A", "B"], days=30)

    first = ok(enablement.post("/completions", completed("P-1", "L1", "A", 5)), 201)
    assert (first["passed"], first["certifications_awarded"]) == (True, [])
    failed = ok(enablement.post("/completions", completed("P-1", "L1", "B", 4, score=75)), 201)
    assert failed["passed"] is False
    passed = ok(enablement.post("/completions", completed("P-1", "L1", "B", 3, score=85)), 201)
    (award,) = passed["certifications_awarded"]
    awarded_at = datetime.fromisoformat(passed["completed_at"])
    assert award == {
        "certification_id": "CERT-AB",
        "product_line": "cloud",
        "awarded_at": awarded_at.isoformat(),
        "expires_at": (awarded_at + timedelta(days=30)).isoformat(),
    }
    again = ok(enablement.post("/completions", completed("P-1", "L1", "B", 3, score=85)), 201)
    assert again["certifications_awarded"] == [], "recorded already: nothing new"

    assert enablement.kafka.types("P-1") == ["TrainingCompleted"] * 3 + ["CertificationAwarded"]
    trainings = enablement.kafka.of_type("TrainingCompleted")
    assert [e["id"] for e in trainings] == [
        first["event_id"],
        failed["event_id"],
        passed["event_id"],
    ]
    assert {e["source"] for e in enablement.kafka.published} == {"/partnerhub/enablement"}
    learner = ok(enablement.get("/partners/P-1/learners/L1"))
    assert [c["score"] for c in learner["completions"]] == [90, 75, 85]
    assert learner["certifications"] == [{"learner_id": "L1", **award}]
    held = ok(enablement.get("/partners/P-1/certifications"))["certifications"]
    assert held == [{"learner_id": "L1", **award, "valid": True}]
    assert enablement.kafka.pending() == 0


async def test_a_certification_defined_later_is_awarded_to_learners_who_qualify() -> None:
    store = InMemoryStore()
    kafka = publisher_of(store)
    award_settling = AwardSettling(store, kafka)
    commands = EnablementCommands(store, kafka, award_settling, MdfBudget())
    await EnablementConsumer(store, kafka, award_settling, DeadLetters()).handle(
        [consumed(signed("P-1"))]
    )
    await commands.define_course(CourseBody(course_id="A", title="A", product_line="x"), None)
    for learner in ("L1", "L2"):
        body = CompletionBody.model_validate(completed("P-1", learner, "A", 2))
        await commands.report_completion(body, None, MANAGER)
    assert not await award_settling.awards_current(), "no pass yet"

    certification = CertificationBody(
        certification_id="CERT-A", product_line="x", required_courses=["A"], validity_days=9
    )
    await commands.define_certification(certification, None)
    assert award_settling.wake.is_set(), "a definition added here wakes the pass"
    assert await award_settling.settle_stale_learners() == 2
    assert await award_settling.settle_stale_learners() == 0
    assert await award_settling.awards_current()
    awards = kafka.of_type("CertificationAwarded")
    assert sorted(e["data"]["learner_id"] for e in awards) == ["L1", "L2"]
    assert all("actor" not in e["data"] for e in awards), "the pass awards by itself"
    kafka.flush()  # the relay, for what the commands handed over
    completions = kafka.of_type("TrainingCompleted")
    assert [e["data"]["actor"] for e in completions] == [MANAGER.model_dump(mode="json")] * 2


# --------------------------------------------------------------------------- the consumer


def test_the_handler_table_covers_what_enablement_consumes() -> None:
    partners = {p for p in PAYLOADS.values() if p.kafka_topic == topics.PARTNERS}
    assert set(HANDLERS) == partners | {TrainingCompleted}


async def test_a_training_completed_from_an_lms_awards_a_certification() -> None:
    store = InMemoryStore()
    kafka = publisher_of(store)
    award_settling = AwardSettling(store, kafka)
    commands = EnablementCommands(store, kafka, award_settling, MdfBudget())
    dead_letters = DeadLetters()
    consumer = EnablementConsumer(store, kafka, award_settling, dead_letters)
    for course in ("A", "B"):
        await commands.define_course(
            CourseBody(course_id=course, title=course, product_line="x"), None
        )
    await commands.define_certification(
        CertificationBody(
            certification_id="CERT-AB",
            product_line="x",
            required_courses=["A", "B"],
            validity_days=30,
        ),
        None,
    )
    first, second = completed("P-1", "L1", "A", 3), completed("P-1", "L1", "B", 2)
    # Each sent twice, once under a new id; an event of a type enablement does not handle.
    batch = [lms(first), lms(second), lms(second), lms(first), envelope("MdfRequested")]
    random.Random(7).shuffle(batch)
    await consumer.handle([consumed(e) for e in batch])
    await consumer.handle([consumed(lms(second))])

    (award,) = kafka.of_type("CertificationAwarded")
    assert award["data"]["awarded_at"].startswith(second["completed_at"][:19])
    assert kafka.of_type("TrainingCompleted") == [], "an LMS's completions are not published again"
    learner = await store.find_learner("P-1", "L1")
    assert learner is not None
    assert len(learner.completions) == 2
    assert dead_letters == []


async def test_an_event_the_rules_cannot_use_is_dead_lettered_and_the_batch_goes_on() -> None:
    store = InMemoryStore()
    kafka = publisher_of(store)
    dead_letters = DeadLetters()
    consumer = EnablementConsumer(store, kafka, AwardSettling(store, kafka), dead_letters)
    blank = lms({**completed("P-1", " ", "A", 1)})
    good = lms(completed("P-1", "L1", "A", 1))
    await consumer.handle([consumed(blank), consumed(good)])
    assert dead_letters == [("TrainingCompleted", "data: learner_id must not be empty")]
    assert await store.find_learner("P-1", "L1") is not None


async def test_partner_events_in_any_order_give_the_same_standing() -> None:
    events = [signed("P-1"), terminated("P-1", "breach of contract"), envelope("PartnerApproved")]
    events[2]["data"]["partner_id"] = events[2]["subject"] = "P-1"
    standings = []
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2, 1]):
        store = InMemoryStore()
        kafka = publisher_of(store)
        consumer = EnablementConsumer(store, kafka, AwardSettling(store, kafka), DeadLetters())
        for i in order:
            await consumer.handle([consumed(events[i])])
        standings.append(await store.standing("P-1"))
    assert standings[0] == standings[1] == standings[2]
    assert standings[0] is not None
    assert standings[0].termination is not None
    assert standings[0].termination.reason == "breach of contract"


async def test_a_consumer_write_that_loses_is_redone() -> None:
    store = InMemoryStore()
    kafka = publisher_of(store)
    consumer = EnablementConsumer(store, kafka, AwardSettling(store, kafka), DeadLetters())
    store.lose_writes = 2
    await consumer.handle([consumed(signed("P-1")), consumed(lms(completed("P-1", "L1", "A", 1)))])
    assert await store.standing("P-1") is not None
    assert await store.find_learner("P-1", "L1") is not None
    store.lose_writes = 1_000
    with pytest.raises(KeptLosing, match="learners"):
        await consumer.handle([consumed(lms(completed("P-1", "L2", "A", 1)))])


# --------------------------------------------------------------------------- partners


def test_unknown_partners_are_404_and_terminated_ones_409_with_the_reason(
    enablement: Enablement,
) -> None:
    define_courses(enablement, ("A", 70))
    enablement.consume(signed("P-gone"), terminated("P-gone", "breach of contract"))

    def commands(partner_id: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            ("/completions", completed(partner_id, "L1", "A", 1)),
            ("/feedback", {"partner_id": partner_id, "rating": 4, "topic": "t", "text": ""}),
            (
                "/mdf-requests",
                {"partner_id": partner_id, "campaign": "c", "amount": "10.00", "currency": "USD"},
            ),
        ]

    for path, body in commands("P-unknown"):
        answer = enablement.post(path, body)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json() == {"detail": "partner P-unknown is not known"}
    for path, body in commands("P-gone"):
        answer = enablement.post(path, body)
        assert answer.status_code == 409, (path, answer.text)
        assert "terminated" in answer.json()["detail"]
        assert "breach of contract" in answer.json()["detail"]
    assert enablement.get("/partners/P-unknown/standing").status_code == 404
    standing = ok(enablement.get("/partners/P-gone/standing"))
    assert (standing["status"], standing["tier"]) == ("terminated", "gold")
    assert enablement.get("/partners/P-gone/learners/L9").status_code == 404
    assert enablement.kafka.published == []


def test_a_completion_needs_a_known_course_and_a_past_date(enablement: Enablement) -> None:
    enablement.sign("P-1")
    define_courses(enablement, ("A", 70))
    cases = {
        "body.course_id": completed("P-1", "L1", "UNKNOWN", 1),
        "body.completed_at": completed("P-1", "L1", "A", -2),
        "body.score": completed("P-1", "L1", "A", 1, score=101),
    }
    for location, body in cases.items():
        assert field_errors(enablement.post("/completions", body)) == [location]


# --------------------------------------------------------------------------- materials


def test_materials_are_listed_by_tier(enablement: Enablement) -> None:
    enablement.sign("P-gold", "gold")
    enablement.sign(KEYED_PARTNER, "silver")

    def add(title: str, tiers: list[str] | None) -> str:
        body: dict[str, Any] = {"title": title, "product_line": "sec", "kind": "deck", "url": "u"}
        if tiers is not None:
            body["tiers"] = tiers
        return str(ok(enablement.post("/materials", body), 201)["material_id"])

    everyone = add("A overview", None)
    premium = add("B premium playbook", ["gold", "platinum"])
    silver = add("C silver starter", ["silver"])

    def ids(key: str = ADMIN_KEY, **params: str) -> list[str]:
        answer = ok(enablement.get("/materials", key=key, product_line="sec", **params))
        return [m["material_id"] for m in answer["materials"]]

    assert ids() == [everyone, premium, silver]
    assert ids(tier="gold") == [everyone, premium]
    assert ids(partner_id="P-gold") == [everyone, premium]
    assert ids(key=PARTNER_KEY) == [everyone, silver], "a partner key sees its own tier's"
    assert enablement.get("/materials", key=PARTNER_KEY, partner_id="P-gold").status_code == 403
    assert enablement.get("/materials", key=PARTNER_KEY, tier="gold").status_code == 403
    mismatch = enablement.get("/materials", partner_id="P-gold", tier="silver")
    assert field_errors(mismatch) == ["query.tier"]
    assert mismatch.json()["detail"][0]["msg"] == "partner P-gold is gold, not silver"
    listed = ok(enablement.get("/materials", key=PARTNER_KEY))
    assert (listed["partner_id"], listed["tier"], listed["product_line"]) == (
        KEYED_PARTNER,
        "silver",
        None,
    )


# --------------------------------------------------------------------------- feedback


def test_feedback_is_recorded_and_published(enablement: Enablement) -> None:
    enablement.sign("P-1")
    for rating in (0, 6):
        answer = enablement.post("/feedback", {"partner_id": "P-1", "rating": rating, "topic": "t"})
        assert field_errors(answer) == ["body.rating"]
    body = {"partner_id": "P-1", "rating": 4, "topic": "training", "text": "Good labs."}
    given = ok(enablement.post("/feedback", body), 201)
    assert {k: given[k] for k in body} == body
    (event,) = enablement.kafka.published
    assert (event["id"], event["type"], event["subject"]) == (
        given["event_id"],
        "PartnerFeedbackSubmitted",
        "P-1",
    )
    assert event["data"] == {
        **body,
        "feedback_id": given["feedback_id"],
        "submitted_at": event["data"]["submitted_at"],
        "actor": {"kind": "key", "id": access.key_id(ADMIN_KEY)},
    }
    listed = ok(enablement.get("/feedback", partner_id="P-1"))
    assert listed == {
        "partner_id": "P-1",
        "feedback": [{k: v for k, v in given.items() if k not in ("partner_id", "event_id")}],
    }


def test_feedback_names_the_product_line_it_is_about(enablement: Enablement) -> None:
    enablement.sign("P-1")
    body = {"partner_id": "P-1", "rating": 2, "topic": "product", "product_line": " cloud "}
    given = ok(enablement.post("/feedback", body), 201)
    assert given["product_line"] == "cloud", "trimmed"
    plain = ok(enablement.post("/feedback", {**body, "product_line": None}), 201)
    assert plain["product_line"] is None
    named, unnamed = enablement.kafka.of_type("PartnerFeedbackSubmitted")
    assert named["data"]["product_line"] == "cloud"
    assert "product_line" not in unnamed["data"]
    listed = ok(enablement.get("/feedback", partner_id="P-1"))["feedback"]
    assert sorted((f["feedback_id"], f["product_line"]) for f in listed) == sorted(
        [(given["feedback_id"], "cloud"), (plain["feedback_id"], None)]
    )
    for blank in ("", "   ", "x" * 201):
        refused = enablement.post("/feedback", {**body, "product_line": blank})
        assert field_errors(refused) == ["body.product_line"]


class SettableClock:
    """The service's clock, set by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def signed_for_long(partner_id: str) -> dict[str, Any]:
    """PartnerSigned for a contract in force from 2020 to 2099."""
    contract = {**CONTRACT, "contract_id": f"C-{partner_id}", "tier": "gold"}
    contract.update(start_date="2020-01-01", end_date="2099-12-31")
    return envelope("PartnerSigned", {"partner_id": partner_id, **PROFILE, "contract": contract})


TOKYO = timezone(timedelta(hours=9))
#: (when, partner, rating, product line, comment) of the product teams' tests.
PRODUCT_FEEDBACK = [
    # 2026-09-30T23:59:59Z: the third quarter in UTC, whatever the offset says
    (datetime(2026, 10, 1, 8, 59, 59, tzinfo=TOKYO), "P-1", 1, "cloud", "Old manual"),
    (datetime(2026, 10, 1, tzinfo=UTC), "P-1", 2, "cloud", "Slow portal, slow search"),
    (datetime(2026, 11, 5, 9, 30, tzinfo=UTC), "P-2", 5, "cloud", "The portal is fast now"),
    (datetime(2026, 11, 6, tzinfo=UTC), "P-2", 4, "cloud", "サポートが遅い。マニュアルも古い！"),
    (datetime(2026, 12, 1, tzinfo=UTC), "P-1", 3, "security", "=SUM(A1) please"),
    (datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "P-2", 5, None, "Great support"),
    (datetime(2027, 1, 1, tzinfo=UTC), "P-1", 1, "cloud", "Next year"),
]


@pytest.fixture
def product_feedback() -> Iterator[Enablement]:
    """Enablement with :data:`PRODUCT_FEEDBACK` recorded, each at its instant."""
    clock = SettableClock(datetime(2026, 1, 1, tzinfo=UTC))
    service = Enablement(clock=clock)
    service.consume(signed_for_long("P-1"), signed_for_long("P-2"))
    for at, partner_id, rating, line, text in PRODUCT_FEEDBACK:
        clock.at = at
        body = {"partner_id": partner_id, "rating": rating, "topic": "product", "text": text}
        ok(service.post("/feedback", {**body, "product_line": line}), 201)
    yield service
    service.client.close()


def test_the_product_teams_summary_of_a_quarter(product_feedback: Enablement) -> None:
    summary = ok(product_feedback.get("/feedback/summary", period="2026-Q4"))
    assert summary == {
        "period": "2026-Q4",
        "since": "2026-10-01T00:00:00+00:00",
        "until": "2027-01-01T00:00:00+00:00",
        "product_line": None,
        "count": 5,
        "product_lines": [
            {
                "product_line": "cloud",
                "count": 3,
                "average_rating": "3.67",
                "ratings": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1},
                "top_words": [
                    {"word": "portal", "count": 2},
                    {"word": "fast", "count": 1},
                    {"word": "search", "count": 1},
                    {"word": "slow", "count": 1},
                    {"word": "サポート", "count": 1},
                    {"word": "マニュアル", "count": 1},
                    {"word": "古", "count": 1},
                    {"word": "遅", "count": 1},
                ],
            },
            {
                "product_line": "security",
                "count": 1,
                "average_rating": "3.00",
                "ratings": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0},
                "top_words": [{"word": "a1", "count": 1}, {"word": "sum", "count": 1}],
            },
            {
                "product_line": None,
                "count": 1,
                "average_rating": "5.00",
                "ratings": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
                "top_words": [{"word": "great", "count": 1}, {"word": "support", "count": 1}],
            },
        ],
    }


def test_the_summary_by_period_product_line_and_all_time(product_feedback: Enablement) -> None:
    def counts(**params: Any) -> list[tuple[str | None, int]]:
        found = ok(product_feedback.get("/feedback/summary", **params))["product_lines"]
        return [(line["product_line"], line["count"]) for line in found]

    everything = ok(product_feedback.get("/feedback/summary"))
    assert (everything["period"], everything["since"], everything["until"]) == (None, None, None)
    assert everything["count"] == len(PRODUCT_FEEDBACK)
    assert counts() == [("cloud", 5), ("security", 1), (None, 1)]
    assert counts(period="2026-Q3") == [("cloud", 1)]
    assert counts(period="2026-11") == [("cloud", 2)]
    assert counts(period="2026") == [("cloud", 4), ("security", 1), (None, 1)]
    assert counts(period="2027-01") == [("cloud", 1)]
    assert counts(period="2025") == []
    assert counts(product_line="cloud", period="2026") == [("cloud", 4)]
    (none,) = ok(product_feedback.get("/feedback/summary", product_line="storage"))["product_lines"]
    assert none == {
        "product_line": "storage",
        "count": 0,
        "average_rating": None,
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "top_words": [],
    }
    limited = ok(product_feedback.get("/feedback/summary", product_line="cloud", words=1))
    assert limited["product_lines"][0]["top_words"] == [{"word": "portal", "count": 2}]
    for bad in ({"period": "2026-Q5"}, {"period": "Q4"}, {"product_line": ""}, {"words": 0}):
        refused = product_feedback.get("/feedback/summary", **bad)
        assert field_errors(refused) == [f"query.{next(iter(bad))}"], bad


def test_the_product_teams_export(product_feedback: Enablement) -> None:
    answer = product_feedback.get("/feedback/export.csv", period="2026-Q4")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="feedback-2026-Q4.csv"'
    lines = answer.text.split("\r\n")
    assert lines[0] == "feedback_id,partner_id,product_line,topic,rating,submitted_at,text"
    assert lines[-1] == "", "every line ends with CRLF"
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [(r["partner_id"], r["product_line"], r["rating"], r["text"]) for r in rows] == [
        ("P-1", "cloud", "2", "Slow portal, slow search"),
        ("P-2", "cloud", "5", "The portal is fast now"),
        ("P-2", "cloud", "4", "サポートが遅い。マニュアルも古い！"),
        ("P-1", "security", "3", "'=SUM(A1) please"),
        ("P-2", "", "5", "Great support"),
    ]
    assert rows[0]["submitted_at"] == "2026-10-01T00:00:00+00:00"
    assert all(r["topic"] == "product" and r["feedback_id"] for r in rows)

    cloud = product_feedback.get("/feedback/export.csv", product_line="cloud")
    assert cloud.headers["content-disposition"] == 'attachment; filename="feedback-cloud.csv"'
    assert len(list(csv.DictReader(io.StringIO(cloud.text, newline="")))) == 5
    odd = product_feedback.get("/feedback/export.csv", product_line='ク"ラウド')
    assert odd.headers["content-disposition"] == 'attachment; filename="feedback-_.csv"'
    assert odd.text == lines[0] + "\r\n", "only the header: no such product line"


@pytest.mark.parametrize("path", ["/feedback/summary", "/feedback/export.csv"])
def test_the_product_teams_reads_are_for_staff(product_feedback: Enablement, path: str) -> None:
    assert product_feedback.get(path, key=PARTNER_KEY).status_code == 403
    assert product_feedback.get(path, key="no-such-key").status_code == 401
    assert product_feedback.get(path).status_code == 200


def test_a_partner_names_the_product_line_of_its_own_feedback(enablement: Enablement) -> None:
    enablement.sign(KEYED_PARTNER, "silver")
    body = {"rating": 3, "topic": "product", "product_line": "cloud", "text": "ok"}
    given = ok(enablement.post("/feedback", body, key=PARTNER_KEY), 201)
    assert (given["partner_id"], given["product_line"]) == (KEYED_PARTNER, "cloud")
    (line,) = ok(enablement.get("/feedback/summary"))["product_lines"]
    assert (line["product_line"], line["count"]) == ("cloud", 1)


def test_a_command_answers_while_kafka_is_down_and_the_relay_publishes_later(
    enablement: Enablement,
) -> None:
    enablement.sign("P-1")
    enablement.kafka.down = True
    body = {"partner_id": "P-1", "rating": 5, "topic": "support", "text": ""}
    given = ok(enablement.post("/feedback", body), 201)
    assert enablement.kafka.published == []
    assert enablement.kafka.pending() == 1, "waiting in the feedback's outbox"
    enablement.kafka.down = False
    assert enablement.kafka.flush() == 1
    assert [e["id"] for e in enablement.kafka.published] == [given["event_id"]]
    assert enablement.kafka.pending() == 0


# --------------------------------------------------------------------------- MDF


def test_mdf_within_budget_is_approved_and_beyond_it_rejected(enablement: Enablement) -> None:
    enablement.sign("P-1", "gold")  # 1000 USD a quarter here

    def ask(amount: str, currency: str = "USD") -> dict[str, Any]:
        body = {"partner_id": "P-1", "campaign": "Roadshow", "amount": amount, "currency": currency}
        return ok(enablement.post("/mdf-requests", body), 201)

    first = ask("600.00")
    assert (first["status"], first["amount"], first["decided_at"]) == ("requested", "600.00", None)
    approved = ok(enablement.post(f"/mdf-requests/{first['request_id']}/approve"))
    assert approved["status"] == "approved"
    again = enablement.post(f"/mdf-requests/{first['request_id']}/approve")
    assert again.status_code == 409
    assert "already approved" in again.json()["detail"]
    over = ask("500.00")
    assert over["status"] == "rejected"
    assert over["reason"].startswith("over_budget")
    assert "has 400.00 USD left" in over["reason"]
    second, third = ask("300.00"), ask("300.00")
    ok(enablement.post(f"/mdf-requests/{second['request_id']}/approve"))
    late = ok(enablement.post(f"/mdf-requests/{third['request_id']}/approve"))
    assert late["status"] == "rejected", "the budget was used up in between"
    euros = ask("10.00", "EUR")
    assert euros["reason"].startswith("currency_mismatch")
    fourth = ask("50.00")
    rejected = ok(enablement.post(f"/mdf-requests/{fourth['request_id']}/reject", {"reason": "no"}))
    assert (rejected["status"], rejected["reason"]) == ("rejected", "no")

    listing = ok(enablement.get("/mdf-requests", partner_id="P-1"))
    assert len(listing["requests"]) == 6
    assert listing["budget"] == {
        "quarter": quarter_of(NOW),
        "currency": "USD",
        "tier": "gold",
        "budget": "1000",
        "approved": "900.00",
        "released": "0.00",
        "remaining": "100.00",
    }
    by_status = ok(enablement.get("/mdf-requests", status="approved"))
    assert "budget" not in by_status, "a budget only with a partner"
    assert (by_status["partner_id"], by_status["status"]) == (None, "approved")
    assert [r["request_id"] for r in by_status["requests"]] == [
        first["request_id"],
        second["request_id"],
    ]
    assert ok(enablement.get(f"/mdf-requests/{first['request_id']}")) == {
        **approved,
        "claims": [],
        "claimed": "0",
        "claims_approved": "0",
        "claimable": "600.00",
        "claims_close": (quarter_last_day(quarter_of(NOW)) + timedelta(days=60)).isoformat(),
        "released": "0.00",
    }, "the request, with no claims yet"
    assert field_errors(enablement.get("/mdf-requests")) == ["query.partner_id"]
    assert enablement.get("/mdf-requests/R-none").status_code == 404
    assert enablement.post("/mdf-requests/R-none/approve").status_code == 404
    types = enablement.kafka.types("P-1")
    assert (
        types.count("MdfRequested"),
        types.count("MdfApproved"),
        types.count("MdfRejected"),
    ) == (
        6,
        2,
        4,
    )


async def test_an_approval_that_loses_a_race_decides_again_on_the_budget_left() -> None:
    store = InMemoryStore()
    kafka = publisher_of(store)
    award_settling = AwardSettling(store, kafka)
    commands = EnablementCommands(
        store, kafka, award_settling, MdfBudget("USD", {Tier.GOLD: Decimal(1000)})
    )
    await EnablementConsumer(store, kafka, award_settling, DeadLetters()).handle(
        [consumed(signed("P-1"))]
    )
    body = MdfRequestBody.model_validate(
        {"partner_id": "P-1", "campaign": "c", "amount": "600", "currency": "USD"}
    )
    mine = await commands.request_mdf(body, None, partner_id="P-1", actor=MANAGER)
    theirs = await commands.request_mdf(body, None, partner_id="P-1", actor=MANAGER)
    # Another writer approves the other request just before this approval is written.
    store.before_next_write = lambda: commands.approve_mdf(theirs.body["request_id"], None, MANAGER)
    decided = await commands.approve_mdf(mine.body["request_id"], None, MANAGER)
    assert decided.body["status"] == "rejected"
    assert decided.body["reason"].startswith("over_budget")
    kafka.flush()
    decisions = [e["type"] for e in kafka.published if e["type"] != "MdfRequested"]
    assert decisions == ["MdfApproved", "MdfRejected"]


def test_money_in_a_request_is_a_string_and_positive() -> None:
    body = MdfRequestBody.model_validate(
        {"partner_id": "P-1", "campaign": "c", "amount": "12.50", "currency": "EUR"}
    )
    assert body.amount == Decimal("12.50")
    for amount in (12.5, "-1", "0", 5):
        with pytest.raises(ValueError, match="amount"):
            MdfRequestBody.model_validate(
                {"partner_id": "P-1", "campaign": "c", "amount": amount, "currency": "EUR"}
            )


# --------------------------------------------------------------------------- idempotency


def test_a_retried_command_returns_the_first_answer_and_publishes_nothing_new(
    enablement: Enablement,
) -> None:
    enablement.sign("P-1")
    define_courses(enablement, ("A", 70))
    commands = [
        ("/courses", {"course_id": "B", "title": "t", "product_line": "x"}),
        ("/materials", {"title": "Deck", "product_line": "x", "kind": "deck", "url": "u"}),
        ("/feedback", {"partner_id": "P-1", "rating": 5, "topic": "support", "text": "ok"}),
        ("/completions", completed("P-1", "L1", "A", 1)),
        (
            "/mdf-requests",
            {"partner_id": "P-1", "campaign": "W", "amount": "100", "currency": "USD"},
        ),
    ]
    for path, body in commands:
        key = f"{path}-1"
        first = enablement.post(path, body, idempotency=key)
        assert first.status_code == 201, first.text
        assert "idempotent-replayed" not in first.headers
        published = len(enablement.kafka.published)
        second = enablement.post(path, body, idempotency=key)
        assert (second.status_code, second.json()) == (201, first.json())
        assert second.headers["idempotent-replayed"] == "true"
        assert len(enablement.kafka.published) == published, path
        changed = {**body, "title" if path in ("/courses", "/materials") else "partner_id": "x"}
        reused = enablement.post(path, changed, idempotency=key)
        assert field_errors(reused) == ["header.Idempotency-Key"], path

    request_id = ok(enablement.get("/mdf-requests", partner_id="P-1"))["requests"][0]["request_id"]
    approved = enablement.post(f"/mdf-requests/{request_id}/approve", idempotency="approve-1")
    replayed = enablement.post(f"/mdf-requests/{request_id}/approve", idempotency="approve-1")
    assert approved.status_code == replayed.status_code == 200
    assert approved.json() == replayed.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    assert sorted(enablement.kafka.types("P-1")) == [
        "MdfApproved",
        "MdfRequested",
        "PartnerFeedbackSubmitted",
        "TrainingCompleted",
    ], "one event per command however often sent"


async def test_a_command_write_that_loses_is_decided_again() -> None:
    store = InMemoryStore()
    kafka = publisher_of(store)
    commands = EnablementCommands(store, kafka, AwardSettling(store, kafka), MdfBudget())
    key = CommandKey.of("k-1", "/courses", {"course_id": "A", "title": "A", "product_line": "x"})
    body = CourseBody(course_id="A", title="A", product_line="x")
    store.lose_writes = 3
    assert (await commands.define_course(body, key)).status == 201
    replayed = await commands.define_course(body, key)
    assert (replayed.status, replayed.replayed) == (201, True)
    store.lose_writes = 1_000
    with pytest.raises(KeptLosing, match="catalogue"):
        await commands.define_course(CourseBody(course_id="B", title="B", product_line="x"), None)


# --------------------------------------------------------------------------- the API's documents


def test_every_route_documents_its_answer(enablement: Enablement) -> None:
    paths = enablement.client.get("/openapi.json").json()["paths"]
    documented = {
        ("/courses", "post", "201"): "CourseView",
        ("/courses", "get", "200"): "CoursesView",
        ("/certifications", "post", "201"): "CertificationView",
        ("/certifications", "get", "200"): "CertificationsView",
        ("/completions", "post", "201"): "CompletionAnswer",
        ("/partners/{partner_id}/learners", "get", "200"): "LearnersView",
        ("/partners/{partner_id}/learners/{learner_id}", "get", "200"): "LearnerView",
        ("/partners/{partner_id}/certifications", "get", "200"): "PartnerCertificationsView",
        ("/partners/{partner_id}/standing", "get", "200"): "StandingView",
        ("/materials", "post", "201"): "MaterialView",
        ("/materials", "get", "200"): "MaterialsView",
        ("/feedback", "post", "201"): "FeedbackAnswer",
        ("/feedback", "get", "200"): "FeedbackListView",
        ("/mdf-requests", "post", "201"): "MdfRequestView",
        ("/mdf-requests", "get", "200"): "MdfRequestsView",
        ("/mdf-requests/{request_id}", "get", "200"): "MdfRequestDetailView",
        ("/mdf-requests/{request_id}/approve", "post", "200"): "MdfRequestView",
        ("/mdf-requests/{request_id}/reject", "post", "200"): "MdfRequestView",
        ("/mdf-requests/{request_id}/claims", "post", "201"): "MdfClaimView",
        ("/mdf-requests/{request_id}/claims/{claim_id}/approve", "post", "200"): "MdfClaimView",
        ("/mdf-requests/{request_id}/claims/{claim_id}/reject", "post", "200"): "MdfClaimView",
        ("/mdf-claims", "get", "200"): "MdfClaimsView",
        ("/mdf-releases", "post", "200"): "MdfReleasesView",
    }
    for (path, method, status), model in documented.items():
        content = paths[path][method]["responses"][status]["content"]["application/json"]
        assert content["schema"]["$ref"].endswith(f"/{model}"), (path, method)
    assert "Idempotency-Key" in json.dumps(paths["/mdf-requests"]["post"]["parameters"])


def test_a_partner_key_reads_only_its_own_partner(enablement: Enablement) -> None:
    enablement.sign(KEYED_PARTNER, "silver")
    body = {"partner_id": "P-other", "rating": 5, "topic": "t", "text": ""}
    assert enablement.post("/feedback", body, key=PARTNER_KEY).status_code == 403
    assert enablement.get("/courses", key=PARTNER_KEY).status_code == 403
    for path, params in (
        ("/feedback", {"partner_id": "P-other"}),
        ("/mdf-requests", {"partner_id": "P-other"}),
        ("/partners/P-other/certifications", {}),
        ("/partners/P-other/standing", {}),
    ):
        assert enablement.get(path, key=PARTNER_KEY, **params).status_code == 403, path
    request = {"partner_id": KEYED_PARTNER, "campaign": "c", "amount": "10", "currency": "USD"}
    made = ok(enablement.post("/mdf-requests", request), 201)
    own = ok(enablement.get("/mdf-requests", key=PARTNER_KEY))
    assert [r["request_id"] for r in own["requests"]] == [made["request_id"]]
    assert own["budget"]["tier"] == "silver"
    read = ok(enablement.get(f"/mdf-requests/{made['request_id']}", key=PARTNER_KEY))
    assert {k: read[k] for k in made} == made
    assert (read["claims"], read["claimable"]) == ([], "0"), "not approved: nothing to claim"


# --------------------------------------------------------------------------- self-service

#: The self-service commands, each with a body a partner sends for itself.
SELF_SERVICE = [
    ("/feedback", {"rating": 4, "topic": "labs", "text": "More of them."}),
    ("/mdf-requests", {"campaign": "Launch", "amount": "100.00", "currency": "USD"}),
]
KEY_ACTOR = {"kind": "key", "id": access.key_id(PARTNER_KEY)}


@pytest.mark.parametrize(("path", "body"), SELF_SERVICE)
def test_a_partner_sends_a_self_service_command_for_itself(
    enablement: Enablement, path: str, body: dict[str, Any]
) -> None:
    enablement.sign(KEYED_PARTNER)
    given = ok(enablement.post(path, body, key=PARTNER_KEY), 201)
    assert given["partner_id"] == KEYED_PARTNER
    named = ok(enablement.post(path, {**body, "partner_id": KEYED_PARTNER}, key=PARTNER_KEY), 201)
    assert named["partner_id"] == KEYED_PARTNER, "naming itself is fine"
    published = enablement.kafka.published
    assert [(e["subject"], e["data"]["partner_id"]) for e in published] == [
        (KEYED_PARTNER,) * 2
    ] * 2
    assert [e["data"]["actor"] for e in published] == [KEY_ACTOR] * 2
    staff = ok(enablement.post(path, {**body, "partner_id": KEYED_PARTNER}), 201)
    assert staff["partner_id"] == KEYED_PARTNER
    assert enablement.kafka.published[-1]["data"]["actor"] == {
        "kind": "key",
        "id": access.key_id(ADMIN_KEY),
    }


@pytest.mark.parametrize(("path", "body"), SELF_SERVICE)
def test_a_partner_acting_for_another_is_refused_and_nothing_is_published(
    enablement: Enablement, path: str, body: dict[str, Any]
) -> None:
    enablement.sign(KEYED_PARTNER)
    enablement.sign("P-other")
    refused = enablement.post(path, {**body, "partner_id": "P-other"}, key=PARTNER_KEY)
    assert refused.status_code == 403
    assert "a partner may act only for itself" in refused.json()["detail"]
    assert "body.partner_id" in refused.json()["detail"]
    missing = enablement.post(path, body)
    assert field_errors(missing) == ["body.partner_id"], "staff name the partner"
    assert enablement.kafka.published == []
    assert enablement.kafka.pending() == 0
    assert ok(enablement.get("/feedback", partner_id="P-other"))["feedback"] == []
    assert ok(enablement.get("/mdf-requests", partner_id="P-other"))["requests"] == []


@pytest.mark.parametrize(("path", "body"), SELF_SERVICE)
def test_a_partners_retried_command_answers_once_and_its_key_is_its_own(
    enablement: Enablement, path: str, body: dict[str, Any]
) -> None:
    enablement.sign(KEYED_PARTNER)
    enablement.sign("P-other")
    first = enablement.post(path, body, key=PARTNER_KEY, idempotency="retry-1")
    again = enablement.post(path, body, key=PARTNER_KEY, idempotency="retry-1")
    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert len(enablement.kafka.published) == 1
    theirs = enablement.post(path, body, key=OTHER_PARTNER_KEY, idempotency="retry-1")
    assert theirs.status_code == 201, "another partner's same key is another command"
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["partner_id"] == "P-other"
    assert [e["subject"] for e in enablement.kafka.published] == [KEYED_PARTNER, "P-other"]


def test_mdf_decisions_stay_with_staff_and_name_who_decided(enablement: Enablement) -> None:
    enablement.sign(KEYED_PARTNER)
    body = {"campaign": "Launch", "amount": "100.00", "currency": "USD"}
    first, second = (ok(enablement.post("/mdf-requests", body, key=PARTNER_KEY), 201) for _ in "12")
    for request in (first, second):
        for decision in ("approve", "reject"):
            path = f"/mdf-requests/{request['request_id']}/{decision}"
            assert enablement.post(path, key=PARTNER_KEY).status_code == 403
    ok(enablement.post(f"/mdf-requests/{first['request_id']}/approve"))
    ok(enablement.post(f"/mdf-requests/{second['request_id']}/reject", {"reason": "no"}))
    decided = enablement.kafka.of_type("MdfApproved") + enablement.kafka.of_type("MdfRejected")
    admin = {"kind": "key", "id": access.key_id(ADMIN_KEY)}
    assert [e["data"]["actor"] for e in decided] == [admin, admin]
    requested = enablement.kafka.of_type("MdfRequested")
    assert [e["data"]["actor"] for e in requested] == [KEY_ACTOR, KEY_ACTOR]


def test_a_person_signed_in_is_the_actor_of_what_they_send(issuer: Issuer) -> None:
    enablement = Enablement(issuer=issuer.url)
    enablement.sign(KEYED_PARTNER)
    pat = issuer.token(partnerhub_role="partner", partner_id=KEYED_PARTNER, sub="pat")
    ok(enablement.post("/feedback", {"rating": 5, "topic": "portal"}, key=pat), 201)
    request = ok(enablement.post("/mdf-requests", SELF_SERVICE[1][1], key=pat), 201)
    maria = issuer.token(partnerhub_role="channel_manager", sub="maria")
    ok(enablement.post(f"/mdf-requests/{request['request_id']}/approve", key=maria))
    assert [(e["type"], e["data"]["actor"]) for e in enablement.kafka.published] == [
        ("PartnerFeedbackSubmitted", {"kind": "person", "id": "pat"}),
        ("MdfRequested", {"kind": "person", "id": "pat"}),
        ("MdfApproved", {"kind": "person", "id": "maria"}),
    ]
    enablement.client.close()
