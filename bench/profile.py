"""Where a benchmark phase's time went: CPU seconds per process, database time per command.

Read from outside the processes, before and after the phase, so measuring
costs them nothing: CPU times from ``/proc/<pid>/stat`` (Linux), the
services' ``partnerhub_mongodb_command_duration_seconds`` from their
``/metrics``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
from prometheus_client.parser import text_string_to_metric_families

COMMAND_METRIC = "partnerhub_mongodb_command_duration_seconds"
#: The local infrastructure's processes, by the pid files ``deploy/local/infra.sh`` keeps.
INFRA = ("kafka", "ferretdb")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process so far; None if it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def infra_pids() -> dict[str, int]:
    """The pids of the local Kafka and FerretDB, where ``infra.sh`` recorded them.

    Only for the instance ``deploy/local/with-infra.sh`` runs the benchmark on
    (it exports ``PARTNERHUB_STATE``): against a Kafka and MongoDB given by
    their URLs, the local pid files belong to some other instance, so none.
    """
    if "PARTNERHUB_STATE" not in os.environ:
        return {}
    state = Path(os.environ["PARTNERHUB_STATE"])
    found = {}
    for name in INFRA:
        try:
            found[name] = int((state / "pids" / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            continue
    return found


@dataclass(frozen=True)
class CommandTime:
    count: float
    seconds: float


def command_times(metrics_text: str) -> dict[tuple[str, str, str], CommandTime]:
    """(service, command, collection) → commands answered and seconds, from /metrics text."""
    counts: dict[tuple[str, str, str], float] = {}
    sums: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != COMMAND_METRIC:
            continue
        for sample in family.samples:
            key = (sample.labels["service"], sample.labels["command"], sample.labels["collection"])
            if sample.name == f"{COMMAND_METRIC}_count":
                counts[key] = counts.get(key, 0.0) + sample.value
            elif sample.name == f"{COMMAND_METRIC}_sum":
                sums[key] = sums.get(key, 0.0) + sample.value
    return {key: CommandTime(counts.get(key, 0.0), sums.get(key, 0.0)) for key in sums}


class Profile:
    """CPU and database time of the named processes and services between two readings."""

    def __init__(self, pids: Mapping[str, int], metrics_urls: Mapping[str, str]) -> None:
        self.pids = dict(pids)
        self.metrics_urls = dict(metrics_urls)
        self._cpu: dict[str, float] = {}
        self._commands: dict[tuple[str, str, str], CommandTime] = {}

    async def _read(self) -> tuple[dict[str, float], dict[tuple[str, str, str], CommandTime]]:
        cpu = {name: s for name, pid in self.pids.items() if (s := cpu_seconds(pid)) is not None}
        commands: dict[tuple[str, str, str], CommandTime] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            for url in self.metrics_urls.values():
                answer = await client.get(f"{url}/metrics")
                answer.raise_for_status()
                commands.update(command_times(answer.text))
        return cpu, commands

    async def start(self) -> None:
        self._cpu, self._commands = await self._read()

    async def report(self, wall_seconds: float, top: int = 10) -> list[str]:
        """Lines saying each process's CPU share and the commands that took the most time."""
        cpu, commands = await self._read()
        lines = [f"  where the time went ({wall_seconds:.1f} s of wall time):"]
        for name, seconds in cpu.items():
            used = seconds - self._cpu.get(name, 0.0)
            lines.append(
                f"    {name:<12} {used:8.1f} CPU s  ({100 * used / wall_seconds:5.0f} % of one core)"
            )
        spent = []
        for key, now in commands.items():
            before = self._commands.get(key, CommandTime(0.0, 0.0))
            count, seconds = now.count - before.count, now.seconds - before.seconds
            if count > 0:
                spent.append((seconds, count, key))
        spent.sort(reverse=True)
        total = sum(seconds for seconds, _, _ in spent)
        lines.append(f"    database time as the services saw it: {total:.1f} s in all; the most:")
        for seconds, count, (service, command, collection) in spent[:top]:
            lines.append(
                f"      {service:<11} {command:<10} {collection:<24} {count:>9,.0f} × "
                f"{1000 * seconds / count:6.2f} ms = {seconds:6.1f} s"
            )
        return lines
