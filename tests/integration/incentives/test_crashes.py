"""Incentives processes that crash at each step of a batch, and two replicas sharing the
work: the commissions published are exactly those of one process that never failed."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared.settings import Settings
from tests.support.incentives import (
    assert_revisions_consistent,
    from_now_on,
    incentives,
    wait_for_worked_example,
)
from tests.support.worked_example import WorkedExample, publish


@pytest.mark.parametrize(
    "failpoint",
    ["incentives_after_store", "incentives_after_publish", "incentives_before_commit"],
)
async def test_a_crash_at_any_step_loses_nothing_and_counts_nothing_twice(
    settings: Settings, producer: AIOKafkaProducer, unique: str, tmp_path: Any, failpoint: str
) -> None:
    env = {"PARTNERHUB_FAILPOINTS": failpoint, "PARTNERHUB_FAILPOINT_DIR": str(tmp_path)}
    process = incentives(settings, unique, **env)
    await from_now_on(settings, unique)
    example = WorkedExample(f"P-{unique}", unique)
    await publish(producer, example.messages())
    process.start(wait_ready=False)
    try:
        assert process.process is not None
        exit_code = process.process.wait(90)
        assert exit_code == 137, f"the failpoint did not fire:\n{process.tail()}"
        assert (tmp_path / failpoint).exists()
        process.start()
        records = await wait_for_worked_example(settings, example)
        assert_revisions_consistent(records, example)
    finally:
        process.stop()


async def test_two_replicas_give_exactly_the_results_of_one(
    settings: Settings, producer: AIOKafkaProducer, unique: str
) -> None:
    await from_now_on(settings, unique)
    first = incentives(settings, unique).start()
    second = incentives(settings, unique).start()
    try:
        examples = [WorkedExample(f"P-{n}-{unique}", f"{n}-{unique}") for n in range(8)]
        for example in examples:
            await publish(producer, list(reversed(example.messages())))
        for example in examples:
            records = await wait_for_worked_example(settings, example)
            assert_revisions_consistent(records, example)
        assert first.process is not None
        assert second.process is not None
        assert first.process.poll() is None
        assert second.process.poll() is None
    finally:
        first.stop()
        second.stop()
