"""``python -m services.notifications`` serves the webhooks' and people's API on
HTTP_PORT (default 8005), delivers the webhooks and sends the email."""

from services.notifications.settings import NotificationsSettings
from shared.settings import ConfigurationError, load

try:
    settings = load(NotificationsSettings)
except ConfigurationError as exc:
    raise SystemExit(f"notifications: {exc}") from None

from services.notifications.app import create_app
from shared.service import serve

serve(create_app(settings), settings)
