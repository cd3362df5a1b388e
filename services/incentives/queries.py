"""What incentives' HTTP reads answer: commissions, registrations, settlements and
simulations, as the bodies of :mod:`services.incentives.views`, read through the
:class:`~services.incentives.store.ReadStore`.

Who may read what (a partner key reads its own partner's data) is the routes'
business; the rules are in :mod:`services.incentives.domain`.
"""

from __future__ import annotations

from services.incentives import domain
from services.incentives.domain import plan_terms
from services.incentives.store import PartnerLedger, ReadStore
from services.incentives.views import (
    DealCommissionView,
    Lines,
    NoPartnerData,
    PartnerCommissionsView,
    PartnerSettlementsView,
    PartnerSimulation,
    RegistrationView,
    SimulationView,
)
from shared.commands import NotFound
from shared.events import CommissionPlan


class NoCommissionData(NotFound):
    """Nothing is known of the partner's commissions (HTTP 404)."""

    def __init__(self, partner_id: str) -> None:
        super().__init__(f"no commission data for partner {partner_id}")


class IncentivesQueries:
    """The reads of incentives' HTTP API over a :class:`ReadStore`."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

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
        return RegistrationView.of(*found)

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
