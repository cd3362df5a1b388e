"""Notifications' HTTP routes: webhook subscriptions and their deliveries; people's
email preferences, unsubscribe links, the emails sent and the time-based notices."""

from fastapi import APIRouter

from services.notifications.api import people, webhooks

#: Every router of the service, in the order ``create_app`` includes them.
ROUTERS: tuple[APIRouter, ...] = (webhooks.router, people.router)
