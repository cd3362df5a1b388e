"""What incentives' HTTP reads answer: commissions, registrations, settlements and
simulations, as the bodies of :mod:`services.incentives.views`, read through the
:class:`~services.incentives.store.ReadStore`.

Who may read what (a partner key reads its own partner's data) is the routes'
business; the rules are in :mod:`services.incentives.domain`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from services.incentives import domain
from services.incentives.domain import Registration, plan_terms
from services.incentives.store import PartnerLedger, ReadStore
from services.incentives.views import (
    DealCommissionView,
    InquiriesView,
    InquiryView,
    Lines,
    NoPartnerData,
    PartnerCommissionsView,
    PartnerSettlementsView,
    PartnerSimulation,
    RatesView,
    RateView,
    RegistrationStatus,
    RegistrationsView,
    RegistrationView,
    SimulationView,
)
from shared.commands import InvalidField, NotFound
from shared.events import CommissionPlan


def rates_view(found: list[domain.ExchangeRate], base: str | None, quote: str | None) -> RatesView:
    """The rates that stand, by pair then day, each with how many versions it had."""
    standing: dict[tuple[str, str, str], tuple[domain.ExchangeRate, int]] = {}
    for rate in found:
        key = (rate.base, rate.quote, rate.valid_from.isoformat())
        known, count = standing.get(key, (rate, 0))
        standing[key] = (max(known, rate, key=lambda r: r.version), count + 1)
    return RatesView(
        base=base,
        quote=quote,
        rates=[
            RateView(
                base=rate.base,
                quote=rate.quote,
                valid_from=rate.valid_from.isoformat(),
                rate=str(rate.rate),
                source=rate.source,
                event_id=rate.version[1],
                time=rate.version[0].isoformat(),
                versions=count,
            )
            for _, (rate, count) in sorted(standing.items())
        ],
    )


class NoCommissionData(NotFound):
    """Nothing is known of the partner's commissions (HTTP 404)."""

    def __init__(self, partner_id: str) -> None:
        super().__init__(f"no commission data for partner {partner_id}")


class InvalidCursor(InvalidField):
    """A listing cursor this service did not hand out (HTTP 422 naming ``query.cursor``)."""

    def __init__(self) -> None:
        super().__init__(("query", "cursor"), "not a cursor from an earlier page")


#: Where a registration stands in the listing's order: newest first, by
#: (``registered_at``, ``registration_id``) descending.
Position = tuple[datetime, str]


def position(registration: Registration) -> Position:
    return registration.registered_at, registration.registration_id


def encode_cursor(at: Position) -> str:
    """The cursor of the page after the registration at ``at``."""
    raw = json.dumps([at[0].astimezone(UTC).isoformat(timespec="microseconds"), at[1]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor continues after; :class:`InvalidCursor` for one no page gave."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        instant, registration_id = json.loads(raw)
        at = datetime.fromisoformat(instant)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursor from None
    if not isinstance(registration_id, str) or at.tzinfo is None:
        raise InvalidCursor
    return at, registration_id


class IncentivesQueries:
    """The reads of incentives' HTTP API over a :class:`ReadStore`."""

    def __init__(
        self, store: ReadStore, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self.clock = clock

    async def _ledger(self, partner_id: str) -> PartnerLedger:
        ledger = await self.store.load_ledger(partner_id)
        if ledger is None:
            raise NoCommissionData(partner_id)
        return ledger

    async def deal_commission(self, deal_id: str) -> DealCommissionView:
        ledger = await self.store.ledger_of_deal(deal_id)
        if ledger is None:
            raise NotFound(f"no commission for deal {deal_id}")
        return DealCommissionView.of_ledger(ledger, deal_id)

    async def partner_commissions(
        self, partner_id: str, period: str | None
    ) -> PartnerCommissionsView:
        return PartnerCommissionsView.of_ledger(await self._ledger(partner_id), period)

    async def registration(self, registration_id: str) -> RegistrationView:
        found = await self.store.registration(registration_id)
        if found is None:
            raise NotFound(f"no registration {registration_id}")
        return RegistrationView.of(found, self.clock())

    async def registrations(
        self,
        partner_id: str | None,
        statuses: Collection[RegistrationStatus] | None,
        limit: int,
        cursor: str | None,
        *,
        extension_waiting: bool = False,
    ) -> RegistrationsView:
        """The registrations of ``partner_id`` (None: every partner's) with one of
        ``statuses`` (None or empty: any), only those with an extension request waiting
        when ``extension_waiting``, newest first, ``limit`` at a time, after the
        registration ``cursor`` names (docs/rules/deal-registration.md)."""
        after = None if cursor is None else decode_cursor(cursor)
        found = sorted(
            await self.store.registrations_of(partner_id),
            key=lambda state: position(state.registration),
            reverse=True,
        )
        now = self.clock()
        page: list[tuple[Position, RegistrationView]] = []
        for state in found:
            at = position(state.registration)
            if after is not None and at >= after:
                continue
            if extension_waiting and state.waiting is None:
                continue
            view = RegistrationView.of(state, now)
            if statuses and view.status not in statuses:
                continue
            page.append((at, view))
            if len(page) > limit:
                break
        more = len(page) > limit
        page = page[:limit]
        return RegistrationsView(
            registrations=[view for _, view in page],
            next_cursor=encode_cursor(page[-1][0]) if more else None,
        )

    async def inquiry(self, inquiry_id: str) -> InquiryView:
        partner_id = await self.store.partner_of_inquiry(inquiry_id)
        ledger = None if partner_id is None else await self.store.load_ledger(partner_id)
        inquiry = None if ledger is None else ledger.inquiries.get(inquiry_id)
        if ledger is None or inquiry is None:
            raise NotFound(f"no inquiry {inquiry_id}")
        adjustment = ledger.adjustments.get(inquiry.adjustment_id or "")
        return InquiryView.of(ledger.partner_id, inquiry, adjustment, self.clock())

    async def inquiries(self, partner_id: str | None, status: str | None) -> InquiriesView:
        """Inquiries (of ``partner_id``, if given; open or resolved, if ``status`` says),
        oldest first, each with its age."""
        now = self.clock()
        found: list[InquiryView] = []
        for pid in await self.store.partners_with_inquiries(partner_id):
            ledger = await self.store.load_ledger(pid)
            if ledger is None:
                continue
            for inquiry in ledger.inquiries.values():
                adjustment = ledger.adjustments.get(inquiry.adjustment_id or "")
                view = InquiryView.of(pid, inquiry, adjustment, now)
                if status is None or view.status == status:
                    found.append(view)
        found.sort(key=lambda v: (v.opened_at, v.inquiry_id))
        return InquiriesView(inquiries=found)

    async def partner_settlements(self, partner_id: str) -> PartnerSettlementsView:
        return PartnerSettlementsView.of(await self._ledger(partner_id))

    async def simulation(
        self, plan: CommissionPlan, partner_ids: list[str], period: str
    ) -> SimulationView:
        """What ``plan`` would have paid each partner in ``period``, beside what was paid."""
        draft = plan_terms(plan)
        partners: list[PartnerSimulation | NoPartnerData] = []
        for partner_id in partner_ids:
            ledger = await self.store.load_ledger(partner_id)
            if ledger is None:
                partners.append(
                    NoPartnerData(
                        partner_id=partner_id, error="no commission data for this partner"
                    )
                )
                continue
            actual, simulated = domain.simulate(ledger.book, draft, period)
            partners.append(
                PartnerSimulation(
                    partner_id=partner_id, actual=Lines.of(actual), simulated=Lines.of(simulated)
                )
            )
        return SimulationView(period=period, partners=partners)

    async def rates(self, base: str | None, quote: str | None) -> RatesView:
        """The exchange rates known (of ``base`` and ``quote`` when given)."""
        return rates_view(await self.store.rates_matching(base, quote), base, quote)
