"""Settings from the environment, the same way in every service (docs/operations.md).

Every setting has a local default so ``python -m services.<name>`` runs against
the embedded infrastructure with nothing set. A bad value fails at start-up
with an error naming the environment variable.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    """Configuration of one service process. Field ``x`` is read from ``X``."""

    model_config = SettingsConfigDict(
        env_file=None,  # twelve-factor: the environment only (make up exports .env into it)
        extra="ignore",
        case_sensitive=False,
    )

    service_name: str = Field(
        default="partnerhub", description="name in logs, metrics, DLQ headers"
    )

    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = (
        Field(
            default=None,
            description="default: SASL_SSL when a SASL mechanism and a CA file are given, "
            "SASL_PLAINTEXT with a mechanism only, SSL with a CA file only, else PLAINTEXT",
        )
    )
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    consumer_group: str | None = Field(
        default=None, description="Kafka consumer group; default: the service name"
    )
    consumer_batch_size: int = Field(
        default=30_000,
        ge=1,
        le=50_000,
        description="most messages per consumed batch; a batch is only what is waiting",
    )

    mongodb_url: SecretStr = SecretStr("mongodb://localhost:27017")
    mongodb_database: str = Field(default="partnerhub", min_length=1)

    api_keys: SecretStr = Field(
        default=SecretStr(""),
        description="comma-separated key=role; roles admin, channel_manager, partner:<id>",
    )
    api_keys_file: Path | None = Field(
        default=None, description="a file of key=role lines (a mounted secret), read too"
    )

    oidc_issuer: str | None = Field(
        default=None,
        description="the OpenID Connect issuer whose JWT access tokens people sign in with; "
        "unset or empty: API keys only",
    )
    oidc_audience: str = Field(default="partnerhub", min_length=1)
    oidc_jwks_url: str | None = Field(
        default=None, description="the issuer's JWKS; default: from its discovery document"
    )
    oidc_jwks_cooldown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="least time between two fetches of the JWKS for a key id it lacked",
    )

    self_service_per_minute: int = Field(
        default=120,
        ge=1,
        le=1_000_000,
        description="self-service commands one partner's callers may send a minute (429 beyond)",
    )
    public_per_minute: int = Field(
        default=30,
        ge=1,
        le=1_000_000,
        description="requests without a credential (emailed links) one address may send a minute",
    )

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator("oidc_issuer", "oidc_jwks_url")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _servers_given(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers or any(":" not in s for s in servers):
            raise ValueError("must be host:port[,host:port…]")
        return ",".join(servers)

    @property
    def consumer_fetch_bytes(self) -> int:
        """Bytes one fetch may bring from each partition (``max_partition_fetch_bytes``).

        Enough for a whole batch of 1 KiB messages from one partition, and at
        least the client's 1 MiB default (about 2 000 DealClosed), which would
        cap a replica's batches below ``consumer_batch_size``. A fetch as a
        whole stays within the client's ``fetch_max_bytes`` (50 MiB).
        """
        return max(1 << 20, self.consumer_batch_size << 10)

    @cached_property
    def effective_security_protocol(self) -> str:
        if self.kafka_security_protocol:
            return self.kafka_security_protocol
        tls = self.kafka_ssl_cafile is not None
        if self.kafka_sasl_mechanism:
            return "SASL_SSL" if tls else "SASL_PLAINTEXT"
        return "SSL" if tls else "PLAINTEXT"


class ConfigurationError(ValueError):
    """A setting that cannot be used; the message names the environment variable."""


SettingsT = TypeVar("SettingsT", bound=Settings)


def load(settings_class: type[SettingsT]) -> SettingsT:
    """A service's settings from the environment, read once at start-up; a
    :class:`ConfigurationError` naming each bad variable otherwise."""
    try:
        return settings_class()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: "
            f"{e['ctx']['error'] if e['type'] == 'value_error' else e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ConfigurationError(problems) from None
