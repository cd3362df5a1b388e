"""Onboarding: partner applications with the selection scorecard, approval, contracts,
renewals, tier changes and termination; publishes the partner lifecycle on ``partners.v1``."""
