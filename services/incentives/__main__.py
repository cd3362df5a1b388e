"""``python -m services.incentives``: the incentives service on HTTP_PORT (default 8003)."""

from services.incentives.app import create_app
from services.incentives.settings import IncentivesSettings
from shared.service import serve

settings = IncentivesSettings()
serve(create_app(settings), settings)
