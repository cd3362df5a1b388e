"""The partner portal in unit tests: its settings, sessions sealed with its own codec,
and a fake of the services (and, when given, the stand-in issuer) behind an
``httpx.MockTransport``.

The fake answers canned JSON and records every request that reaches it (method,
service, path, query, ``Authorization``, ``Idempotency-Key``, JSON body). A request
it has no answer for fails the test (the error propagates out of the TestClient), so
a page that asks a service for something unexpected is seen. The canned bodies are
built through the services' own response models (``views.py``), so they have the
shape the real services answer with.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.cookies import Morsel, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.responses import Response

from services.enablement.views import FeedbackSummaryView, MdfClaimsView, MdfRequestsView
from services.incentives.views import (
    AdjustmentItem,
    InquiriesView,
    InquiryView,
    PartnerSettlementsView,
    RegistrationAnswer,
    RegistrationsView,
    RegistrationView,
    SettlementRunAnswer,
)
from services.notifications.views import PersonView
from services.onboarding.views import ApplicationsView, ApprovalAnswer
from services.portal.app import create_app
from services.portal.sessions import SESSION_COOKIE, Session, SessionCodec
from services.portal.settings import PortalSettings
from services.reporting.views import (
    HealthView,
    HistoryEntry,
    HistoryView,
    LeaderboardView,
    MdfPositionView,
    Partner360View,
    PartnersAtRiskView,
    PartnersView,
    PayoutsView,
    ProgrammeSummaryView,
    SatisfactionView,
    StatementChangesView,
    StatementLine,
    StatementView,
)
from tests.support.events import CONTRACT
from tests.support.onboarding import SCORECARD
from tests.support.tokens import Issuer

SECRET = "the-portal-test-secret-0123456789"
SERVICE_URLS = {
    "onboarding": "http://onboarding.test:8001",
    "enablement": "http://enablement.test:8002",
    "incentives": "http://incentives.test:8003",
    "reporting": "http://reporting.test:8004",
    "notifications": "http://notifications.test:8005",
}
SERVICE_OF_ORIGIN = {url: name for name, url in SERVICE_URLS.items()}


def portal_settings(**changes: Any) -> PortalSettings:
    """The portal's settings with an explicit session secret, no issuer unless given,
    and the fake services' URLs."""
    values: dict[str, Any] = {
        "portal_session_secret": SECRET,
        "oidc_issuer": None,
        "portal_url": "http://127.0.0.1:8000",
        **{f"{name}_url": url for name, url in SERVICE_URLS.items()},
        **changes,
    }
    return PortalSettings(**values)


# --------------------------------------------------------------------------- sessions


def partner_user(**changes: Any) -> Session:
    """Pat, a partner user of partner P-A, signed in just now for an hour's token."""
    now = time.time()
    made = Session(
        subject="pat",
        name="Pat Partner",
        role="partner",
        partner_id="P-A",
        access_token="access-token-of-pat",
        refresh_token="refresh-token-of-pat",
        access_expires_at=now + 3600,
        started_at=now,
        csrf="csrf-of-pat",
    )
    return replace(made, **changes)


def manager(**changes: Any) -> Session:
    """Maria, a channel manager."""
    return partner_user(
        **{
            "subject": "maria",
            "name": "Maria Manager",
            "role": "channel_manager",
            "partner_id": None,
            "access_token": "access-token-of-maria",
            "refresh_token": "refresh-token-of-maria",
            "csrf": "csrf-of-maria",
            **changes,
        }
    )


def cookies_set(headers: list[str]) -> dict[str, Morsel[str]]:
    """The cookies a response's ``Set-Cookie`` headers set (or delete), by name."""
    found: dict[str, Morsel[str]] = {}
    for header in headers:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        found.update(jar)
    return found


def session_cookie(codec: SessionCodec, session: Session, now: float | None = None) -> str:
    """The session cookie's value, sealed by the portal's own codec."""
    response = Response()
    codec.keep_session(response, session, time.time() if now is None else now)
    return cookies_set(response.headers.getlist("set-cookie"))[SESSION_COOKIE].value


def is_deleted(morsel: Morsel[str]) -> bool:
    return morsel.value == "" and morsel["max-age"] == "0"


# --------------------------------------------------------------------------- fake services


@dataclass(frozen=True, slots=True)
class Call:
    """A request that reached a fake service."""

    method: str
    service: str
    path: str
    params: dict[str, str]
    authorization: str | None
    idempotency_key: str | None
    body: Any
    #: The query as sent, each parameter as often as it was repeated.
    query: tuple[tuple[str, str], ...] = ()

    def values(self, name: str) -> list[str]:
        """Every value of the query parameter ``name``, in order."""
        return [value for key, value in self.query if key == name]


class FakeServices:
    """The services (and the issuer, when given) as one MockTransport handler.

    Notifications answers ``PUT /me`` from the start, as the real one does: every
    sign-in makes the person known to it (a test may answer otherwise with :meth:`on`)."""

    def __init__(self, issuer: Issuer | None = None) -> None:
        self.issuer = issuer
        self.answers: dict[tuple[str, str, str], tuple[int, Any]] = {}
        self.calls: list[Call] = []
        #: Services (or ``"issuer"``) that cannot be reached: a connection error.
        self.down: set[str] = set()
        self.on("PUT", "notifications", "/me", KNOWN_PERSON)

    def on(self, method: str, service: str, path: str, body: Any, status: int = 200) -> None:
        self.answers[(method, service, path)] = (status, body)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        parts = urlsplit(str(request.url))
        origin = f"{parts.scheme}://{parts.netloc}"
        if self.issuer is not None and origin == self.issuer.url:
            return self._issuer(request, parts.path)
        service = SERVICE_OF_ORIGIN.get(origin)
        if service is None:
            raise AssertionError(f"the portal called {request.url}, which is no service")
        if service in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.calls.append(
            Call(
                method=request.method,
                service=service,
                path=parts.path,
                params=dict(parse_qsl(parts.query)),
                authorization=request.headers.get("Authorization"),
                idempotency_key=request.headers.get("Idempotency-Key"),
                body=json.loads(request.content) if request.content else None,
                query=tuple(parse_qsl(parts.query)),
            )
        )
        answer = self.answers.get((request.method, service, parts.path))
        if answer is None:
            raise AssertionError(
                f"the fake has no answer for {request.method} {service}{parts.path}"
            )
        status, body = answer
        return httpx.Response(status, json=body)

    def _issuer(self, request: httpx.Request, path: str) -> httpx.Response:
        assert self.issuer is not None
        if "issuer" in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        form = dict(parse_qsl(request.content.decode())) if request.method == "POST" else None
        status, body = self.issuer.answer(request.method, path, form)
        return httpx.Response(status, json=body)


@contextmanager
def running_portal(settings: PortalSettings, services: FakeServices) -> Iterator[TestClient]:
    """A TestClient of the portal on the fake services; it follows no redirect."""
    app: FastAPI = create_app(settings, http=services.client())
    with TestClient(app, follow_redirects=False) as client:
        yield client


#: The domain the TestClient's cookie jar files the portal's own cookies under.
COOKIE_DOMAIN = "testserver.local"


def sign_in(client: TestClient, session: Session) -> None:
    """Put ``session`` in the client's cookie jar, sealed by the app's own codec, as if
    the portal had set it (so the portal's later ``Set-Cookie`` replaces it)."""
    codec: SessionCodec = client.app.state.portal.codec  # type: ignore[attr-defined]
    client.cookies.set(SESSION_COOKIE, session_cookie(codec, session), domain=COOKIE_DOMAIN)


def hidden(html: str, name: str) -> str:
    """The value of the (first) hidden field ``name`` in ``html``."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} field in the page"
    return found[1]


def form_of(client: TestClient, page: str) -> dict[str, str]:
    """The CSRF token and submission id of the (first) form on ``page``."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    return {"csrf": hidden(shown.text, "csrf"), "submission": hidden(shown.text, "submission")}


# --------------------------------------------------------------------------- canned answers


def answer_of(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as the service answers it: validated by its response model, as JSON."""
    return model.model_validate(data).model_dump(mode="json", by_alias=True)


#: Notifications' answer to ``PUT /me`` (``PersonView``): Pat, known by their address.
KNOWN_PERSON = answer_of(
    PersonView,
    {"person": "pat", "address": "pat@example.com", "partner_id": "P-A", "manager": False},
)


def satisfaction(
    promoters: int = 0,
    passives: int = 0,
    detractors: int = 0,
    average: str | None = None,
    nps: str | None = None,
) -> dict[str, Any]:
    """Reporting's customer satisfaction figures (``SatisfactionView``), as given: none of
    them by default, no answers."""
    return answer_of(
        SatisfactionView,
        {
            "responses": promoters + passives + detractors,
            "promoters": promoters,
            "passives": passives,
            "detractors": detractors,
            "average": average,
            "nps": nps,
        },
    )


#: The partner 360's satisfaction: answers 10, 10, 9, 8 and 6 (docs/rules/satisfaction.md).
SATISFACTION = satisfaction(promoters=3, passives=1, detractors=1, average="8.60", nps="40.0")


def satisfaction_factor(
    responses: int = 0, nps: str | None = None, points: str | None = None, weight: int = 20
) -> dict[str, Any]:
    """A health score's satisfaction factor: without answers it does not count and the
    other factors count in full; with answers they count for ``(100 − weight) / 100``."""
    scale = Decimal(1) if responses == 0 else Decimal(100 - weight) / 100
    return {
        "responses": responses,
        "nps": nps,
        "points": points,
        "max": weight,
        "others_scale": f"{scale:.2f}",
    }


def partner_360(
    partner_id: str, name: str, currency: str = "EUR", **changes: Any
) -> dict[str, Any]:
    return answer_of(
        Partner360View,
        {
            "partner_id": partner_id,
            "name": name,
            "status": "active",
            "partner_type": "reseller",
            "region": "EMEA",
            "industry": "IT",
            "tier": "gold",
            "contract": {**CONTRACT, "contract_id": f"C-{partner_id}", "currency": currency},
            "certifications": [
                {
                    "learner_id": "L-1",
                    "certification_id": "CERT-CLOUD",
                    "product_line": "cloud",
                    "awarded_at": "2026-02-01T09:00:00.000000Z",
                    "expires_at": "2028-02-01T09:00:00.000000Z",
                    "valid": True,
                }
            ],
            "trainings_completed": 3,
            "deals_closed": 7,
            "revenue_total": "1234567.80",
            "commission_total": "98765.43",
            "bonus_total": "5000.00",
            "capabilities": ["technical_support", "after_sales"],
            "satisfaction": SATISFACTION,
            **changes,
        },
    )


def partners_page(*items: dict[str, Any], next_cursor: str | None = None) -> dict[str, Any]:
    """A page of reporting's ``GET /partners``."""
    return answer_of(PartnersView, {"items": list(items), "next_cursor": next_cursor})


def payouts(
    partner_id: str, totals: list[tuple[str, str]], currency: str = "EUR"
) -> dict[str, Any]:
    """A partner's payouts with a period per ``(period, current total)``."""
    periods = [
        {
            "period": period,
            "currency": currency,
            "current_total": total,
            "paid": total,
            "settled": True,
            "pending_adjustment": "0.00",
        }
        for period, total in totals
    ]
    return answer_of(
        PayoutsView,
        {"partner_id": partner_id, "payouts": [], "periods": periods, "pending_adjustments": {}},
    )


def health(partner_id: str, period: str, score: str = "72.5") -> dict[str, Any]:
    return answer_of(
        HealthView,
        {
            "partner_id": partner_id,
            "as_of": "2026-05-10T12:00:00+00:00",
            "period": period,
            "score": score,
            "at_risk": False,
            "factors": {
                "attainment": {"value": "0.8125", "points": "32.5", "max": 40},
                "activity": {"days_since_last_deal": 12, "points": "20.0", "max": 25},
                "certifications": {"valid": 1, "points": "10.0", "max": 20},
                "feedback": {"average_rating": "4.0", "points": "10.0", "max": 15},
                "satisfaction": satisfaction_factor(),
            },
        },
    )


def partners_at_risk(
    *partners: tuple[str, str], scored: int = 40, surveyed: Sequence[str] = ()
) -> dict[str, Any]:
    """Reporting's ``GET /partners/at-risk``: each ``(partner_id, name)`` at risk, lowest
    score first: the first with a little of each factor (19.8), the others with no
    target, no deal and no feedback (27.5); those ``surveyed`` (but the first) have those
    factors and customers' survey answers, NPS -50.0 from 4 answers (27.5 × 0.80 + 5.0 =
    27.0)."""
    quiet = {
        "period": "2026-Q2",
        "score": "27.5",
        "factors": {
            "attainment": {"value": None, "points": "20.0", "max": 40},
            "activity": {"days_since_last_deal": None, "points": "0.0", "max": 25},
            "certifications": {"valid": 0, "points": "0.0", "max": 20},
            "feedback": {"average_rating": None, "points": "7.5", "max": 15},
            "satisfaction": satisfaction_factor(),
        },
    }
    lagging = {
        "period": "2026-Q2",
        "score": "19.8",
        "factors": {
            "attainment": {"value": "0.1500", "points": "6.0", "max": 40},
            "activity": {"days_since_last_deal": 120, "points": "0.0", "max": 25},
            "certifications": {"valid": 1, "points": "10.0", "max": 20},
            "feedback": {"average_rating": "2.00", "points": "3.8", "max": 15},
            "satisfaction": satisfaction_factor(),
        },
    }
    answered = {
        "period": "2026-Q2",
        "score": "27.0",
        "factors": {
            **quiet["factors"],
            "satisfaction": satisfaction_factor(responses=4, nps="-50.0", points="5.0"),
        },
    }
    return answer_of(
        PartnersAtRiskView,
        {
            "as_of": "2026-05-10T12:00:00+00:00",
            "scored": scored,
            "partners": [
                {
                    "partner_id": partner_id,
                    "name": name,
                    "tier": "silver",
                    "region": "EMEA",
                    **(lagging if n == 0 else answered if partner_id in surveyed else quiet),
                }
                for n, (partner_id, name) in enumerate(partners)
            ],
        },
    )


def statement_line(deal_id: str, **changes: Any) -> dict[str, Any]:
    """A line of reporting's statement (``StatementLine``): a commissionable deal of
    81,250.00 earning 9,750.00, unless ``changes`` say otherwise (a converted deal's
    ``original_amount``, ``original_currency`` and ``fx_rate``; a ``currency`` of its own)."""
    line = {
        "deal_id": deal_id,
        "closed_at": "2026-05-02T10:00:00.000000Z",
        "amount": "81250.00",
        "status": "won",
        "base": "8125.00",
        "uplift": "1625.00",
        "commission": "9750.00",
        "target_bonus": "0.00",
        "revision": 1,
        **changes,
    }
    return answer_of(StatementLine, line)


def statement(
    partner_id: str,
    period: str,
    currency: str = "EUR",
    lines: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Reporting's statement of ``period``: one line (``D-<partner>-1``) unless ``lines``
    are given (:func:`statement_line`); the totals as the one line makes them."""
    return answer_of(
        StatementView,
        {
            "partner_id": partner_id,
            "period": period,
            "currency": currency,
            "lines": list(lines) if lines is not None else [statement_line(f"D-{partner_id}-1")],
            "revenue": "81250.00",
            "commission_total": "9750.00",
            "bonus_total": "0.00",
            "payout_total": "9750.00",
            "target": "100000.00",
            "attainment": "0.8125",
            "settled": False,
            "paid": "0.00",
            "pending_adjustment": "0.00",
        },
    )


def mdf_requests(partner_id: str, currency: str = "EUR") -> dict[str, Any]:
    return answer_of(
        MdfRequestsView,
        {
            "partner_id": partner_id,
            "status": None,
            "requests": [
                {
                    "request_id": f"M-{partner_id}-1",
                    "partner_id": partner_id,
                    "campaign": f"Spring webinar of {partner_id}",
                    "amount": "2500.00",
                    "currency": currency,
                    "requested_at": "2026-04-01T08:00:00+00:00",
                    "status": "approved",
                    "decided_at": "2026-04-02T08:00:00+00:00",
                    "reason": None,
                    # Still open: claims are taken until this day.
                    "claims_close": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
                }
            ],
            "budget": {
                "quarter": "2026-Q2",
                "currency": currency,
                "tier": "gold",
                "budget": "10000.00",
                "approved": "2500.00",
                "released": "0.00",
                "remaining": "7500.00",
            },
        },
    )


def feedback_summary(period: str | None, product_line: str | None = None) -> dict[str, Any]:
    """Enablement's ``GET /feedback/summary``: a cloud line with three feedback items and
    the feedback naming no product line (one), or only the line asked (none)."""
    ratings = {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    cloud: dict[str, Any] = {
        "product_line": "cloud",
        "count": 3,
        "average_rating": "3.67",
        "ratings": ratings,
        "top_words": [{"word": "portal", "count": 2}, {"word": "<slow>", "count": 1}],
    }
    unnamed: dict[str, Any] = {
        "product_line": None,
        "count": 1,
        "average_rating": "5.00",
        "ratings": {**dict.fromkeys(ratings, 0), "5": 1},
        "top_words": [{"word": "サポート", "count": 1}],
    }
    asked: dict[str, Any] = {
        "product_line": product_line,
        "count": 0,
        "average_rating": None,
        "ratings": dict.fromkeys(ratings, 0),
        "top_words": [],
    }
    lines = [asked] if product_line else [cloud, unnamed]
    return answer_of(
        FeedbackSummaryView,
        {
            "period": period,
            "since": "2026-10-01T00:00:00+00:00" if period else None,
            "until": "2027-01-01T00:00:00+00:00" if period else None,
            "product_line": product_line,
            "count": sum(line["count"] for line in lines),
            "product_lines": lines,
        },
    )


def evidence_digest(name: str) -> str:
    """A made-up document's SHA-256, different for each ``name``."""
    return hashlib.sha256(name.encode()).hexdigest()


def mdf_claim(
    claim_id: str,
    request_id: str,
    partner_id: str = "P-A",
    amount: str = "600.00",
    status: str = "submitted",
    currency: str = "EUR",
    **changes: Any,
) -> dict[str, Any]:
    """A claim as enablement answers it (``GET /mdf-claims``): an invoice and a photo (each
    digest :func:`evidence_digest` of its file), submitted on 2026-05-20 for an activity
    that ended on 2026-05-15; approved: all of it."""
    decided = status != "submitted"
    return {
        "claim_id": claim_id,
        "request_id": request_id,
        "partner_id": partner_id,
        "amount": amount,
        "currency": currency,
        "activity_end": "2026-05-15",
        "evidence": [
            {
                "kind": kind,
                "url": f"https://files.example.com/{claim_id}/{name}",
                "sha256": evidence_digest(f"{claim_id}/{name}"),
            }
            for kind, name in (("invoice", "invoice.pdf"), ("photo", "booth.jpg"))
        ],
        "status": status,
        "submitted_at": "2026-05-20T09:00:00+00:00",
        "decided_at": "2026-05-22T09:00:00+00:00" if decided else None,
        "approved_amount": amount if status == "approved" else None,
        "reason": "rejected by the channel manager" if status == "rejected" else None,
        **changes,
    }


def mdf_claims(
    *claims: dict[str, Any], partner_id: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Enablement's ``GET /mdf-claims``, through its response model."""
    return answer_of(
        MdfClaimsView, {"partner_id": partner_id, "status": status, "claims": list(claims)}
    )


def mdf_quarter(
    quarter: str,
    currency: str = "EUR",
    requested: str = "2500.00",
    approved: str = "2000.00",
    claimed: str = "1800.00",
    claims_approved: str = "1500.00",
    reimbursed: str = "1000.00",
    released: str = "0.00",
) -> dict[str, Any]:
    """One quarter and currency of a partner's MDF position (reporting's
    ``MdfQuarterView``)."""
    return {
        "quarter": quarter,
        "currency": currency,
        "requested": requested,
        "approved": approved,
        "claimed": claimed,
        "claims_approved": claims_approved,
        "reimbursed": reimbursed,
        "released": released,
    }


#: An MDF figure's names, as reporting's position and partner 360 name them.
MDF_FIGURES = ("requested", "approved", "claimed", "claims_approved", "reimbursed", "released")


def mdf_position(partner_id: str, *quarters: dict[str, Any]) -> dict[str, Any]:
    """Reporting's ``GET /partners/{partner_id}/mdf``: ``quarters`` as given (reporting
    answers them in quarter order, then by currency)."""
    return answer_of(MdfPositionView, {"partner_id": partner_id, "quarters": list(quarters)})


def mdf_totals(quarters: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The partner 360's ``mdf``: the quarters' figures summed per currency, the
    currencies in alphabetical order."""
    sums: dict[str, dict[str, Decimal]] = {}
    for q in quarters:
        into = sums.setdefault(q["currency"], dict.fromkeys(MDF_FIGURES, Decimal(0)))
        for name in MDF_FIGURES:
            into[name] += Decimal(q[name])
    return [
        {"currency": currency, **{name: f"{figures[name]:.2f}" for name in MDF_FIGURES}}
        for currency, figures in sorted(sums.items())
    ]


def dashboard_of(
    services: FakeServices,
    partner_id: str,
    name: str,
    currency: str = "EUR",
    mdf: Sequence[dict[str, Any]] | None = None,
) -> None:
    """What a partner's dashboard reads, for ``partner_id``; its MDF position ``mdf`` (by
    default a quarter of 2026-Q1 and one of 2026-Q2 in ``currency``), summed in its 360."""
    totals = [("2026-Q1", "12000.00"), ("2026-Q2", "9750.00")]
    base = f"/partners/{partner_id}"
    quarters = (
        [mdf_quarter("2026-Q1", currency), mdf_quarter("2026-Q2", currency, reimbursed="0.00")]
        if mdf is None
        else list(mdf)
    )
    services.on(
        "GET", "reporting", base, partner_360(partner_id, name, currency, mdf=mdf_totals(quarters))
    )
    services.on("GET", "reporting", f"{base}/mdf", mdf_position(partner_id, *quarters))
    services.on("GET", "reporting", f"{base}/payouts", payouts(partner_id, totals, currency))
    services.on("GET", "reporting", f"{base}/health", health(partner_id, "2026-Q2"))
    services.on(
        "GET", "reporting", f"{base}/statements/2026-Q2", statement(partner_id, "2026-Q2", currency)
    )
    services.on("GET", "enablement", "/mdf-requests", mdf_requests(partner_id, currency))
    services.on(
        "GET",
        "incentives",
        "/registrations",
        registrations(
            registration(f"R-{partner_id}-1", partner_id),
            registration(f"R-{partner_id}-2", partner_id, "approved"),
        ),
    )


def registration_answer(registration_id: str) -> dict[str, Any]:
    return answer_of(RegistrationAnswer, RegistrationAnswer.of(registration_id).model_dump())


def registration(
    registration_id: str, partner_id: str, status: str = "pending", reason: str | None = None
) -> dict[str, Any]:
    return answer_of(
        RegistrationView,
        {
            "registration_id": registration_id,
            "deal_id": "D-7",
            "partner_id": partner_id,
            "customer": "Globex",
            "product_line": "cloud",
            "registered_at": "2026-05-01T10:00:00+00:00",
            "status": status,
            "reason": reason,
            "decided_at": None if status == "pending" else "2026-05-01T10:00:05+00:00",
            "expires_at": None if status == "pending" else "2026-07-30T10:00:00+00:00",
            "conflicting_registration_id": None,
            "decided_by_hand": False,
            "decided_by": None if status == "pending" else {"kind": "system", "id": "incentives"},
            "extensions": [],
            "extension_waiting": False,
            "may_request_extension": status == "approved",
        },
    )


def registrations(*entries: dict[str, Any], next_cursor: str | None = None) -> dict[str, Any]:
    """A page of incentives' ``GET /registrations``."""
    return answer_of(
        RegistrationsView, {"registrations": list(entries), "next_cursor": next_cursor}
    )


def adjustment_item(
    adjustment_id: str,
    partner_id: str = "P-A",
    amount: str = "800.00",
    inquiry_id: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """An adjustment as incentives answers it (``POST /adjustments``, or in an inquiry)."""
    return answer_of(
        AdjustmentItem,
        {
            "adjustment_id": adjustment_id,
            "partner_id": partner_id,
            "deal_id": f"D-{partner_id}-1",
            "period": "2026-Q2",
            "currency": "EUR",
            "amount": amount,
            "reason": "registered-deal bonus",
            "adjusted_at": "2026-06-03T09:00:00+00:00",
            "actor": {"kind": "person", "id": "maria"},
            "inquiry_id": inquiry_id,
            **changes,
        },
    )


def inquiry(
    inquiry_id: str, partner_id: str = "P-A", status: str = "open", **changes: Any
) -> dict[str, Any]:
    """An inquiry about ``D-<partner_id>-1`` of 2026-Q2 as incentives answers it
    (``GET /inquiries/{id}``), asked by Pat 4 days ago; resolved: explained by Maria."""
    resolved = status == "resolved"
    return answer_of(
        InquiryView,
        {
            "inquiry_id": inquiry_id,
            "partner_id": partner_id,
            "deal_id": f"D-{partner_id}-1",
            "period": "2026-Q2",
            "message": "The uplift is missing: we hold the cloud certification.",
            "status": status,
            "opened_at": "2026-06-01T09:00:00+00:00",
            "opened_by": {"kind": "person", "id": "pat"},
            "age_days": 4,
            "resolution": "explained" if resolved else None,
            "note": "The certification was awarded after the deal closed." if resolved else None,
            "resolved_at": "2026-06-05T10:00:00+00:00" if resolved else None,
            "resolved_by": {"kind": "person", "id": "maria"} if resolved else None,
            "adjustment": None,
            **changes,
        },
    )


def inquiries(*entries: dict[str, Any]) -> dict[str, Any]:
    """Incentives' ``GET /inquiries``."""
    return answer_of(InquiriesView, {"inquiries": list(entries)})


def mdf_reimbursement(currency: str, amount: str, *claims: str) -> dict[str, Any]:
    """Approved MDF claims paid in a currency other than the payout's (an entry of a
    payout's ``mdf_other_currencies``)."""
    return {"currency": currency, "amount": amount, "claims": list(claims)}


def partner_settlements(
    partner_id: str,
    currency: str = "EUR",
    mdf_reimbursed: str = "0.00",
    mdf_other_currencies: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A partner's settlements (one, of 2026-Q1, with the MDF it reimbursed) and a
    clawback pending against it."""
    settled = {
        "settlement_id": f"S-{partner_id}-Q1",
        "period": "2026-Q1",
        "currency": currency,
        "amount_paid": "12000.00",
        "period_amount": "12000.00",
        "carried_adjustments": [],
        "unrecovered": [],
        "settled_at": "2026-04-02T09:00:00+00:00",
        "rerun": False,
        "mdf_reimbursed": mdf_reimbursed,
        "mdf_claims": [f"MC-{partner_id}-1"] if Decimal(mdf_reimbursed) else [],
        "mdf_other_currencies": list(mdf_other_currencies),
    }
    return answer_of(
        PartnerSettlementsView,
        {
            "partner_id": partner_id,
            "settlements": [settled],
            "pending_adjustments": [
                {"period": "2026-Q1", "currency": currency, "amount": "-250.00"}
            ],
        },
    )


def settlement_run(
    settlement_id: str,
    period: str,
    *,
    dry_run: bool = False,
    currency: str = "EUR",
    mdf_reimbursed: str = "0.00",
    mdf_other_currencies: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """What ``POST /settlements`` answers: P-A paid (and the MDF reimbursed it), P-B
    skipped."""
    payout = {
        "partner_id": "P-A",
        "settlement_id": settlement_id,
        "period": period,
        "currency": currency,
        "amount_paid": "9500.00",
        "period_amount": "9750.00",
        "carried_adjustments": [{"period": "2026-Q1", "amount": "-250.00"}],
        "unrecovered": [],
        "settled_at": "2026-07-01T09:00:00+00:00",
        "rerun": False,
        "mdf_reimbursed": mdf_reimbursed,
        "mdf_claims": ["MC-P-A-1"] if Decimal(mdf_reimbursed) else [],
        "mdf_other_currencies": list(mdf_other_currencies),
        "event_id": None if dry_run else "E-P-A",
        "replayed": False,
        "pending_after": {},
    }
    return answer_of(
        SettlementRunAnswer,
        {
            "settlement_id": settlement_id,
            "period": period,
            "settled_at": "2026-07-01T09:00:00+00:00",
            "dry_run": dry_run,
            "payouts": [payout],
            "skipped": [{"partner_id": "P-B", "skipped": "nothing earned and nothing pending"}],
            "totals": {currency: "9500.00"},
        },
    )


def applications(*entries: dict[str, Any]) -> dict[str, Any]:
    return answer_of(ApplicationsView, {"applications": list(entries), "next_cursor": None})


def application(application_id: str, partner_id: str, name: str) -> dict[str, Any]:
    return {
        "application_id": application_id,
        "partner_id": partner_id,
        "status": "applied",
        "name": name,
        "partner_type": "reseller",
        "region": "EMEA",
        "industry": "IT",
        "contact_email": "channel@example.com",
        "capabilities": ["technical_support"],
        "scorecard": SCORECARD,
        "score": 77.0,
        "recommendation": "approve",
        "weights": {
            "customer_base": "0.25",
            "sales_network": "0.20",
            "expertise": "0.25",
            "track_record": "0.20",
            "fit": "0.10",
        },
        "applied_at": "2026-05-01T10:00:00+00:00",
        "decided_at": None,
        "rejection_reason": None,
        "warnings": [],
    }


def approval(application_id: str, partner_id: str) -> dict[str, Any]:
    return answer_of(
        ApprovalAnswer,
        {
            "application_id": application_id,
            "partner_id": partner_id,
            "status": "approved",
            "approved_at": "2026-05-02T10:00:00+00:00",
            "event_id": "E-1",
        },
    )


def programme(period: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The programme summary and the leaderboard of a period."""
    summary = answer_of(
        ProgrammeSummaryView,
        {
            "period": period,
            "partners": {
                "total": 3,
                "by_status": {"active": 2, "applied": 1},
                "by_tier": {"gold": 2},
            },
            "revenue": {"EUR": "1500000.00", "USD": "250000.50"},
            "commission": {"EUR": "150000.00", "USD": "25000.05"},
            "bonus": {},
            "training_completions": 12,
            "certifications_awarded": 4,
            "open_mdf": {"requests": 2, "amount": {"EUR": "4000.00"}},
            "average_feedback_rating": "4.2",
            "satisfaction": satisfaction(
                promoters=6, passives=3, detractors=3, average="7.92", nps="25.0"
            ),
        },
    )
    board = answer_of(
        LeaderboardView,
        {
            "period": period,
            "by": "revenue",
            "entries": [
                {
                    "rank": 1,
                    "partner_id": "P-A",
                    "name": "Alpha",
                    "value": "900000.00",
                    "currency": "EUR",
                },
                {
                    "rank": 2,
                    "partner_id": "P-B",
                    "name": "Bravo",
                    "value": "250000.50",
                    "currency": "USD",
                },
            ],
        },
    )
    return summary, board


def history_entry(
    event_id: str,
    event_type: str,
    summary: str,
    actor: dict[str, str] | None,
    received_at: str = "2026-06-01T09:00:00.000000Z",
    source: str = "/partnerhub/incentives",
    time: str | None = None,
) -> dict[str, Any]:
    """One entry of reporting's history, received at ``received_at`` (its event's own
    ``time`` the same unless given)."""
    return answer_of(
        HistoryEntry,
        {
            "event_id": event_id,
            "type": event_type,
            "time": time or received_at,
            "received_at": received_at,
            "source": source,
            "actor": actor,
            "summary": summary,
        },
    )


def history(
    partner_id: str, since: datetime, until: datetime, *entries: dict[str, Any]
) -> dict[str, Any]:
    """Reporting's ``GET /partners/{partner_id}/history`` over [since, until): its window
    and ``earlier`` as reporting's own :meth:`HistoryView.of` makes them, and ``entries``."""
    window = HistoryView.of(partner_id, since, until, []).model_dump(mode="json")
    return answer_of(HistoryView, {**window, "entries": list(entries)})


def statement_changes(
    partner_id: str,
    period: str,
    since: str,
    then: str,
    now: str,
    *changes: dict[str, Any],
    currency: str | None = "EUR",
) -> dict[str, Any]:
    """Reporting's ``GET …/statements/{period}/changes?since=``: the payout then and now,
    and each change (``event_id``, ``type``, ``received_at``, ``deal_id``, ``delta``,
    ``explanation``); the change is now − then."""
    return answer_of(
        StatementChangesView,
        {
            "partner_id": partner_id,
            "period": period,
            "currency": currency,
            "since": since,
            "payout_total_then": then,
            "payout_total_now": now,
            "change": str(Decimal(now) - Decimal(then)),
            "changes": [{"time": c.get("received_at"), **c} for c in changes],
        },
    )


# --------------------------------------------------------------------------- answers


#: A money figure as the pages show it: two decimals, thousands separators.
MONEY = re.compile(r"(?<![\d.,])-?\d{1,3}(?:,\d{3})*\.\d{2}(?![\d.])")


#: What follows a score on a scale (``average 8.60 out of 10``): no amount.
SCALE = " out of "


def money_without(html: str, *currencies: str) -> list[str]:
    """The money figures in ``html`` followed by none of `` <currency>`` (each with what
    follows it); a score on a scale (:data:`SCALE`) is no money figure."""
    return [
        html[m.start() : m.end() + 20]
        for m in MONEY.finditer(html)
        if not any(html.startswith(f" {currency}", m.end()) for currency in currencies)
        and not html.startswith(SCALE, m.end())
    ]


def assert_hardened(answer: httpx.Response, issuer: str | None = None) -> None:
    """The headers every portal answer carries: the Content-Security-Policy,
    ``nosniff`` and ``no-store``."""
    policy = {
        directive.split(" ", 1)[0]: directive.split(" ", 1)[1]
        for directive in answer.headers["Content-Security-Policy"].split("; ")
    }
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    form_action = policy["form-action"].split()
    assert "'self'" in form_action
    if issuer is not None:
        parts = urlsplit(issuer)
        assert f"{parts.scheme}://{parts.netloc}" in form_action
    else:
        assert form_action == ["'self'"]
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"
