"""Commission inquiries and adjustments: ``POST /commissions/{deal_id}/inquiries``,
``POST /inquiries/{id}/resolve``, ``POST /adjustments`` (``docs/rules/inquiries.md``).

An inquiry and an adjustment live in the partner's ledger, beside the commissions
and settlements they are about, so each command is **one single-document write**
of the ledger with its events in the outbox, guarded by the ledger's version
like a settlement (:mod:`services.incentives.settlements`); then the ledger is
handed over to the outbox relay. An adjustment counts in its period's total
(:func:`services.incentives.domain.period_totals`): the next settlement of the
period pays it, and one made after the period was settled is carried into the
next settlement like a late clawback.

``inquiry_partners`` notes whose ledger holds each inquiry (inserted before the
ledger write that adds it), so an inquiry is found by its id.

Ids derive from the Idempotency-Key when one is sent: another delivery of the
command finds what the first one wrote and answers it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from services.incentives import SERVICE, SOURCE
from services.incentives.domain import Adjustment, Inquiry, settlement_currency
from services.incentives.ledgers import Ledgers
from services.incentives.store import PartnerLedger, Store
from services.incentives.views import AdjustmentItem, InquiryView
from shared import events
from shared.commands import (
    LOST,
    Answer,
    CommandBody,
    CommandKey,
    Conflict,
    Identifier,
    InvalidField,
    Lost,
    Message,
    NotFound,
    Text,
    retry_on_conflict,
)
from shared.events import Actor, Currency, Money, PeriodLabel, deterministic_id, new_event
from shared.outbox import OutboxEntry


class InquiryBody(CommandBody):
    """A question about a deal's commission."""

    message: Message


class AdjustmentLine(CommandBody):
    """The money an adjustment adds (negative: takes back), and why."""

    amount: Money = Field(description='signed, a decimal string such as "800.00" or "-50.00"')
    reason: Text


class ResolutionBody(CommandBody):
    """A channel manager's answer to an inquiry: explained, or adjusted with an adjustment."""

    resolution: Literal["explained", "adjusted"]
    note: Message
    adjustment: AdjustmentLine | None = Field(default=None, description="only with adjusted")


class AdjustmentBody(AdjustmentLine):
    """An adjustment made without an inquiry."""

    partner_id: Identifier
    deal_id: Identifier | None = Field(default=None, description="the deal it is about, if one")
    period: PeriodLabel | None = Field(
        default=None, description="the period it counts in; the deal's when left out"
    )
    currency: Currency | None = Field(
        default=None, description="the deal's, else the period's settlement currency, if left out"
    )


def _nonzero(amount: events.Money, location: tuple[str, ...]) -> None:
    if amount == 0:
        raise InvalidField(location, "an adjustment of zero changes nothing")


def adjustment_event(
    partner_id: str, adjustment: Adjustment
) -> events.CloudEvent[events.CommissionAdjusted]:
    data = events.CommissionAdjusted(
        partner_id=partner_id,
        actor=adjustment.actor,
        adjustment_id=adjustment.adjustment_id,
        deal_id=adjustment.deal_id,
        period=adjustment.period,
        currency=adjustment.currency,
        amount=adjustment.amount,
        reason=adjustment.reason,
        adjusted_at=adjustment.adjusted_at,
        inquiry_id=adjustment.inquiry_id,
    )
    event_id = deterministic_id(SERVICE, data.event_type, adjustment.adjustment_id)
    return new_event(data, source=SOURCE, time=adjustment.adjusted_at, event_id=event_id)


class Inquiries:
    """Inquiries and adjustments over the partners' ledgers."""

    def __init__(
        self,
        ledgers: Ledgers,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledgers = ledgers
        self.store = store
        self.clock = clock

    async def _ledger(self, partner_id: str) -> PartnerLedger:
        ledger = (await self.ledgers.fresh([partner_id]))[partner_id]
        if ledger.version == 0:
            raise NotFound(f"no commission data for partner {partner_id}")
        return ledger

    async def _write(self, ledger: PartnerLedger) -> bool:
        """Store the ledger unless another writer wrote it since it was read, and hand its
        outbox over to the relay; False when the write lost."""
        if await self.ledgers.save([ledger]):
            return False
        self.ledgers.hand_over([ledger])
        return True

    def view(self, ledger: PartnerLedger, inquiry: Inquiry) -> InquiryView:
        adjustment = ledger.adjustments.get(inquiry.adjustment_id or "")
        return InquiryView.of(ledger.partner_id, inquiry, adjustment, self.clock())

    async def open(
        self,
        deal_id: str,
        partner_id: str,
        body: InquiryBody,
        key: CommandKey | None,
        *,
        actor: Actor,
    ) -> Answer:
        """Open an inquiry on ``deal_id``'s commission (CommissionInquiryOpened); 201."""
        inquiry_id = key.derived_id if key is not None else str(uuid.uuid4())
        await self.store.add_inquiry_partner(inquiry_id, partner_id)

        async def attempt() -> Answer | Lost:
            ledger = await self._ledger(partner_id)
            known = ledger.inquiries.get(inquiry_id)
            if known is not None:
                if (known.deal_id, known.message) != (deal_id, body.message):
                    raise InvalidField(
                        ("header", "Idempotency-Key"),
                        "this key was already used for a different request",
                    )
                view = self.view(ledger, known).model_dump(mode="json")
                return Answer(201, view, replayed=True)
            published = ledger.published.get(deal_id)
            if published is None:
                raise NotFound(f"no commission for deal {deal_id}")
            now = self.clock()
            inquiry = Inquiry(
                inquiry_id, deal_id, published.result.period, body.message, now, actor
            )
            data = events.CommissionInquiryOpened(
                partner_id=partner_id,
                actor=actor,
                inquiry_id=inquiry_id,
                deal_id=deal_id,
                period=inquiry.period,
                message=inquiry.message,
                opened_at=now,
            )
            event_id = deterministic_id(SERVICE, data.event_type, inquiry_id)
            event = new_event(data, source=SOURCE, time=now, event_id=event_id)
            ledger.inquiries[inquiry_id] = inquiry
            ledger.outbox.append(OutboxEntry.of(event))
            if not await self._write(ledger):
                return LOST
            return Answer(201, self.view(ledger, inquiry).model_dump(mode="json"))

        return await retry_on_conflict(attempt, what=f"the ledger of partner {partner_id}")

    async def partner_of(self, inquiry_id: str) -> str:
        partner_id = await self.store.partner_of_inquiry(inquiry_id)
        if partner_id is None:
            raise NotFound(f"no inquiry {inquiry_id}")
        return partner_id

    async def resolve(
        self, inquiry_id: str, body: ResolutionBody, key: CommandKey | None, *, actor: Actor
    ) -> Answer:
        """Resolve an inquiry (CommissionInquiryResolved), adjusting when ``adjusted``
        (CommissionAdjusted); 200 with the inquiry as it now stands."""
        if body.resolution == "adjusted" and body.adjustment is None:
            raise InvalidField(("body", "adjustment"), "an adjusted inquiry needs an adjustment")
        if body.resolution == "explained" and body.adjustment is not None:
            raise InvalidField(
                ("body", "adjustment"), "an adjustment goes only with the resolution adjusted"
            )
        if body.adjustment is not None:
            _nonzero(body.adjustment.amount, ("body", "adjustment", "amount"))
        partner_id = await self.partner_of(inquiry_id)
        resolution_id = key.derived_id if key is not None else str(uuid.uuid4())

        async def attempt() -> Answer | Lost:
            ledger = await self._ledger(partner_id)
            inquiry = ledger.inquiries.get(inquiry_id)
            if inquiry is None:
                raise NotFound(f"no inquiry {inquiry_id}")
            if not inquiry.open:
                if (inquiry.resolution, inquiry.note) == (body.resolution, body.note):
                    # Another delivery of the command that resolved it: its answer again.
                    view = self.view(ledger, inquiry).model_dump(mode="json")
                    return Answer(200, view, replayed=True)
                raise Conflict(
                    f"inquiry {inquiry_id} was already resolved ({inquiry.resolution}) "
                    f"at {inquiry.resolved_at.isoformat() if inquiry.resolved_at else '?'}"
                )
            resolved = self._resolve(ledger, inquiry, body, resolution_id, actor)
            if not await self._write(ledger):
                return LOST
            return Answer(200, self.view(ledger, resolved).model_dump(mode="json"))

        return await retry_on_conflict(attempt, what=f"the ledger of partner {partner_id}")

    def _resolve(
        self,
        ledger: PartnerLedger,
        inquiry: Inquiry,
        body: ResolutionBody,
        resolution_id: str,
        actor: Actor,
    ) -> Inquiry:
        """Record the resolution (and its adjustment) in ``ledger`` with their events;
        return the inquiry resolved."""
        now = self.clock()
        partner_id = ledger.partner_id
        adjustment = None
        if body.adjustment is not None:
            adjustment = Adjustment(
                adjustment_id=resolution_id,
                deal_id=inquiry.deal_id,
                period=inquiry.period,
                currency=ledger.published[inquiry.deal_id].result.currency,
                amount=body.adjustment.amount,
                reason=body.adjustment.reason,
                adjusted_at=now,
                actor=actor,
                inquiry_id=inquiry.inquiry_id,
            )
        resolved = replace(
            inquiry,
            resolution=body.resolution,
            note=body.note,
            resolved_at=now,
            resolved_by=actor,
            adjustment_id=None if adjustment is None else adjustment.adjustment_id,
        )
        data = events.CommissionInquiryResolved(
            partner_id=partner_id,
            actor=actor,
            inquiry_id=inquiry.inquiry_id,
            deal_id=inquiry.deal_id,
            period=inquiry.period,
            resolution=body.resolution,
            note=body.note,
            resolved_at=now,
            adjustment_id=resolved.adjustment_id,
        )
        event_id = deterministic_id(SERVICE, data.event_type, inquiry.inquiry_id)
        ledger.inquiries[inquiry.inquiry_id] = resolved
        ledger.outbox.append(
            OutboxEntry.of(new_event(data, source=SOURCE, time=now, event_id=event_id))
        )
        if adjustment is not None:
            ledger.adjustments[adjustment.adjustment_id] = adjustment
            ledger.outbox.append(OutboxEntry.of(adjustment_event(partner_id, adjustment)))
        return resolved

    async def adjust(self, body: AdjustmentBody, key: CommandKey | None, *, actor: Actor) -> Answer:
        """Adjust a partner's period without an inquiry (CommissionAdjusted); 201."""
        _nonzero(body.amount, ("body", "amount"))
        adjustment_id = key.derived_id if key is not None else str(uuid.uuid4())
        partner_id = body.partner_id

        async def attempt() -> Answer | Lost:
            ledger = await self._ledger(partner_id)
            known = ledger.adjustments.get(adjustment_id)
            if known is not None:
                view = AdjustmentItem.of(partner_id, known).model_dump(mode="json")
                return Answer(201, view, replayed=True)
            adjustment = self._adjustment(ledger, body, adjustment_id, actor)
            ledger.adjustments[adjustment_id] = adjustment
            ledger.outbox.append(OutboxEntry.of(adjustment_event(partner_id, adjustment)))
            if not await self._write(ledger):
                return LOST
            return Answer(201, AdjustmentItem.of(partner_id, adjustment).model_dump(mode="json"))

        return await retry_on_conflict(attempt, what=f"the ledger of partner {partner_id}")

    def _adjustment(
        self, ledger: PartnerLedger, body: AdjustmentBody, adjustment_id: str, actor: Actor
    ) -> Adjustment:
        """The adjustment ``body`` asks for, its period and currency filled in from the deal
        or the period; :class:`InvalidField` naming what cannot be."""
        period, currency = body.period, body.currency
        if body.deal_id is not None:
            published = ledger.published.get(body.deal_id)
            if published is None:
                raise InvalidField(
                    ("body", "deal_id"),
                    f"partner {ledger.partner_id} has no commission for deal {body.deal_id}",
                )
            period = period or published.result.period
            currency = currency or published.result.currency
        if period is None:
            raise InvalidField(("body", "period"), "name the period, or the deal it is about")
        if currency is None:
            currency = settlement_currency(
                ledger.published.values(),
                ledger.book.contracts.values(),
                period,
                ledger.adjustments.values(),
            )
        if currency is None:
            raise InvalidField(("body", "currency"), "the partner has no contract: name it")
        return Adjustment(
            adjustment_id=adjustment_id,
            deal_id=body.deal_id,
            period=period,
            currency=currency,
            amount=body.amount,
            reason=body.reason,
            adjusted_at=self.clock(),
            actor=actor,
        )
