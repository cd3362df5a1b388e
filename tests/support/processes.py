"""A service run as the real process it is (``python -m services.<name>``), for the
integration tests and the benchmarks: each with its own database, consumer group and port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".local" / "logs" / "tests"
#: The key a ServiceProcess sends unless told otherwise; its API_KEYS give it the admin role.
ADMIN_KEY = "test-admin-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    """One service process with its own database, consumer group and port."""

    name: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    admin_key: str = ADMIN_KEY

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return LOGS / f"{self.name}-{self.env.get('CONSUMER_GROUP', 'x')}-{self.port}.log"

    def start(self, wait_ready: bool = True, timeout: float = 60.0) -> ServiceProcess:
        LOGS.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HTTP_PORT": str(self.port),
            "LOG_FORMAT": "text",
            "API_KEYS": f"{self.admin_key}=admin",
            **self.env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready within {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        """SIGTERM and wait: the graceful path."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {key or self.admin_key}"},
            timeout=10,
        )

    def post(self, path: str, json: Any, key: str | None = None, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}{path}",
            json=json,
            headers={"Authorization": f"Bearer {key or self.admin_key}", **headers},
            timeout=10,
        )
