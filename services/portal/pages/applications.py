"""``/applications``: the channel manager's queue of applications with their scorecards,
to approve or reject."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.pages.dependencies import (
    Form,
    Parts,
    Staff,
    render,
    see_other,
    send_form,
)

router = APIRouter(tags=["applications"])


@router.get("/applications")
async def applications(
    request: Request,
    person: Staff,
    parts: Parts,
    status: str = "applied",
    cursor: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    page = await parts.backend.read(
        "onboarding",
        "/applications",
        person.access_token,
        {"status": status or None, "cursor": cursor, "limit": parts.settings.portal_page_size},
    )
    context = {
        "person": person,
        "title": "Applications",
        "applications": page["applications"],
        "next_cursor": page.get("next_cursor"),
        "status": status,
        "done": done,
    }
    return render(request, "applications.html", context)


@router.post("/applications/{application_id}/approve", response_model=None)
async def approve(application_id: str, person: Staff, parts: Parts, form: Form) -> Response:
    sent = await send_form(
        parts, person, form, "onboarding", f"/applications/{application_id}/approve"
    )
    return see_other(f"/applications?done=approved:{sent.body.get('partner_id', application_id)}")


@router.post("/applications/{application_id}/reject", response_model=None)
async def reject(application_id: str, person: Staff, parts: Parts, form: Form) -> Response:
    reason = form.get("reason", "").strip() or "not a fit for the programme now"
    await send_form(
        parts,
        person,
        form,
        "onboarding",
        f"/applications/{application_id}/reject",
        {"reason": reason},
    )
    return see_other(f"/applications?done=rejected:{application_id}")
