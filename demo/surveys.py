"""The demo's customer surveys step: a simulated survey tool publishes customers' answers
(0–10) about every active partner, with a correction and a duplicate; the customers of a
partner or two whose health is otherwise fair are unhappy, which puts them at risk. The
self-check recomputes each partner's NPS from the answers sent, independently of
reporting, and checks that satisfaction is what put those partners at risk
(docs/rules/satisfaction.md, docs/rules/health-score.md)."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

from demo import scenario as sim
from demo.lifecycle import Api, Exercised
from shared import events
from shared.events import CloudEvent, new_event

#: The instant the demo scores health at: the end of its simulated quarter.
AS_OF = "2026-12-31T23:59:59Z"
QUARTER = "2026-Q4"
QUARTER_START = datetime(2026, 10, 1, tzinfo=UTC)


class Platform(Api, Protocol):
    """The demo's client of the services, with its Kafka producer."""

    async def publish(self, event: CloudEvent[Any]) -> None: ...


def nps(scores: list[int]) -> str | None:
    """% answering 9–10 minus % answering 0–6, to one decimal half to even; None without
    answers. Written here again, apart from reporting's, for the self-check."""
    if not scores:
        return None
    promoters = len([s for s in scores if s > 8])
    detractors = len([s for s in scores if s < 7])
    exact = Decimal(promoters - detractors) * 100 / Decimal(len(scores))
    return str(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


def _others(health: dict[str, Any]) -> Decimal:
    """The four factors but satisfaction, summed, from a health answer."""
    factors = health["factors"]
    return sum(
        (
            Decimal(factors[name]["points"])
            for name in ("attainment", "activity", "certifications", "feedback")
        ),
        Decimal(0),
    )


async def exercise(platform: Platform, run: str, scenario: sim.Scenario, done: Exercised) -> None:
    """Send the answers, wait for reporting to count them, and check NPS and health."""
    active = [
        a.partner_id
        for n, a in enumerate(scenario.applicants)
        if a.partner_id and n != scenario.terminated
    ]
    before: dict[str, dict[str, Any]] = {}
    for pid in active:
        before[pid] = await platform.get("reporting", f"/partners/{pid}/health", as_of=AS_OF)

    # Unhappy customers (every answer a detractor's: NPS −100, no satisfaction points) for
    # the partners that satisfaction alone brings below 40: not at risk without answers,
    # at risk once the other factors count (100 − weight) % of themselves.
    def fair(pid: str) -> bool:
        score = Decimal(before[pid]["score"])
        weight = Decimal(before[pid]["factors"]["satisfaction"]["max"])
        return Decimal(40) <= score and score * (100 - weight) / 100 < 40

    unhappy = set(
        sorted(
            (pid for pid in active if fair(pid)),
            key=lambda pid: (-Decimal(before[pid]["score"]), pid),
        )[:2]
    )
    rng = random.Random(f"{run}-surveys")
    answers: dict[str, list[int]] = {}
    sent: list[CloudEvent[Any]] = []
    for pid in active:
        count = rng.randint(3, 7)
        scores = [
            rng.randint(0, 5) if pid in unhappy else rng.choice([6, 7, 8, 9, 9, 10, 10])
            for _ in range(count)
        ]
        answers[pid] = scores
        for n, score in enumerate(scores):
            completed = QUARTER_START + timedelta(days=rng.randint(0, 80), hours=rng.randint(8, 18))
            sent.append(_answer(run, pid, f"{run}-S-{pid}-{n}", score, completed, n))
    # The first answer of the first partner is sent wrong first, then corrected.
    if active and answers[active[0]]:
        first = sent[0]
        data = first.data.model_copy(update={"score": 10 - answers[active[0]][0]})
        wrong = new_event(data, source="/surveys", time=first.time - timedelta(minutes=5))
        sent.insert(0, wrong)
    order = sent + rng.sample(sent, min(3, len(sent)))  # a few delivered twice
    rng.shuffle(order)
    for event in order:
        await platform.publish(event)
    done.said.append(
        f"   {len(sent)} answers about {len(active)} partners from the survey tool (Kafka "
        f"deals.v1; one corrected, three delivered twice); unhappy customers of "
        f"{', '.join(sorted(unhappy)) or 'no partner (none fair enough to show it)'}"
    )

    wanted = {pid: nps(scores) for pid, scores in answers.items()}
    deadline = time.monotonic() + 120
    left = dict(wanted)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            found = await platform.get("reporting", f"/partners/{pid}/satisfaction")
            quarter = next((q for q in found["quarters"] if q["period"] == QUARTER), None)
            if quarter is not None and (quarter["nps"], quarter["responses"]) == (
                left[pid],
                len(answers[pid]),
            ):
                del left[pid]
        if left:
            await asyncio.sleep(1)
    for pid, value in sorted(left.items()):
        done.problems.append(f"{pid}: NPS {QUARTER} should be {value} from the answers sent")

    for pid in sorted(unhappy):
        after = await platform.get("reporting", f"/partners/{pid}/health", as_of=AS_OF)
        factor = after["factors"]["satisfaction"]
        others = _others(after)
        if not after["at_risk"] or others < 40:
            done.problems.append(
                f"{pid}: unhappy customers (NPS {factor['nps']}) should put it at risk, "
                f"score {after['score']} with {others} from the other factors"
            )
            continue
        done.said.append(
            f"   {pid} is at risk because of its customers: NPS {factor['nps']} over "
            f"{factor['responses']} answers, score {after['score']} "
            f"({before[pid]['score']} without them)"
        )


def _answer(
    run: str, partner_id: str, survey_id: str, score: int, completed: datetime, n: int
) -> CloudEvent[Any]:
    return new_event(
        events.CustomerSurveyCompleted(
            partner_id=partner_id,
            survey_id=survey_id,
            customer=f"Customer {n} of {partner_id}",
            score=score,
            completed_at=completed,
        ),
        source="/surveys",
        time=completed + timedelta(hours=1),
    )
