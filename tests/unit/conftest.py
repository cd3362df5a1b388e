"""Fixtures the unit tests share: a stand-in OpenID Connect issuer, and the portal on
fake services with a partner user (Pat, of P-A) or a channel manager (Maria) signed in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.portal import (
    FakeServices,
    manager,
    partner_user,
    portal_settings,
    running_portal,
    sign_in,
)
from tests.support.tokens import Issuer


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    """A stand-in issuer serving its JWKS, with one key (``k1``) published."""
    made = Issuer()
    made.add_key("k1")
    yield made
    made.close()


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
def portal(services: FakeServices) -> Iterator[TestClient]:
    with running_portal(portal_settings(), services) as client:
        yield client


@pytest.fixture
def as_pat(portal: TestClient) -> TestClient:
    sign_in(portal, partner_user())
    return portal


@pytest.fixture
def as_maria(portal: TestClient) -> TestClient:
    sign_in(portal, manager())
    return portal
