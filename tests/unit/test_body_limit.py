"""Request body size limit (shared/body_limit.py), driven as ASGI without a server."""

from __future__ import annotations

from typing import Any

from shared.body_limit import BodyLimit


async def app_reading_the_body(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def call(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[Any]:
    queue = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return queue.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers}
    await BodyLimit(app_reading_the_body, limit=10)(scope, receive, send)
    return sent


async def test_a_declared_length_over_the_limit_is_413_before_the_app_runs() -> None:
    sent = await call([(b"content-length", b"11")], [b"x" * 11])
    assert sent[0]["status"] == 413
    assert b"larger than 10 bytes (MAX_BODY_BYTES)" in sent[1]["body"]


async def test_a_streamed_body_is_cut_off_once_it_passes_the_limit() -> None:
    sent = await call([], [b"x" * 6, b"x" * 6, b"x" * 6])
    assert sent[0]["status"] == 413


async def test_bodies_within_the_limit_pass() -> None:
    sent = await call([(b"content-length", b"10")], [b"x" * 4, b"x" * 6])
    assert (sent[0]["status"], sent[1]["body"]) == (200, b"10")
