"""Reporting's read API, one router per resource: partners, statements, payouts,
leaderboard, health and the programme summary."""

from fastapi import APIRouter

from services.reporting.api import health, leaderboard, partners, payouts, programme, statements

#: Every router of the service, in the order ``create_app`` includes them.
ROUTERS: tuple[APIRouter, ...] = (
    partners.router,
    statements.router,
    payouts.router,
    leaderboard.router,
    health.router,
    programme.router,
)
