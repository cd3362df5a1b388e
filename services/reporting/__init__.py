"""Reporting: read models built from every topic, served by the read API.

Reporting publishes no event, so it has a :data:`SERVICE` and no ``SOURCE``.
"""

#: The service's name (its default ``SERVICE_NAME``, and its consumer's in metrics).
SERVICE = "reporting"
