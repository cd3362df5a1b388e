"""The shape every service process has: one FastAPI app, one Kafka broker, one MongoDB client.

:func:`service_app` builds the FastAPI application with what every service
offers (docs/architecture.md): API-key access control, ``/healthz``, ``/readyz``
(Kafka and MongoDB answer), ``/metrics``, the OpenAPI document at ``/docs``
and the AsyncAPI document of its subscribers and publishers at
``/asyncapi.json``. The lifespan starts the broker (and with it the
subscribers) after the service's own start-up work (indexes, recovery), and
on shutdown stops consuming, lets the batch in hand finish, and closes the
clients.

:func:`serve` runs it with uvicorn on ``HTTP_HOST:HTTP_PORT``.

The documentation routes (``/docs``, ``/openapi.json``, ``/asyncapi.json``)
need no key: they describe the API and hold no data.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from starlette.exceptions import HTTPException

from shared import access
from shared.body_limit import BodyLimit
from shared.metrics import HTTP_REQUESTS, HTTP_SECONDS
from shared.mongo import Document, ping
from shared.observability import configure_logging, operational_routes
from shared.routes import install_error_handlers
from shared.settings import Settings

log = logging.getLogger("partnerhub.service")

StartupStep = Callable[[], Awaitable[None]]


def service_app(
    settings: Settings,
    *,
    title: str,
    description: str,
    broker: KafkaBroker,
    mongo: AsyncMongoClient[Document],
    on_startup: StartupStep | None = None,
    on_shutdown: StartupStep | None = None,
    readiness_details: Mapping[str, Callable[[], Awaitable[Any]]] | None = None,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> FastAPI:
    """The service's FastAPI app; ``background`` coroutines run while it serves (e.g. an
    outbox relay) and are cancelled at shutdown."""

    async def kafka_ready() -> bool:
        try:
            return await broker.ping(timeout=2.0)
        except Exception:
            return False

    async def mongodb_ready() -> bool:
        return await ping(mongo)

    lifespan = _lifespan(settings, broker, mongo, on_startup, on_shutdown, background)
    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    access.install(app, settings)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, refused_request)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.middleware("http")(measured(settings.service_name))
    app.middleware("http")(api_headers)
    app.include_router(
        operational_routes(
            {"kafka": kafka_ready, "mongodb": mongodb_ready},
            details=readiness_details,
        )
    )
    asyncapi = AsyncAPI(broker, title=f"{title} events", version="0.1.0", description=description)

    @app.get("/asyncapi.json", tags=["operations"], summary="AsyncAPI document of the events")
    async def asyncapi_document() -> Any:
        return asyncapi.to_specification().to_jsonable()

    return app


def _lifespan(
    settings: Settings,
    broker: KafkaBroker,
    mongo: AsyncMongoClient[Document],
    on_startup: StartupStep | None,
    on_shutdown: StartupStep | None,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Connect, run the start-up step, start consuming and the background work; on
    shutdown stop them in the reverse order, letting the batch in hand finish."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("starting %s", settings.service_name)
        await broker.connect()
        if on_startup is not None:
            await on_startup()
        await broker.start()
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(run()) for run in background]
        for run, task in zip(background, tasks, strict=True):
            watch(task, _named(run))
        log.info("%s ready on %s:%s", settings.service_name, settings.http_host, settings.http_port)
        try:
            yield
        finally:
            log.info("stopping %s: finishing the batch in hand", settings.service_name)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await broker.stop()
            if on_shutdown is not None:
                await on_shutdown()
            await mongo.close()

    return lifespan


def _named(run: Callable[..., Any]) -> str:
    inner = getattr(run, "func", run)  # a functools.partial names its function
    return str(getattr(inner, "__qualname__", repr(inner)))


def _stop_this_process() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def watch(
    task: asyncio.Task[None], what: str, stop: Callable[[], None] = _stop_this_process
) -> None:
    """Background work runs as long as the service: when it ends other than by being
    cancelled, say why (with its traceback) and stop the process (SIGTERM: the lifespan's
    shutdown runs), so that what runs it (Kubernetes, the local supervisor) starts it
    again rather than leave a process serving HTTP with part of its work dead."""

    def ended(done: asyncio.Task[None]) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if error is None:
            log.critical("background work %s returned; stopping to be restarted", what)
        else:
            log.critical(
                "background work %s failed: %s; stopping to be restarted",
                what,
                error,
                exc_info=error,
            )
        stop()

    task.add_done_callback(ended)


Endpoint = Callable[[Request], Awaitable[Response]]

#: What every answer of a service's API carries: never sniffed into another type, framed,
#: cached, or sent with a referrer; no content of a page may load or run (the API answers
#: JSON) but on the API's own documentation pages, which need their scripts.
API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCUMENTATION_PAGES = ("/docs", "/redoc")


async def api_headers(request: Request, call_next: Endpoint) -> Response:
    """HTTP middleware: :data:`API_HEADERS` on every answer, and :data:`API_CSP` on every
    one but the documentation pages."""
    response = await call_next(request)
    response.headers.update(API_HEADERS)
    if not request.url.path.startswith(DOCUMENTATION_PAGES):
        response.headers["Content-Security-Policy"] = API_CSP
    return response


def measured(service: str) -> Callable[[Request, Endpoint], Awaitable[Response]]:
    """HTTP middleware counting and timing every request by route template and status."""

    async def measure(request: Request, call_next: Endpoint) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = getattr(request.scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(service, route, request.method, str(status)).inc()
            HTTP_SECONDS.labels(service, route, request.method).observe(
                time.perf_counter() - started
            )

    return measure


async def access_refusal(request: Request) -> Response | None:
    """The 401 (or 403, 503) :func:`shared.access.authenticated` answers the request's
    caller; ``None`` when the caller is authenticated.

    FastAPI reads a route's JSON body before it runs the route's dependencies, so a body
    that is not JSON (422) or not UTF-8 (400) is refused before the access check: these
    answers are given only to an authenticated caller, every other one gets what the
    access check answers (docs/rules/events.md, "HTTP access")."""
    try:
        await access.authenticated(request)
    except HTTPException as refused:
        return await http_exception_handler(request, refused)
    return None


async def invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 answer, each error once: a query parameter that both a route and its
    access check take (``partner_id``) is otherwise reported missing twice. A body that
    is not JSON, only to an authenticated caller (:func:`access_refusal`)."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        refused = await access_refusal(request)
        if refused is not None:
            return refused
    errors: list[Any] = []
    for error in jsonable_encoder(exc.errors()):
        if error not in errors:
            errors.append(error)
    return JSONResponse(status_code=422, content={"detail": errors})


async def refused_request(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an :class:`HTTPException`; its 400 for a body it cannot read,
    only to an authenticated caller (:func:`access_refusal`)."""
    if not isinstance(exc, HTTPException):
        raise exc
    if exc.status_code == 400:
        refused = await access_refusal(request)
        if refused is not None:
            return refused
    return await http_exception_handler(request, exc)


def tune_gc() -> None:
    """Collect young objects less often: the services allocate many short-lived objects
    per event (docs/performance.md has what this saves)."""
    gc.set_threshold(20_000, 50, 50)


def serve(app: FastAPI, settings: Settings) -> None:
    """Run ``app`` until SIGTERM/SIGINT; uvicorn then runs the lifespan's shutdown. A
    fatal signal (a crash in native code, SIGABRT) prints every thread's stack first."""
    faulthandler.enable()
    configure_logging(settings)
    tune_gc()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
