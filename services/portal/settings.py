"""The portal's settings, read once from the environment at start-up.

Besides every service's settings (:class:`shared.settings.Settings`; the portal
uses the HTTP, logging and ``OIDC_*`` ones):

- ``PORTAL_URL``: where people reach the portal; the sign-in callback is
  ``<PORTAL_URL>/auth/callback``, and cookies are ``Secure`` unless it is
  plain ``http`` on a loopback host.
- ``OIDC_CLIENT_ID`` / ``OIDC_CLIENT_SECRET``: the portal's client at the issuer
  (no secret: a public client, PKCE alone).
- ``PORTAL_SESSION_SECRET``: the key the session cookie is encrypted with; every
  replica needs the same one. Unset, each process makes a random one (sessions
  end when it restarts).
- ``ONBOARDING_URL``, ``ENABLEMENT_URL``, ``INCENTIVES_URL``, ``REPORTING_URL``,
  ``NOTIFICATIONS_URL``: the services' public HTTP APIs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from services.portal import SERVICE
from shared.settings import Settings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class PortalSettings(Settings):
    """The portal process's configuration; field ``x`` is read from ``X``."""

    service_name: str = Field(default=SERVICE, description="name in logs and metrics")
    sign_in_per_minute: int = Field(
        default=30,
        ge=1,
        le=1_000_000,
        description="sign-ins (/login) one address may start a minute",
    )
    http_port: int = Field(default=8000, ge=1, le=65535)
    portal_url: str = Field(default="http://127.0.0.1:8000", description="the public base URL")
    oidc_client_id: str = Field(default="partnerhub-portal", min_length=1)
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email offline_access"
    portal_session_secret: SecretStr | None = Field(
        default=None, description="encrypts the session cookie; unset: random per process"
    )
    portal_session_hours: float = Field(
        default=8.0, gt=0, le=24 * 30, description="a session ends this long after sign-in"
    )
    onboarding_url: str = "http://127.0.0.1:8001"
    enablement_url: str = "http://127.0.0.1:8002"
    incentives_url: str = "http://127.0.0.1:8003"
    reporting_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"
    portal_backend_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    portal_page_size: int = Field(default=25, ge=1, le=500, description="rows per list page")

    @field_validator(
        "portal_url",
        "onboarding_url",
        "enablement_url",
        "incentives_url",
        "reporting_url",
        "notifications_url",
    )
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        return value.strip().rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        """``Secure`` cookies everywhere but plain ``http`` on this machine."""
        parts = urlsplit(self.portal_url)
        return not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)

    @property
    def callback_url(self) -> str:
        return f"{self.portal_url}/auth/callback"
