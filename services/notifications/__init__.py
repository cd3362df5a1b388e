"""Notifications: signed webhooks for other systems and email for people, from the
event log (docs/rules/notifications.md).

Notifications publishes no event, so it has a :data:`SERVICE` and no ``SOURCE``.
"""

#: The service's name (its default ``SERVICE_NAME``, and its consumer's in metrics).
SERVICE = "notifications"
