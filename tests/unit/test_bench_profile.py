"""The benchmark's profile readings: /proc CPU times and the command metric's text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.profile import CommandTime, command_times, cpu_seconds, infra_pids

METRICS = """\
# HELP partnerhub_mongodb_command_duration_seconds Time the server took
# TYPE partnerhub_mongodb_command_duration_seconds histogram
partnerhub_mongodb_command_duration_seconds_bucket{collection="g1_lines",command="find",outcome="ok",service="reporting",le="+Inf"} 4.0
partnerhub_mongodb_command_duration_seconds_count{collection="g1_lines",command="find",outcome="ok",service="reporting"} 4.0
partnerhub_mongodb_command_duration_seconds_sum{collection="g1_lines",command="find",outcome="ok",service="reporting"} 0.5
partnerhub_mongodb_command_duration_seconds_count{collection="g1_lines",command="find",outcome="failed",service="reporting"} 1.0
partnerhub_mongodb_command_duration_seconds_sum{collection="g1_lines",command="find",outcome="failed",service="reporting"} 0.25
partnerhub_mongodb_command_duration_seconds_count{collection="ledgers",command="update",outcome="ok",service="incentives"} 2.0
partnerhub_mongodb_command_duration_seconds_sum{collection="ledgers",command="update",outcome="ok",service="incentives"} 0.125
# HELP partnerhub_events_consumed_total Events consumed
# TYPE partnerhub_events_consumed_total counter
partnerhub_events_consumed_total{service="reporting"} 7.0
"""


def test_command_times_add_up_outcomes_per_service_command_and_collection() -> None:
    assert command_times(METRICS) == {
        ("reporting", "find", "g1_lines"): CommandTime(5.0, 0.75),
        ("incentives", "update", "ledgers"): CommandTime(2.0, 0.125),
    }


def test_cpu_seconds_of_this_process_and_of_none() -> None:
    sum(range(2_000_000))  # some CPU for this process to have used
    used = cpu_seconds(os.getpid())
    assert used is not None
    assert used > 0
    assert cpu_seconds(2**22 + 12345) is None  # beyond Linux's pid range


def test_infra_pids_are_read_from_the_instance_the_benchmark_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "kafka.pid").write_text("4242\n")
    (tmp_path / "pids" / "ferretdb.pid").write_text("not a pid\n")
    monkeypatch.setenv("PARTNERHUB_STATE", str(tmp_path))
    assert infra_pids() == {"kafka": 4242}


def test_no_infra_pids_against_a_kafka_and_mongodb_given_by_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # with-infra.sh exports PARTNERHUB_STATE only for the local instance it
    # runs on; the platform's pid files under .local must not be read instead.
    def no_reading(path: Path, *args: object, **kwargs: object) -> str:
        raise AssertionError(f"read {path}")

    monkeypatch.delenv("PARTNERHUB_STATE", raising=False)
    monkeypatch.setattr(Path, "read_text", no_reading)
    assert infra_pids() == {}
