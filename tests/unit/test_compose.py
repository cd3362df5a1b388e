"""docker-compose.yml cannot run here (no Docker engine), so its shape is checked instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PORTS = {
    "onboarding": 8001,
    "enablement": 8002,
    "incentives": 8003,
    "reporting": 8004,
    "notifications": 8005,
}


def _compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def test_infrastructure_and_every_service_are_there() -> None:
    services = _compose()["services"]
    assert {"kafka", "mongodb", "prometheus", "mailpit", *SERVICE_PORTS} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_services_use_the_project_image_with_their_own_command_port_and_database() -> None:
    services = _compose()["services"]
    for name, port in SERVICE_PORTS.items():
        service = services[name]
        assert service["build"] == "."
        assert service["command"] == ["python", "-m", f"services.{name}"]
        assert service["ports"] == [f"{port}:8000"]
        assert service["environment"]["MONGODB_DATABASE"] == f"partnerhub_{name}"
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert "API_KEYS" in service["environment"]


def test_notifications_sends_mail_to_mailpit_and_may_call_local_webhooks() -> None:
    services = _compose()["services"]
    mailpit = services["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit:")
    assert set(mailpit["ports"]) == {"1025:1025", "8025:8025"}
    notifications = services["notifications"]
    assert notifications["environment"]["SMTP_URL"] == "smtp://mailpit:1025"
    assert notifications["environment"]["WEBHOOK_ALLOW_PRIVATE"] == "true"
    # Its own depends_on replaces the shared one: Kafka's topics and MongoDB still first.
    assert {"kafka-init", "mongodb", "mailpit"} <= set(notifications["depends_on"])
    assert "deploy" not in notifications, "one instance only: its delivery worker is a singleton"


def test_the_dockerfile_runs_as_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in dockerfile
    assert dockerfile.count("FROM ") == 2
