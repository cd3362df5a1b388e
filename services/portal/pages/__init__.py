"""The portal's pages, one router per subject (docs/portal.md)."""

from fastapi import APIRouter

from services.portal.pages import (
    applications,
    auth,
    feedback,
    history,
    home,
    inquiries,
    leaderboard,
    mdf,
    notifications,
    partners,
    registrations,
    settlements,
    statements,
    webhooks,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    home.router,
    partners.router,
    statements.router,
    history.router,
    registrations.router,
    inquiries.router,
    settlements.router,
    applications.router,
    mdf.router,
    feedback.router,
    leaderboard.router,
    notifications.router,
    webhooks.router,
]
