"""The event examples under the name the service unit tests import them by; they live in
:mod:`tests.support.events` (import them from there)."""

from tests.support.events import CONTRACT, DATA, PARTNER, PROFILE, envelope, message

__all__ = ["CONTRACT", "DATA", "PARTNER", "PROFILE", "envelope", "message"]
