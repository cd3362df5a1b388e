from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.enablement.settings import EnablementSettings
from services.incentives.settings import IncentivesSettings
from services.notifications.settings import NotificationsSettings
from services.onboarding.settings import OnboardingSettings
from services.reporting.settings import ReportingSettings
from shared.messaging import kafka_client_options, kafka_security
from shared.settings import ConfigurationError, Settings, load


def test_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "MONGODB_URL",
        "MONGODB_DATABASE",
        "HTTP_PORT",
        "SERVICE_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.mongodb_url.get_secret_value() == "mongodb://localhost:27017"
    assert settings.effective_security_protocol == "PLAINTEXT"
    assert kafka_security(settings) is None


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9092")
    monkeypatch.setenv("MONGODB_URL", "mongodb://db:27017")
    monkeypatch.setenv("TOPIC_PARTITIONS", "12")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert settings.topic_partitions == 12
    assert "db:27017" not in repr(settings), "the MongoDB URL may hold a password: never print it"


@pytest.mark.parametrize(
    ("settings_class", "name", "port"),
    [
        (OnboardingSettings, "onboarding", 8001),
        (EnablementSettings, "enablement", 8002),
        (IncentivesSettings, "incentives", 8003),
        (ReportingSettings, "reporting", 8004),
        (NotificationsSettings, "notifications", 8005),
    ],
)
def test_each_service_defaults_its_name_port_and_database(
    monkeypatch: pytest.MonkeyPatch, settings_class: type[Settings], name: str, port: int
) -> None:
    for variable in ("HTTP_PORT", "SERVICE_NAME", "MONGODB_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    settings = load(settings_class)
    assert (settings.service_name, settings.http_port, settings.mongodb_database) == (
        name,
        port,
        f"partnerhub_{name}",
    )
    monkeypatch.setenv("HTTP_PORT", "9003")
    monkeypatch.setenv("MONGODB_DATABASE", "custom")
    settings = load(settings_class)
    assert (settings.http_port, settings.mongodb_database) == (9003, "custom")


def test_a_bad_variable_is_named_in_the_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PORT", "not-a-port")
    with pytest.raises(ConfigurationError, match=r"^HTTP_PORT: "):
        load(ReportingSettings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "no-port-here"),
        ("HTTP_PORT", "70000"),
        ("KAFKA_SASL_MECHANISM", "MD5"),
        ("LOG_FORMAT", "xml"),
        ("TOPIC_PARTITIONS", "0"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert variable.lower() in str(caught.value)


def test_sasl_scram_without_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "partnerhub")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    settings = Settings()
    assert settings.effective_security_protocol == "SASL_PLAINTEXT"
    options = kafka_client_options(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == "s3cret"
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    security = kafka_security(settings)
    assert type(security).__name__ == "SASLScram512"
    assert "s3cret" not in repr(settings)


def test_sasl_protocol_without_user_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.delenv("KAFKA_SASL_MECHANISM", raising=False)
    with pytest.raises(ValueError, match="KAFKA_SASL_MECHANISM"):
        kafka_security(Settings())


def test_tls_with_a_ca_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import ssl

    ca = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    if not ca.exists():
        pytest.fail(f"no CA bundle at {ca} to test TLS configuration with")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(ca))
    settings = Settings()
    assert settings.effective_security_protocol == "SSL"
    assert isinstance(kafka_client_options(settings)["ssl_context"], ssl.SSLContext)


def test_a_fetch_can_bring_a_whole_batch_from_one_partition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONSUMER_BATCH_SIZE", raising=False)
    assert Settings().consumer_batch_size == 30_000
    assert Settings().consumer_fetch_bytes == 30_000 * 1024
    # Never below the Kafka clients' own default of 1 MiB.
    assert Settings(consumer_batch_size=100).consumer_fetch_bytes == 1 << 20


def test_the_batch_size_is_bounded() -> None:
    with pytest.raises(ValidationError, match="consumer_batch_size"):
        Settings(consumer_batch_size=50_001)
