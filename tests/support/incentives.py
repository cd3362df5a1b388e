"""What the incentives tests share: an incentives process on the test infrastructure, and
reading the worked example's commissions back from incentives.v1."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from shared import topics
from shared.infra import start_group_at_end
from shared.settings import Settings
from tests.support.kafka import collect
from tests.support.processes import ServiceProcess
from tests.support.services import service_env
from tests.support.worked_example import TOTALS, WorkedExample


def incentives(settings: Settings, unique: str, **env: str) -> ServiceProcess:
    """An incentives process (not started) with a database and a consumer group of its own."""
    return ServiceProcess(
        "incentives",
        service_env(settings, f"test_incentives_{unique}", f"incentives-{unique}", **env),
    )


async def from_now_on(settings: Settings, unique: str) -> None:
    """The test's consumer groups (the events' and the rates') skip whatever history the
    broker holds (see start_group_at_end)."""
    await start_group_at_end(settings, f"incentives-{unique}", topics.CONSUMED["incentives"])
    await start_group_at_end(settings, f"incentives-{unique}-rates", (topics.RATES,))


def latest_revisions(records: list[Any]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        data = json.loads(record.value)["data"]
        if data["deal_id"] not in latest or data["revision"] > latest[data["deal_id"]]["revision"]:
            latest[data["deal_id"]] = data
    return latest


def matches_expected(example: WorkedExample, records: list[Any]) -> bool:
    latest = latest_revisions(records)
    expected = example.expected_final()
    return set(latest) == set(expected) and all(
        latest[d]["status"] == row["status"]
        and all(
            Decimal(latest[d][k]) == Decimal(row[k])
            for k in ("base", "uplift", "commission", "target_bonus")
        )
        for d, row in expected.items()
    )


async def wait_for_worked_example(
    settings: Settings, example: WorkedExample, seconds: float = 90
) -> list[Any]:
    key = example.partner_id.encode()
    return await collect(
        settings,
        topics.INCENTIVES,
        lambda r: r.key == key,
        lambda found: matches_expected(example, found),
        seconds=seconds,
    )


def assert_revisions_consistent(records: list[Any], example: WorkedExample) -> None:
    """Re-published revisions are the same event: de-duplicated on id, deltas add up exactly."""
    by_id: dict[str, dict[str, Any]] = {}
    ids_of: dict[tuple[str, int], set[str]] = {}
    for record in records:
        event = json.loads(record.value)
        by_id[event["id"]] = event["data"]
        ids_of.setdefault((event["data"]["deal_id"], event["data"]["revision"]), set()).add(
            event["id"]
        )
    assert all(len(ids) == 1 for ids in ids_of.values()), (
        "a (deal, revision) was published under two ids"
    )
    assert (
        sum(Decimal(d["delta"]) for d in by_id.values()) == TOTALS["commission"] + TOTALS["bonus"]
    )
    assert matches_expected(example, records)
