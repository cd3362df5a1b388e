"""Onboarding's HTTP routes, one router per resource: applications and partners."""
