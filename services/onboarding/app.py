"""Onboarding wiring: the HTTP routes, the outbox relay, start-up."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from services.onboarding.commands import (
    Answer,
    ApplicationBody,
    CommandKey,
    ContractBody,
    InvalidField,
    NotFound,
    Onboarding,
    RejectionBody,
    RenewalBody,
    TerminationBody,
    TierChangeBody,
    application_view,
    partner_view,
)
from services.onboarding.configuration import OnboardingRules
from services.onboarding.domain import IllegalTransition, PartnerStatus
from services.onboarding.relay import Relay
from services.onboarding.store import InvalidCursor, OnboardingStore
from shared import access, topics
from shared.messaging import make_broker
from shared.mongo import make_mongo_client, service_database
from shared.outbox import Outbox
from shared.service import service_app
from shared.settings import Settings

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="a retried command with the same key returns the first answer",
    ),
]


def _answer(answer: Answer) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


def _unprocessable(location: tuple[str, ...], message: str) -> JSONResponse:
    detail = [{"loc": list(location), "msg": message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def create_app(settings: Settings, rules: OnboardingRules | None = None) -> FastAPI:
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    store = OnboardingStore(service_database(mongo, settings))
    outbox = Outbox(broker, settings.service_name, [store.partners])
    relay = Relay(outbox, store.partners.name)
    onboarding = Onboarding(store, rules or OnboardingRules(), relay.poke, settings.service_name)

    # For the AsyncAPI document: what onboarding publishes.
    broker.publisher(
        topics.PARTNERS,
        title="PartnerLifecycle",
        description="PartnerApplied, PartnerApproved, PartnerRejected, PartnerSigned, "
        "ContractRenewed, PartnerTierChanged, PartnerTerminated; keyed by partner id",
    )

    async def startup() -> None:
        await store.create_indexes()
        await outbox.publish_pending()

    app = service_app(
        settings,
        title="partnerhub onboarding",
        description="Partner selection with a weighted scorecard, contracts, renewals, tier "
        "changes and terminations (SPEC §1, §4, §7); every change is published on partners.v1.",
        broker=broker,
        mongo=mongo,
        on_startup=startup,
        readiness_details={"outbox_backlog": outbox.known_backlog},
        background=[relay.run],
    )

    @app.exception_handler(InvalidField)
    async def invalid_field(request: Request, exc: InvalidField) -> JSONResponse:
        return _unprocessable(exc.location, exc.message)

    @app.exception_handler(InvalidCursor)
    async def invalid_cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
        return _unprocessable(("query", "cursor"), str(exc))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(IllegalTransition)
    async def illegal_transition(request: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=409)

    # ----------------------------------------------------------------- applications

    @app.post(
        "/applications",
        tags=["applications"],
        status_code=201,
        summary="Apply: the scorecard is scored and a recommendation given (PartnerApplied)",
        dependencies=[access.StaffAccess],
    )
    async def apply(
        body: ApplicationBody, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await onboarding.apply(body, key))

    @app.get(
        "/applications",
        tags=["applications"],
        summary="Applications in the order they arrived, by status, a page at a time",
        dependencies=[access.StaffAccess],
    )
    async def applications(
        status: PartnerStatus | None = None,
        limit: int = Query(default=50, ge=1, le=500),
        cursor: str | None = Query(default=None, description="next_cursor of the previous page"),
    ) -> dict[str, Any]:
        page = await store.page(status, limit, cursor)
        return {
            "applications": [application_view(p.record) for p in page.partners],
            "next_cursor": page.next_cursor,
        }

    @app.get(
        "/applications/{application_id}",
        tags=["applications"],
        summary="One application with its assessment and the events it produced",
        dependencies=[access.StaffAccess],
    )
    async def application(application_id: str) -> dict[str, Any]:
        found = await store.load_by_application(application_id)
        if found is None:
            raise HTTPException(404, detail=f"application {application_id} does not exist")
        return {**application_view(found.record), "events": found.events}

    @app.post(
        "/applications/{application_id}/approve",
        tags=["applications"],
        summary="Approve an application; answers the partner id (PartnerApproved)",
        dependencies=[access.StaffAccess],
    )
    async def approve(
        application_id: str, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, None)
        return _answer(await onboarding.approve(application_id, key))

    @app.post(
        "/applications/{application_id}/reject",
        tags=["applications"],
        summary="Reject an application with a reason (PartnerRejected)",
        dependencies=[access.StaffAccess],
    )
    async def reject(
        application_id: str,
        body: RejectionBody,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await onboarding.reject(application_id, body, key))

    # ----------------------------------------------------------------- partners

    @app.post(
        "/partners/{partner_id}/contracts",
        tags=["partners"],
        status_code=201,
        summary="Sign an approved partner's first contract (PartnerSigned)",
        dependencies=[access.StaffAccess],
    )
    async def sign(
        partner_id: str,
        body: ContractBody,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await onboarding.sign(partner_id, body, key))

    @app.post(
        "/partners/{partner_id}/contracts/{contract_id}/renew",
        tags=["partners"],
        status_code=201,
        summary="Renew the current contract with a new one (ContractRenewed)",
        dependencies=[access.StaffAccess],
    )
    async def renew(
        partner_id: str,
        contract_id: str,
        body: RenewalBody,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await onboarding.renew(partner_id, contract_id, body, key))

    @app.post(
        "/partners/{partner_id}/tier",
        tags=["partners"],
        summary="Change an active partner's tier from a date (PartnerTierChanged)",
        dependencies=[access.StaffAccess],
    )
    async def change_tier(
        partner_id: str,
        body: TierChangeBody,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await onboarding.change_tier(partner_id, body, key))

    @app.post(
        "/partners/{partner_id}/terminate",
        tags=["partners"],
        summary="Give notice of termination, respecting the notice period (PartnerTerminated)",
        dependencies=[access.StaffAccess],
    )
    async def terminate(
        partner_id: str,
        body: TerminationBody,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await onboarding.terminate(partner_id, body, key))

    @app.get(
        "/partners/{partner_id}",
        tags=["partners"],
        summary="A partner as onboarding knows it: status, tier, contracts, termination",
        dependencies=[access.PartnerReadAccess],
    )
    async def partner(partner_id: str) -> dict[str, Any]:
        found = await store.load(partner_id)
        if found is None:
            raise HTTPException(404, detail=f"partner {partner_id} does not exist")
        return partner_view(found.record)

    return app
