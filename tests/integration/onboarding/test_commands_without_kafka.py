"""Onboarding's commands with Kafka down: they succeed, their events wait in the outbox."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from services.onboarding.commands import ApplicationBody, OnboardingCommands
from services.onboarding.settings import OnboardingRules
from services.onboarding.store import OnboardingStore
from shared.events import Actor, ActorKind
from shared.messaging import make_broker
from shared.mongo import Document
from shared.outbox import Outbox
from shared.settings import Settings
from tests.support.kafka import by_id
from tests.support.onboarding import application, records_about

ACTOR = Actor(kind=ActorKind.KEY, id="0123456789ab")


async def test_commands_need_no_kafka_and_their_events_go_out_once_it_answers(
    settings: Settings, database: AsyncDatabase[Document]
) -> None:
    """Kafka down at command time: the commands succeed, their events wait in the outbox.

    The command layer is driven directly, over an outbox whose broker is not
    connected and whose relay does not run; the broker connected afterwards
    publishes the backlog, each event once.
    """
    store = OnboardingStore(database)
    await store.create_indexes()
    broker = make_broker(settings)
    outbox = Outbox(broker, "onboarding-test", [store.partners])
    onboarding = OnboardingCommands(store, OnboardingRules(), outbox)
    answers = [
        await onboarding.apply(ApplicationBody(**application(name=f"Offline {n}")), None, ACTOR)
        for n in range(3)
    ]
    approved = await onboarding.approve(answers[0].body["application_id"], None, ACTOR)
    assert [a.status for a in [*answers, approved]] == [201, 201, 201, 200]
    assert answers[0].body["score"] == 77.0, "the default weights of docs/rules/scorecard.md"
    # An application is found through its locator (reads by _id only).
    found = await store.load_by_application(answers[1].body["application_id"])
    assert found is not None
    assert found.partner_id == answers[1].body["partner_id"]
    for unknown in ("A-nope", answers[1].body["partner_id"], "application"):
        assert await store.load_by_application(unknown) is None, unknown

    assert await outbox.backlog() == 4
    assert await outbox.known_backlog() == 4, "handed over to the relay"
    await broker.connect()
    try:
        assert await outbox.publish_pending() == 4
    finally:
        await broker.stop()
    assert await outbox.backlog() == 0

    for answer in answers:
        partner_id = answer.body["partner_id"]
        expected = [answer.body["event_id"]]
        if partner_id == approved.body["partner_id"]:
            expected.append(approved.body["event_id"])
        records = await records_about(settings, partner_id)
        assert list(by_id(records)) == expected
        assert len(records) == len(expected)
