"""``python -m services.reporting`` serves the read API on HTTP_PORT (default 8004);
``python -m services.reporting rebuild`` rebuilds the read models from Kafka."""

import sys

from services.reporting.settings import ReportingSettings

settings = ReportingSettings()
if sys.argv[1:2] == ["rebuild"]:
    from services.reporting.rebuild import main

    raise SystemExit(main(sys.argv[2:], settings))

from services.reporting.app import create_app  # noqa: E402
from shared.service import serve  # noqa: E402

serve(create_app(settings), settings)
