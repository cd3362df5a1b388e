"""Reporting's read API, one router per resource: health, partners, statements, a
partner's history, payouts, a partner's MDF position and customer satisfaction,
leaderboard and the programme summary."""

from fastapi import APIRouter

from services.reporting.api import (
    health,
    history,
    leaderboard,
    mdf,
    partners,
    payouts,
    programme,
    satisfaction,
    statements,
)

#: Every router of the service, in the order ``create_app`` includes them: health's
#: before the partners' (``/partners/at-risk`` before ``/partners/{partner_id}``).
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    partners.router,
    statements.router,
    history.router,
    payouts.router,
    mdf.router,
    satisfaction.router,
    leaderboard.router,
    programme.router,
)
