"""``/certifications``: the certification definitions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.enablement.api.dependencies import Commands, Queries
from services.enablement.commands import CertificationBody
from services.enablement.views import CertificationsView, CertificationView
from shared import access
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(tags=["catalogue"])


@router.post(
    "/certifications",
    status_code=201,
    response_model=CertificationView,
    responses={
        200: {"model": CertificationView, "description": "already defined exactly so"},
        **refusals(conflict="already defined differently"),
    },
    summary="Define a certification; learners who already qualify are awarded it",
    dependencies=[access.StaffAccess],
)
async def define_certification(
    body: CertificationBody, key: IdempotentCommand, commands: Commands
) -> JSONResponse:
    return respond(await commands.define_certification(body, key))


@router.get(
    "/certifications",
    response_model=CertificationsView,
    summary="The certification definitions",
    dependencies=[access.StaffAccess],
)
async def certifications(queries: Queries, product_line: str | None = None) -> CertificationsView:
    return await queries.certifications(product_line)
