"""Incentives: deal registration and the commission engine of SPEC §5; publishes
CommissionCalculated on ``incentives.v1`` and registration decisions on ``deals.v1``."""
