"""Reporting's business gauges: revenue and commission per currency and period, from the
read models' period totals, refreshed in the background while the service runs."""

from __future__ import annotations

import logging

from services.reporting.queries import ReportingQueries
from shared.metrics import BUSINESS_COMMISSION, BUSINESS_REVENUE
from shared.periodic import every

log = logging.getLogger("partnerhub.reporting")

#: Seconds between refreshes of the business gauges.
GAUGES_INTERVAL = 30


async def refresh_business_gauges(queries: ReportingQueries) -> None:
    """Revenue and commission per currency and period, from the period totals."""
    for (currency, period), (revenue, payout) in (await queries.business_totals()).items():
        BUSINESS_REVENUE.labels(currency, period).set(float(revenue))
        BUSINESS_COMMISSION.labels(currency, period).set(float(payout))


async def keep_business_gauges(queries: ReportingQueries) -> None:
    """Until cancelled: :func:`refresh_business_gauges` at once, then every
    :data:`GAUGES_INTERVAL` seconds (a failed refresh is logged and tried again)."""
    await every(
        GAUGES_INTERVAL,
        lambda: refresh_business_gauges(queries),
        what="could not refresh business gauges",
        log=log,
        immediately=True,
    )
