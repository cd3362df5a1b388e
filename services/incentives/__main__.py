"""``python -m services.incentives``: the incentives service on HTTP_PORT (default 8003)."""

from services.incentives.app import create_app
from services.incentives.settings import IncentivesSettings
from shared.service import serve
from shared.settings import ConfigurationError, load

try:
    settings = load(IncentivesSettings)
except ConfigurationError as exc:
    raise SystemExit(f"incentives: {exc}") from None
serve(create_app(settings), settings)
