"""Enablement: courses, training completions, certifications, sales materials,
co-marketing (MDF) requests and partner feedback; publishes on ``enablement.v1``."""

#: The service's name: the first part of its events' deterministic ids.
SERVICE = "enablement"
#: The CloudEvent ``source`` of every event enablement publishes.
SOURCE = "/partnerhub/enablement"
