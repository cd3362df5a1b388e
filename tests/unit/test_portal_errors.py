"""Pages that do not exist, methods a page does not take and requests it cannot use are
answered with the portal's own page, its headers included (docs/portal.md)."""

from __future__ import annotations

from tests.support.portal import (
    FakeServices,
    partner_user,
    portal_settings,
    running_portal,
    sign_in,
)


def test_an_unknown_page_is_the_portals_404_page_with_its_headers() -> None:
    services = FakeServices()
    with running_portal(portal_settings(), services) as client:
        sign_in(client, partner_user())
        answer = client.get("/no/such/page")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "There is no page at /no/such/page." in answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert services.calls == []


def test_a_method_a_page_does_not_take_is_answered_with_a_page() -> None:
    with running_portal(portal_settings(), FakeServices()) as client:
        answer = client.delete("/registrations/new")
    assert answer.status_code == 405
    assert "/registrations/new does not take a DELETE." in answer.text


def test_a_query_the_page_cannot_use_names_the_field() -> None:
    services = FakeServices()
    with running_portal(portal_settings(), services) as client:
        sign_in(client, partner_user())
        answer = client.get("/registrations/R-1?registered=perhaps")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "registered" in answer.text
    assert services.calls == []
