"""The local infrastructure's instances: the tests and the benchmark never share the
platform's Kafka topics or FerretDB data (``deploy/local/infra.sh``)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "deploy" / "local" / "infra.sh"


def _instance(name: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERHUB_")}
    if name is not None:
        env["PARTNERHUB_INSTANCE"] = name
    shown = subprocess.run([str(INFRA), "env"], capture_output=True, text=True, env=env, check=True)
    return dict(line.split("=", 1) for line in shown.stdout.splitlines())


def test_each_instance_has_its_own_data_and_ports() -> None:
    instances = {name: _instance(name) for name in (None, "test", "bench")}
    platform = instances[None]
    assert platform["PARTNERHUB_STATE"] == str(ROOT / ".local")
    assert platform["PARTNERHUB_KAFKA_PORT"] == "9092"
    assert platform["PARTNERHUB_MONGO_PORT"] == "27017"
    assert platform["PARTNERHUB_OIDC_ISSUER"] == "http://127.0.0.1:5556"
    assert instances["test"]["PARTNERHUB_OIDC_ISSUER"] == "http://127.0.0.1:15556"
    assert platform["PARTNERHUB_SMTP_URL"] == "smtp://127.0.0.1:1025"
    assert platform["PARTNERHUB_MAIL_INBOX_URL"] == "http://127.0.0.1:8025/"
    assert instances["test"]["PARTNERHUB_SMTP_URL"] == "smtp://127.0.0.1:11025"
    assert instances["test"]["PARTNERHUB_MAIL_INBOX_URL"] == "http://127.0.0.1:18025/"
    states = [settings["PARTNERHUB_STATE"] for settings in instances.values()]
    assert len(set(states)) == 3
    ports = [
        value
        for settings in instances.values()
        for name, value in settings.items()
        if name.endswith("_PORT")
    ]
    assert len(ports) == 24  # Kafka (3), FerretDB, the OIDC provider, Prometheus, Mailpit (2)
    assert len(set(ports)) == 24, ports


def test_every_port_is_below_the_ephemeral_range() -> None:
    """Linux hands out 32768 and over for outgoing connections: a listener there can find
    its port held by one ("address already in use")."""
    for name in (None, "test", "bench"):
        for variable, value in _instance(name).items():
            if variable.endswith("_PORT"):
                assert 1024 < int(value) < 32768, f"{name or 'platform'}: {variable}={value}"


def test_a_port_given_in_the_environment_wins() -> None:
    env = {**os.environ, "PARTNERHUB_INSTANCE": "test", "PARTNERHUB_MONGO_PORT": "40000"}
    shown = subprocess.run([str(INFRA), "env"], capture_output=True, text=True, env=env, check=True)
    assert "PARTNERHUB_MONGO_PORT=40000" in shown.stdout.splitlines()


def test_an_unknown_instance_is_refused_by_name() -> None:
    env = {**os.environ, "PARTNERHUB_INSTANCE": "staging"}
    shown = subprocess.run([str(INFRA), "env"], capture_output=True, text=True, env=env)
    assert shown.returncode == 2
    assert "PARTNERHUB_INSTANCE is 'staging'" in shown.stderr


def test_make_test_and_make_bench_run_on_their_own_fresh_instances() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target, instance, command in (("test", "test", "pytest"), ("bench", "bench", "bench")):
        recipe = re.search(rf"^{target}:.*\n\t(.*)$", makefile, re.MULTILINE)
        assert recipe is not None, target
        assert f"PARTNERHUB_INSTANCE={instance} deploy/local/with-infra.sh --fresh" in recipe[1]
        assert command in recipe[1]
