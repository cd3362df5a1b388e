from __future__ import annotations

from dataclasses import dataclass, field

from shared.messaging import dead_letter_headers


@dataclass
class Record:
    topic: str = "deals.v1"
    partition: int = 3
    offset: int = 41
    key: bytes | None = b"P-1"
    value: bytes | None = b"{broken"
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: [("traceparent", b"00-abc")])


def test_dead_letter_headers_say_why_and_where_from() -> None:
    headers = dead_letter_headers(
        Record(), error="not_json: …", reason="not_json", service="reporting"
    )
    assert headers["dlq-error"] == "not_json: …"
    assert headers["dlq-reason"] == "not_json"
    assert headers["dlq-service"] == "reporting"
    assert headers["dlq-original-topic"] == "deals.v1"
    assert headers["dlq-original-partition"] == "3"
    assert headers["dlq-original-offset"] == "41"
    assert headers["traceparent"] == "00-abc", "the original headers travel with the dead letter"
    assert headers["dlq-failed-at"].endswith("+00:00")


def test_a_huge_error_is_truncated() -> None:
    headers = dead_letter_headers(Record(), error="x" * 100_000, reason="invalid_data", service="s")
    assert len(headers["dlq-error"]) == 4000
