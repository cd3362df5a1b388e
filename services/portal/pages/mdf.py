"""``/mdf``: co-marketing funds. A partner user sees their requests and budget and asks
for more, and claims against each approved request with its proof of performance; the
channel manager decides the requests waiting and, on ``/mdf/claims``, the claims waiting:
all or part of each, or rejects it (docs/rules/enablement.md, "MDF" and "Claims")."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.backend import Location, Refused
from services.portal.pages.dependencies import (
    Form,
    Parts,
    Person,
    Portal,
    Staff,
    fields_of,
    render,
    see_other,
    send_correctable,
    send_form,
)
from services.portal.sessions import Session

router = APIRouter(tags=["mdf"])

#: A decision, as the page reports it done.
DECIDED = {"approve": "approved", "reject": "rejected"}
#: The claim form's rows of evidence, as numbered on the form: one at least is filled in.
EVIDENCE_ROWS = (1, 2, 3)
EVIDENCE_PARTS = ("kind", "url", "sha256")
CLAIM_FIELDS = (
    "amount",
    "activity_end",
    *(f"evidence-{n}-{part}" for n in EVIDENCE_ROWS for part in EVIDENCE_PARTS),
)
#: The most claims a page shows: a partner's (every request's), the manager's queue.
PARTNER_CLAIMS_SHOWN = 1000
CLAIMS_WAITING_SHOWN = 100

#: A claim's fields in words, by the name enablement gives them.
FIELD_WORDS = {
    "amount": "Amount",
    "currency": "Currency",
    "activity_end": "Activity end date",
    "evidence": "Evidence",
    "approved_amount": "Amount approved",
    "reason": "Reason",
    "request_id": "This request",
}
EVIDENCE_WORDS = {"kind": "kind", "url": "URL", "sha256": "SHA-256"}
#: A claim rule broken, in words, by the code enablement's message starts with.
RULE_WORDS = {
    "not_approved": "only an approved request can be claimed against",
    "currency_mismatch": "not the request's currency",
    "no_evidence": "at least one piece of evidence is needed",
    "claim_window_closed": "too late, the claim window of this activity has closed",
    "over_approved_amount": "over the approved amount",
    "evidence_reused": "this evidence was already used",
    "more_than_claimed": "more than the claim asks for",
}


def request_path(request_id: str) -> str:
    """An MDF request's path at enablement (its claims and decisions are under it)."""
    return f"/mdf-requests/{quote(request_id, safe='')}"


# --------------------------------------------------------------------------- requests


@router.get("/mdf")
async def mdf(
    request: Request, person: Person, parts: Parts, done: str | None = None
) -> HTMLResponse:
    return await _page(request, person, parts, done=done)


@router.post("/mdf-requests", response_model=None)
async def request_mdf(request: Request, person: Person, parts: Parts, form: Form) -> Response:
    body = fields_of(form, ("campaign", "amount", "currency"), person)
    sent = await send_correctable(parts, person, form, "enablement", "/mdf-requests", body)
    if isinstance(sent, Refused):
        return await _page(
            request,
            person,
            parts,
            problem=sent.message,
            failed="request",
            values=body,
            status=sent.status,
        )
    # Over the budget left, enablement rejects a request at once.
    return see_other(
        "/mdf?done=over-budget" if sent.body.get("status") == "rejected" else "/mdf?done=sent"
    )


@router.post("/mdf-requests/{request_id}/approve", response_model=None)
async def approve(request_id: str, person: Staff, parts: Parts, form: Form) -> Response:
    return await _decide(request_id, "approve", person, parts, form)


@router.post("/mdf-requests/{request_id}/reject", response_model=None)
async def reject(request_id: str, person: Staff, parts: Parts, form: Form) -> Response:
    return await _decide(request_id, "reject", person, parts, form)


async def _decide(
    request_id: str, decision: str, person: Session, parts: Portal, form: dict[str, str]
) -> Response:
    body = {"reason": form["reason"].strip()} if form.get("reason", "").strip() else None
    path = f"{request_path(request_id)}/{decision}"
    await send_form(parts, person, form, "enablement", path, body)
    return see_other(f"/mdf?done={DECIDED[decision]}")


async def _page(
    request: Request,
    person: Session,
    parts: Portal,
    *,
    done: str | None = None,
    problem: str | None = None,
    failed: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A partner user's requests and budget, each approved request with its claims and
    the form to claim against it; or the requests waiting for the manager. With what
    became of the last form, or its problem on the form ``failed`` ("request", or the id
    of the request claimed against) and what was typed."""
    token = person.access_token
    claims: dict[str, Any] = {"claims": []}
    if person.is_partner:
        own = {"partner_id": person.partner_id}
        found, claims = await asyncio.gather(
            parts.backend.read("enablement", "/mdf-requests", token, own),
            parts.backend.read(
                "enablement", "/mdf-claims", token, {**own, "limit": PARTNER_CLAIMS_SHOWN}
            ),
        )
    else:
        found = await parts.backend.read(
            "enablement", "/mdf-requests", token, {"status": "requested"}
        )
    approved = [r for r in found.get("requests", []) if r.get("status") == "approved"]
    today = datetime.now(UTC).date().isoformat()
    closed = {
        str(r.get("request_id"))
        for r in approved
        if r.get("claims_close") is not None and str(r["claims_close"]) < today
    }
    claims_of: dict[str, list[dict[str, Any]]] = {}
    for claim in claims.get("claims", []):
        claims_of.setdefault(str(claim.get("request_id")), []).append(claim)
    context = {
        "person": person,
        "title": "Marketing development funds",
        "mdf": found,
        "approved": approved,
        "claims_of": claims_of,
        "closed": closed,
        "evidence_rows": EVIDENCE_ROWS,
        "done": done,
        "problem": problem,
        "failed": failed,
        "problem_on_claim_form": any(r.get("request_id") == failed for r in approved),
        "values": values or {},
    }
    return render(request, "mdf.html", context, status=status)


# --------------------------------------------------------------------------- claims


@router.post("/mdf-requests/{request_id}/claims", response_model=None)
async def claim(
    request: Request, request_id: str, person: Person, parts: Parts, form: Form
) -> Response:
    """A partner user claims against their own approved request (enablement lets staff
    claim against any): the amount, the day the activity ended and the evidence rows
    filled in, sent as typed for enablement to judge. Its refusal is shown on the
    request's claim form, each field named in words, with what was typed kept; another
    partner's request is enablement's 403."""
    typed = {name: form.get(name, "").strip() for name in CLAIM_FIELDS}
    rows = [
        n for n in EVIDENCE_ROWS if any(typed[f"evidence-{n}-{part}"] for part in EVIDENCE_PARTS)
    ]
    body = {
        "amount": typed["amount"],
        "activity_end": typed["activity_end"],
        "evidence": [
            {part: typed[f"evidence-{n}-{part}"] for part in EVIDENCE_PARTS} for n in rows
        ],
    }
    path = f"{request_path(request_id)}/claims"
    sent = await send_correctable(parts, person, form, "enablement", path, body)
    if isinstance(sent, Refused):
        if sent.status == 403:
            raise sent
        return await _page(
            request,
            person,
            parts,
            problem=in_words(sent, rows),
            failed=request_id,
            values=typed,
            status=sent.status,
        )
    return see_other("/mdf?done=claimed")


@router.get("/mdf/claims")
async def claims_waiting(
    request: Request, person: Staff, parts: Parts, done: str | None = None
) -> HTMLResponse:
    """The channel manager's queue: every partner's claims waiting, oldest first."""
    return await _claims_page(request, person, parts, done=done)


@router.post("/mdf-requests/{request_id}/claims/{claim_id}/approve", response_model=None)
async def approve_claim(
    request: Request, request_id: str, claim_id: str, person: Staff, parts: Parts, form: Form
) -> Response:
    """Approve all of a claim (no amount typed) or the amount typed of it."""
    typed = {"approved_amount": form.get("approved_amount", "").strip()}
    body = dict(typed) if typed["approved_amount"] else None
    return await _decide_claim(
        request, request_id, claim_id, person, parts, form, "approve", body, typed
    )


@router.post("/mdf-requests/{request_id}/claims/{claim_id}/reject", response_model=None)
async def reject_claim(
    request: Request, request_id: str, claim_id: str, person: Staff, parts: Parts, form: Form
) -> Response:
    """Reject a claim, saying why (nothing typed: enablement's default reason)."""
    typed = {"reason": form.get("reason", "").strip()}
    body = dict(typed) if typed["reason"] else None
    return await _decide_claim(
        request, request_id, claim_id, person, parts, form, "reject", body, typed
    )


async def _decide_claim(
    request: Request,
    request_id: str,
    claim_id: str,
    person: Session,
    parts: Portal,
    form: dict[str, str],
    decision: str,
    body: dict[str, str] | None,
    typed: dict[str, str],
) -> Response:
    """A decision sent to enablement as the person: back to the queue saying it was done,
    or the queue again with the refusal on the form refused and what was typed kept."""
    path = f"{request_path(request_id)}/claims/{quote(claim_id, safe='')}/{decision}"
    sent = await send_correctable(parts, person, form, "enablement", path, body)
    if isinstance(sent, Refused):
        return await _claims_page(
            request,
            person,
            parts,
            problem=f"Claim {claim_id}: {in_words(sent)}",
            failed=(claim_id, decision),
            values=typed,
            status=sent.status,
        )
    return see_other(f"/mdf/claims?done=claim-{DECIDED[decision]}")


async def _claims_page(
    request: Request,
    person: Session,
    parts: Portal,
    *,
    done: str | None = None,
    problem: str | None = None,
    failed: tuple[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The claims waiting, from enablement's ``GET /mdf-claims?status=submitted``; with a
    decision's refusal on the form of (claim, decision) ``failed``, or above the list when
    that claim waits no longer."""
    found = await parts.backend.read(
        "enablement",
        "/mdf-claims",
        person.access_token,
        {"status": "submitted", "limit": CLAIMS_WAITING_SHOWN},
    )
    claims = found.get("claims", [])
    failed_claim, failed_decision = failed or (None, None)
    context = {
        "person": person,
        "title": "Claims waiting",
        "claims": claims,
        "limit": CLAIMS_WAITING_SHOWN,
        "done": done,
        "problem": problem,
        "failed_claim": failed_claim,
        "failed_decision": failed_decision,
        "problem_on_form": any(c.get("claim_id") == failed_claim for c in claims),
        "values": values or {},
    }
    return render(request, "mdf_claims.html", context, status=status)


# --------------------------------------------------------------------------- refusals in words


def in_words(refused: Refused, rows: Sequence[int] = EVIDENCE_ROWS) -> str:
    """Enablement's refusal of a claim or a decision, each field it names in words with
    the rule broken, then enablement's own explanation: "Amount: over the approved
    amount (400.01 USD claimed but only …)". ``rows``: the form's evidence row of each
    piece sent, in order. A refusal naming no field (a 409) is enablement's words."""
    if not refused.problems:
        return refused.message
    return " ".join(f"{_field(loc, rows)}: {_rule(message)}." for loc, message in refused.problems)


def _field(loc: Location, rows: Sequence[int]) -> str:
    names = [name for name in loc if name not in ("body", "path", "query", "header")]
    if not names:
        return "The form"
    if names[0] == "evidence" and len(names) > 1 and names[1].isdigit():
        sent = int(names[1])
        row = rows[sent] if sent < len(rows) else sent + 1
        part = f", its {EVIDENCE_WORDS.get(names[2], names[2])}" if len(names) > 2 else ""
        return f"Evidence {row}{part}"
    return FIELD_WORDS.get(names[0], names[0].replace("_", " ").capitalize())


def _rule(message: str) -> str:
    code, _, explained = message.partition(": ")
    if code not in RULE_WORDS:
        return message
    return f"{RULE_WORDS[code]} ({explained})" if explained else RULE_WORDS[code]
