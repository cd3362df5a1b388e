"""``python -m services.onboarding``: the onboarding service on HTTP_PORT (default 8001)."""

from services.onboarding.app import create_app
from services.onboarding.configuration import ConfigurationError, rules_from_environment
from shared.service import serve
from shared.settings import service_settings

settings = service_settings("onboarding", 8001)
try:
    rules = rules_from_environment()
except ConfigurationError as exc:
    raise SystemExit(f"onboarding: {exc}") from None
serve(create_app(settings, rules), settings)
