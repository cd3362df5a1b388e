"""Every route of every service describes its answer: the OpenAPI document each app
builds names a JSON schema with fields for every success answer (docs/architecture.md,
"Where each kind of code lives": routes have pydantic response models)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from services.enablement.app import create_app as enablement_app
from services.enablement.settings import EnablementSettings
from services.incentives.app import create_app as incentives_app
from services.incentives.settings import IncentivesSettings
from services.notifications.app import create_app as notifications_app
from services.notifications.settings import NotificationsSettings
from services.onboarding.app import create_app as onboarding_app
from services.onboarding.settings import OnboardingSettings
from services.reporting.app import create_app as reporting_app
from services.reporting.settings import ReportingSettings
from shared.settings import Settings

APPS: dict[str, tuple[type[Settings], Callable[[Any], FastAPI]]] = {
    "onboarding": (OnboardingSettings, onboarding_app),
    "enablement": (EnablementSettings, enablement_app),
    "incentives": (IncentivesSettings, incentives_app),
    "reporting": (ReportingSettings, reporting_app),
    "notifications": (NotificationsSettings, notifications_app),
}


#: Routes every service shares whose answers are not an API resource: the probes (read
#: by the orchestrator, which looks at the status code), Prometheus' text format, and
#: the AsyncAPI document (its schema is the AsyncAPI specification's, not this
#: service's). docs/operations.md describes them.
OPERATIONAL = {"/healthz", "/readyz", "/metrics", "/asyncapi.json"}


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a ``$ref`` to the document's components followed."""
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = document["components"]["schemas"][name]
    return schema


def describes(schema: dict[str, Any], document: dict[str, Any]) -> bool:
    """Whether ``schema`` names what a body holds: an object's fields (or the schema of a
    mapping's values), an array's items, each alternative of a union. A bare ``{}`` or
    ``{"type": "object"}`` (a route returning an untyped dict) says nothing."""
    schema = resolve(schema, document)
    alternatives = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if alternatives:
        return all(
            resolve(a, document).get("type") == "null" or describes(a, document)
            for a in alternatives
        )
    if schema.get("type") == "array":
        return isinstance(schema.get("items"), dict) and describes(schema["items"], document)
    values = schema.get("additionalProperties")
    return bool(schema.get("properties")) or (isinstance(values, dict) and bool(values))


def undescribed_answers(document: dict[str, Any]) -> list[str]:
    """``METHOD path status`` of every success answer the document gives no JSON schema."""
    missing = []
    for path, operations in document["paths"].items():
        if path in OPERATIONAL:
            continue
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue  # errors share one shape; 204 has no body
                content = response.get("content", {})
                if content and "application/json" not in content:
                    continue  # a CSV or text answer, of its declared media type
                schema = content.get("application/json", {}).get("schema", {})
                if not describes(schema, document):
                    missing.append(f"{method.upper()} {path} {status}")
    return missing


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_route_answering_json_describes_its_answer(service: str) -> None:
    settings_class, create_app = APPS[service]
    document = create_app(settings_class()).openapi()  # built, not started: nothing connects
    assert document["paths"], f"{service}: no routes"
    assert undescribed_answers(document) == [], f"{service}: answers with no response model"


def test_the_response_model_check_tells_a_model_from_an_untyped_dict() -> None:
    """The check above, on an OpenAPI document made for it."""
    model = {"type": "object", "properties": {"partner_id": {"type": "string"}}}
    document = {
        "components": {"schemas": {"Partner": model}},
        "paths": {
            "/described": {
                "get": {"responses": {"200": {"content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Partner"}}}}}},
                "post": {"responses": {"201": {"content": {"application/json": {"schema": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Partner"}}}}}}},
            },
            "/export.csv": {"get": {"responses": {"200": {"content": {"text/csv": {}}}}}},
            "/untyped": {
                "get": {"responses": {"200": {"content": {"application/json": {"schema": {}}}}}},
                "post": {"responses": {
                    "201": {"content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": True}}}},
                    "200": {"description": "a replay, not described"},
                    "422": {"content": {"application/json": {"schema": {}}}},
                }},
            },
            "/healthz": {"get": {"responses": {"200": {"content": {"application/json": {}}}}}},
        },
    }  # fmt: skip
    assert undescribed_answers(document) == [
        "GET /untyped 200",
        "POST /untyped 201",
        "POST /untyped 200",
    ]
