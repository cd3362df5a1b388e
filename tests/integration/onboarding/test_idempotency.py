"""A command sent again with its Idempotency-Key: the first answer, one event."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from shared.settings import Settings
from tests.support.http import field_errors, idempotency
from tests.support.kafka import by_id
from tests.support.onboarding import TODAY, application, contract, settled, types_of
from tests.support.processes import ServiceProcess


async def test_a_retried_command_returns_the_first_answer_and_publishes_once(
    settings: Settings, service: ServiceProcess
) -> None:
    key = f"apply-{uuid.uuid4().hex}"
    first = service.post("/applications", application(), **idempotency(key))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    partner_id, application_id = first.json()["partner_id"], first.json()["application_id"]

    # Two more deliveries at once, as a client retrying on a timeout would.
    both = await asyncio.gather(
        *(
            asyncio.to_thread(service.post, "/applications", application(), **idempotency(key))
            for _ in range(2)
        )
    )
    for again in both:
        assert (again.status_code, again.json()) == (201, first.json())
        assert again.headers["idempotent-replayed"] == "true"
    reused = service.post("/applications", application(name="Other"), **idempotency(key))
    assert reused.status_code == 422
    assert field_errors(reused) == ["header.Idempotency-Key"]

    commands: list[tuple[str, Any]] = [
        (f"/applications/{application_id}/approve", None),
        (
            f"/partners/{partner_id}/contracts",
            contract(f"C-{partner_id}", TODAY, TODAY + timedelta(days=365)),
        ),
        (f"/partners/{partner_id}/tier", {"tier": "silver", "effective_date": TODAY.isoformat()}),
    ]
    answers = [first.json()]
    for path, body in commands:
        command_key = idempotency(f"{path}-{uuid.uuid4().hex}")
        once = service.post(path, body, **command_key)
        assert once.status_code in (200, 201), once.text
        twice = service.post(path, body, **command_key)
        assert (twice.status_code, twice.json()) == (once.status_code, once.json())
        assert twice.headers["idempotent-replayed"] == "true"
        answers.append(once.json())
    # Without a key, a repeated approval is a new command, refused by the state machine.
    assert service.post(f"/applications/{application_id}/approve", None).status_code == 409

    records = await settled(settings, partner_id, 4)
    assert len(records) == 4, "no event was published twice"
    assert list(by_id(records)) == [a["event_id"] for a in answers]
    assert types_of(records) == [
        "PartnerApplied",
        "PartnerApproved",
        "PartnerSigned",
        "PartnerTierChanged",
    ]
