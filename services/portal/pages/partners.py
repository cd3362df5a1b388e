"""``/partners``: the channel manager's partner list; ``/partners/at-risk``: the partners
at risk across the programme; ``/partners/{partner_id}``: a partner's dashboard.

``/partners/at-risk`` is declared before ``/partners/{partner_id}``, which would take
``at-risk`` for a partner id."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.backend import Refused
from services.portal.charts import bar_chart
from services.portal.pages.dependencies import Parts, Person, Staff, ensure_may_see, render
from services.portal.pages.home import current_quarter

router = APIRouter(tags=["partners"])

#: A registration still open: waiting for its decision, or approved.
OPEN = ("pending", "approved")
#: The most partners at risk the page lists, the lowest scores first.
AT_RISK_LIMIT = 100
#: What a partner may say it can do when it applies (reporting's ``capability`` filter,
#: docs/rules/scorecard.md, "Industry fit").
CAPABILITIES = (
    "technical_support",
    "implementation",
    "logistics",
    "after_sales",
    "consulting",
    "training",
)


@router.get("/partners/at-risk")
async def at_risk(request: Request, person: Staff, parts: Parts) -> HTMLResponse:
    """The active partners at risk now, lowest health score first, each with its factors
    and a link to its dashboard (reporting's ``GET /partners/at-risk``)."""
    found = await parts.backend.read(
        "reporting", "/partners/at-risk", person.access_token, {"limit": AT_RISK_LIMIT}
    )
    context = {
        "person": person,
        "title": "Partners at risk",
        "found": found,
        "limit": AT_RISK_LIMIT,
    }
    return render(request, "at_risk.html", context)


@router.get("/partners/{partner_id}")
async def dashboard(
    request: Request, partner_id: str, person: Person, parts: Parts
) -> HTMLResponse:
    """Attainment against target, commission per period, certifications, MDF (the position
    per quarter and currency, and the requests), health, customer satisfaction over the
    last 12 months and capabilities (both from the partner 360), and the open
    registrations (pending or approved)."""
    ensure_may_see(person, partner_id)
    token, backend = person.access_token, parts.backend
    open_registrations = {
        "partner_id": partner_id,
        "status": list(OPEN),
        "limit": parts.settings.portal_page_size,
    }
    (
        partner,
        payouts,
        health,
        mdf,
        registrations,
        (mdf_position, mdf_unshown),
    ) = await asyncio.gather(
        backend.read("reporting", f"/partners/{partner_id}", token),
        backend.read("reporting", f"/partners/{partner_id}/payouts", token),
        backend.read("reporting", f"/partners/{partner_id}/health", token),
        backend.read("enablement", "/mdf-requests", token, {"partner_id": partner_id}),
        backend.read("incentives", "/registrations", token, open_registrations),
        _mdf_position(parts, token, partner_id),
    )
    periods = payouts.get("periods", [])
    period = health.get("period") or (periods[-1]["period"] if periods else current_quarter())
    statement = await backend.read(
        "reporting", f"/partners/{partner_id}/statements/{period}", token
    )
    currency = _currency(partner, periods)
    chart = bar_chart(
        "Commission and bonus per period",
        [(p["period"], Decimal(p["current_total"])) for p in periods[-8:]],
        currency,
    )
    context = {
        "person": person,
        "title": partner.get("name") or partner_id,
        "partner": partner,
        "statement": statement,
        "periods": periods,
        "chart": chart,
        "health": health,
        "mdf": mdf,
        "mdf_position": mdf_position,
        "mdf_unshown": mdf_unshown,
        "registrations": registrations,
        "open_statuses": OPEN,
        "currency": currency,
    }
    return render(request, "dashboard.html", context)


@router.get("/partners")
async def partners(
    request: Request,
    person: Staff,
    parts: Parts,
    tier: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    status: str | None = None,
    capability: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    """Partners by tier, region, industry, status and capability, a page at a time, with
    their health. The filters are passed to reporting as chosen: reporting refuses a tier,
    status or capability it does not know."""
    filters = {
        "tier": tier,
        "region": region,
        "industry": industry,
        "status": status,
        "capability": capability,
    }
    page = await parts.backend.read(
        "reporting",
        "/partners",
        person.access_token,
        {**filters, "cursor": cursor, "limit": parts.settings.portal_page_size},
    )
    items: list[dict[str, Any]] = page.get("items", [])
    healths = await asyncio.gather(
        *(_health(parts, person.access_token, item["partner_id"]) for item in items)
    )
    context = {
        "person": person,
        "title": "Partners",
        "rows": list(zip(items, healths, strict=True)),
        "filters": filters,
        "capabilities": CAPABILITIES,
        "next_cursor": page.get("next_cursor"),
    }
    template = "partners_rows.html" if request.headers.get("HX-Request") else "partners.html"
    return render(request, template, context)


async def _health(parts: Parts, token: str, partner_id: str) -> dict[str, Any] | None:
    try:
        return await parts.backend.read("reporting", f"/partners/{partner_id}/health", token)
    except Refused:
        return None


async def _mdf_position(
    parts: Parts, token: str, partner_id: str
) -> tuple[list[dict[str, Any]], str | None]:
    """Reporting's MDF position of the partner, one entry per quarter and currency, the
    newest quarter first (its currencies in alphabetical order). When reporting cannot
    answer it (but for a 401, which means signing in again): none and why, and the
    dashboard is shown all the same."""
    try:
        found = await parts.backend.read(
            "reporting", f"/partners/{quote(partner_id, safe='')}/mdf", token
        )
    except Refused as exc:
        if exc.status == 401:
            raise
        return [], exc.message
    quarters: list[dict[str, Any]] = found.get("quarters", [])
    by_currency = sorted(quarters, key=lambda q: str(q.get("currency") or ""))
    return sorted(by_currency, key=lambda q: str(q.get("quarter") or ""), reverse=True), None


def _currency(partner: dict[str, Any], periods: list[dict[str, Any]]) -> str | None:
    """The partner's money is in its contract's currency (or its periods')."""
    contract = partner.get("contract") or {}
    if contract.get("currency"):
        return str(contract["currency"])
    return str(periods[-1]["currency"]) if periods else None
