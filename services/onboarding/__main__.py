"""``python -m services.onboarding``: the onboarding service on HTTP_PORT (default 8001)."""

from services.onboarding.app import create_app
from services.onboarding.settings import load_settings
from shared.service import serve
from shared.settings import ConfigurationError

try:
    settings = load_settings()
except ConfigurationError as exc:
    raise SystemExit(f"onboarding: {exc}") from None
serve(create_app(settings), settings)
