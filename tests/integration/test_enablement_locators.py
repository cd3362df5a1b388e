"""Where enablement finds a remembered answer or an MDF request: by a locator, read by
``_id``, and for documents written before locators existed, once they are backfilled."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pymongo.asynchronous.database import AsyncDatabase

from services.enablement.domain import MdfRequest
from services.enablement.store import (
    LEARNERS,
    MDF_LEDGERS,
    EnablementStore,
    Learner,
    MdfLedger,
    answer_locator,
    request_locator,
)
from shared.mongo import Document


async def test_answers_and_requests_written_before_locators_are_found_after_the_backfill(
    database: AsyncDatabase[Document],
) -> None:
    store = EnablementStore(database)
    # Written as the release before wrote them: no locators.
    learner = Learner("P-1", "L-1", answers=[{"key": "digest-learner", "status": 201}])
    assert await store.save_learners([learner]) == set()
    request = MdfRequest(
        "R-1", "P-1", "Spring launch", Decimal("5000.00"), "USD", datetime(2026, 11, 2, tzinfo=UTC)
    )
    ledger = MdfLedger(
        "P-1",
        "2026-Q4",
        requests={"R-1": request},
        answers=[{"key": "digest-ledger", "status": 201}],
    )
    assert await store.save_ledger(ledger)

    # Before the backfill, a lookup without a locator queries as before.
    found = await store.learner_with_answer("digest-learner")
    assert found is not None
    assert found.key == learner.key

    assert await store.backfill_locators() == 3
    assert await store.backfill_locators() == 0, "once"
    located = await store.locators.find_one({"_id": answer_locator(LEARNERS, "digest-learner")})
    assert located is not None
    assert located["doc"] == learner.key

    found = await store.learner_with_answer("digest-learner")
    assert found is not None
    assert found.key == learner.key
    ledger_found = await store.ledger_with_answer("digest-ledger")
    assert ledger_found is not None
    assert ledger_found.key == ledger.key
    by_request = await store.ledger_of_request("R-1")
    assert by_request is not None
    assert set(by_request.requests) == {"R-1"}
    assert await store.learner_with_answer("digest-unknown") is None
    assert await store.ledger_of_request("R-unknown") is None

    # A locator whose write lost names a document without the answer: the caller's check
    # of the answers then finds nothing; a request is not returned at all.
    await store.locate({answer_locator(MDF_LEDGERS, "digest-lost"): ledger.key})
    lost = await store.ledger_with_answer("digest-lost")
    assert lost is not None
    assert all(a["key"] != "digest-lost" for a in lost.answers)
    await store.locate({request_locator("R-lost"): ledger.key})
    assert await store.ledger_of_request("R-lost") is None
