"""Where enablement finds a remembered answer or an MDF request from its key or id alone: a
locator the store keeps for each (read by ``_id``), written before the document it
names, so a write that lost leaves a locator that finds nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pymongo.asynchronous.database import AsyncDatabase

from services.enablement.domain import MdfRequest
from services.enablement.store import EnablementStore, Learner, MdfLedger
from shared.commands import Answer, CommandKey
from shared.mongo import Document

REQUESTED_AT = datetime(2026, 11, 2, tzinfo=UTC)


def key(name: str) -> CommandKey:
    made = CommandKey.of(name, "/commands", {"name": name})
    assert made is not None
    return made


def request(request_id: str, partner_id: str) -> MdfRequest:
    return MdfRequest(
        request_id, partner_id, "Spring launch", Decimal("5000.00"), "USD", REQUESTED_AT
    )


async def test_answers_and_requests_are_found_by_their_key_and_id(
    database: AsyncDatabase[Document],
) -> None:
    store = EnablementStore(database)
    learner_answer, ledger_answer = key("learner"), key("ledger")
    learner = Learner("P-1", "L-1")
    learner_answer.remember(learner.answers, Answer(201, {"learner": 1}))
    assert await store.save_learners([learner]) == set()
    ledger = MdfLedger("P-1", "2026-Q4", requests={"R-1": request("R-1", "P-1")})
    ledger_answer.remember(ledger.answers, Answer(201, {"ledger": 1}))
    assert await store.save_ledger(ledger)

    found = await store.learner_with_answer(learner_answer.digest)
    assert found is not None
    assert found.key == learner.key
    assert learner_answer.find(found.answers) == Answer(201, {"learner": 1}, replayed=True)
    ledger_found = await store.ledger_with_answer(ledger_answer.digest)
    assert ledger_found is not None
    assert ledger_found.key == ledger.key
    by_request = await store.ledger_of_request("R-1")
    assert by_request is not None
    assert set(by_request.requests) == {"R-1"}
    assert await store.learner_with_answer(key("unknown").digest) is None
    assert await store.ledger_with_answer(key("unknown").digest) is None
    assert await store.ledger_of_request("R-unknown") is None


async def test_a_write_that_lost_leaves_a_locator_that_finds_nothing(
    database: AsyncDatabase[Document],
) -> None:
    store = EnablementStore(database)
    assert await store.save_ledger(MdfLedger("P-2", "2026-Q4"))
    stale = await store.load_ledger("P-2", "2026-Q4")
    assert await store.save_ledger(await store.load_ledger("P-2", "2026-Q4")), "another writer"

    lost = key("lost")
    stale.requests["R-lost"] = request("R-lost", "P-2")
    lost.remember(stale.answers, Answer(201, {"lost": 1}))
    assert not await store.save_ledger(stale)

    found = await store.ledger_with_answer(lost.digest)
    assert found is not None, "the locator names the ledger"
    assert lost.find(found.answers) is None, "which does not hold the answer"
    assert await store.ledger_of_request("R-lost") is None
