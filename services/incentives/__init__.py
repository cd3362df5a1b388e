"""Incentives: deal registration, the commission engine, inquiries, adjustments and
settlements.

Consumes partners.v1, deals.v1 and enablement.v1; publishes CommissionCalculated,
PayoutSettled, inquiries and adjustments on incentives.v1 and the registrations'
lifecycle on deals.v1 (:data:`PUBLISHES`). The rules are in
docs/rules/commissions.md, docs/rules/deal-registration.md and
docs/rules/settlement.md.
"""

from shared import topics

#: The service's name: the first part of its events' deterministic ids.
SERVICE = "incentives"
#: The CloudEvent ``source`` of every event incentives publishes.
SOURCE = "/partnerhub/incentives"

#: What incentives publishes, for its AsyncAPI document: (topic, title, description).
PUBLISHES: tuple[tuple[str, str, str], ...] = (
    (topics.INCENTIVES, "CommissionCalculated", "One revision of one deal's commission"),
    (
        topics.INCENTIVES,
        "PayoutSettled",
        "One partner's payout for a settled period, with carried adjustments",
    ),
    (
        topics.INCENTIVES,
        "CommissionInquiry",
        "CommissionInquiryOpened / CommissionInquiryResolved / CommissionAdjusted",
    ),
    (
        topics.DEALS,
        "DealRegistrationLifecycle",
        "DealRegistrationApproved / Rejected (by the rule or by hand), "
        "DealRegistrationExtensionRequested / Extended / ExtensionRejected",
    ),
    (
        topics.DEALS,
        "DealRegistered",
        "A deal registered through POST /registrations, naming who registered it",
    ),
)
