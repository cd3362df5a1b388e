"""shared.periodic.every: repeats, survives failures, stops when cancelled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.periodic import every


async def test_a_failure_is_logged_and_the_job_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    fourth = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("store unavailable")
        if len(runs) == 4:
            fourth.set()

    log = logging.getLogger("test.periodic")
    with caplog.at_level(logging.WARNING, logger="test.periodic"):
        task = asyncio.create_task(every(0.01, job, what="the job", log=log, immediately=True))
        await asyncio.wait_for(fourth.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [r.getMessage() for r in caplog.records] == [
        "the job: store unavailable; retrying in 0 s"
    ]


async def test_without_immediately_the_first_run_waits_an_interval() -> None:
    loop = asyncio.get_running_loop()
    ran = asyncio.Event()
    at: list[float] = []

    async def job() -> None:
        at.append(loop.time())
        ran.set()

    started = loop.time()
    task = asyncio.create_task(every(0.05, job, what="the job", log=logging.getLogger("t")))
    await asyncio.wait_for(ran.wait(), 5)
    task.cancel()
    assert at[0] - started >= 0.05
