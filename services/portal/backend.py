"""The services' public HTTP APIs, called with the signed-in person's own token.

The portal decides nothing about access: each service checks the token it is
given. A refusal comes back as :class:`Refused` with the status and the
service's own message (``detail``), which the page shows as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx

from services.portal.settings import PortalSettings

#: Where a field is in a request, as FastAPI names it: ``("body", "evidence", "0", "url")``.
Location = tuple[str, ...]
#: One field a service refused: where it is and what is wrong with it.
Problem = tuple[Location, str]


class Refused(Exception):
    """A service said no (or could not be reached: status 503). ``problems``: each field
    it named (FastAPI's 422 shape), for a page that says in words which field to fix."""

    def __init__(self, status: int, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems

    @property
    def correctable(self) -> bool:
        """A refusal of what the form said (4xx), to show on the form again; not a 401,
        which means signing in again, nor a 5xx."""
        return 400 <= self.status < 500 and self.status != 401


@dataclass(frozen=True, slots=True)
class Sent:
    """A command's answer: its status and body."""

    status: int
    body: dict[str, Any]


class Backend:
    """One HTTP client for the services."""

    def __init__(self, settings: PortalSettings, http: httpx.AsyncClient) -> None:
        self.http = http
        self.bases = {
            "onboarding": settings.onboarding_url,
            "enablement": settings.enablement_url,
            "incentives": settings.incentives_url,
            "reporting": settings.reporting_url,
            "notifications": settings.notifications_url,
        }

    async def read(
        self, service: str, path: str, token: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``GET`` a JSON answer; :class:`Refused` on any status but 200."""
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        response = await self._call("GET", service, path, token, params=query)
        if response.status_code != 200:
            raise Refused(response.status_code, _message(response))
        return _body(response)

    async def send(
        self,
        service: str,
        path: str,
        token: str,
        body: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Sent:
        """``POST`` a command with an idempotency key (a resubmitted form is one command);
        :class:`Refused` on any status outside 2xx."""
        return await self._command("POST", service, path, token, body, idempotency_key)

    async def put(
        self,
        service: str,
        path: str,
        token: str,
        body: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Sent:
        """``PUT``, answered as :meth:`send`."""
        return await self._command("PUT", service, path, token, body, idempotency_key)

    async def delete(
        self, service: str, path: str, token: str, *, idempotency_key: str | None = None
    ) -> Sent:
        """``DELETE``, answered as :meth:`send` (a 204 is an empty body)."""
        return await self._command("DELETE", service, path, token, None, idempotency_key)

    async def send_public(
        self,
        service: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        for_client: str | None = None,
    ) -> Sent:
        """``POST`` to a route that needs no sign-in, **without** any ``Authorization``
        (an unsubscribe link's: its token is in the body); answered as :meth:`send`. The
        person's address goes along as ``X-Forwarded-For``, so the service's limit on
        such requests counts each person, not the portal (docs/portal.md)."""
        forwarded = {"X-Forwarded-For": for_client} if for_client else {}
        return await self._command("POST", service, path, None, body, None, forwarded)

    async def _command(
        self,
        method: str,
        service: str,
        path: str,
        token: str | None,
        body: dict[str, Any] | None,
        idempotency_key: str | None,
        extra_headers: dict[str, str] | None = None,
    ) -> Sent:
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4()), **(extra_headers or {})}
        response = await self._call(method, service, path, token, json=body, headers=headers)
        if not 200 <= response.status_code < 300:
            raise Refused(response.status_code, _message(response), _problems(response))
        return Sent(response.status_code, _body(response))

    async def _call(
        self, method: str, service: str, path: str, token: str | None, **kwargs: Any
    ) -> httpx.Response:
        """The request, with the person's token unless ``token`` is None (a public route)."""
        authorization = {} if token is None else {"Authorization": f"Bearer {token}"}
        headers = {**authorization, **kwargs.pop("headers", {})}
        try:
            return await self.http.request(
                method, f"{self.bases[service]}{path}", headers=headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise Refused(503, f"the {service} service cannot be reached ({exc})") from None


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"items": body}


def _message(response: httpx.Response) -> str:
    """The service's own words: ``detail`` as text, or each field and its problem."""
    detail = _body(response).get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for problem in detail:
            if isinstance(problem, dict):
                field = ".".join(str(p) for p in problem.get("loc", []) if p != "body")
                parts.append(
                    f"{field}: {problem.get('msg', 'invalid')}"
                    if field
                    else str(problem.get("msg"))
                )
        if parts:
            return "; ".join(parts)
    return f"the service answered {response.status_code}"


def _problems(response: httpx.Response) -> tuple[Problem, ...]:
    """Each field the service named: its ``loc`` and its ``msg``."""
    detail = _body(response).get("detail")
    if not isinstance(detail, list):
        return ()
    return tuple(
        (tuple(str(p) for p in problem.get("loc", [])), str(problem.get("msg", "invalid")))
        for problem in detail
        if isinstance(problem, dict)
    )
