"""Which key may do what with onboarding's data: a partner's key reads its own partner
and nothing else, a channel manager's decides.

What every service checks the same way (no key, an unknown key, a partner's key on a
staff route) is in tests/integration/test_operational_surface.py.
"""

from __future__ import annotations

from tests.support.onboarding import (
    KEYED_APPLICATION,
    MANAGER_KEY,
    PARTNER_KEY,
    TODAY,
    apply,
    contract,
)
from tests.support.processes import ServiceProcess


async def test_keys_are_checked(service: ServiceProcess, keyed_partner: str) -> None:
    own = apply(service, KEYED_APPLICATION)
    assert own["partner_id"] == keyed_partner, "the partner id follows from the key"
    other = apply(service)

    assert service.get(f"/partners/{own['partner_id']}", key=PARTNER_KEY).status_code == 200
    assert service.get(f"/partners/{other['partner_id']}", key=PARTNER_KEY).status_code == 403
    assert service.get(f"/applications/{own['application_id']}", key=PARTNER_KEY).status_code == 403
    for path, body in (
        (f"/applications/{own['application_id']}/approve", None),
        (f"/partners/{own['partner_id']}/contracts", contract("C-own", TODAY, TODAY)),
        (
            f"/partners/{own['partner_id']}/terminate",
            {"reason": "x", "effective_date": "2030-01-01"},
        ),
    ):
        assert service.post(path, body, key=PARTNER_KEY).status_code == 403, path

    by_manager = service.post(
        f"/applications/{other['application_id']}/approve", None, key=MANAGER_KEY
    )
    assert by_manager.status_code == 200
    assert service.get(f"/partners/{other['partner_id']}", key=MANAGER_KEY).status_code == 200
