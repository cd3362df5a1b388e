"""``/courses``: the course catalogue."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.enablement.api.dependencies import Commands, Queries
from services.enablement.commands import CourseBody
from services.enablement.views import CoursesView, CourseView
from shared import access
from shared.routes import IdempotentCommand, refusals, respond

router = APIRouter(tags=["catalogue"])


@router.post(
    "/courses",
    status_code=201,
    response_model=CourseView,
    responses={
        200: {"model": CourseView, "description": "already defined exactly so"},
        **refusals(conflict="already defined differently"),
    },
    summary="Define a course (200 when it is already defined exactly so)",
    dependencies=[access.StaffAccess],
)
async def define_course(
    body: CourseBody, key: IdempotentCommand, commands: Commands
) -> JSONResponse:
    return respond(await commands.define_course(body, key))


@router.get(
    "/courses",
    response_model=CoursesView,
    summary="The course catalogue",
    dependencies=[access.StaffAccess],
)
async def courses(queries: Queries, product_line: str | None = None) -> CoursesView:
    return await queries.courses(product_line)
