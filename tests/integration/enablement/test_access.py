"""Which key may do what with enablement's data beyond what every service checks the same
way (no key, an unknown key, a partner's key on a staff route or on another partner's
data: tests/integration/test_operational_surface.py)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from tests.support.enablement import MANAGER_KEY, SUFFIX, sign
from tests.support.processes import ServiceProcess


async def test_keys_are_checked(service: ServiceProcess, producer: AIOKafkaProducer) -> None:
    """A channel manager's key commands (an admin's is what every other test uses)."""
    await sign(service, producer, f"P-cm-{SUFFIX}")
    by_manager = service.post(
        "/feedback",
        {"partner_id": f"P-cm-{SUFFIX}", "rating": 3, "topic": "t", "text": ""},
        key=MANAGER_KEY,
    )
    assert by_manager.status_code == 201
