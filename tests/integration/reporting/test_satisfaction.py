"""Customers' survey answers read by a real reporting process from Kafka, shuffled and
delivered twice, with a correction: each partner's NPS exact, in the partner 360, per
quarter, in the health score and the leaderboard by NPS (docs/rules/satisfaction.md)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from shared import topics
from tests.support.events import CONTRACT, PROFILE, envelope, send
from tests.support.eventually import eventually
from tests.support.processes import ServiceProcess


def nps(scores: list[int]) -> str:
    exact = Decimal(100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)))
    return str((exact / len(scores)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


async def test_answers_shuffled_and_duplicated_give_the_exact_nps(
    producer: AIOKafkaProducer, reporting_from_now: ServiceProcess, unique: str
) -> None:
    now = datetime.now(UTC)
    year_start = datetime(now.year, 1, 1, tzinfo=UTC)
    rng = random.Random(unique)
    partners = {f"P-nps-{unique}-{n}": [rng.randint(0, 10) for _ in range(9)] for n in range(3)}
    messages: list[tuple[str, dict[str, Any]]] = []
    for pid, scores in partners.items():
        signed = {"partner_id": pid, **PROFILE, "contract": {**CONTRACT, "contract_id": f"C-{pid}"}}
        await send(producer, topics.PARTNERS, envelope("PartnerSigned", signed))
        for n, score in enumerate(scores):
            # Within the year of now (the leaderboard's period), and not after now.
            completed = max(now - timedelta(minutes=n + 1), year_start)
            data = {
                "partner_id": pid,
                "survey_id": f"{pid}-S{n}",
                "customer": f"customer {n}",
                "score": score,
                "completed_at": completed.isoformat(),
            }
            messages.append(
                (
                    topics.DEALS,
                    envelope(
                        "CustomerSurveyCompleted",
                        data,
                        id=f"{pid}-S{n}-a",
                        time=completed.isoformat(),
                    ),
                )
            )
        # The first answer first sent wrong (10 − score), corrected an hour later.
        wrong = {**messages[-len(scores)][1]["data"], "score": 10 - scores[0]}
        first_time = datetime.fromisoformat(messages[-len(scores)][1]["time"])
        messages.append(
            (
                topics.DEALS,
                envelope(
                    "CustomerSurveyCompleted",
                    wrong,
                    id=f"{pid}-S0-wrong",
                    time=(first_time - timedelta(hours=1)).isoformat(),
                ),
            )
        )
    order = messages + rng.sample(messages, 6)
    rng.shuffle(order)
    for topic, event in order:
        await send(producer, topic, event)

    def counted(pid: str) -> Callable[[], dict[str, Any]]:
        return lambda: satisfaction_of(pid)

    def satisfaction_of(pid: str) -> dict[str, Any]:
        answer = reporting_from_now.get(f"/partners/{pid}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()["satisfaction"]
        assert found["responses"] == len(partners[pid]), found
        assert found["nps"] == nps(partners[pid]), (found, partners[pid])
        return found

    for pid, scores in partners.items():
        found = await eventually(counted(pid))
        average = (Decimal(sum(scores)) / len(scores)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        assert found["average"] == str(average)
        health = reporting_from_now.get(f"/partners/{pid}/health").json()
        assert health["factors"]["satisfaction"]["nps"] == nps(scores)
        assert health["factors"]["satisfaction"]["others_scale"] == "0.80"

    board = reporting_from_now.get("/leaderboard", period=str(now.year), by="nps", limit=1000)
    ours = [e for e in board.json()["entries"] if e["partner_id"] in partners]
    assert [e["value"] for e in ours] == sorted(
        (nps(s) for s in partners.values()), key=lambda v: -Decimal(v)
    ), "best first"
