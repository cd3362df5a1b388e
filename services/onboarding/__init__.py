"""Onboarding: partner applications with the selection scorecard, approval, contracts,
renewals, tier changes and termination; publishes the partner lifecycle on ``partners.v1``."""

#: The service's name: the first part of its events' deterministic ids.
SERVICE = "onboarding"
#: The CloudEvent ``source`` of every event onboarding publishes.
SOURCE = "/partnerhub/onboarding"
