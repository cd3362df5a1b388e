"""Enablement: courses, training completions, certifications, sales materials,
co-marketing (MDF) requests and partner feedback; publishes on ``enablement.v1``."""
