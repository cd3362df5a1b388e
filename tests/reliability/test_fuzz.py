"""Each service's OpenAPI, fuzzed with schemathesis: no request may get a 5xx.

Each service runs as the process it is, on real Kafka and FerretDB, with an
admin key (so the fuzzer reaches the handlers, not only the 401s). The
schemathesis command line generates requests from the service's own OpenAPI
document (``FUZZ_EXAMPLES`` per operation, 25 by default, deterministic) and
checks every answer with ``not_a_server_error``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest

from shared import topics
from shared.infra import start_group_at_end
from shared.mongo import make_mongo_client
from shared.settings import Settings
from tests.support.processes import ServiceProcess
from tests.support.services import service_env

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "25")
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


#: What a service needs besides the test infrastructure: notifications resolves no
#: fuzzed host name (this machine may have no DNS) and mails the test inbox.
EXTRA = {
    "notifications": {
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "SMTP_URL": os.environ.get("PARTNERHUB_SMTP_URL", "smtp://127.0.0.1:11025"),
    }
}


@pytest.mark.parametrize(
    "service", ["onboarding", "enablement", "incentives", "reporting", "notifications"]
)
async def test_no_request_gets_a_server_error(
    settings: Settings, service: str, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:10]
    group = f"fuzz-{service}-{suffix}"
    if service in topics.CONSUMED:  # the fuzzer's requests, not the broker's history
        await start_group_at_end(settings, group, topics.CONSUMED[service])
    database = f"test_fuzz_{service}_{suffix}"
    env = service_env(settings, database, group, **EXTRA.get(service, {}))
    process = ServiceProcess(service, env).start()
    try:
        fuzz = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "run",
            f"{process.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            EXAMPLES,
            "--generation-deterministic",
            "--header",
            f"Authorization: Bearer {process.admin_key}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
            cwd=tmp_path,  # schemathesis keeps a cache in the working directory
        )
        output, _ = await asyncio.wait_for(fuzz.communicate(), 600)
        report = output.decode(errors="replace")
        print(f"\n{service}: {report.strip().splitlines()[-1] if report.strip() else ''}")
        assert fuzz.returncode == 0, report[-6000:] + "\n" + process.tail(60)
    finally:
        process.stop()
        client = make_mongo_client(settings)
        await client.drop_database(database)
        await client.close()
