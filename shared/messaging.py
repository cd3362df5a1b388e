"""Kafka plumbing shared by every service: the broker factory, publishing events, dead letters.

The broker is FastStream's :class:`~faststream.kafka.KafkaBroker` (aiokafka
underneath), configured from :class:`~shared.settings.Settings`, security
included. Plain aiokafka clients (admin, tests, tools) get the same connection
options from :func:`kafka_client_options`.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from shared.settings import Settings
from shared.topics import dead_letter_topic

#: Headers a dead letter carries besides the original message's own.
DLQ_ERROR = "dlq-error"
DLQ_REASON = "dlq-reason"
DLQ_SERVICE = "dlq-service"
DLQ_ORIGINAL_TOPIC = "dlq-original-topic"
DLQ_ORIGINAL_PARTITION = "dlq-original-partition"
DLQ_ORIGINAL_OFFSET = "dlq-original-offset"
DLQ_FAILED_AT = "dlq-failed-at"
_MAX_HEADER_TEXT = 4000


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.effective_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    return context


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's security object for the configured protocol, or None for PLAINTEXT."""
    protocol = settings.effective_security_protocol
    context = _ssl_context(settings)
    if protocol.startswith("SASL_"):
        if not (settings.kafka_sasl_mechanism and settings.kafka_sasl_username):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM and "
                "KAFKA_SASL_USERNAME (and KAFKA_SASL_PASSWORD)"
            )
        password = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        )
        mechanisms: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        return mechanisms[settings.kafka_sasl_mechanism](
            settings.kafka_sasl_username,
            password,
            ssl_context=context,
            use_ssl=protocol == "SASL_SSL",
        )
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for a plain aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.effective_security_protocol,
    }
    context = _ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        )
    return options


def make_broker(settings: Settings, **options: Any) -> KafkaBroker:
    """The service's FastStream Kafka broker.

    Producers wait for every in-sync replica and are idempotent, so a retried
    send never duplicates a message inside Kafka. Extra ``options`` go to
    :class:`KafkaBroker` unchanged.
    """
    defaults: dict[str, Any] = {
        "client_id": settings.service_name,
        "security": kafka_security(settings),
        "acks": "all",
        "enable_idempotence": True,
        "allow_auto_create_topics": False,
        # Record batches of up to 256 KiB per partition (the client's default is
        # 16 KiB): a batch's outbox of thousands of events goes in fewer, larger
        # batches, which costs the broker and the client less per message. No
        # linger: a lone event still goes at once.
        "max_batch_size": 256 * 1024,
        "graceful_timeout": 15.0,
        # FastStream logs every message at the broker's level: keep that out of INFO.
        "log_level": logging.DEBUG,
    }
    defaults.update(options)
    return KafkaBroker(settings.kafka_bootstrap_servers, **defaults)


class ConsumedRecord(Protocol):
    """What a dead letter (and a replay) needs of a consumed Kafka record (aiokafka's
    ConsumerRecord fits); ``timestamp``: the record's, in milliseconds since the epoch."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Iterable[tuple[str, bytes]]: ...
    @property
    def timestamp(self) -> int: ...


def dead_letter_headers(
    record: ConsumedRecord, *, error: str, reason: str, service: str
) -> dict[str, str]:
    """The original headers plus the ones saying why, where from, and who gave up."""
    headers = {name: value.decode("utf-8", "replace") for name, value in record.headers or ()}
    headers.update(
        {
            DLQ_ERROR: error[:_MAX_HEADER_TEXT],
            DLQ_REASON: reason,
            DLQ_SERVICE: service,
            DLQ_ORIGINAL_TOPIC: record.topic,
            DLQ_ORIGINAL_PARTITION: str(record.partition),
            DLQ_ORIGINAL_OFFSET: str(record.offset),
            DLQ_FAILED_AT: datetime.now(UTC).isoformat(),
        }
    )
    return headers


async def dead_letter(
    broker: KafkaBroker,
    record: ConsumedRecord,
    *,
    error: str,
    reason: str,
    service: str,
) -> None:
    """Publish ``record``'s original bytes, unchanged, to ``<topic>.dlq`` with headers saying why.

    Awaited to the broker's acknowledgement, so the caller may commit past the
    record afterwards without losing it.
    """
    await broker.publish(
        record.value or b"",
        dead_letter_topic(record.topic),
        key=record.key,
        headers=dead_letter_headers(record, error=error, reason=reason, service=service),
    )
