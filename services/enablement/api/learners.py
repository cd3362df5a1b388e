"""``/partners/{partner_id}/learners`` and the certifications a partner's learners hold."""

from __future__ import annotations

from fastapi import APIRouter

from services.enablement.api.dependencies import Queries
from services.enablement.views import LearnersView, LearnerView, PartnerCertificationsView
from shared import access
from shared.routes import refusals

router = APIRouter(prefix="/partners/{partner_id}", tags=["learning"])


@router.get(
    "/learners",
    response_model=LearnersView,
    summary="A partner's learners with their completions and certifications",
    dependencies=[access.PartnerReadAccess],
)
async def learners(partner_id: str, queries: Queries) -> LearnersView:
    return await queries.learners(partner_id)


@router.get(
    "/learners/{learner_id}",
    response_model=LearnerView,
    responses=refusals(not_found="no such learner"),
    summary="One learner's completions and certifications",
    dependencies=[access.PartnerReadAccess],
)
async def learner(partner_id: str, learner_id: str, queries: Queries) -> LearnerView:
    return await queries.learner(partner_id, learner_id)


@router.get(
    "/certifications",
    response_model=PartnerCertificationsView,
    summary="The certifications awarded to a partner's learners",
    dependencies=[access.PartnerReadAccess],
)
async def partner_certifications(partner_id: str, queries: Queries) -> PartnerCertificationsView:
    return await queries.partner_certifications(partner_id)
