"""Notifications' settings, read once from the environment at start-up.

Besides every service's settings (:class:`shared.settings.Settings`); see
docs/operations.md, "Notifications":

- ``SMTP_URL`` (default ``smtp://127.0.0.1:1025``): the mail server,
  ``smtp://[user:password@]host[:port]`` (STARTTLS when the server offers it) or
  ``smtps://…`` (TLS from the start, port 465 by default);
- ``SMTP_FROM`` (default ``partnerhub <notifications@partnerhub.invalid>``) and
  ``SMTP_TIMEOUT_SECONDS`` (default 10);
- ``NOTIFY_MANAGER_EMAILS``: comma-separated addresses that receive the channel
  managers' email, besides the managers who signed in to the portal;
- ``PORTAL_URL`` (default ``http://127.0.0.1:8000``): the links in emails;
- ``NOTIFICATIONS_SECRET``: signs the unsubscribe links (required outside
  localhost: with the default, anyone could forge them);
- ``EMAIL_MAX_EVENT_AGE_HOURS`` (default 72): events older than this when consumed
  (their Kafka timestamp) email no one, so a new consumer group reading history does
  not email about the past;
- ``NOTICE_INTERVAL_SECONDS`` (default 3600): how often registrations and
  certifications about to end are looked for;
- ``WEBHOOK_ALLOW_PRIVATE`` (default false): allow webhook URLs resolving to
  loopback or private addresses (the local default sets it);
- ``WEBHOOK_TIMEOUT_SECONDS`` (10), ``WEBHOOK_RETRY_FIRST_SECONDS`` (5),
  ``WEBHOOK_RETRY_LONGEST_SECONDS`` (3600), ``WEBHOOK_RETRY_FOR_SECONDS`` (86400):
  how long a receiver has to answer, and the retry schedule before a delivery is parked;
- ``DELIVERY_POLL_SECONDS`` (default 1): how often the delivery worker and the mailer
  look for work when idle.

A bad value stops the service at start-up with a :class:`ConfigurationError`
naming the variable.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from services.notifications import SERVICE
from services.notifications.domain import RetryPolicy, looks_like_address
from shared.settings import ConfigurationError, Settings

#: The unsubscribe secret used when none is set; refused for a portal outside localhost.
LOCAL_SECRET = "local-notifications-secret"


class NotificationsSettings(Settings):
    """The notifications process's configuration; field ``x`` is read from ``X``."""

    service_name: str = Field(default=SERVICE, description="name in logs, metrics, DLQ headers")
    http_port: int = Field(default=8005, ge=1, le=65535)
    mongodb_database: str = Field(default="partnerhub_notifications", min_length=1)

    smtp_url: SecretStr = SecretStr("smtp://127.0.0.1:1025")
    smtp_from: str = Field(default="partnerhub <notifications@partnerhub.invalid>", min_length=3)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    notify_manager_emails: str = ""
    portal_url: str = "http://127.0.0.1:8000"
    notifications_secret: SecretStr = SecretStr(LOCAL_SECRET)
    email_max_event_age_hours: float = Field(default=72, gt=0)
    notice_interval_seconds: float = Field(default=3600, ge=1, le=86400)

    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_retry_first_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_longest_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_for_seconds: float = Field(default=86400.0, gt=0)
    delivery_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError("must be smtp://host[:port] or smtps://host[:port]")
        return value

    @field_validator("notify_manager_emails")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for address in filter(None, (a.strip() for a in value.split(","))):
            if not looks_like_address(address):
                raise ConfigurationError(f"{address!r} is not an email address")
        return value

    @field_validator("portal_url")
    @classmethod
    def _portal_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ConfigurationError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @property
    def manager_addresses(self) -> list[str]:
        return [a.strip() for a in self.notify_manager_emails.split(",") if a.strip()]

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            first=self.webhook_retry_first_seconds,
            longest=self.webhook_retry_longest_seconds,
            give_up_after=self.webhook_retry_for_seconds,
        )

    @model_validator(mode="after")
    def _secret_set_outside_localhost(self) -> NotificationsSettings:
        """The local unsubscribe secret is refused for a portal people reach from elsewhere."""
        host = urlsplit(self.portal_url).hostname or ""
        local = host in ("127.0.0.1", "localhost", "::1")
        if not local and self.notifications_secret.get_secret_value() == LOCAL_SECRET:
            raise ConfigurationError(
                "NOTIFICATIONS_SECRET must be set when PORTAL_URL is not on localhost"
            )
        return self
