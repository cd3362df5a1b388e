"""A simulated quarter of a partner programme, generated from a seed (pure: no I/O).

The scenario is what the demo will do, step by step, through the platform's
real interfaces: partner applications with scorecards, decisions, contracts
in several plans and currencies, a course catalogue and certifications,
training completions from an external LMS, deal registrations (some in
channel conflict), deals from a CRM with corrections, deals in another
currency, cancellations inside and outside the clawback window, a
termination, feedback and co-marketing requests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

QUARTER_START = datetime(2026, 10, 1, tzinfo=UTC)
QUARTER_DAYS = 92
PRODUCT_LINES = ("cloud", "security", "data", "automation")

# (partner type, industry): the kinds of partner the programme recruits.
PROFILES = (
    ("reseller", "IT"),
    ("system_integrator", "IT"),
    ("distributor", "manufacturing"),
    ("agent", "services"),
    ("consultancy", "services"),
)
REGIONS = ("EMEA", "NA", "APAC", "LATAM")
NAMES = (
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Adventure Works", "Litware",
    "Proseware", "Lucerne", "Alpine Ski", "Blue Yonder", "Coho", "Fourth Coffee", "Humongous",
    "Margie's", "Trey Research", "Woodgrove", "Wide World", "Relecloud", "Datum",
)  # fmt: skip

PLANS: dict[str, dict[str, Any]] = {
    "standard": {
        "period": "quarter",
        "brackets": [
            {"from": "0", "rate": "0.08"},
            {"from": "100000", "rate": "0.10"},
            {"from": "250000", "rate": "0.12"},
        ],
        "certification_bonus_rate": "0.02",
        "registered_deal_bonus_rate": "0.01",
        "period_cap": None,
        "clawback_days": 90,
        "target_amount": "300000",
        "target_bonus": "5000",
    },
    "capped": {
        "period": "quarter",
        "brackets": [{"from": "0", "rate": "0.10"}, {"from": "150000", "rate": "0.13"}],
        "certification_bonus_rate": "0.015",
        "registered_deal_bonus_rate": "0.01",
        "period_cap": "25000",
        "clawback_days": 60,
        "target_amount": "200000",
        "target_bonus": "3000",
    },
    "monthly": {
        "period": "month",
        "brackets": [{"from": "0", "rate": "0.06"}, {"from": "50000", "rate": "0.09"}],
        "certification_bonus_rate": "0.01",
        "registered_deal_bonus_rate": "0.005",
        "period_cap": None,
        "clawback_days": 30,
        "target_amount": None,
        "target_bonus": None,
    },
}
CURRENCIES = ("USD", "USD", "EUR", "GBP")
TIERS = ("registered", "silver", "gold", "platinum")


@dataclass
class Applicant:
    key: str
    name: str
    partner_type: str
    region: str
    industry: str
    scorecard: dict[str, int]
    approve: bool
    plan: str
    currency: str
    tier: str
    partner_id: str | None = None
    #: What it says it can do beside selling (docs/rules/scorecard.md, "Industry fit").
    capabilities: list[str] = field(default_factory=list)


#: What each industry's partners need by default (docs/rules/scorecard.md).
INDUSTRY_NEEDS = {
    "IT": ["technical_support"],
    "manufacturing": ["logistics", "after_sales"],
    "services": ["consulting"],
}
EXTRA_CAPABILITIES = ("implementation", "training")


def capabilities_of(industry: str, n: int, rng: random.Random) -> list[str]:
    """An applicant's capabilities: its industry's needs, one of them left out by every
    fifth applicant (so its application gets a warning), and perhaps one more."""
    needed = list(INDUSTRY_NEEDS.get(industry, []))
    if needed and n % 5 == 4:
        needed.pop(rng.randrange(len(needed)))
    extra = [c for c in EXTRA_CAPABILITIES if rng.random() < 0.4]
    return needed + extra


@dataclass
class Learner:
    applicant: int
    learner_id: str
    certification: int
    completions: list[tuple[str, datetime, int]]  # course_id, completed_at, score


@dataclass
class Deal:
    applicant: int
    deal_id: str
    customer: str
    product_line: str
    amount: Decimal
    currency: str
    closed_at: datetime
    correction: Decimal | None = None
    cancelled_at: datetime | None = None
    registered_at: datetime | None = None


@dataclass
class Scenario:
    run: str
    applicants: list[Applicant]
    courses: list[dict[str, Any]]
    certifications: list[dict[str, Any]]
    learners: list[Learner]
    deals: list[Deal]
    conflicting_registrations: list[Deal]
    terminated: int | None
    feedback: list[tuple[int, int, str]]
    mdf: list[tuple[int, str, Decimal, bool]]
    notes: list[str] = field(default_factory=list)


def _day(rng: random.Random, start: int = 0, end: int = QUARTER_DAYS - 1) -> datetime:
    return QUARTER_START + timedelta(
        days=rng.randint(start, end), minutes=rng.randint(0, 24 * 60 - 1)
    )


def build(partners: int, deals: int, seed: int, run: str) -> Scenario:
    rng = random.Random(seed)
    # Apart from ``rng``, so that the rest of the scenario is as it was without them.
    capability_rng = random.Random(f"{seed}-capabilities")
    applicants = []
    for n in range(partners):
        partner_type, industry = PROFILES[n % len(PROFILES)]
        approve = n % 7 != 6  # about one in seven is turned down
        scorecard = {
            c: rng.randint(3, 5) if approve else rng.randint(0, 2)
            for c in ("customer_base", "sales_network", "expertise", "track_record", "fit")
        }
        plan = ("standard", "capped", "monthly")[n % 3]
        applicants.append(
            Applicant(
                key=f"{run}-applicant-{n}",
                name=f"{NAMES[n % len(NAMES)]} {partner_type.replace('_', ' ').title()} {n}",
                partner_type=partner_type,
                region=REGIONS[rng.randrange(len(REGIONS))],
                industry=industry,
                scorecard=scorecard,
                approve=approve,
                plan=plan,
                currency=CURRENCIES[n % len(CURRENCIES)],
                tier=TIERS[rng.randrange(len(TIERS))],
                capabilities=capabilities_of(industry, n, capability_rng),
            )
        )
    active = [i for i, a in enumerate(applicants) if a.approve]
    courses: list[dict[str, Any]] = [
        {
            "course_id": f"{run}-{line}-{level}",
            "title": f"{line.title()} {level}",
            "product_line": line,
            "passing_score": 70,
        }
        for line in PRODUCT_LINES
        for level in ("101", "201")
    ]
    certifications: list[dict[str, Any]] = [
        {
            "certification_id": f"{run}-cert-{line}",
            "product_line": line,
            "required_courses": [f"{run}-{line}-101", f"{run}-{line}-201"],
            "validity_days": 365,
        }
        for line in PRODUCT_LINES
    ]
    learners = []
    for i in active:
        for k in range(rng.randint(0, 2)):
            cert = rng.randrange(len(certifications))
            passes = rng.random() < 0.8
            first = _day(rng, 0, 40)
            second = first + timedelta(days=rng.randint(1, 20))
            required: list[str] = certifications[cert]["required_courses"]
            learners.append(
                Learner(
                    applicant=i,
                    learner_id=f"{run}-learner-{i}-{k}",
                    certification=cert,
                    completions=[
                        (required[0], first, rng.randint(72, 100)),
                        (
                            required[1],
                            second,
                            rng.randint(75, 100) if passes else rng.randint(30, 60),
                        ),
                    ],
                )
            )
    deal_list = []
    for d in range(deals):
        i = active[rng.randrange(len(active))]
        applicant = applicants[i]
        currency = (
            applicant.currency
            if rng.random() > 0.04
            else ("USD" if applicant.currency != "USD" else "EUR")
        )
        closed_at = _day(rng)
        deal = Deal(
            applicant=i,
            deal_id=f"{run}-D{d:05d}",
            # Customers of this run only: registrations from an earlier run on the
            # same broker would otherwise conflict with this run's
            # (docs/rules/deal-registration.md).
            customer=f"Customer {rng.randrange(deals // 3 + 1)} {run}",
            product_line=PRODUCT_LINES[rng.randrange(len(PRODUCT_LINES))],
            amount=Decimal(rng.randrange(2_000_00, 60_000_00)) / 100,
            currency=currency,
            closed_at=closed_at,
        )
        if rng.random() < 0.04:
            deal.correction = (deal.amount * Decimal(rng.choice(["0.9", "1.1", "1.25"]))).quantize(
                Decimal("0.01")
            )
        if rng.random() < 0.05:
            deal.cancelled_at = closed_at + timedelta(days=rng.choice([5, 20, 45, 75, 120]))
        if rng.random() < 0.15:
            deal.registered_at = closed_at - timedelta(days=rng.randint(1, 30))
        deal_list.append(deal)
    # Another partner registers some already-registered opportunities: channel conflicts.
    conflicts = []
    registered = [d for d in deal_list if d.registered_at is not None]
    for n, original in enumerate(registered[: max(1, len(registered) // 6)]):
        rival = active[(active.index(original.applicant) + 1) % len(active)]
        conflicts.append(
            Deal(
                applicant=rival,
                deal_id=f"{run}-R{n:04d}",
                customer=original.customer,
                product_line=original.product_line,
                amount=original.amount,
                currency=applicants[rival].currency,
                closed_at=original.closed_at + timedelta(days=30),
                registered_at=(original.registered_at or original.closed_at)
                + timedelta(days=rng.randint(1, 20)),
            )
        )
    terminated = active[-1] if len(active) > 3 else None
    feedback = [
        (i, rng.randint(1, 5), rng.choice(["training", "support", "materials", "portal"]))
        for i in active
    ]
    mdf = [
        (
            i,
            f"{applicants[i].name} roadshow",
            Decimal(rng.choice([2000, 5000, 8000, 40000])),
            rng.random() < 0.7,
        )
        for i in active[::2]
    ]
    return Scenario(
        run=run,
        applicants=applicants,
        courses=courses,
        certifications=certifications,
        learners=learners,
        deals=deal_list,
        conflicting_registrations=conflicts,
        terminated=terminated,
        feedback=feedback,
        mdf=mdf,
    )


def contract_for(applicant: Applicant, run: str, index: int) -> dict[str, Any]:
    return {
        "contract_id": f"{run}-C{index:04d}",
        "start_date": "2026-07-01",
        "end_date": "2027-06-30",
        "currency": applicant.currency,
        "tier": applicant.tier,
        "commission_plan": PLANS[applicant.plan],
    }


def termination_date(today: date) -> date:
    """The earliest effective date the default 30-day notice allows."""
    return today + timedelta(days=30)


#: What one unit of the first currency is worth in the second, as the demo's treasury
#: publishes it (docs/rules/fx.md).
DEMO_RATES: dict[tuple[str, str], Decimal] = {
    ("EUR", "USD"): Decimal("1.0800"),
    ("USD", "EUR"): Decimal("0.9250"),
    ("GBP", "USD"): Decimal("1.2700"),
    ("USD", "GBP"): Decimal("0.7850"),
    ("EUR", "GBP"): Decimal("0.8600"),
    ("GBP", "EUR"): Decimal("1.1650"),
}


@dataclass(frozen=True)
class RateSent:
    """An ExchangeRateSet the demo's treasury publishes; a later one of the same pair and
    day corrects an earlier one."""

    base: str
    quote: str
    valid_from: date
    rate: Decimal


def fx_pairs(scenario: Scenario) -> dict[tuple[str, str], int]:
    """(deal currency, contract currency) → how many of the scenario's deals need it."""
    needed: dict[tuple[str, str], int] = {}
    for deal in scenario.deals + scenario.conflicting_registrations:
        contract = scenario.applicants[deal.applicant].currency
        if deal.currency != contract:
            needed[(deal.currency, contract)] = needed.get((deal.currency, contract), 0) + 1
    return needed


def treasury(scenario: Scenario) -> tuple[list[RateSent], tuple[str, str] | None]:
    """The rates the demo publishes, and the pair it withholds: every pair its deals need
    but the one fewest deals need, so those stay ``fx_pending``. Each pair gets a rate
    from before the quarter and one from mid-November, which a second event corrects."""
    needed = fx_pairs(scenario)
    withheld = min(sorted(needed), key=lambda pair: needed[pair]) if len(needed) > 1 else None
    sent: list[RateSent] = []
    for pair in sorted(needed):
        if pair == withheld:
            continue
        base = DEMO_RATES.get(pair, Decimal("1.0000"))
        sent += [
            RateSent(*pair, date(2026, 9, 1), base),
            RateSent(
                *pair, date(2026, 11, 15), (base * Decimal("1.02")).quantize(Decimal("0.0001"))
            ),
            RateSent(
                *pair, date(2026, 11, 15), (base * Decimal("1.01")).quantize(Decimal("0.0001"))
            ),
        ]
    return sent, withheld
