"""``python -m services.enablement``: the enablement service on HTTP_PORT (default 8002)."""

from services.enablement.app import create_app
from services.enablement.configuration import ConfigurationError, mdf_budget_from_environment
from shared.service import serve
from shared.settings import service_settings

settings = service_settings("enablement", 8002)
try:
    budget = mdf_budget_from_environment()
except ConfigurationError as exc:
    raise SystemExit(f"enablement: {exc}") from None
serve(create_app(settings, budget), settings)
