"""The portal process: pages, sign-in, static files and the operational routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.portal.backend import Backend, Refused
from services.portal.pages import ROUTERS
from services.portal.pages.dependencies import (
    PageRefused,
    Portal,
    SignInRequired,
    bad_request,
    not_a_page,
    page_refused,
    service_refused,
    sign_in_required,
)
from services.portal.sessions import SessionCodec
from services.portal.settings import PortalSettings
from services.portal.signin import OidcClient
from services.portal.views import install_filters
from services.portal.web import readiness, security_headers
from shared.observability import operational_routes
from shared.ratelimit import RateLimiter
from shared.service import measured

HERE = Path(__file__).parent


def create_app(settings: PortalSettings, *, http: httpx.AsyncClient | None = None) -> FastAPI:
    """The portal; ``http`` is the client it reaches the issuer and the services with."""
    client = http or httpx.AsyncClient(timeout=settings.portal_backend_timeout_seconds)
    secret = settings.portal_session_secret
    templates = Jinja2Templates(directory=HERE / "templates")
    install_filters(templates.env)
    parts = Portal(
        settings=settings,
        codec=SessionCodec(
            secret.get_secret_value() if secret else None,
            settings.portal_session_hours * 3600,
            secure=settings.secure_cookies,
        ),
        oidc=OidcClient(settings, client) if settings.oidc_issuer else None,
        backend=Backend(settings, client),
        templates=templates,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = FastAPI(
        title="partnerhub portal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.portal = parts
    app.state.sign_in_limit = RateLimiter(settings.sign_in_per_minute)
    app.state.public_limit = RateLimiter(settings.public_per_minute)
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(PageRefused, page_refused)
    app.add_exception_handler(Refused, service_refused)
    app.add_exception_handler(StarletteHTTPException, not_a_page)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.middleware("http")(measured(settings.service_name))
    app.middleware("http")(security_headers(parts))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(operational_routes(readiness(parts)))
    for router in ROUTERS:
        app.include_router(router)
    return app
