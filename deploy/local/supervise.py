"""supervise.py NAME RESTARTS_FILE CMD [ARG…]: run CMD and start it again whenever it
dies, as Kubernetes restarts a container (docs/operations.md, "Local instances").

- Every exit that was not asked for is logged (to this process's output, the service's
  log) with its exit code or signal and how long the process ran, and counted in
  RESTARTS_FILE (the number, one line), which ``services.sh status`` shows.
- The next start comes 1 s after a process that ran a minute or more; while it keeps
  dying sooner (a crash loop), 2, 4, 8 … up to 30 s.
- SIGTERM or SIGINT to this process stops the service: it is sent SIGTERM, given
  STOP_SECONDS to finish, then killed; this process then exits with its code.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

STOP_SECONDS = 15.0
LONGEST_WAIT = 30.0
#: A process that ran this long was not crash-looping: the next wait is back to 1 s.
SETTLED_SECONDS = 60.0


def say(name: str, text: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(f"{stamp} [supervise] {name}: {text}", flush=True)


def described(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(self, name: str, restarts_file: Path, command: list[str]) -> None:
        self.name = name
        self.restarts_file = restarts_file
        self.command = command
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.restarts = 0

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def wait_child(self) -> int:
        assert self.child is not None
        while True:
            if self.stopping:
                try:
                    return self.child.wait(STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    say(self.name, f"still running {STOP_SECONDS:g} s after SIGTERM: killed")
                    self.child.kill()
                    return self.child.wait()
            try:
                return self.child.wait(0.5)
            except subprocess.TimeoutExpired:
                continue

    def run(self) -> int:
        self.restarts_file.write_text("0\n")
        wait = 1.0
        while True:
            started = time.monotonic()
            self.child = subprocess.Popen(self.command)
            code = self.wait_child()
            if self.stopping:
                return code
            ran = time.monotonic() - started
            wait = 1.0 if ran >= SETTLED_SECONDS else min(wait * 2, LONGEST_WAIT)
            self.restarts += 1
            self.restarts_file.write_text(f"{self.restarts}\n")
            say(
                self.name,
                f"exited with {described(code)} after {ran:.0f} s; "
                f"restart {self.restarts} in {wait:g} s",
            )
            if self.pause(wait):
                return code

    def pause(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if asked to stop meanwhile; whether it was."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping:
            time.sleep(0.1)
        return self.stopping


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: supervise.py NAME RESTARTS_FILE CMD [ARG…]", file=sys.stderr)
        return 2
    supervisor = Supervisor(argv[0], Path(argv[1]), argv[2:])
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
