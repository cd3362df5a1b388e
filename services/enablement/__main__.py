"""``python -m services.enablement``: the enablement service on HTTP_PORT (default 8002)."""

from services.enablement.app import create_app
from services.enablement.settings import EnablementSettings
from shared.service import serve
from shared.settings import ConfigurationError, load

try:
    settings = load(EnablementSettings)
except ConfigurationError as exc:
    raise SystemExit(f"enablement: {exc}") from None
serve(create_app(settings), settings)
