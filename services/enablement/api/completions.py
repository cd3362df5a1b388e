"""``/completions``: training completions recorded through this API."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.enablement.api.dependencies import Commands
from services.enablement.commands import CompletionBody
from services.enablement.views import CompletionAnswer
from shared import access
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(tags=["learning"])


@router.post(
    "/completions",
    status_code=201,
    response_model=CompletionAnswer,
    responses=refusals(not_found="the partner is not known", conflict="the partner may not act"),
    summary="Record a training completion (publishes TrainingCompleted)",
    dependencies=[access.StaffAccess],
)
async def report_completion(
    body: CompletionBody, key: IdempotentCommand, actor: access.CallerActor, commands: Commands
) -> JSONResponse:
    return respond(await commands.report_completion(body, key, actor))
