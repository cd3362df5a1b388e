"""Incentives' MongoDB persistence: a ledger per partner, a registration book per
(customer, product line), and the deal → partner index.

A partner's **ledger** (collection ``ledgers``) holds the facts its
commissions follow from, the last revision published for each deal with its
history, the partner's settlements, and an **outbox** of CloudEvents stored
but not yet acknowledged by Kafka (:mod:`shared.outbox`). All of it changes
in one single-document write, guarded by a ``version`` field (optimistic
concurrency): that write is the commit point, so a crash before it changes
nothing and a crash after it leaves the events in the outbox, to be
published again as the same events. A registration book (collection
``registration_books``) does the same for deal registrations and their
decisions.

Money is stored as decimal strings and instants as ISO 8601 strings (exact to
the microsecond, unlike BSON dates), so MongoDB and FerretDB store the same
thing.

A ledger's facts, revisions and settlements, which no query looks inside, are
one zlib-compressed JSON text in a binary field, ``state``; beside it only
what is queried: ``version`` and the outbox. FerretDB decodes a stored
document field by field on every read and update, so a ledger is kept to few
fields.

A registration sent through ``POST /registrations`` is kept in
``registration_requests`` (``_id``: its registration id) with the answer given
(under its Idempotency-Key) and its DealRegistered in the outbox, written in one
insert; the consumer decides it once the event comes back from ``deals.v1``,
into its registration book. Until then it reads as pending. The request stays
(its answer is remembered there), so a registration sent through the API is in
both collections once decided, and its registration book is what holds its
decision.

``GET /registrations`` lists a partner's registrations (or every partner's)
from both: the books holding one of the partner's registrations
(``registrations.partner_id``) and the partner's requests (``partner_id``),
each a request not yet in a book being pending
(:meth:`IncentivesStore.registrations_of`).

``deal_partners`` maps a deal to its partner (``{_id: deal, partner_id}``) for
``GET /commissions/{deal_id}``: a lookup by ``_id``, which every server
answers without a scan. A deal's entry is inserted before the first ledger
write that publishes the deal, and never changes.

Exchange rates (docs/rules/fx.md) are kept in ``exchange_rates``, every version
of every rate (``_id``: pair, day and version; inserted, never changed), and
``rate_needs`` notes which partner's deals need which pair (``_id``:
pair and partner): a partner's ledger holds the rates of the pairs its deals
need. A batch of deals notes its pairs before it reads their rates, and a new
rate is stored before the partners needing its pair are read, so a rate and a
deal arriving together always meet in one of the two.

:class:`Store` is what the service needs of all this (tests use an in-memory
one); :class:`shared.outbox.Publisher` publishes what the outboxes hold.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from bson import Binary
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.incentives.domain import (
    Adjustment,
    Bracket,
    Certification,
    ContractTerms,
    DealResult,
    Decision,
    ExchangeRate,
    ExtensionAnswer,
    ExtensionRequest,
    Inquiry,
    ManualDecision,
    MdfClaim,
    PartnerBook,
    Plan,
    Registration,
    RegistrationDecision,
    RegistrationFacts,
    Revision,
)
from services.incentives.domain import Deal as DealFact
from shared.events import Actor, ActorKind, CommissionStatus, PlanPeriod
from shared.mongo import (
    Document,
    create_lookup_indexes,
    find_by_ids,
    insert_new,
    replace_if_unchanged,
)
from shared.outbox import WITHOUT_OUTBOX, OutboxEntry, decode_outbox, encode_outbox
from shared.settlement import Settlement, from_document, to_document

LEDGERS = "ledgers"
DEAL_PARTNERS = "deal_partners"
REGISTRATIONS = "registration_books"
REGISTRATION_REQUESTS = "registration_requests"
INQUIRY_PARTNERS = "inquiry_partners"
RATES = "exchange_rates"
RATE_NEEDS = "rate_needs"
#: zlib level of a ledger's stored state: the fastest.
STATE_COMPRESSION = 1


@dataclass(slots=True)
class PartnerLedger:
    """A partner's commission book with what was published and paid from it: the unit of
    one atomic write."""

    partner_id: str
    version: int
    book: PartnerBook
    published: dict[str, Revision] = field(default_factory=dict)
    #: Each deal's revisions as published: revision, status, commission, target_bonus,
    #: delta, event_id, calculated_at.
    history: dict[str, list[Document]] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)
    #: Adjustments and inquiries, by id (docs/rules/inquiries.md).
    adjustments: dict[str, Adjustment] = field(default_factory=dict)
    inquiries: dict[str, Inquiry] = field(default_factory=dict)
    #: The pairs noted in ``rate_needs`` for this partner, their rates read into the book.
    rate_pairs: set[tuple[str, str]] = field(default_factory=set)
    #: Published deals known to be in ``deal_partners``.
    indexed: set[str] = field(default_factory=set)
    #: The JSON text of each deal and published revision as last encoded (see
    #: :func:`ledger_text`), by deal id, with what it was encoded from.
    encoded_deals: dict[str, tuple[DealFact, str]] = field(
        default_factory=dict, repr=False, compare=False
    )
    encoded_published: dict[str, tuple[Revision, int, str]] = field(
        default_factory=dict, repr=False, compare=False
    )


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A registration's standing decision: the ``number``-th published, in ``event_id``
    (for a decision by hand, the channel manager's own event), with when its protection
    ends and, for a conflict, the registration it conflicts with."""

    registration_id: str
    approved: bool
    reason: str | None
    number: int
    event_id: str
    decided_at: datetime
    expires_at: datetime | None = None
    conflicting_registration_id: str | None = None
    decided_by: Actor | None = None

    @property
    def by_hand(self) -> bool:
        return self.decided_by is not None and self.decided_by.kind is not ActorKind.SYSTEM

    def same_outcome(self, decision: Decision) -> bool:
        """Whether ``decision`` says what this record's event says (nothing to publish):
        a protection's end moved by an extension is in the extension's own event."""
        return (
            self.approved == decision.approved
            and self.reason == decision.reason
            and self.conflicting_registration_id == decision.conflicting_registration_id
        )


@dataclass(frozen=True, slots=True)
class RegistrationState:
    """One registration as it is read: its decision (None while undecided) and its
    extension requests with their answers."""

    registration: Registration
    decision: DecisionRecord | None = None
    requests: tuple[ExtensionRequest, ...] = ()
    answers: Mapping[str, ExtensionAnswer] = field(default_factory=dict)
    waiting: ExtensionRequest | None = None
    granted: int = 0


@dataclass(slots=True)
class RegistrationBook:
    """The registrations for one (customer, product line), what is known of their
    lifecycle, and their standing decisions."""

    key: str
    version: int
    facts: RegistrationFacts = field(default_factory=RegistrationFacts)
    decisions: dict[str, DecisionRecord] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)

    @property
    def registrations(self) -> dict[str, Registration]:
        return self.facts.registrations

    def state(self, registration_id: str) -> RegistrationState:
        facts = self.facts
        return RegistrationState(
            registration=facts.registrations[registration_id],
            decision=self.decisions.get(registration_id),
            requests=tuple(facts.requests_of(registration_id)),
            answers=dict(facts.answers.get(registration_id, {})),
            waiting=facts.waiting(registration_id),
            granted=len(facts.granted(registration_id)),
        )


def registration_key(customer: str, product_line: str) -> str:
    return f"{customer}\x1f{product_line}"


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """A registration sent through the API, as its DealRegistered states it."""

    registration: Registration
    expected_amount: Decimal


# --------------------------------------------------------------------------- encoding


def _version(value: tuple[datetime, str]) -> list[str]:
    return [value[0].isoformat(), value[1]]


def _unversion(value: list[str]) -> tuple[datetime, str]:
    return datetime.fromisoformat(value[0]), value[1]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _unmoney(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _uninstant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _encode_answer(a: ExtensionAnswer) -> Document:
    return {
        "extension_id": a.extension_id,
        "registration_id": a.registration_id,
        "deal_id": a.deal_id,
        "granted": a.granted,
        "days": a.days,
        "answered_at": a.answered_at.isoformat(),
        "version": _version(a.version),
        "note": a.note,
    }


def _decode_answer(doc: Mapping[str, Any]) -> ExtensionAnswer:
    return ExtensionAnswer(
        extension_id=doc["extension_id"],
        registration_id=doc["registration_id"],
        deal_id=doc["deal_id"],
        granted=bool(doc["granted"]),
        days=int(doc["days"]),
        answered_at=datetime.fromisoformat(doc["answered_at"]),
        version=_unversion(doc["version"]),
        note=doc["note"],
    )


def _encode_adjustment(a: Adjustment) -> Document:
    return {
        "adjustment_id": a.adjustment_id,
        "deal_id": a.deal_id,
        "period": a.period,
        "currency": a.currency,
        "amount": str(a.amount),
        "reason": a.reason,
        "adjusted_at": a.adjusted_at.isoformat(),
        "actor": _actor(a.actor),
        "inquiry_id": a.inquiry_id,
    }


def _decode_adjustment(doc: Mapping[str, Any]) -> Adjustment:
    return Adjustment(
        adjustment_id=doc["adjustment_id"],
        deal_id=doc["deal_id"],
        period=doc["period"],
        currency=doc["currency"],
        amount=Decimal(doc["amount"]),
        reason=doc["reason"],
        adjusted_at=datetime.fromisoformat(doc["adjusted_at"]),
        actor=_unactor(doc["actor"]),
        inquiry_id=doc["inquiry_id"],
    )


def _encode_inquiry(i: Inquiry) -> Document:
    return {
        "inquiry_id": i.inquiry_id,
        "deal_id": i.deal_id,
        "period": i.period,
        "message": i.message,
        "opened_at": i.opened_at.isoformat(),
        "opened_by": _actor(i.opened_by),
        "resolution": i.resolution,
        "note": i.note,
        "resolved_at": _instant(i.resolved_at),
        "resolved_by": _actor(i.resolved_by),
        "adjustment_id": i.adjustment_id,
    }


def _decode_inquiry(doc: Mapping[str, Any]) -> Inquiry:
    return Inquiry(
        inquiry_id=doc["inquiry_id"],
        deal_id=doc["deal_id"],
        period=doc["period"],
        message=doc["message"],
        opened_at=datetime.fromisoformat(doc["opened_at"]),
        opened_by=_unactor(doc["opened_by"]),
        resolution=doc["resolution"],
        note=doc["note"],
        resolved_at=_uninstant(doc["resolved_at"]),
        resolved_by=_unactor(doc["resolved_by"]),
        adjustment_id=doc["adjustment_id"],
    )


def _actor(actor: Actor | None) -> Document | None:
    return None if actor is None else actor.model_dump(mode="json")


def _unactor(doc: Mapping[str, Any] | None) -> Actor | None:
    return None if doc is None else Actor.model_validate(doc)


def pair_text(base: str, quote: str) -> str:
    return f"{base}/{quote}"


def _pair(text: str) -> tuple[str, str]:
    base, _, quote = text.partition("/")
    return base, quote


def rate_key(rate: ExchangeRate) -> str:
    """A rate version's ``_id``: its pair, day and version, so each version is kept once."""
    time, event_id = rate.version
    return f"{pair_text(rate.base, rate.quote)}|{rate.valid_from.isoformat()}|{time.isoformat()}|{event_id}"


def encode_rate(rate: ExchangeRate) -> Document:
    return {
        "pair": pair_text(rate.base, rate.quote),
        "base": rate.base,
        "quote": rate.quote,
        "valid_from": rate.valid_from.isoformat(),
        "rate": str(rate.rate),
        "version": _version(rate.version),
        "source": rate.source,
    }


def decode_rate(doc: Mapping[str, Any]) -> ExchangeRate:
    return ExchangeRate(
        base=doc["base"],
        quote=doc["quote"],
        valid_from=date.fromisoformat(doc["valid_from"]),
        rate=Decimal(doc["rate"]),
        version=_unversion(doc["version"]),
        source=doc.get("source", ""),
    )


def _encode_result(result: DealResult) -> Document:
    return {
        "deal_id": result.deal_id,
        "period": result.period,
        "currency": result.currency,
        "amount": str(result.amount),
        "closed_at": result.closed_at.isoformat(),
        "status": result.status.value,
        "reason": result.reason,
        "contract_id": result.contract_id,
        "base": str(result.base),
        "uplift": str(result.uplift),
        "commission": str(result.commission),
        "target_bonus": str(result.target_bonus),
        **(
            {}
            if result.original_amount is None
            else {
                "original_amount": str(result.original_amount),
                "original_currency": result.original_currency,
                "fx_rate": str(result.fx_rate),
            }
        ),
    }


def _decode_result(doc: Mapping[str, Any]) -> DealResult:
    return DealResult(
        deal_id=doc["deal_id"],
        period=doc["period"],
        currency=doc["currency"],
        amount=Decimal(doc["amount"]),
        closed_at=datetime.fromisoformat(doc["closed_at"]),
        status=CommissionStatus(doc["status"]),
        reason=doc["reason"],
        contract_id=doc["contract_id"],
        base=Decimal(doc["base"]),
        uplift=Decimal(doc["uplift"]),
        commission=Decimal(doc["commission"]),
        target_bonus=Decimal(doc["target_bonus"]),
        original_amount=_unmoney(doc.get("original_amount")),
        original_currency=doc.get("original_currency"),
        fx_rate=_unmoney(doc.get("fx_rate")),
    )


def _encode_contract(c: ContractTerms) -> Document:
    plan = c.plan
    return {
        "contract_id": c.contract_id,
        "start_date": c.start_date.isoformat(),
        "end_date": c.end_date.isoformat(),
        "currency": c.currency,
        "version": _version(c.version),
        "plan": {
            "period": plan.period.value,
            "brackets": [{"from": str(b.start), "rate": str(b.rate)} for b in plan.brackets],
            "certification_bonus_rate": str(plan.certification_bonus_rate),
            "registered_deal_bonus_rate": str(plan.registered_deal_bonus_rate),
            "period_cap": _money(plan.period_cap),
            "clawback_days": plan.clawback_days,
            "target_amount": _money(plan.target_amount),
            "target_bonus": _money(plan.target_bonus),
            "fx_rates": {currency: str(rate) for currency, rate in plan.fx_rates},
        },
    }


def _decode_contract(doc: Mapping[str, Any]) -> ContractTerms:
    plan = doc["plan"]
    return ContractTerms(
        contract_id=doc["contract_id"],
        start_date=date.fromisoformat(doc["start_date"]),
        end_date=date.fromisoformat(doc["end_date"]),
        currency=doc["currency"],
        version=_unversion(doc["version"]),
        plan=Plan(
            period=PlanPeriod(plan["period"]),
            brackets=tuple(
                Bracket(Decimal(b["from"]), Decimal(b["rate"])) for b in plan["brackets"]
            ),
            certification_bonus_rate=Decimal(plan["certification_bonus_rate"]),
            registered_deal_bonus_rate=Decimal(plan["registered_deal_bonus_rate"]),
            period_cap=_unmoney(plan["period_cap"]),
            clawback_days=int(plan["clawback_days"]),
            target_amount=_unmoney(plan["target_amount"]),
            target_bonus=_unmoney(plan["target_bonus"]),
            fx_rates=tuple(
                sorted((c, Decimal(rate)) for c, rate in plan.get("fx_rates", {}).items())
            ),
        ),
    )


def encode_ledger(ledger: PartnerLedger, version: int) -> Document:
    return {
        "_id": ledger.partner_id,
        "version": version,
        "state": Binary(zlib.compress(ledger_text(ledger).encode(), STATE_COMPRESSION)),
        **encode_outbox(ledger.outbox),
    }


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def ledger_text(ledger: PartnerLedger) -> str:
    """The ledger's state as JSON text: :func:`_ledger_state`, encoded.

    A ledger is rewritten whole at every batch that touches its partner, so
    the deals and published revisions, nearly all of the text, are encoded
    once per change and kept in ``ledger.encoded_deals`` and
    ``ledger.encoded_published``; only what changed is encoded again.
    """
    # Plain loops: this runs for every deal of every ledger a batch writes.
    deal_texts = ledger.encoded_deals
    parts: list[str] = []
    for deal in ledger.book.deals.values():
        known = deal_texts.get(deal.deal_id)
        if known is None or known[0] is not deal:
            known = deal_texts[deal.deal_id] = (deal, _dumps(_deal_doc(deal)))
        parts.append(known[1])
    deals = ",".join(parts)
    published_texts = ledger.encoded_published
    history = ledger.history
    parts = []
    for deal_id, revision in ledger.published.items():
        size = len(history.get(deal_id, ()))
        hit = published_texts.get(deal_id)
        if hit is None or hit[0] is not revision or hit[1] != size:
            text = _dumps(_published_doc(ledger, deal_id, revision))
            hit = published_texts[deal_id] = (revision, size, text)
        parts.append(hit[2])
    published = ",".join(parts)
    rest = _dumps(_ledger_state(ledger, items=False))
    return f'{rest[:-1]},"deals":[{deals}],"published":[{published}]}}'


def _deal_doc(d: DealFact) -> Document:
    return {
        "deal_id": d.deal_id,
        "amount": str(d.amount),
        "currency": d.currency,
        "product_line": d.product_line,
        "closed_at": d.closed_at.isoformat(),
        "version": _version(d.version),
    }


def _published_doc(ledger: PartnerLedger, deal_id: str, revision: Revision) -> Document:
    return {
        **_encode_result(revision.result),
        "revision": revision.revision,
        "delta": str(revision.delta),
        "history": ledger.history.get(deal_id, []),
    }


def _ledger_state(ledger: PartnerLedger, *, items: bool = True) -> Document:
    """What a ledger stores (``items=False``: without its deals and published revisions)."""
    book = ledger.book
    state: Document = {
        "contracts": [_encode_contract(c) for c in book.contracts.values()],
        "terminated_from": book.terminated_from.isoformat() if book.terminated_from else None,
        "cancellations": [
            {"deal_id": deal_id, "cancelled_at": at.isoformat()}
            for deal_id, at in book.cancellations.items()
        ],
        "certifications": [
            {
                "product_line": c.product_line,
                "awarded_at": c.awarded_at.isoformat(),
                "expires_at": c.expires_at.isoformat(),
            }
            for c in sorted(book.certifications, key=lambda c: (c.product_line, c.awarded_at))
        ],
        "registrations": [
            {
                "registration_id": r.registration_id,
                "deal_id": r.deal_id,
                "approved": r.approved,
                "decided_at": r.decided_at.isoformat(),
                "version": _version(r.version),
                "manual": r.manual,
                "expires_at": _instant(r.expires_at),
            }
            for r in book.registrations.values()
        ],
        "extensions": [_encode_answer(a) for x in book.extensions.values() for a in x.values()],
        "mdf_claims": [
            {
                "claim_id": c.claim_id,
                "request_id": c.request_id,
                "currency": c.currency,
                "amount": str(c.amount),
                "approved_at": c.approved_at.isoformat(),
            }
            for c in book.mdf_claims.values()
        ],
        "rates": [encode_rate(r) for r in book.rates],
        "rate_pairs": sorted(pair_text(*pair) for pair in ledger.rate_pairs),
        "settlements": [to_document(x) for x in ledger.settlements],
        "adjustments": [_encode_adjustment(a) for a in ledger.adjustments.values()],
        "inquiries": [_encode_inquiry(i) for i in ledger.inquiries.values()],
    }
    if items:
        state["deals"] = [_deal_doc(d) for d in book.deals.values()]
        state["published"] = [
            _published_doc(ledger, deal_id, revision)
            for deal_id, revision in ledger.published.items()
        ]
    return state


def decode_ledger(stored: Mapping[str, Any]) -> PartnerLedger:
    state = json.loads(zlib.decompress(stored["state"]))
    book = PartnerBook(stored["_id"])
    for contract in state["contracts"]:
        book.add_contract(_decode_contract(contract))
    if state["terminated_from"]:
        book.add_termination(date.fromisoformat(state["terminated_from"]))
    for d in state["deals"]:
        book.add_deal(
            DealFact(
                deal_id=d["deal_id"],
                amount=Decimal(d["amount"]),
                currency=d["currency"],
                product_line=d["product_line"],
                closed_at=datetime.fromisoformat(d["closed_at"]),
                version=_unversion(d["version"]),
            )
        )
    for c in state["cancellations"]:
        book.add_cancellation(c["deal_id"], datetime.fromisoformat(c["cancelled_at"]))
    for c in state["certifications"]:
        book.add_certification(
            Certification(
                c["product_line"],
                datetime.fromisoformat(c["awarded_at"]),
                datetime.fromisoformat(c["expires_at"]),
            )
        )
    for r in state["registrations"]:
        book.add_registration_decision(
            RegistrationDecision(
                r["registration_id"],
                r["deal_id"],
                bool(r["approved"]),
                datetime.fromisoformat(r["decided_at"]),
                _unversion(r["version"]),
                manual=bool(r.get("manual", False)),
                expires_at=_uninstant(r.get("expires_at")),
            )
        )
    for a in state.get("extensions", []):
        book.add_extension_answer(_decode_answer(a))
    for c in state.get("mdf_claims", []):
        book.add_mdf_claim(
            MdfClaim(
                c["claim_id"],
                c["request_id"],
                c["currency"],
                Decimal(c["amount"]),
                datetime.fromisoformat(c["approved_at"]),
            )
        )
    for r in state.get("rates", []):
        book.add_rate(decode_rate(r))
    book.settle()
    published = {
        p["deal_id"]: Revision(_decode_result(p), int(p["revision"]), Decimal(p["delta"]))
        for p in state["published"]
    }
    return PartnerLedger(
        partner_id=stored["_id"],
        version=int(stored["version"]),
        book=book,
        published=published,
        history={p["deal_id"]: list(p["history"]) for p in state["published"]},
        outbox=decode_outbox(stored),
        settlements=[from_document(x) for x in state["settlements"]],
        adjustments={
            a["adjustment_id"]: _decode_adjustment(a) for a in state.get("adjustments", [])
        },
        inquiries={i["inquiry_id"]: _decode_inquiry(i) for i in state.get("inquiries", [])},
        rate_pairs={_pair(text) for text in state.get("rate_pairs", [])},
        # Every deal a stored ledger published was indexed before the ledger was written.
        indexed=set(published),
    )


def _encode_registration(r: Registration) -> Document:
    return {
        "registration_id": r.registration_id,
        "deal_id": r.deal_id,
        "partner_id": r.partner_id,
        "customer": r.customer,
        "product_line": r.product_line,
        "registered_at": r.registered_at.isoformat(),
    }


def _decode_registration(r: Mapping[str, Any]) -> Registration:
    return Registration(
        registration_id=r["registration_id"],
        deal_id=r["deal_id"],
        partner_id=r["partner_id"],
        customer=r["customer"],
        product_line=r["product_line"],
        registered_at=datetime.fromisoformat(r["registered_at"]),
    )


def encode_registration_book(book: RegistrationBook, version: int) -> Document:
    facts = book.facts
    return {
        "_id": book.key,
        "version": version,
        "registrations": [
            {**_encode_registration(r), "version": _version(facts.versions[r.registration_id])}
            for r in facts.registrations.values()
        ],
        "requests": [
            {
                "extension_id": r.extension_id,
                "registration_id": r.registration_id,
                "days": r.days,
                "reason": r.reason,
                "requested_at": r.requested_at.isoformat(),
                "version": _version(r.version),
            }
            for r in facts.requests.values()
        ],
        "answers": [_encode_answer(a) for x in facts.answers.values() for a in x.values()],
        "manual": [
            {
                "registration_id": m.registration_id,
                "approved": m.approved,
                "reason": m.reason,
                "version": _version(m.version),
                "actor": _actor(m.actor),
            }
            for m in facts.manual.values()
        ],
        "decisions": [
            {
                "registration_id": d.registration_id,
                "approved": d.approved,
                "reason": d.reason,
                "number": d.number,
                "event_id": d.event_id,
                "decided_at": d.decided_at.isoformat(),
                "expires_at": _instant(d.expires_at),
                "conflicting_registration_id": d.conflicting_registration_id,
                "decided_by": _actor(d.decided_by),
            }
            for d in book.decisions.values()
        ],
        **encode_outbox(book.outbox),
    }


def decode_registration_book(doc: Mapping[str, Any]) -> RegistrationBook:
    facts = RegistrationFacts()
    for r in doc["registrations"]:
        facts.add_registration(_decode_registration(r), _unversion(r["version"]))
    for r in doc.get("requests", []):
        facts.add_request(
            ExtensionRequest(
                extension_id=r["extension_id"],
                registration_id=r["registration_id"],
                days=int(r["days"]),
                reason=r["reason"],
                requested_at=datetime.fromisoformat(r["requested_at"]),
                version=_unversion(r["version"]),
            )
        )
    for a in doc.get("answers", []):
        facts.add_answer(_decode_answer(a))
    for m in doc.get("manual", []):
        facts.add_manual(
            ManualDecision(
                m["registration_id"],
                bool(m["approved"]),
                m["reason"],
                _unversion(m["version"]),
                _unactor(m["actor"]),
            )
        )
    return RegistrationBook(
        key=doc["_id"],
        version=int(doc["version"]),
        facts=facts,
        decisions={
            d["registration_id"]: DecisionRecord(
                registration_id=d["registration_id"],
                approved=bool(d["approved"]),
                reason=d["reason"],
                number=int(d["number"]),
                event_id=d["event_id"],
                decided_at=datetime.fromisoformat(d["decided_at"]),
                expires_at=_uninstant(d.get("expires_at")),
                conflicting_registration_id=d.get("conflicting_registration_id"),
                decided_by=_unactor(d.get("decided_by")),
            )
            for d in doc["decisions"]
        },
        outbox=decode_outbox(doc),
    )


def encode_registration_request(
    request: RegistrationRequest, answers: Document, outbox: Sequence[OutboxEntry]
) -> Document:
    r = request.registration
    return {
        "_id": r.registration_id,
        "deal_id": r.deal_id,
        "partner_id": r.partner_id,
        "customer": r.customer,
        "product_line": r.product_line,
        "registered_at": r.registered_at.isoformat(),
        "expected_amount": str(request.expected_amount),
        "answers": answers,
        **encode_outbox(outbox),
    }


def decode_registration_request(doc: Mapping[str, Any]) -> RegistrationRequest:
    return RegistrationRequest(
        Registration(
            registration_id=doc["_id"],
            deal_id=doc["deal_id"],
            partner_id=doc["partner_id"],
            customer=doc["customer"],
            product_line=doc["product_line"],
            registered_at=datetime.fromisoformat(doc["registered_at"]),
        ),
        Decimal(doc["expected_amount"]),
    )


# --------------------------------------------------------------------------- the store

#: A registration request as a listing reads it: without what only the command needs.
_REQUEST_LISTING: Document = {"answers": 0, **WITHOUT_OUTBOX}


class ReadStore(Protocol):
    """What the HTTP reads need of the store."""

    async def load_ledger(self, partner_id: str) -> PartnerLedger | None: ...

    async def ledger_of_deal(self, deal_id: str) -> PartnerLedger | None:
        """The ledger that published ``deal_id``, or None."""
        ...

    async def registration(self, registration_id: str) -> RegistrationState | None:
        """The registration with its decision (None while undecided: one sent through the
        API and not yet consumed) and extensions, or None."""
        ...

    async def registrations_of(self, partner_id: str | None) -> list[RegistrationState]:
        """Every registration of ``partner_id`` (None: of every partner), in no particular
        order, each once."""
        ...

    async def partner_of_inquiry(self, inquiry_id: str) -> str | None:
        """The partner whose ledger holds the inquiry, if noted."""
        ...

    async def partners_with_inquiries(self, partner_id: str | None) -> list[str]:
        """The partners with an inquiry noted (only ``partner_id``, if given), in id order."""
        ...

    async def rates_matching(self, base: str | None, quote: str | None) -> list[ExchangeRate]:
        """Every version of every rate known, of ``base`` and ``quote`` when given."""
        ...


class Store(ReadStore, Protocol):
    """What incentives needs of its persistence: :class:`IncentivesStore` on MongoDB."""

    async def create_indexes(self) -> None: ...

    async def add_rates(self, rates: Sequence[ExchangeRate]) -> None:
        """Keep every version of every rate (a version stored twice is stored once)."""
        ...

    async def rates_of(self, pairs: Iterable[tuple[str, str]]) -> list[ExchangeRate]:
        """Every version of every rate of ``pairs``."""
        ...

    async def need_rates(self, pairs: Mapping[str, Iterable[tuple[str, str]]]) -> None:
        """Note that each partner's deals need the rates of these pairs."""
        ...

    async def partners_needing(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[str, set[tuple[str, str]]]:
        """The partners noted as needing the rates of any of ``pairs``, each with which."""
        ...

    async def load_ledgers(self, partner_ids: Iterable[str]) -> dict[str, PartnerLedger]:
        """Each partner's ledger; a new one (version 0) for a partner not stored."""
        ...

    async def save_ledgers(self, ledgers: Sequence[PartnerLedger]) -> set[str]:
        """Write each ledger if nobody wrote it since it was read (and count its version
        up); return the partner ids whose write lost."""
        ...

    async def partner_ids(self) -> list[str]:
        """Every partner with a stored ledger, in id order."""
        ...

    async def load_registration_books(self, keys: Iterable[str]) -> dict[str, RegistrationBook]:
        """Each registration book; a new one (version 0) for a key not stored."""
        ...

    async def save_registration_books(self, books: Sequence[RegistrationBook]) -> set[str]:
        """Like :meth:`save_ledgers`; return the keys whose write lost."""
        ...

    async def registration_book_of(self, registration_id: str) -> RegistrationBook | None:
        """The book holding a registration, or None while no book holds it."""
        ...

    async def add_inquiry_partner(self, inquiry_id: str, partner_id: str) -> None:
        """Note whose ledger holds an inquiry (before the ledger write that adds it); an
        entry that exists stays as it is."""
        ...

    async def add_registration_request(
        self, request: RegistrationRequest, answers: Document, outbox: Sequence[OutboxEntry]
    ) -> bool:
        """Insert a registration sent through the API with its answers and outbox; False
        when one with its id exists already (another delivery of the command)."""
        ...

    async def registration_request_answers(self, registration_id: str) -> Document | None:
        """The answers remembered with a registration sent through the API, or None."""
        ...


class IncentivesStore:
    """:class:`Store` on MongoDB (or FerretDB)."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.ledgers = database[LEDGERS]
        self.registrations = database[REGISTRATIONS]
        self.registration_requests = database[REGISTRATION_REQUESTS]
        self.deal_partners = database[DEAL_PARTNERS]
        self.inquiry_partners = database[INQUIRY_PARTNERS]
        self.rates = database[RATES]
        self.rate_needs = database[RATE_NEEDS]

    async def add_rates(self, rates: Sequence[ExchangeRate]) -> None:
        await insert_new(self.rates, [{"_id": rate_key(r), **encode_rate(r)} for r in rates])

    async def rates_of(self, pairs: Iterable[tuple[str, str]]) -> list[ExchangeRate]:
        wanted = sorted({pair_text(base, quote) for base, quote in pairs})
        if not wanted:
            return []
        return [decode_rate(doc) async for doc in self.rates.find({"pair": {"$in": wanted}})]

    async def rates_matching(self, base: str | None, quote: str | None) -> list[ExchangeRate]:
        query = {
            field: value for field, value in (("base", base), ("quote", quote)) if value is not None
        }
        return [decode_rate(doc) async for doc in self.rates.find(query)]

    async def need_rates(self, pairs: Mapping[str, Iterable[tuple[str, str]]]) -> None:
        docs = [
            {
                "_id": f"{pair_text(*pair)}|{partner_id}",
                "pair": pair_text(*pair),
                "partner_id": partner_id,
            }
            for partner_id, needed in pairs.items()
            for pair in sorted(set(needed))
        ]
        if docs:
            await insert_new(self.rate_needs, docs)

    async def partners_needing(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[str, set[tuple[str, str]]]:
        wanted = sorted({pair_text(base, quote) for base, quote in pairs})
        found: dict[str, set[tuple[str, str]]] = {}
        if wanted:
            async for doc in self.rate_needs.find({"pair": {"$in": wanted}}):
                found.setdefault(doc["partner_id"], set()).add(_pair(doc["pair"]))
        return found

    async def create_indexes(self) -> None:
        """The indexes the queries other than by ``_id`` use (see create_lookup_indexes)."""
        await create_lookup_indexes(self.ledgers, [("by_outbox_entry", [("outbox.id", ASCENDING)])])
        await create_lookup_indexes(self.rates, [("by_pair", [("pair", ASCENDING)])])
        await create_lookup_indexes(self.rate_needs, [("by_pair", [("pair", ASCENDING)])])
        await create_lookup_indexes(
            self.registrations,
            [
                ("by_registration", [("registrations.registration_id", ASCENDING)]),
                ("by_partner", [("registrations.partner_id", ASCENDING)]),
                ("by_outbox_entry", [("outbox.id", ASCENDING)]),
            ],
        )
        await create_lookup_indexes(
            self.registration_requests,
            [
                ("by_partner", [("partner_id", ASCENDING)]),
                ("by_outbox_entry", [("outbox.id", ASCENDING)]),
            ],
        )

    async def load_ledgers(self, partner_ids: Iterable[str]) -> dict[str, PartnerLedger]:
        ids = sorted(set(partner_ids))
        found = {
            doc_id: decode_ledger(doc)
            for doc_id, doc in (await find_by_ids(self.ledgers, ids)).items()
        }
        for partner_id in ids:
            found.setdefault(partner_id, PartnerLedger(partner_id, 0, PartnerBook(partner_id)))
        return found

    async def save_ledgers(self, ledgers: Sequence[PartnerLedger]) -> set[str]:
        """Index the ledgers' published deals (:meth:`index_deals`), then write each ledger
        if nobody wrote it since it was read; return the ids that lost."""
        await self.index_deals(ledgers)
        lost = await replace_if_unchanged(
            self.ledgers,
            [(encode_ledger(ledger, ledger.version + 1), ledger.version) for ledger in ledgers],
        )
        for ledger in ledgers:
            if ledger.partner_id not in lost:
                ledger.version += 1
        return lost

    async def index_deals(self, ledgers: Iterable[PartnerLedger]) -> int:
        """Put the ledgers' published deals not yet indexed into ``deal_partners``; returns
        how many were new there. An entry that exists already (a batch consumed again)
        is left as it is: a deal's partner does not change."""
        ledgers = list(ledgers)
        entries = [
            {"_id": deal_id, "partner_id": ledger.partner_id}
            for ledger in ledgers
            for deal_id in ledger.published.keys() - ledger.indexed
        ]
        inserted = await insert_new(self.deal_partners, entries)
        for ledger in ledgers:
            ledger.indexed |= ledger.published.keys()
        return inserted

    async def load_ledger(self, partner_id: str) -> PartnerLedger | None:
        doc = await self.ledgers.find_one({"_id": partner_id})
        return decode_ledger(doc) if doc else None

    async def ledger_of_deal(self, deal_id: str) -> PartnerLedger | None:
        entry = await self.deal_partners.find_one({"_id": deal_id})
        if entry is None:
            return None
        ledger = await self.load_ledger(entry["partner_id"])
        return ledger if ledger is not None and deal_id in ledger.published else None

    async def partner_ids(self) -> list[str]:
        return sorted([doc["_id"] async for doc in self.ledgers.find({}, {"_id": 1})])

    async def add_inquiry_partner(self, inquiry_id: str, partner_id: str) -> None:
        await insert_new(self.inquiry_partners, [{"_id": inquiry_id, "partner_id": partner_id}])

    async def partner_of_inquiry(self, inquiry_id: str) -> str | None:
        entry = await self.inquiry_partners.find_one({"_id": inquiry_id})
        return None if entry is None else str(entry["partner_id"])

    async def partners_with_inquiries(self, partner_id: str | None) -> list[str]:
        wanted = {} if partner_id is None else {"partner_id": partner_id}
        return sorted({doc["partner_id"] async for doc in self.inquiry_partners.find(wanted)})

    async def load_registration_books(self, keys: Iterable[str]) -> dict[str, RegistrationBook]:
        wanted = sorted(set(keys))
        found = {
            doc_id: decode_registration_book(doc)
            for doc_id, doc in (await find_by_ids(self.registrations, wanted)).items()
        }
        for key in wanted:
            found.setdefault(key, RegistrationBook(key, 0))
        return found

    async def save_registration_books(self, books: Sequence[RegistrationBook]) -> set[str]:
        lost = await replace_if_unchanged(
            self.registrations,
            [(encode_registration_book(b, b.version + 1), b.version) for b in books],
        )
        for book in books:
            if book.key not in lost:
                book.version += 1
        return lost

    async def registration_book_of(self, registration_id: str) -> RegistrationBook | None:
        doc = await self.registrations.find_one({"registrations.registration_id": registration_id})
        return None if doc is None else decode_registration_book(doc)

    async def registration(self, registration_id: str) -> RegistrationState | None:
        book = await self.registration_book_of(registration_id)
        if book is not None:
            return book.state(registration_id)
        received = await self.registration_requests.find_one(
            {"_id": registration_id}, WITHOUT_OUTBOX
        )
        if received is None:
            return None
        return RegistrationState(decode_registration_request(received).registration)

    async def registrations_of(self, partner_id: str | None) -> list[RegistrationState]:
        """The books holding one of the partner's registrations, then the partner's
        requests not found in them (pending). Every book and request is read when
        ``partner_id`` is None; on FerretDB a filter on anything but ``_id`` reads every
        document anyway (docs/architecture.md, "The store boundary")."""
        books = {} if partner_id is None else {"registrations.partner_id": partner_id}
        found: dict[str, RegistrationState] = {}
        async for doc in self.registrations.find(books, WITHOUT_OUTBOX):
            book = decode_registration_book(doc)
            for registration_id, registration in book.registrations.items():
                if partner_id is None or registration.partner_id == partner_id:
                    found[registration_id] = book.state(registration_id)
        requests = {} if partner_id is None else {"partner_id": partner_id}
        async for doc in self.registration_requests.find(requests, _REQUEST_LISTING):
            registration = decode_registration_request(doc).registration
            found.setdefault(registration.registration_id, RegistrationState(registration))
        return list(found.values())

    async def add_registration_request(
        self, request: RegistrationRequest, answers: Document, outbox: Sequence[OutboxEntry]
    ) -> bool:
        doc = encode_registration_request(request, answers, outbox)
        return await insert_new(self.registration_requests, [doc]) == 1

    async def registration_request_answers(self, registration_id: str) -> Document | None:
        doc = await self.registration_requests.find_one({"_id": registration_id}, {"answers": 1})
        return None if doc is None else dict(doc["answers"])
