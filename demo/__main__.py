"""``python -m demo``: run a simulated partner programme through the platform, and check it.

The services must be running (``make demo`` starts them). The demo drives
them through their real interfaces: HTTP for onboarding and enablement, a
plain Kafka producer for the CRM's deals and registrations and the LMS's
training completions. It then recomputes every expected statement from the
events it sent, with an independent implementation of the rules
(``demo/reference.py``, not any service's state), compares them with what the
reporting API serves, prints a report, and exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2 as httpx
from aiokafka import AIOKafkaProducer

from demo import claims, lifecycle, notices, people, surveys
from demo import scenario as sim
from demo.people import sign_in_lines
from demo.reference import Statement, expected_statements
from shared import events, topics
from shared.access import ADMIN_KEY_VARIABLE, read_admin_key
from shared.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, RateEvent, new_event, new_rate_event
from shared.lag import consumer_lag
from shared.messaging import kafka_client_options
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
#: Where the demo keeps the demo people's sign-in and partners (DEMO_ENV_FILE, default .env).
ENV_FILE = Path(os.environ.get("DEMO_ENV_FILE", ROOT / ".env"))
#: The local OIDC provider's realm (deploy/local/infra.sh reads it from the state folder).
REALM = Path(os.environ.get("PARTNERHUB_STATE", ROOT / ".local")) / "oidc" / "realm.json"
SERVICES = {
    "onboarding": 8001,
    "enablement": 8002,
    "incentives": 8003,
    "reporting": 8004,
    "notifications": 8005,
}


def service_url(name: str) -> str:
    """``DEMO_URL_<SERVICE>`` or the service's local port."""
    return os.environ.get(f"DEMO_URL_{name.upper()}", f"http://127.0.0.1:{SERVICES[name]}")


def consumer_group(name: str) -> str:
    """``DEMO_GROUP_<SERVICE>`` or the service's default group (its name)."""
    return os.environ.get(f"DEMO_GROUP_{name.upper()}", name)


def say(text: str = "") -> None:
    print(text, flush=True)


def admin_key() -> str:
    key = os.environ.get(ADMIN_KEY_VARIABLE) or read_admin_key(ROOT / ".env")
    if key:
        return key
    raise SystemExit(
        f"no admin key: set {ADMIN_KEY_VARIABLE} or run `make env-file` (make demo does)"
    )


@dataclass
class Platform:
    http: dict[str, httpx.AsyncClient]
    producer: AIOKafkaProducer
    settings: Settings
    sent: int = 0

    async def post(
        self, service: str, path: str, body: Any, key: str, expect: tuple[int, ...] = (200, 201)
    ) -> Any:
        response = await self.http[service].post(path, json=body, headers={"Idempotency-Key": key})
        if response.status_code not in expect:
            raise RuntimeError(
                f"{service} POST {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json()

    async def get(self, service: str, path: str, **params: Any) -> Any:
        response = await self.http[service].get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def publish(self, event: CloudEvent[Any] | RateEvent) -> None:
        await self.producer.send(
            event.topic,
            event.to_bytes(),
            key=event.key,
            headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())],
        )
        self.sent += 1


async def progress(platform: Platform, stop: asyncio.Event) -> None:
    while not stop.is_set():
        lags = []
        for group, consumed in topics.CONSUMED.items():
            try:
                lags.append(
                    f"{group} {sum((await consumer_lag(platform.settings, group, consumed)).values())}"
                )
            except Exception:
                lags.append(f"{group} ?")
        say(f"  … {platform.sent} events sent to Kafka; consumer lag: {', '.join(lags)}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 3)


async def drive(
    platform: Platform, scenario: sim.Scenario
) -> tuple[list[CloudEvent[Any] | RateEvent], list[CloudEvent[Any]]]:
    """Run the scenario; return the events a reference computation needs (sent or implied)
    and the registrations sent, whose decisions the reference makes
    (:func:`demo.lifecycle.approvals`)."""
    ledger: list[CloudEvent[Any] | RateEvent] = []
    now = datetime.now(UTC)
    say(
        f"1. {len(scenario.applicants)} partner applications with scorecards and capabilities "
        "(onboarding HTTP)"
    )
    warned = 0
    for n, applicant in enumerate(scenario.applicants):
        answer = await platform.post(
            "onboarding",
            "/applications",
            {
                "name": applicant.name,
                "partner_type": applicant.partner_type,
                "region": applicant.region,
                "industry": applicant.industry,
                "contact_email": f"channel{n}@partner{n}.{scenario.run}.example",
                "scorecard": applicant.scorecard,
                "capabilities": applicant.capabilities,
            },
            f"{applicant.key}-apply",
        )
        warned += bool(answer.get("warnings"))
        if applicant.approve:
            decided = await platform.post(
                "onboarding",
                f"/applications/{answer['application_id']}/approve",
                {},
                f"{applicant.key}-approve",
            )
            applicant.partner_id = decided["partner_id"]
        else:
            await platform.post(
                "onboarding",
                f"/applications/{answer['application_id']}/reject",
                {"reason": "scorecard below the bar"},
                f"{applicant.key}-reject",
            )
    active = [a for a in scenario.applicants if a.partner_id]
    say(
        f"   {len(active)} approved, {len(scenario.applicants) - len(active)} rejected; "
        f"{warned} warned of a capability their industry needs"
    )

    say("2. contracts in three plans and three currencies (onboarding HTTP)")
    for n, applicant in enumerate(active):
        contract = sim.contract_for(applicant, scenario.run, n)
        await platform.post(
            "onboarding",
            f"/partners/{applicant.partner_id}/contracts",
            contract,
            f"{applicant.key}-contract",
        )
        assert applicant.partner_id is not None
        ledger.append(
            new_event(
                events.PartnerSigned(
                    partner_id=applicant.partner_id,
                    name=applicant.name,
                    partner_type=applicant.partner_type,
                    region=applicant.region,
                    industry=applicant.industry,
                    contract=events.Contract.model_validate(contract),
                ),
                source="/demo",
                time=now,
            )
        )

    say(
        f"3. {len(scenario.courses)} courses and {len(scenario.certifications)} certifications (enablement HTTP)"
    )
    for course in scenario.courses:
        await platform.post(
            "enablement", "/courses", course, f"{scenario.run}-{course['course_id']}"
        )
    for certification in scenario.certifications:
        await platform.post(
            "enablement",
            "/certifications",
            certification,
            f"{scenario.run}-{certification['certification_id']}",
        )

    say(f"4. training completions of {len(scenario.learners)} learners from the LMS (Kafka)")
    for learner in scenario.learners:
        partner = scenario.applicants[learner.applicant].partner_id
        assert partner is not None
        for course_id, completed_at, score in learner.completions:
            await platform.publish(
                new_event(
                    events.TrainingCompleted(
                        partner_id=partner,
                        learner_id=learner.learner_id,
                        course_id=course_id,
                        completed_at=completed_at,
                        score=score,
                    ),
                    source="/lms",
                )
            )
        certification = scenario.certifications[learner.certification]
        if all(score >= 70 for _, _, score in learner.completions):
            awarded = max(at for _, at, _ in learner.completions)
            ledger.append(
                new_event(
                    events.CertificationAwarded(
                        partner_id=partner,
                        learner_id=learner.learner_id,
                        certification_id=certification["certification_id"],
                        product_line=certification["product_line"],
                        awarded_at=awarded,
                        expires_at=awarded + timedelta(days=certification["validity_days"]),
                    ),
                    source="/demo/expected",
                )
            )

    registrations = [
        d for d in scenario.deals + scenario.conflicting_registrations if d.registered_at
    ]
    say(
        f"5. {len(registrations)} deal registrations from the CRM, {len(scenario.conflicting_registrations)} of them in conflict (Kafka)"
    )
    registered_events: list[CloudEvent[Any]] = []
    for deal in registrations:
        partner = scenario.applicants[deal.applicant].partner_id
        assert partner is not None
        assert deal.registered_at is not None
        event = new_event(
            events.DealRegistered(
                partner_id=partner,
                registration_id=f"REG-{deal.deal_id}",
                deal_id=deal.deal_id,
                customer=deal.customer,
                product_line=deal.product_line,
                expected_amount=deal.amount,
                registered_at=deal.registered_at,
            ),
            source="/crm",
        )
        registered_events.append(event)
        await platform.publish(event)
    deals = scenario.deals + scenario.conflicting_registrations
    corrections = [d for d in deals if d.correction is not None]
    cancellations = [d for d in deals if d.cancelled_at is not None]
    say(
        f"6. {len(deals)} deals from the CRM, {len(corrections)} corrected, {len(cancellations)} cancelled (Kafka)"
    )
    clock = now
    for deal in deals:
        partner = scenario.applicants[deal.applicant].partner_id
        assert partner is not None
        for amount in [deal.amount] + ([deal.correction] if deal.correction is not None else []):
            clock += timedelta(milliseconds=1)
            closed = new_event(
                events.DealClosed(
                    partner_id=partner,
                    deal_id=deal.deal_id,
                    customer=deal.customer,
                    product_line=deal.product_line,
                    amount=amount,
                    currency=deal.currency,
                    closed_at=deal.closed_at,
                ),
                source="/crm",
                time=clock,
            )
            ledger.append(closed)
            await platform.publish(closed)
        if deal.cancelled_at is not None:
            cancellation = new_event(
                events.DealCancelled(
                    partner_id=partner,
                    deal_id=deal.deal_id,
                    cancelled_at=deal.cancelled_at,
                    reason="customer withdrew",
                ),
                source="/crm",
            )
            ledger.append(cancellation)
            await platform.publish(cancellation)
    await platform.producer.flush()

    rates, withheld = sim.treasury(scenario)
    pairs = sorted({f"{r.base}/{r.quote}" for r in rates})
    say(
        f"   then {len(rates)} exchange rates from the treasury for {', '.join(pairs) or 'no pair'}"
        " (Kafka rates.v1; the mid-November ones corrected)"
        + (f"; no {withheld[0]}/{withheld[1]} rate: those deals wait for one" if withheld else "")
    )
    for n, sent in enumerate(rates):
        clock += timedelta(milliseconds=1)
        rate = new_rate_event(
            events.ExchangeRateSet(
                base=sent.base,
                quote=sent.quote,
                rate=sent.rate,
                valid_from=sent.valid_from,
                source="demo treasury",
            ),
            source="/treasury",
            time=clock,
            event_id=f"{scenario.run}-rate-{n}",
        )
        ledger.append(rate)
        await platform.publish(rate)
    await platform.producer.flush()

    if scenario.terminated is not None:
        applicant = scenario.applicants[scenario.terminated]
        assert applicant.partner_id is not None
        effective = sim.termination_date(now.date())
        say(f"7. {applicant.name} terminated from {effective} (onboarding HTTP)")
        await platform.post(
            "onboarding",
            f"/partners/{applicant.partner_id}/terminate",
            {"reason": "strategic realignment", "effective_date": effective.isoformat()},
            f"{applicant.key}-terminate",
        )
        ledger.append(
            new_event(
                events.PartnerTerminated(
                    partner_id=applicant.partner_id,
                    effective_date=effective,
                    reason="strategic realignment",
                ),
                source="/demo",
            )
        )

    say(
        f"8. {len(scenario.feedback)} feedback entries and {len(scenario.mdf)} co-marketing requests (enablement HTTP)"
    )
    # Enablement learns of partners from partners.v1: wait until it knows them all.
    deadline = time.monotonic() + 120
    for applicant in active:
        while (
            await platform.http["enablement"].get(f"/partners/{applicant.partner_id}/standing")
        ).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"enablement has not seen partner {applicant.partner_id} after 120 s"
                )
            await asyncio.sleep(0.5)
    for i, rating, topic in scenario.feedback:
        partner = scenario.applicants[i].partner_id
        await platform.post(
            "enablement",
            "/feedback",
            {"partner_id": partner, "rating": rating, "topic": topic, "text": "from the demo"},
            f"{scenario.run}-feedback-{i}",
        )
    for i, campaign, amount, approve in scenario.mdf:
        applicant = scenario.applicants[i]
        request = await platform.post(
            "enablement",
            "/mdf-requests",
            {
                "partner_id": applicant.partner_id,
                "campaign": campaign,
                "amount": str(amount),
                "currency": "USD",
            },
            f"{scenario.run}-mdf-{i}",
        )
        request_id = request.get("request_id")
        if approve and request_id and request.get("status") == "requested":
            await platform.post(
                "enablement",
                f"/mdf-requests/{request_id}/approve",
                {},
                f"{scenario.run}-mdf-{i}-approve",
                expect=(200, 201, 409),
            )
    return ledger, registered_events


def compare(expected: Statement, served: dict[str, Any]) -> list[str]:
    problems = []

    def money(value: Decimal) -> str:
        return str(value.quantize(Decimal("0.01")))

    want_lines = {
        line.deal_id: (
            money(line.amount),
            line.status,
            money(line.base),
            money(line.uplift),
            money(line.commission),
            money(line.target_bonus),
            None if line.original_amount is None else money(line.original_amount),
            line.original_currency,
            None if line.fx_rate is None else line.fx_rate.normalize(),
        )
        for line in expected.lines
    }
    got_lines = {
        line["deal_id"]: (
            line["amount"],
            line["status"],
            line["base"],
            line["uplift"],
            line["commission"],
            line["target_bonus"],
            line.get("original_amount"),
            line.get("original_currency"),
            None if line.get("fx_rate") is None else Decimal(line["fx_rate"]).normalize(),
        )
        for line in served.get("lines", [])
    }
    for deal_id in sorted(set(want_lines) | set(got_lines)):
        if want_lines.get(deal_id) != got_lines.get(deal_id):
            problems.append(
                f"{deal_id}: expected {want_lines.get(deal_id)}, served {got_lines.get(deal_id)}"
            )
    for field, value in (
        ("revenue", expected.revenue),
        ("commission_total", expected.commission_total),
        ("bonus_total", expected.bonus_total),
        ("adjustment_total", expected.adjustment_total),
        ("payout_total", expected.payout_total),
    ):
        if served.get(field) != money(value):
            problems.append(f"{field}: expected {money(value)}, served {served.get(field)}")
    return problems


async def check(
    platform: Platform, expected: dict[tuple[str, str], Statement], seconds: float
) -> dict[tuple[str, str], list[str]]:
    """Compare until everything matches or ``seconds`` pass; return what still differs."""
    deadline = time.monotonic() + seconds
    pending = dict(expected)
    problems: dict[tuple[str, str], list[str]] = {}
    while True:
        for key, statement in list(pending.items()):
            response = await platform.http["reporting"].get(
                f"/partners/{key[0]}/statements/{key[1]}"
            )
            found = (
                compare(statement, response.json())
                if response.status_code == 200
                else [f"HTTP {response.status_code}"]
            )
            if found:
                problems[key] = found
            else:
                problems.pop(key, None)
                del pending[key]
        if not pending or time.monotonic() > deadline:
            return problems
        await asyncio.sleep(2)


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]

    def line(row: list[str]) -> str:
        cells = enumerate(zip(row, widths, strict=False))
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in cells)

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


async def report(
    platform: Platform, scenario: sim.Scenario, expected: dict[tuple[str, str], Statement]
) -> None:
    ours = {a.partner_id: a for a in scenario.applicants if a.partner_id}
    say()
    say("=" * 78)
    say("LEADERBOARD 2026-Q4 by revenue (this run's partners)")
    board = await platform.get(
        "reporting", "/leaderboard", period="2026-Q4", by="revenue", limit=1000
    )

    def row(e: dict[str, Any]) -> list[str]:
        return [
            str(e["rank"]),
            e["partner_id"],
            (e["name"] or "")[:34],
            e["currency"] or "",
            e["value"],
        ]

    rows = [row(e) for e in board["entries"] if e["partner_id"] in ours]
    if not rows:
        # A platform that holds other partners (earlier runs, real ones) may rank
        # all of this run's below the first 1 000: show the top of the board instead.
        say(
            f"(none of this run's partners among the first {len(board['entries'])} ranked; "
            "the top of the board:)"
        )
        rows = [row(e) for e in board["entries"]]
    say(table(rows[:10], ["rank", "partner", "name", "ccy", "revenue"]))

    quarter = [s for (pid, period), s in expected.items() if period == "2026-Q4" and s.lines]
    if quarter:
        best = max(quarter, key=lambda s: s.payout_total)
        served = await platform.get("reporting", f"/partners/{best.partner_id}/statements/2026-Q4")
        say()
        say(
            f"STATEMENT {best.partner_id} ({ours[best.partner_id].name}) 2026-Q4, {served['currency']}"
        )
        rows = [
            [
                line["deal_id"][-6:],
                line["closed_at"][:10],
                line["amount"],
                line["status"],
                line["base"],
                line["uplift"],
                line["commission"],
                line["target_bonus"],
                str(line["revision"]),
            ]
            for line in served["lines"]
        ]
        say(
            table(
                rows[:15],
                [
                    "deal",
                    "closed",
                    "amount",
                    "status",
                    "base",
                    "uplift",
                    "commission",
                    "bonus",
                    "rev",
                ],
            )
        )
        if len(rows) > 15:
            say(f"… and {len(rows) - 15} more lines")
        say(
            f"revenue {served['revenue']}  commission {served['commission_total']}  bonus {served['bonus_total']}  "
            f"payout {served['payout_total']}  target {served['target']}  attainment {served['attainment']}"
        )
        biggest = max(served["lines"], key=lambda line: Decimal(line["commission"]))
        breakdown = await platform.get("incentives", f"/commissions/{biggest['deal_id']}")
        say(
            f"breakdown of {biggest['deal_id']}: cum before {breakdown['cum_before']}; "
            + "; ".join(f"{p['amount']} at {p['rate']}" for p in breakdown["portions"])
            + f"; uplift {breakdown['uplift']} ({', '.join(breakdown['uplift_reasons']) or 'none'}); revision {breakdown['revision']}"
        )

    summary = await platform.get("reporting", "/programme/summary", period="2026-Q4")
    say()
    say("PROGRAMME SUMMARY 2026-Q4 (everything in the read models)")
    say(
        f"partners by status: {summary['partners']['by_status']}; by tier: {summary['partners']['by_tier']}"
    )
    say(
        f"revenue: {summary['revenue']}; commission: {summary['commission']}; bonus: {summary['bonus']}"
    )
    say(
        f"training completions {summary['training_completions']}, certifications {summary['certifications_awarded']}, "
        f"open MDF {summary['open_mdf']}, average feedback {summary['average_feedback_rating']}"
    )
    at_risk = []
    for pid, applicant in ours.items():
        health = await platform.get(
            "reporting", f"/partners/{pid}/health", as_of="2026-12-31T23:59:59Z"
        )
        if health["at_risk"]:
            nps = health["factors"]["satisfaction"]["nps"]
            at_risk.append([pid, applicant.name[:34], health["score"], nps or "-"])
    say()
    say(f"PARTNERS AT RISK (health below 40 as of 2026-12-31): {len(at_risk)}")
    if at_risk:
        say(table(at_risk[:10], ["partner", "name", "score", "customers' NPS"]))


async def main_async(args: argparse.Namespace) -> int:
    key = admin_key()
    settings = Settings()
    run = args.run or f"demo{args.seed}-{uuid.uuid4().hex[:6]}"
    scenario = sim.build(args.partners, args.deals, args.seed, run)
    headers = {"Authorization": f"Bearer {key}"}
    http = {
        name: httpx.AsyncClient(base_url=service_url(name), headers=headers, timeout=30)
        for name in SERVICES
    }
    producer = AIOKafkaProducer(
        **kafka_client_options(settings), acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    platform = Platform(http, producer, settings)
    stop = asyncio.Event()
    ticker = asyncio.create_task(progress(platform, stop))
    started = time.monotonic()
    stack = contextlib.ExitStack()
    receiver = notices.Receiver()
    webhook_id = ""
    try:
        for name in SERVICES:
            deadline = time.monotonic() + 90
            response = await http[name].get("/readyz")
            while response.status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(1)  # a poll of another process: no event to wait on
                response = await http[name].get("/readyz")
            if response.status_code != 200:
                raise SystemExit(
                    f"{name} is not ready: {response.text} (start everything with `make up`)"
                )
        say(
            f"partnerhub demo: run {run}, seed {args.seed}, {args.partners} partners, {args.deals} deals"
        )
        url = stack.enter_context(notices.receiving(receiver))
        webhook_id = await notices.subscribe(http["notifications"], url, receiver)
        say(f"0. the demo's webhook receiver at {url} subscribed ({webhook_id})")
        ledger, registered = await drive(platform, scenario)
        expected = expected_statements([*ledger, *lifecycle.approvals(registered)])
        say(
            f"9. waiting for the platform to process everything, then comparing {len(expected)} statements"
        )
        problems = await check(platform, expected, args.timeout)
        if not problems:
            say(
                "10. a decision by hand, an extension, an inquiry resolved by adjustment (incentives HTTP)"
            )
            before = datetime.now(UTC)
            done = await lifecycle.exercise(platform, run, key, registered, expected)
            for line in done.said:
                say(line)
            ledger += done.events
            expected = expected_statements(
                [*ledger, *lifecycle.approvals([*registered, *done.events])]
            )
            say(f"11. comparing the {len(expected)} statements again")
            problems = await check(platform, expected, args.timeout)
            adjusted = [e for e in done.events if isinstance(e.data, events.CommissionAdjusted)]
            if adjusted:
                done.problems += await lifecycle.explained(platform, before, adjusted[0])
                say(
                    "12. the adjusted statement's changes since step 10 add up to its change; "
                    "its partner's history names who asked, answered and adjusted"
                )
            say("13. MDF claims with evidence, approved whole and in part, paid by a settlement")
            said = len(done.said)
            await claims.exercise(platform, run, scenario, done)
            for line in done.said[said:]:
                say(line)
            say("14. customers' satisfaction surveys; NPS recomputed, a partner at risk for it")
            said = len(done.said)
            await surveys.exercise(platform, run, scenario, done)
            for line in done.said[said:]:
                say(line)
            say("15. webhooks delivered to the demo's receiver; emails in the local inbox")
            said = len(done.said)
            inbox = people.ensure_env(ENV_FILE).get("MAIL_INBOX_URL", people.MAIL_INBOX_URL)
            await notices.exercise(platform, scenario, webhook_id, receiver, inbox, done)
            for line in done.said[said:]:
                say(line)
            if done.problems:
                problems[("lifecycle", "-")] = done.problems
        stop.set()
        await ticker
        await report(platform, scenario, expected)
        say()
        say("URLS TO EXPLORE (send the admin key from .env as 'Authorization: Bearer …')")
        values_now = people.ensure_env(ENV_FILE)
        for name in SERVICES:
            say(f"  {name:<13} {service_url(name)}/docs   metrics {service_url(name)}/metrics")
        say(f"  mail inbox  {values_now.get('MAIL_INBOX_URL', people.MAIL_INBOX_URL)}")
        say()
        say("THE PORTAL: sign in as one of the demo people (kept in .env)")
        values = bind_demo_partners(scenario, expected)
        for line in sign_in_lines(values):
            say(f"  {line}")
        say()
        portal_problems = await check_portal(values, expected)
        for problem in portal_problems:
            say(f"PORTAL CHECK FAILED: {problem}")
        if portal_problems:
            return 1
        say(
            "portal checked: demo partner A signed in at the OIDC provider, saw a statement's payout"
        )
        say(
            "equal to the independent recomputation, and was refused demo partner B's dashboard (403)"
        )
        say()
        lines = sum(len(s.lines) for s in expected.values())
        converted = sum(1 for s in expected.values() for x in s.lines if x.fx_rate is not None)
        waiting = sum(1 for s in expected.values() for x in s.lines if x.status == "fx_pending")
        if not problems and (converted == 0 or waiting == 0) and sim.fx_pairs(scenario):
            problems[("fx", "-")] = [
                f"{converted} lines converted and {waiting} waiting for a rate: the scenario "
                "sends deals in other currencies, so both should be there"
            ]
        if problems:
            say(
                f"SELF-CHECK FAILED: {len(problems)} of {len(expected)} statements differ from the independent recomputation"
            )
            for (pid, period), found in sorted(problems.items())[:20]:
                say(f"  {pid} {period}: " + "; ".join(found[:4]))
            return 1
        say(
            f"SELF-CHECK PASSED: {len(expected)} statements, {lines} lines, every number equal to the independent "
            f"recomputation from the events sent, after a decision by hand and an adjustment; "
            f"the extension as the rule says; the MDF claims paid once, as approved; every "
            f"partner's NPS as recomputed from the survey answers; every webhook delivery "
            f"signed and received, the applications' and payouts' emails in the inbox; "
            f"{converted} lines converted from another currency and {waiting} waiting for "
            f"a rate ({time.monotonic() - started:.0f} s)"
        )
        return 0
    finally:
        if webhook_id:
            with contextlib.suppress(httpx.HTTPError):
                await http["notifications"].delete(f"/webhooks/{webhook_id}")
        stack.close()
        stop.set()
        if not ticker.done():
            ticker.cancel()
        await producer.stop()
        for client in http.values():
            await client.aclose()


def bind_demo_partners(
    scenario: sim.Scenario, expected: dict[tuple[str, str], Statement]
) -> dict[str, str]:
    """Demo partners A and B are this run's two partners with the most statement lines:
    their ids go to .env, and the local provider's partner users sign in to them."""
    lines: dict[str, int] = {}
    for (partner_id, _), statement in expected.items():
        lines[partner_id] = lines.get(partner_id, 0) + len(statement.lines)
    ours = {
        a.partner_id
        for index, a in enumerate(scenario.applicants)
        if a.partner_id and index != scenario.terminated
    }
    ranked = sorted((p for p in lines if p in ours), key=lambda p: (-lines[p], p))
    env = ENV_FILE
    if len(ranked) >= 2:
        people.set_env(
            env,
            {"PARTNERHUB_DEMO_PARTNER_A_ID": ranked[0], "PARTNERHUB_DEMO_PARTNER_B_ID": ranked[1]},
        )
    values = people.ensure_env(env)
    people.write_realm(
        REALM, people.demo_people(values), values.get("PORTAL_URL", people.PORTAL_URL)
    )
    return values


async def check_portal(
    values: dict[str, str], expected: dict[tuple[str, str], Statement]
) -> list[str]:
    """Demo partner A signs in at the portal (through the OIDC provider's form), finds the
    payout of its fullest statement as the independent recomputation has it, with its
    currency, and is refused demo partner B's dashboard."""
    portal = values.get("PORTAL_URL", people.PORTAL_URL)
    partner_a, partner_b = (
        values.get("PARTNERHUB_DEMO_PARTNER_A_ID"),
        values.get("PARTNERHUB_DEMO_PARTNER_B_ID"),
    )
    ours = [s for (partner, _), s in sorted(expected.items()) if partner == partner_a]
    if not partner_a or not partner_b or not ours:
        return ["this run made no demo partners A and B with a statement"]
    statement = max(ours, key=lambda s: len(s.lines))
    username, _, password = values["PARTNERHUB_DEMO_PARTNER_A"].partition(":")
    problems = []
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as client:
        try:
            await people.sign_in(client, portal, username, password)
        except (people.SignInRefused, httpx.HTTPError) as exc:
            return [f"signing in at {portal} as {username}: {exc}"]
        page = await client.get(f"{portal}/partners/{partner_a}/statements/{statement.period}")
        shown = f"{statement.payout_total:,.2f} {statement.currency}"
        if page.status_code != 200 or f'id="payout-total">{shown}<' not in page.text:
            problems.append(
                f"partner A's {statement.period} statement page does not show the payout {shown}"
            )
        other = await client.get(f"{portal}/partners/{partner_b}")
        if other.status_code != 403 or partner_b in other.text:
            problems.append(f"partner A's user reached partner B's dashboard ({other.status_code})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--partners", type=int, default=30, help="partner applications (default 30)"
    )
    parser.add_argument("--deals", type=int, default=1500, help="deals from the CRM (default 1500)")
    parser.add_argument(
        "--seed", type=int, default=2026, help="the same seed simulates the same programme"
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to wait for the platform to catch up"
    )
    parser.add_argument("--run", help="a name for this run's ids (default: derived from the seed)")
    args = parser.parse_args()
    if args.partners < 4 or args.deals < 1:
        parser.error("--partners must be at least 4 and --deals at least 1")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
