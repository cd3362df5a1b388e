"""``python -m services.reporting`` serves the read API on HTTP_PORT (default 8004);
``python -m services.reporting rebuild`` rebuilds the read models from Kafka."""

import sys

from services.reporting.settings import ReportingSettings
from shared.settings import ConfigurationError, load

try:
    settings = load(ReportingSettings)
except ConfigurationError as exc:
    raise SystemExit(f"reporting: {exc}") from None
if sys.argv[1:2] == ["rebuild"]:
    from services.reporting.rebuild import main

    raise SystemExit(main(sys.argv[2:], settings))

from services.reporting.app import create_app
from shared.service import serve

serve(create_app(settings), settings)
