"""``python -m services.portal`` serves the portal on HTTP_PORT (default 8000)."""

from services.portal.settings import PortalSettings
from shared.settings import ConfigurationError, load

try:
    settings = load(PortalSettings)
except ConfigurationError as exc:
    raise SystemExit(f"portal: {exc}") from None

from services.portal.app import create_app
from shared.service import serve

serve(create_app(settings), settings)
