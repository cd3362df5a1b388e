"""What onboarding's HTTP reads answer: applications and partners, as the bodies of
:mod:`services.onboarding.views`, read through the :class:`PartnerStore`."""

from __future__ import annotations

from services.onboarding.store import PartnerStore
from services.onboarding.views import (
    ApplicationHistoryView,
    ApplicationsView,
    PartnerView,
    application_history,
    application_view,
    partner_view,
)
from shared.commands import NotFound
from shared.events import PartnerStatus


class OnboardingQueries:
    """The reads of onboarding's HTTP API over a :class:`PartnerStore`."""

    def __init__(self, store: PartnerStore) -> None:
        self.store = store

    async def applications(
        self, status: PartnerStatus | None, limit: int, cursor: str | None
    ) -> ApplicationsView:
        """Applications in the order they arrived, by status, ``limit`` at a time;
        :class:`~services.onboarding.store.InvalidCursor` for a cursor no page gave."""
        page = await self.store.page(status, limit, cursor)
        return ApplicationsView(
            applications=[application_view(p.record) for p in page.partners],
            next_cursor=page.next_cursor,
        )

    async def application(self, application_id: str) -> ApplicationHistoryView:
        found = await self.store.load_by_application(application_id)
        if found is None:
            raise NotFound(f"application {application_id} does not exist")
        return application_history(found.record, found.events)

    async def partner(self, partner_id: str) -> PartnerView:
        found = await self.store.load(partner_id)
        if found is None:
            raise NotFound(f"partner {partner_id} does not exist")
        return partner_view(found.record)
