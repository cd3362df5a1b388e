"""Incentives: deal registration, the commission engine and settlements.

Consumes partners.v1, deals.v1 and enablement.v1; publishes CommissionCalculated
and PayoutSettled on incentives.v1 and registration decisions on deals.v1. The
rules are in docs/rules/commissions.md, docs/rules/deal-registration.md and
docs/rules/settlement.md.
"""

#: The service's name: the first part of its events' deterministic ids.
SERVICE = "incentives"
#: The CloudEvent ``source`` of every event incentives publishes.
SOURCE = "/partnerhub/incentives"
