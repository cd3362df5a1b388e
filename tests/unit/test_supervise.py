"""The local runner's supervisor (deploy/local/supervise.py): a service that dies is
started again, with a line saying why and a count; stopping the supervisor stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUPERVISE = ROOT / "deploy" / "local" / "supervise.py"


def supervised(tmp_path: Path, code: str) -> tuple[subprocess.Popen[str], Path]:
    restarts = tmp_path / "x.restarts"
    process = subprocess.Popen(
        [sys.executable, str(SUPERVISE), "x", str(restarts), sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, restarts


def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time given"
        time.sleep(0.05)


def test_a_service_that_dies_is_restarted_and_counted(tmp_path: Path) -> None:
    process, restarts = supervised(tmp_path, "import sys; sys.exit(3)")
    try:
        until(lambda: restarts.exists() and restarts.read_text() == "1\n")
    finally:
        process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert "[supervise] x: exited with exit code 3 after 0 s; restart 1 in 2 s" in output
    assert process.returncode == 3


def test_stopping_the_supervisor_stops_the_service(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    code = (
        "import os, pathlib, time; "
        f"pathlib.Path({str(marker)!r}).write_text(str(os.getpid())); time.sleep(60)"
    )
    process, restarts = supervised(tmp_path, code)
    until(marker.exists)
    until(lambda: marker.read_text() != "")
    child = int(marker.read_text())
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert restarts.read_text() == "0\n", output
    assert "restart" not in output
    assert process.returncode != 0  # the service's own answer to SIGTERM
    try:
        Path(f"/proc/{child}").stat()
        alive = Path(f"/proc/{child}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        alive = False
    assert not alive, "the service outlived its supervisor"
