"""``python -m services.incentives``: the incentives service on HTTP_PORT (default 8003)."""

from services.incentives.app import create_app
from shared.service import serve
from shared.settings import service_settings

settings = service_settings("incentives", 8003)
serve(create_app(settings), settings)
