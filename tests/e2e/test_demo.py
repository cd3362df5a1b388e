"""The main job end to end: the five services as processes, a small demo, its self-check.

The demo recomputes every statement from the events it sent with an
independent implementation of the rules and compares it with what the
reporting API serves; this test asserts that it passes and that the report
renders. Its notifications step subscribes a receiver of its own and reads the emails
back from the test instance's inbox.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared import topics
from shared.infra import start_group_at_end
from shared.settings import Settings
from tests.support.processes import ROOT, ServiceProcess, free_port
from tests.support.services import service_env

ADMIN = "e2e-admin-key"


@pytest.fixture
async def platform(settings: Settings, unique: str) -> AsyncIterator[dict[str, ServiceProcess]]:
    """The five services and the portal, signing people in at the local OIDC provider;
    notifications reads only what is published from now on, and mails the test inbox."""
    oidc = {"OIDC_ISSUER": os.environ["PARTNERHUB_OIDC_ISSUER"]}
    mail = {
        "SMTP_URL": os.environ["PARTNERHUB_SMTP_URL"],
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "NOTIFY_MANAGER_EMAILS": f"manager-{unique}@example.com",
        "DELIVERY_POLL_SECONDS": "0.2",
    }
    await start_group_at_end(
        settings, f"e2e-notifications-{unique}", topics.CONSUMED["notifications"]
    )
    started: dict[str, ServiceProcess] = {}
    try:
        for name in ("onboarding", "enablement", "incentives", "reporting", "notifications"):
            extra = mail if name == "notifications" else {}
            env = service_env(
                settings, f"e2e_{name}_{unique}", f"e2e-{name}-{unique}", **oidc, **extra
            )
            started[name] = ServiceProcess(name, env, admin_key=ADMIN).start(timeout=120)
        port = free_port()
        urls = {f"{name.upper()}_URL": process.url for name, process in started.items()}
        started["portal"] = ServiceProcess(
            "portal",
            {
                **oidc,
                **urls,
                "PORTAL_URL": f"http://127.0.0.1:{port}",
                "PORTAL_SESSION_SECRET": unique,
            },
            port=port,
        ).start(timeout=60)
        yield started
    finally:
        for process in started.values():
            process.stop()


async def test_a_small_demo_checks_itself(
    platform: dict[str, ServiceProcess], unique: str, tmp_path: Path
) -> None:
    portal = platform["portal"]
    services = {name: process for name, process in platform.items() if name != "portal"}
    (tmp_path / "demo.env").write_text(
        f"PORTAL_URL={portal.url}\nOIDC_ISSUER={portal.env['OIDC_ISSUER']}\n"
        f"MAIL_INBOX_URL={os.environ['PARTNERHUB_MAIL_INBOX_URL']}\n"
    )
    env = {
        **os.environ,
        "DEMO_ENV_FILE": str(tmp_path / "demo.env"),
        "PARTNERHUB_ADMIN_KEY": ADMIN,
        **{f"DEMO_URL_{name.upper()}": process.url for name, process in services.items()},
        **{f"DEMO_GROUP_{name.upper()}": f"e2e-{name}-{unique}" for name in services},
    }
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "demo",
        "--partners",
        "20",
        "--deals",
        "500",
        "--seed",
        "7",
        "--timeout",
        "400",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output_bytes, _ = await asyncio.wait_for(demo.communicate(), 900)
    output = output_bytes.decode()
    assert demo.returncode == 0, output[-6000:]
    assert "SELF-CHECK PASSED" in output
    assert "portal checked: demo partner A signed in" in output
    for section in (
        "LEADERBOARD 2026-Q4",
        "STATEMENT ",
        "PROGRAMME SUMMARY",
        "PARTNERS AT RISK",
        "URLS TO EXPLORE",
        "THE PORTAL",
        "webhooks: ",
        "read back from the inbox",
    ):
        assert section in output, f"the report lacks {section!r}"
    assert "consumer lag" in output, "progress is shown while it runs"
    kept = (tmp_path / "demo.env").read_text()
    assert "PARTNERHUB_DEMO_PARTNER_A_ID=P-" in kept
    assert "PARTNERHUB_DEMO_PARTNER_B_ID=P-" in kept
    assert "PARTNERHUB_DEMO_MANAGER=manager:" in kept
