"""Enablement wiring: the Kafka subscriber, the HTTP routes, start-up and background work."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from faststream.kafka.annotations import KafkaMessage

from services.enablement.commands import (
    Answer,
    CertificationBody,
    CommandKey,
    Commands,
    CompletionBody,
    CourseBody,
    FeedbackBody,
    InvalidField,
    MaterialBody,
    MdfRejectionBody,
    MdfRequestBody,
    NotFound,
    learner_view,
    material_view,
    mdf_view,
)
from services.enablement.domain import (
    EnablementError,
    MdfBudget,
    MdfStatus,
    UnknownPartner,
    quarter_of,
    require_active_partner,
    visible_materials,
)
from services.enablement.handlers import Enablement
from services.enablement.store import (
    EnablementStore,
    MdfLedger,
    encode_award,
    encode_certification,
    encode_course,
)
from shared import access, topics
from shared.consuming import batch_subscription, consume
from shared.events import Tier
from shared.lag import report_lag
from shared.messaging import make_broker
from shared.mongo import make_mongo_client, service_database
from shared.service import service_app
from shared.settings import Settings

log = logging.getLogger("partnerhub.enablement")

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


def _forbidden(principal: access.Principal) -> HTTPException:
    return HTTPException(403, detail=f"this key reads only partner {principal.partner_id}'s data")


def create_app(settings: Settings, budget: MdfBudget | None = None) -> FastAPI:
    broker = make_broker(settings)
    mongo = make_mongo_client(settings)
    store = EnablementStore(service_database(mongo, settings))
    enablement = Enablement(store, broker, settings.service_name)
    commands = Commands(store, enablement, budget or MdfBudget())

    @broker.subscriber(
        *topics.CONSUMED["enablement"],
        **batch_subscription(settings),
        title="enablement-events",
        description="Partners' status and tier, and TrainingCompleted from any source "
        "(this API or an external LMS), in; CertificationAwarded out.",
    )
    async def on_events(message: KafkaMessage) -> None:
        await consume(
            message.raw_message,
            broker=broker,
            service=settings.service_name,
            handle=enablement.handle,
        )

    # For the AsyncAPI document: what enablement publishes.
    broker.publisher(
        topics.ENABLEMENT,
        title="EnablementEvents",
        description="TrainingCompleted, CertificationAwarded, PartnerFeedbackSubmitted, "
        "MdfRequested, MdfApproved, MdfRejected",
    )

    async def startup() -> None:
        await store.create_indexes()
        if located := await store.backfill_locators():
            log.info("recorded %d locators of earlier answers and MDF requests", located)
        await enablement.outbox.publish_pending()
        enablement.catalogue_changed.set()  # settle what a crash may have left stale

    group = settings.consumer_group or settings.service_name
    consumed = topics.CONSUMED["enablement"]
    app = service_app(
        settings,
        title="partnerhub enablement",
        description="Partner education and support: courses, certifications, completions, "
        "sales materials, feedback and co-marketing funds (SPEC §1, §7).",
        broker=broker,
        mongo=mongo,
        on_startup=startup,
        readiness_details={
            "outbox_backlog": enablement.outbox.known_backlog,
            "awards_current": enablement.awards_current,
        },
        background=[
            enablement.outbox.relay,
            enablement.keep_learners_settled,
            lambda: report_lag(settings, group, consumed),
        ],
    )

    @app.exception_handler(InvalidField)
    async def invalid_field(request: Request, exc: InvalidField) -> JSONResponse:
        detail = [{"loc": list(exc.location), "msg": exc.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(EnablementError)
    async def refused(request: Request, exc: EnablementError) -> JSONResponse:
        status = 404 if isinstance(exc, UnknownPartner) else 409
        return JSONResponse({"detail": exc.reason}, status_code=status)

    # ----------------------------------------------------------------- catalogue

    @app.post(
        "/courses",
        tags=["catalogue"],
        status_code=201,
        summary="Define a course (200 when it is already defined exactly so)",
        dependencies=[access.StaffAccess],
    )
    async def define_course(
        body: CourseBody, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await commands.define_course(body, key))

    @app.get(
        "/courses",
        tags=["catalogue"],
        summary="The course catalogue",
        dependencies=[access.StaffAccess],
    )
    async def courses(product_line: str | None = None) -> dict[str, Any]:
        catalogue = await store.load_catalogue()
        return {
            "courses": [
                encode_course(c)
                for c in sorted(catalogue.courses.values(), key=lambda c: c.course_id)
                if product_line is None or c.product_line == product_line
            ]
        }

    @app.post(
        "/certifications",
        tags=["catalogue"],
        status_code=201,
        summary="Define a certification; learners who already qualify are awarded it",
        dependencies=[access.StaffAccess],
    )
    async def define_certification(
        body: CertificationBody, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await commands.define_certification(body, key))

    @app.get(
        "/certifications",
        tags=["catalogue"],
        summary="The certification definitions",
        dependencies=[access.StaffAccess],
    )
    async def certifications(product_line: str | None = None) -> dict[str, Any]:
        catalogue = await store.load_catalogue()
        return {
            "certifications": [
                encode_certification(c)
                for c in sorted(catalogue.certifications.values(), key=lambda c: c.certification_id)
                if product_line is None or c.product_line == product_line
            ]
        }

    # ----------------------------------------------------------------- learning

    @app.post(
        "/completions",
        tags=["learning"],
        status_code=201,
        summary="Record a training completion (publishes TrainingCompleted)",
        dependencies=[access.StaffAccess],
    )
    async def report_completion(
        body: CompletionBody, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await commands.report_completion(body, key))

    @app.get(
        "/partners/{partner_id}/learners",
        tags=["learning"],
        summary="A partner's learners with their completions and certifications",
        dependencies=[access.PartnerReadAccess],
    )
    async def learners(partner_id: str) -> dict[str, Any]:
        return {
            "partner_id": partner_id,
            "learners": [learner_view(x) for x in await store.learners_of(partner_id)],
        }

    @app.get(
        "/partners/{partner_id}/learners/{learner_id}",
        tags=["learning"],
        summary="One learner's completions and certifications",
        dependencies=[access.PartnerReadAccess],
    )
    async def learner(partner_id: str, learner_id: str) -> dict[str, Any]:
        found = await store.find_learner(partner_id, learner_id)
        if found is None:
            raise HTTPException(404, detail=f"no learner {learner_id} of partner {partner_id}")
        return learner_view(found)

    @app.get(
        "/partners/{partner_id}/certifications",
        tags=["learning"],
        summary="The certifications awarded to a partner's learners",
        dependencies=[access.PartnerReadAccess],
    )
    async def partner_certifications(partner_id: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        awards = [a for x in await store.learners_of(partner_id) for a in x.awards]
        return {
            "partner_id": partner_id,
            "certifications": [
                {"learner_id": a.learner_id, **encode_award(a), "valid": a.valid_at(now)}
                for a in sorted(awards, key=lambda a: (a.awarded_at, a.learner_id))
            ],
        }

    @app.get(
        "/partners/{partner_id}/standing",
        tags=["partners"],
        summary="What enablement knows of a partner from partners.v1: status and tier",
        dependencies=[access.PartnerReadAccess],
    )
    async def standing(partner_id: str) -> dict[str, Any]:
        found = await store.standing(partner_id)
        if found is None:
            raise HTTPException(404, detail=f"partner {partner_id} is not known")
        today = datetime.now(UTC).date()
        tier = found.tier_on(today)
        return {
            "partner_id": partner_id,
            "status": found.status_on(today).value,
            "tier": None if tier is None else tier.value,
            "terminated_from": None
            if found.termination is None
            else found.termination.effective_date.isoformat(),
        }

    # ----------------------------------------------------------------- materials

    @app.post(
        "/materials",
        tags=["materials"],
        status_code=201,
        summary="Add a sales material for the tiers allowed to see it",
        dependencies=[access.StaffAccess],
    )
    async def add_material(
        body: MaterialBody, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await commands.add_material(body, key))

    @app.get(
        "/materials",
        tags=["materials"],
        summary="Sales materials by product line and tier, or those a partner's tier may see",
    )
    async def materials(
        principal: access.Authenticated,
        product_line: str | None = None,
        tier: Tier | None = None,
        partner_id: str | None = None,
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> dict[str, Any]:
        if principal.is_partner:
            if partner_id is not None and partner_id != principal.partner_id:
                raise _forbidden(principal)
            partner_id = principal.partner_id
        if partner_id is not None:
            today = datetime.now(UTC).date()
            partner = require_active_partner(await store.standing(partner_id), partner_id, today)
            partner_tier = partner.tier_on(today)
            if tier is not None and tier != partner_tier:
                if principal.is_partner:
                    raise _forbidden(principal)
                raise InvalidField(
                    ("query", "tier"),
                    f"partner {partner_id} is {partner_tier or 'without a contract'}, not {tier}",
                )
            if partner_tier is None:
                return {
                    "partner_id": partner_id,
                    "tier": None,
                    "product_line": product_line,
                    "materials": [],
                }
            tier = partner_tier
        found = visible_materials(
            await store.materials_matching(product_line, tier, limit), product_line, tier
        )
        return {
            "partner_id": partner_id,
            "tier": None if tier is None else tier.value,
            "product_line": product_line,
            "materials": [material_view(m) for m in found],
        }

    # ----------------------------------------------------------------- feedback

    @app.post(
        "/feedback",
        tags=["feedback"],
        status_code=201,
        summary="Record a partner's feedback (publishes PartnerFeedbackSubmitted)",
        dependencies=[access.StaffAccess],
    )
    async def submit_feedback(
        body: FeedbackBody, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await commands.submit_feedback(body, key))

    @app.get(
        "/feedback",
        tags=["feedback"],
        summary="A partner's feedback, newest first",
        dependencies=[access.PartnerReadAccess],
    )
    async def feedback(
        partner_id: str, limit: int = Query(default=100, ge=1, le=1000)
    ) -> dict[str, Any]:
        items = await store.feedback_of(partner_id, limit)
        return {
            "partner_id": partner_id,
            "feedback": [
                {
                    "feedback_id": d["_id"],
                    **{k: d[k] for k in ("rating", "topic", "text")},
                    "submitted_at": d["submitted_at"],
                }
                for d in items
            ],
        }

    # ----------------------------------------------------------------- MDF

    @app.post(
        "/mdf-requests",
        tags=["mdf"],
        status_code=201,
        summary="Request co-marketing funds (publishes MdfRequested; MdfRejected when over budget)",
        dependencies=[access.StaffAccess],
    )
    async def request_mdf(
        body: MdfRequestBody, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await commands.request_mdf(body, key))

    @app.post(
        "/mdf-requests/{request_id}/approve",
        tags=["mdf"],
        summary="Approve an MDF request (MdfApproved; MdfRejected when the budget no longer "
        "allows it)",
        dependencies=[access.StaffAccess],
    )
    async def approve_mdf(
        request_id: str, request: Request, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        key = CommandKey.of(idempotency_key, request.url.path, None)
        return _answer(await commands.decide_mdf(request_id, True, None, key))

    @app.post(
        "/mdf-requests/{request_id}/reject",
        tags=["mdf"],
        summary="Reject an MDF request (publishes MdfRejected)",
        dependencies=[access.StaffAccess],
    )
    async def reject_mdf(
        request_id: str,
        request: Request,
        body: MdfRejectionBody | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        body = body or MdfRejectionBody()
        key = CommandKey.of(idempotency_key, request.url.path, body)
        return _answer(await commands.decide_mdf(request_id, False, body.reason, key))

    @app.get(
        "/mdf-requests",
        tags=["mdf"],
        summary="MDF requests of a partner (with its budget this quarter), or all by status",
    )
    async def mdf_requests(
        principal: access.Authenticated,
        partner_id: str | None = None,
        status: MdfStatus | None = None,
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> dict[str, Any]:
        if principal.is_partner:
            if partner_id is not None and partner_id != principal.partner_id:
                raise _forbidden(principal)
            partner_id = principal.partner_id
        ledgers: list[MdfLedger]
        if partner_id is not None:
            ledgers = await store.ledgers_of(partner_id)
        elif status is not None:
            ledgers = await store.ledgers_with_status(status, limit)
        else:
            raise InvalidField(("query", "partner_id"), "give partner_id or status")
        requests = sorted(
            (
                r
                for ledger in ledgers
                for r in ledger.requests.values()
                if status is None or r.status is status
            ),
            key=lambda r: (r.requested_at, r.request_id),
        )[:limit]
        body: dict[str, Any] = {
            "partner_id": partner_id,
            "status": None if status is None else status.value,
            "requests": [mdf_view(r) for r in requests],
        }
        if partner_id is not None:
            now = datetime.now(UTC)
            partner = await store.standing(partner_id)
            if partner is not None:
                body["budget"] = commands.mdf_budget_of(
                    partner, await store.load_ledger(partner_id, quarter_of(now)), now
                )
        return body

    @app.get(
        "/mdf-requests/{request_id}",
        tags=["mdf"],
        summary="One MDF request and its decision",
    )
    async def mdf_request(request_id: str, principal: access.Authenticated) -> dict[str, Any]:
        ledger = await store.ledger_of_request(request_id)
        if ledger is None:
            raise HTTPException(404, detail=f"MDF request {request_id} does not exist")
        if not principal.may_read_partner(ledger.partner_id):
            raise _forbidden(principal)
        return mdf_view(ledger.requests[request_id])

    return app
