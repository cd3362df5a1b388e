"""The demo's lifecycle step: a channel manager decides a registration by hand, a partner's
registration is extended, and an inquiry is resolved with an adjustment, all through
incentives' HTTP API (docs/rules/deal-registration.md, docs/rules/inquiries.md).

What the reference needs to expect the same (the decision by hand, the adjustment) is
returned as events, built from what the demo asked for, never read back from the
services; the registration's extension is checked against the rule directly.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from demo.reference import Statement, expected_registration_decisions
from shared import events
from shared.access import key_id
from shared.events import Actor, ActorKind, CloudEvent, new_event

#: How long the extension the demo asks for is, and the adjustment it makes.
EXTENSION_DAYS = 30
ADJUSTMENT = Decimal("250.00")
PROTECTION = timedelta(days=90)


class Api(Protocol):
    """The demo's HTTP client of the services (``demo.__main__.Platform``)."""

    async def post(
        self, service: str, path: str, body: Any, key: str, expect: tuple[int, ...] = (200, 201)
    ) -> Any: ...

    async def get(self, service: str, path: str, **params: Any) -> Any: ...


@dataclass
class Exercised:
    """What the step did: events for the reference, what to say, what went wrong."""

    events: list[CloudEvent[Any]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def approvals(registered: list[CloudEvent[Any]]) -> list[CloudEvent[Any]]:
    """The DealRegistrationApproved the rule gives ``registered`` (registrations and
    decisions by hand), as the commissions read them."""
    by_registration = {
        e.data.registration_id: e.data
        for e in registered
        if isinstance(e.data, events.DealRegistered)
    }
    approved = []
    for registration_id, outcome in expected_registration_decisions(registered).items():
        data = by_registration[registration_id]
        if outcome.approved:
            approved.append(
                new_event(
                    events.DealRegistrationApproved(
                        partner_id=data.partner_id,
                        registration_id=registration_id,
                        deal_id=data.deal_id,
                        approved_at=data.registered_at,
                        expires_at=data.registered_at + PROTECTION,
                    ),
                    source="/demo/expected",
                )
            )
    return approved


async def exercise(
    api: Api,
    run: str,
    admin_key: str,
    registered: list[CloudEvent[Any]],
    expected: dict[tuple[str, str], Statement],
) -> Exercised:
    """Decide by hand, extend, resolve an inquiry by adjustment; see :class:`Exercised`."""
    done = Exercised()
    actor = Actor(kind=ActorKind.KEY, id=key_id(admin_key))
    await decide_by_hand(api, run, actor, registered, done)
    await extend(api, run, registered, done)
    await adjust(api, run, actor, expected, done)
    return done


async def decide_by_hand(
    api: Api, run: str, actor: Actor, registered: list[CloudEvent[Any]], done: Exercised
) -> None:
    """Reject by hand the registration that blocked another partner's: the blocked one is
    then approved by the rule (a correction), and the first loses its uplift."""
    outcomes = expected_registration_decisions(registered)
    blocked = sorted(
        (rid, o.conflicting_registration_id)
        for rid, o in outcomes.items()
        if o.conflicting_registration_id is not None
    )
    if not blocked:
        done.problems.append("no registration in conflict to decide by hand")
        return
    loser, holder = blocked[0]
    assert holder is not None
    data = next(
        e.data
        for e in registered
        if isinstance(e.data, events.DealRegistered) and e.data.registration_id == holder
    )
    reason = f"registered twice by mistake ({run})"
    answer = await api.post(
        "incentives",
        f"/registrations/{holder}/decision",
        {"decision": "reject", "reason": reason},
        f"{run}-decide-{holder}",
    )
    if (answer["status"], answer["decided_by_hand"]) != ("rejected", True):
        done.problems.append(f"{holder} decided by hand answered {answer}")
    done.events.append(
        new_event(
            events.DealRegistrationRejected(
                partner_id=data.partner_id,
                actor=actor,
                registration_id=holder,
                deal_id=data.deal_id,
                rejected_at=data.registered_at,
                reason=reason,
                customer=data.customer,
                product_line=data.product_line,
            ),
            source="/demo/expected",
        )
    )
    after = expected_registration_decisions([*registered, *done.events])
    wanted = "approved" if after[loser].approved else "rejected"
    seen = await _eventually_status(api, loser, wanted)
    if seen != wanted:
        done.problems.append(f"{loser} is {seen} after {holder} was rejected by hand, not {wanted}")
    done.said.append(
        f"   {holder} rejected by hand; {loser}, which it blocked, now {seen} by the rule"
    )


async def extend(api: Api, run: str, registered: list[CloudEvent[Any]], done: Exercised) -> None:
    """A partner's new registration, asked to last 30 days longer and granted."""
    partner_id = next(
        e.data.partner_id for e in registered if isinstance(e.data, events.DealRegistered)
    )
    answer = await api.post(
        "incentives",
        "/registrations",
        {
            "partner_id": partner_id,
            "deal_id": f"{run}-EXT",
            "customer": f"Extension Customer {run}",
            "product_line": "cloud",
            "expected_amount": "10000.00",
        },
        f"{run}-ext-register",
        expect=(202,),
    )
    registration_id = answer["registration_id"]
    if await _eventually_status(api, registration_id, "approved") != "approved":
        done.problems.append(f"registration {registration_id} was not approved")
        return
    url = f"/registrations/{registration_id}"
    await api.post(
        "incentives",
        f"{url}/extension",
        {"days": EXTENSION_DAYS, "reason": "the customer's board meets next month"},
        f"{run}-ext-ask",
        expect=(202,),
    )
    view = await api.post("incentives", f"{url}/extension/approve", {}, f"{run}-ext-grant")
    registered_at = datetime.fromisoformat(view["registered_at"])
    wanted = registered_at + PROTECTION + timedelta(days=EXTENSION_DAYS)
    granted = [(x["status"], x["days"]) for x in view["extensions"]]
    if datetime.fromisoformat(view["expires_at"]) != wanted or granted != [
        ("granted", EXTENSION_DAYS)
    ]:
        done.problems.append(
            f"{registration_id} extended: expires_at {view['expires_at']}, extensions "
            f"{granted}; expected {wanted.isoformat()} and one granted {EXTENSION_DAYS}-day"
        )
    done.said.append(
        f"   {registration_id} of {partner_id} extended by {EXTENSION_DAYS} days: "
        f"protected until {view['expires_at'][:10]}"
    )


async def adjust(
    api: Api,
    run: str,
    actor: Actor,
    expected: dict[tuple[str, str], Statement],
    done: Exercised,
) -> None:
    """An inquiry on the fullest statement's first line, resolved by an adjustment."""
    statement = max(
        (s for s in expected.values() if s.lines),
        key=lambda s: (len(s.lines), s.partner_id, s.period),
    )
    deal_id = statement.lines[0].deal_id
    opened = await api.post(
        "incentives",
        f"/commissions/{deal_id}/inquiries",
        {"message": "the registered-deal bonus seems to be missing"},
        f"{run}-inquiry",
    )
    resolved = await api.post(
        "incentives",
        f"/inquiries/{opened['inquiry_id']}/resolve",
        {
            "resolution": "adjusted",
            "note": "approved late by mistake: paid by adjustment",
            "adjustment": {"amount": str(ADJUSTMENT), "reason": "registered-deal bonus"},
        },
        f"{run}-inquiry-resolve",
    )
    adjustment = resolved["adjustment"]
    if (resolved["status"], adjustment["amount"], adjustment["period"]) != (
        "resolved",
        str(ADJUSTMENT),
        statement.period,
    ):
        done.problems.append(f"inquiry on {deal_id} resolved as {resolved}")
    done.events.append(
        new_event(
            events.CommissionAdjusted(
                partner_id=statement.partner_id,
                actor=actor,
                adjustment_id=adjustment["adjustment_id"],
                deal_id=deal_id,
                period=statement.period,
                currency=statement.currency,
                amount=ADJUSTMENT,
                reason="registered-deal bonus",
                adjusted_at=datetime.fromisoformat(adjustment["adjusted_at"]),
                inquiry_id=opened["inquiry_id"],
            ),
            source="/demo/expected",
        )
    )
    done.said.append(
        f"   an inquiry on {deal_id} resolved by an adjustment of {ADJUSTMENT} "
        f"{statement.currency} to {statement.partner_id}'s {statement.period}"
    )


async def explained(
    api: Api, since: datetime, adjusted: CloudEvent[Any], seconds: float = 60
) -> list[str]:
    """The adjusted statement's changes since ``since`` add up to its change, and one of
    them is the adjustment; the partner's history names who asked, answered and
    adjusted. What is wrong, if anything."""
    data = adjusted.data
    assert isinstance(data, events.CommissionAdjusted)
    url = f"/partners/{data.partner_id}"
    wanted = {"CommissionInquiryOpened", "CommissionInquiryResolved", "CommissionAdjusted"}
    deadline = time.monotonic() + seconds
    while True:
        changes = await api.get(
            "reporting", f"{url}/statements/{data.period}/changes", since=since.isoformat()
        )
        history = await api.get("reporting", f"{url}/history", since=since.isoformat())
        told = {e["type"]: e["actor"] for e in history["entries"] if e["type"] in wanted}
        adjustments = [c for c in changes["changes"] if c["type"] == "CommissionAdjusted"]
        if (adjustments and told.keys() == wanted) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)  # a poll of another process: no event to wait on
    problems = []
    total = sum((Decimal(c["delta"]) for c in changes["changes"]), Decimal(0))
    if total != Decimal(changes["change"]) or Decimal(changes["change"]) != Decimal(
        changes["payout_total_now"]
    ) - Decimal(changes["payout_total_then"]):
        problems.append(f"{url} {data.period}: the changes since {since} do not add up: {changes}")
    if [c["delta"] for c in adjustments] != [str(ADJUSTMENT)]:
        problems.append(f"{url} {data.period}: the adjustment is not among the changes: {changes}")
    if told.keys() != wanted or any(a is None or a["kind"] != "key" for a in told.values()):
        problems.append(f"{url}/history does not name who asked, answered, adjusted: {told}")
    return problems


async def _eventually_status(
    api: Api, registration_id: str, wanted: str, seconds: float = 60
) -> str:
    """The registration's status once it is ``wanted``, or as it is after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        status = str((await api.get("incentives", f"/registrations/{registration_id}"))["status"])
        if status == wanted or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.5)  # a poll of another process: no event to wait on
