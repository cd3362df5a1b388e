"""``python -m services.onboarding``: the onboarding service on HTTP_PORT (default 8001)."""

from services.onboarding.app import create_app
from services.onboarding.settings import OnboardingSettings
from shared.service import serve
from shared.settings import ConfigurationError, load

try:
    settings = load(OnboardingSettings)
except ConfigurationError as exc:
    raise SystemExit(f"onboarding: {exc}") from None
serve(create_app(settings), settings)
