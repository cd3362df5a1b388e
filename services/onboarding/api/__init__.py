"""Onboarding's HTTP routes, one router per resource: applications and partners."""

from fastapi import APIRouter

from services.onboarding.api import applications, partners

#: Every router of the service, in the order ``create_app`` includes them.
ROUTERS: tuple[APIRouter, ...] = (applications.router, partners.router)
