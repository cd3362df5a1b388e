"""Enablement's HTTP routes, one router per resource: courses, certifications,
completions, learners, partners, materials, feedback, MDF requests (and the claims made
under them), MDF claims across requests and the release of unclaimed funds."""

from fastapi import APIRouter

from services.enablement.api import (
    certifications,
    completions,
    courses,
    feedback,
    learners,
    materials,
    mdf,
    mdf_claims,
    mdf_releases,
    partners,
)

#: Every router of the service, in the order ``create_app`` includes them.
ROUTERS: tuple[APIRouter, ...] = (
    courses.router,
    certifications.router,
    completions.router,
    learners.router,
    partners.router,
    materials.router,
    feedback.router,
    mdf.router,
    mdf_claims.router,
    mdf_releases.router,
)
