"""Incentives' HTTP routes, one router per resource: commissions, inquiries and
adjustments, exchange rates, registrations, settlements and simulations."""

from fastapi import APIRouter

from services.incentives.api import (
    commissions,
    inquiries,
    rates,
    registrations,
    settlements,
    simulations,
)

#: Every router of the service, in the order ``create_app`` includes them.
ROUTERS: tuple[APIRouter, ...] = (
    commissions.router,
    inquiries.router,
    rates.router,
    registrations.router,
    settlements.router,
    simulations.router,
)
