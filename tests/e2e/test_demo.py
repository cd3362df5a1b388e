"""The main job end to end: the four services as processes, a small demo, its self-check.

The demo recomputes every statement from the events it sent with an
independent implementation of the rules and compares it with what the
reporting API serves; this test asserts that it passes and that the report
renders.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.support.processes import ROOT, ServiceProcess
from tests.support.services import service_env

ADMIN = "e2e-admin-key"


@pytest.fixture
def platform(settings: Settings, unique: str) -> Iterator[dict[str, ServiceProcess]]:
    started: dict[str, ServiceProcess] = {}
    try:
        for name in ("onboarding", "enablement", "incentives", "reporting"):
            started[name] = ServiceProcess(
                name,
                service_env(settings, f"e2e_{name}_{unique}", f"e2e-{name}-{unique}"),
                admin_key=ADMIN,
            ).start(timeout=120)
        yield started
    finally:
        for process in started.values():
            process.stop()


async def test_a_small_demo_checks_itself(
    platform: dict[str, ServiceProcess], unique: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DEMO_ENV_FILE": str(tmp_path / "demo.env"),
        "PARTNERHUB_ADMIN_KEY": ADMIN,
        **{f"DEMO_URL_{name.upper()}": process.url for name, process in platform.items()},
        **{f"DEMO_GROUP_{name.upper()}": f"e2e-{name}-{unique}" for name in platform},
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
    for section in (
        "LEADERBOARD 2026-Q4",
        "STATEMENT ",
        "PROGRAMME SUMMARY",
        "PARTNERS AT RISK",
        "URLS TO EXPLORE",
        "THE PORTAL",
    ):
        assert section in output, f"the report lacks {section!r}"
    assert "consumer lag" in output, "progress is shown while it runs"
    kept = (tmp_path / "demo.env").read_text()
    assert "PARTNERHUB_DEMO_PARTNER_A_ID=P-" in kept
    assert "PARTNERHUB_DEMO_PARTNER_B_ID=P-" in kept
    assert "PARTNERHUB_DEMO_MANAGER=manager:" in kept
