"""Incentives' HTTP routes, one router per resource: commissions, registrations,
settlements and simulations."""

from fastapi import APIRouter

from services.incentives.api import commissions, registrations, settlements, simulations

#: Every router of the service, in the order ``create_app`` includes them.
ROUTERS: tuple[APIRouter, ...] = (
    commissions.router,
    registrations.router,
    settlements.router,
    simulations.router,
)
