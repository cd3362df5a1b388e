"""Notifications' pure rules (services/notifications/domain.py): the retry schedule, which
URLs and addresses a webhook may call, which events give which notice, who receives
it, email ids, unsubscribe tokens and when an end is notified ahead."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from services.notifications.domain import (
    SECRET_PREFIX,
    Audience,
    Notice,
    NoticeKind,
    Person,
    RetryPolicy,
    UnsafeUrl,
    certification_expiring,
    check_addresses,
    check_url_form,
    delivered,
    due,
    email_id,
    new_secret,
    notice_of,
    recipients,
    registration_expiring,
    sequence,
    unsubscribe_token,
    valid_unsubscribe,
)
from shared.events import PAYLOADS, CertificationAwarded, CloudEvent, Payload, parse_event
from tests.support.notifications import event

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

# --------------------------------------------------------------------------- retries


def test_waits_double_from_first_up_to_longest() -> None:
    policy = RetryPolicy(first=5, longest=60, give_up_after=86400)
    waits = [(policy.next_attempt(T0, attempts, T0) or T0) - T0 for attempts in range(1, 8)]
    assert [w.total_seconds() for w in waits] == [5, 10, 20, 40, 60, 60, 60]


def test_the_default_schedule_parks_after_a_day_of_failures() -> None:
    """5, 10, …, 2560 s, then hourly: the 33rd failure (84 315 s after the first attempt)
    would be tried again past 24 h, so it parks."""
    policy = RetryPolicy()
    now, failures, schedule = T0, 0, []
    while True:
        failures += 1
        at = policy.next_attempt(T0, failures, now)
        if at is None:
            break
        schedule.append((at - now).total_seconds())
        now = at
    assert failures == 33
    assert (now - T0).total_seconds() == 84315
    assert schedule[:11] == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert set(schedule[10:]) == {3600}


def test_a_failure_past_the_budget_parks_at_once() -> None:
    policy = RetryPolicy(first=5, longest=3600, give_up_after=60)
    assert policy.next_attempt(T0, 1, T0 + timedelta(seconds=55)) == T0 + timedelta(seconds=60)
    assert policy.next_attempt(T0, 1, T0 + timedelta(seconds=56)) is None


@pytest.mark.parametrize("attempts", [0, -1])
def test_attempts_count_at_least_one_failure(attempts: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy().next_attempt(T0, attempts, T0)


@given(
    first=st.floats(min_value=0.001, max_value=10_000),
    longest=st.floats(min_value=0.001, max_value=100_000),
    budget=st.floats(min_value=0, max_value=1_000_000),
    attempts=st.integers(min_value=1, max_value=10_000),
    elapsed=st.floats(min_value=0, max_value=2_000_000),
)
def test_a_retry_is_after_now_and_within_the_budget(
    first: float, longest: float, budget: float, attempts: int, elapsed: float
) -> None:
    policy = RetryPolicy(first=first, longest=longest, give_up_after=budget)
    now = T0 + timedelta(seconds=elapsed)
    at = policy.next_attempt(T0, attempts, now)
    wait = timedelta(seconds=min(first * 2 ** min(attempts - 1, 60), longest))
    if at is None:
        assert now + wait - T0 > timedelta(seconds=budget)
    else:
        assert at == now + wait
        assert now < at
        assert at - T0 <= timedelta(seconds=budget)


@pytest.mark.parametrize(("status", "acknowledged"), [(200, True), (204, True), (299, True)])
def test_any_2xx_acknowledges(status: int, acknowledged: bool) -> None:
    assert delivered(status) is acknowledged


@pytest.mark.parametrize("status", [100, 199, 300, 302, 304, 400, 410, 500, 503])
def test_anything_else_is_a_failure(status: int) -> None:
    assert not delivered(status)


def test_the_place_in_line_sorts_by_time_then_where_the_record_was() -> None:
    places = [
        sequence(9_000, "deals.v1", 0, 2),
        sequence(10_000, "deals.v1", 0, 1),
        sequence(10_000, "deals.v1", 1, 0),
        sequence(10_000, "incentives.v1", 0, 0),
        sequence(100_000, "deals.v1", 0, 0),
    ]
    assert sorted(places) == places
    assert sequence(10_000, "deals.v1", 0, 1) == places[1]


def test_a_new_secret_is_a_standard_webhooks_secret() -> None:
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 32
    assert secret != new_secret()
    signature = Webhook(secret).sign("msg-1", datetime.now(UTC), b"{}")
    headers = {
        "webhook-id": "msg-1",
        "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
        "webhook-signature": signature,
    }
    assert Webhook(secret).verify(b"{}", headers) == {}


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://hooks.example.com/partnerhub", "hooks.example.com"),
        ("http://hooks.example.com:8080/x?y=1", "hooks.example.com"),
        ("https://[2606:4700::1111]/in", "2606:4700::1111"),
        ("HTTPS://Hooks.Example.com/", "hooks.example.com"),
    ],
)
def test_an_http_url_gives_its_host(url: str, host: str) -> None:
    assert check_url_form(url) == host


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/in", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("hooks.example.com/in", "http:// or https://"),
        ("gopher://hooks.example.com/", "http:// or https://"),
        ("http:///in", "must name a host"),
        ("https://user:secret@hooks.example.com/", "user name or password"),
        ("https://user@hooks.example.com/", "user name or password"),
        ("https://:secret@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com:99999/", "bad port"),
        ("https://hooks.example.com:https/", "bad port"),
        ("http://[::1/in", "not a valid URL"),
    ],
)
def test_a_url_that_may_not_be_called_says_why(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=re.escape(why)):
        check_url_form(url)


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.8.9.10", "127.8.9.10"),
        ("::1", "::1"),
        ("10.0.0.1", "10.0.0.1"),
        ("172.16.0.1", "172.16.0.1"),
        ("172.31.255.254", "172.31.255.254"),
        ("192.168.1.20", "192.168.1.20"),
        ("169.254.169.254", "169.254.169.254"),  # the cloud metadata service
        ("100.64.0.1", "100.64.0.1"),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", "0.0.0.0"),
        ("::", "::"),
        ("224.0.0.1", "224.0.0.1"),
        ("239.255.255.250", "239.255.255.250"),
        ("ff02::1", "ff02::1"),
        ("fc00::1", "fc00::1"),
        ("fd12:3456::1", "fd12:3456::1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("64:ff9b::a00:1", "10.0.0.1"),  # NAT64 of a private address
        ("64:ff9b:1::7f00:1", "127.0.0.1"),  # local-use NAT64
        ("2002:a00:1::1", "10.0.0.1"),  # 6to4 of a private address
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::1", "fe80::1"),
        ("240.0.0.1", "240.0.0.1"),  # reserved
        ("255.255.255.255", "255.255.255.255"),
    ],
)
def test_an_address_that_is_not_public_is_refused(address: str, shown: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        check_addresses("hooks.example.com", [address])
    message = str(refused.value)
    assert "hooks.example.com" in message
    assert f"resolves to {shown}," in message
    assert "WEBHOOK_ALLOW_PRIVATE" in message


@pytest.mark.parametrize(
    "addresses",
    [["93.184.216.34"], ["2606:4700::1111"], ["8.8.8.8", "2001:4860:4860::8888"]],
)
def test_public_addresses_are_accepted(addresses: list[str]) -> None:
    check_addresses("hooks.example.com", addresses)


def test_one_private_address_among_public_ones_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match=r"resolves to 10\.1\.2\.3,"):
        check_addresses("hooks.example.com", ["93.184.216.34", "10.1.2.3", "8.8.8.8"])


def test_no_address_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match=r"hooks\.example\.com resolves to no address"):
        check_addresses("hooks.example.com", [])


# --------------------------------------------------------------------------- notices


def parsed(whole: dict[str, object]) -> CloudEvent[Payload]:
    return parse_event(json.dumps(whole))


MONEY = re.compile(r"\d{1,3}(,\d{3})*\.\d{2} [A-Z]{3}")
HANDLED = {
    "DealRegistrationApproved": (NoticeKind.REGISTRATION_DECIDED, "/registrations/R-4"),
    "DealRegistrationRejected": (NoticeKind.REGISTRATION_DECIDED, "/registrations/R-5"),
    "MdfApproved": (NoticeKind.MDF_REQUEST_DECIDED, "/mdf"),
    "MdfRejected": (NoticeKind.MDF_REQUEST_DECIDED, "/mdf"),
    "MdfClaimApproved": (NoticeKind.MDF_CLAIM_DECIDED, "/mdf"),
    "MdfClaimRejected": (NoticeKind.MDF_CLAIM_DECIDED, "/mdf"),
    "PayoutSettled": (NoticeKind.PAYOUT_SETTLED, "/partners/P-7/statements/2026-Q4"),
    "PartnerApplied": (NoticeKind.APPLICATION_WAITING, "/applications"),
    "DealRegistrationExtensionRequested": (NoticeKind.EXTENSION_WAITING, "/registrations/R-4"),
    "MdfRequested": (NoticeKind.MDF_REQUEST_WAITING, "/mdf"),
    "MdfClaimSubmitted": (NoticeKind.MDF_CLAIM_WAITING, "/mdf/claims"),
    "CommissionInquiryOpened": (NoticeKind.INQUIRY_WAITING, "/inquiries"),
}
MANAGER_KINDS = {
    NoticeKind.APPLICATION_WAITING,
    NoticeKind.EXTENSION_WAITING,
    NoticeKind.MDF_REQUEST_WAITING,
    NoticeKind.MDF_CLAIM_WAITING,
    NoticeKind.INQUIRY_WAITING,
}


@pytest.mark.parametrize("event_type", sorted(HANDLED))
def test_each_decision_payout_and_waiting_item_gives_its_notice(event_type: str) -> None:
    kind, page = HANDLED[event_type]
    whole = event(event_type, "P-7")
    notice = notice_of(parsed(whole))
    assert notice is not None
    assert notice.kind is kind
    assert notice.audience is (Audience.MANAGERS if kind in MANAGER_KINDS else Audience.PARTNER)
    assert notice.partner_id == "P-7"
    assert notice.page == page
    assert notice.subject
    assert notice.lines
    again = notice_of(parsed(whole))  # the same event consumed again
    assert again == notice
    other = notice_of(parsed(event(event_type, "P-8")))
    assert other is not None
    assert other.partner_id == "P-8"


@pytest.mark.parametrize("event_type", sorted(set(PAYLOADS) - set(HANDLED)))
def test_other_events_give_no_notice(event_type: str) -> None:
    assert notice_of(parsed(event(event_type))) is None


def test_a_registration_decision_is_one_fact_per_event() -> None:
    """An approval by hand over an automatic one is a second decision, emailed too."""
    first = notice_of(parsed(event("DealRegistrationApproved")))
    second = notice_of(parsed(event("DealRegistrationApproved")))
    assert first is not None
    assert second is not None
    assert first.fact != second.fact
    assert first.fact.startswith("registration:R-4:decided:")


def test_an_approval_names_the_end_of_its_protection() -> None:
    notice = notice_of(parsed(event("DealRegistrationApproved", expires_at="2026-12-15T00:00:00Z")))
    assert notice is not None
    assert "Its protection runs until 2026-12-15." in notice.lines[0]
    without = notice_of(parsed(event("DealRegistrationApproved")))
    assert without is not None
    assert "protection" not in without.lines[0]


def test_a_rejection_gives_its_reason() -> None:
    notice = notice_of(parsed(event("MdfRejected")))
    assert notice is not None
    assert "Reason: over the quarterly budget." in notice.lines


@pytest.mark.parametrize(
    ("event_type", "money"),
    [
        ("MdfApproved", "12,000.00 EUR"),
        ("MdfRequested", "12,000.00 EUR"),
        ("MdfClaimApproved", "7,000.00 EUR"),
        ("MdfClaimSubmitted", "7,500.00 EUR"),
        ("PayoutSettled", "38,100.00 USD"),
    ],
)
def test_money_has_two_decimals_and_its_currency(event_type: str, money: str) -> None:
    notice = notice_of(parsed(event(event_type)))
    assert notice is not None
    text = " ".join((notice.subject, *notice.lines))
    assert money in text
    amounts = re.findall(r"[\d.,]+ (?:USD|EUR)\b", text)
    assert amounts
    assert all(MONEY.fullmatch(a) for a in amounts), amounts


def test_a_payout_names_the_mdf_reimbursed_and_each_other_currency() -> None:
    whole = event(
        "PayoutSettled",
        "P-7",
        amount_paid="1234.5",
        mdf_reimbursed="150.5",
        mdf_claims=["MC-1"],
        mdf_other_currencies=[
            {"currency": "EUR", "amount": "99.9", "claims": ["MC-2"]},
            {"currency": "GBP", "amount": "1000", "claims": ["MC-3", "MC-4"]},
        ],
    )
    notice = notice_of(parsed(whole))
    assert notice is not None
    assert notice.subject == "Payout settled for 2026-Q4: 1,234.50 USD"
    assert notice.lines == (
        "Settlement S-2026-Q4-P-100 for 2026-Q4 pays 1,234.50 USD.",
        "It includes 150.50 USD of MDF claims reimbursed.",
        "MDF claims in EUR are paid apart: 99.90 EUR.",
        "MDF claims in GBP are paid apart: 1,000.00 GBP.",
    )
    assert notice.fact == "payout:S-2026-Q4-P-100:P-7"


def test_a_payout_without_mdf_says_nothing_of_it() -> None:
    notice = notice_of(parsed(event("PayoutSettled")))
    assert notice is not None
    assert notice.lines == ("Settlement S-2026-Q4-P-100 for 2026-Q4 pays 38,100.00 USD.",)


def test_an_application_gives_the_applicant_and_its_score() -> None:
    notice = notice_of(parsed(event("PartnerApplied", "P-9", application_id="A-9")))
    assert notice is not None
    assert notice.subject == "New partner application: Acme Cloud Resellers"
    assert notice.fact == "application:A-9"
    assert "score 77.0, recommendation approve" in notice.lines[0]


def test_an_inquiry_carries_the_partners_message_as_written() -> None:
    notice = notice_of(
        parsed(event("CommissionInquiryOpened", message="<b>where</b> is my bonus?"))
    )
    assert notice is not None
    assert notice.lines[-1] == "<b>where</b> is my bonus?"


# --------------------------------------------------------------------------- recipients


def partner_notice(partner_id: str = "P-1", kind: NoticeKind = NoticeKind.PAYOUT_SETTLED) -> Notice:
    return Notice(kind, partner_id, f"fact-of-{partner_id}", "subject", ("line",), "/")


def test_a_partner_notice_goes_to_that_partners_people_each_once() -> None:
    people = [
        Person("maria@vendor.example", None, manager=True),
        Person("Pat@Acme.Example", "P-1", manager=False),
        Person("pat@acme.example ", "P-1", manager=False),
        Person("sam@acme.example", "P-1", manager=False),
        Person("kim@globex.example", "P-2", manager=False),
    ]
    assert recipients(partner_notice("P-1"), people, {}) == [
        "pat@acme.example",
        "sam@acme.example",
    ]
    assert recipients(partner_notice("P-2"), people, {}) == ["kim@globex.example"]
    assert recipients(partner_notice("P-3"), people, {}) == []


def test_a_managers_notice_goes_to_the_managers_only() -> None:
    people = [
        Person("Maria@Vendor.example", None, manager=True),
        Person("pat@acme.example", "P-1", manager=False),
        Person("maria@vendor.example", None, manager=True),
        Person("omar@vendor.example", None, manager=True),
    ]
    notice = partner_notice("P-1", NoticeKind.APPLICATION_WAITING)
    assert recipients(notice, people, {}) == ["maria@vendor.example", "omar@vendor.example"]


def test_those_unsubscribed_from_the_kind_are_left_out() -> None:
    people = [
        Person("pat@acme.example", "P-1", manager=False),
        Person("Sam@acme.example", "P-1", manager=False),
    ]
    unsubscribed = {"sam@acme.example": frozenset({NoticeKind.PAYOUT_SETTLED.value})}
    assert recipients(partner_notice("P-1"), people, unsubscribed) == ["pat@acme.example"]
    decided = partner_notice("P-1", NoticeKind.MDF_CLAIM_DECIDED)
    assert recipients(decided, people, unsubscribed) == ["pat@acme.example", "sam@acme.example"]


PARTNERS = ("P-1", "P-2", "P-3")
LOCALS = ("pat", "sam", "kim", "maria")
KINDS = list(NoticeKind)


@st.composite
def people_strategy(draw: st.DrawFn) -> list[Person]:
    made = []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        local = draw(st.sampled_from(LOCALS))
        domain = draw(st.sampled_from(("acme.example", "globex.example")))
        address = draw(st.sampled_from((str.lower, str.upper, str.title)))(f"{local}@{domain}")
        manager = draw(st.booleans())
        partner = None if manager else draw(st.sampled_from(PARTNERS))
        made.append(Person(address, partner, manager))
    return made


@given(
    people=people_strategy(),
    partner=st.sampled_from(PARTNERS),
    kind=st.sampled_from(KINDS),
    unsubscribed=st.dictionaries(
        st.sampled_from(
            [f"{local}@{d}" for local in LOCALS for d in ("acme.example", "globex.example")]
        ),
        st.frozensets(st.sampled_from([k.value for k in KINDS])),
    ),
)
def test_recipients_are_exactly_the_audience_less_the_unsubscribed(
    people: list[Person], partner: str, kind: NoticeKind, unsubscribed: dict[str, frozenset[str]]
) -> None:
    notice = partner_notice(partner, kind)
    chosen = recipients(notice, people, unsubscribed)

    def concerned(person: Person) -> bool:
        if kind in MANAGER_KINDS:
            return person.manager
        return person.partner_id == partner

    expected = {
        p.address.lower()
        for p in people
        if concerned(p) and kind.value not in unsubscribed.get(p.address.lower(), frozenset())
    }
    assert len(chosen) == len(set(chosen))  # each address once
    assert set(chosen) == expected
    for address in chosen:  # never an address only another partner's people (or no one) have
        assert any(p.address.lower() == address and concerned(p) for p in people)


# --------------------------------------------------------------------------- email ids, unsubscribe


def test_an_email_id_is_stable_per_kind_fact_and_address() -> None:
    notice = partner_notice("P-1")
    assert email_id(notice, "pat@acme.example") == email_id(notice, "pat@acme.example")
    assert re.fullmatch(r"[0-9a-f]{32}", email_id(notice, "pat@acme.example"))


@given(
    a=st.tuples(st.sampled_from(KINDS), st.text(max_size=20), st.text(max_size=20)),
    b=st.tuples(st.sampled_from(KINDS), st.text(max_size=20), st.text(max_size=20)),
)
def test_email_ids_differ_when_kind_fact_or_address_do(
    a: tuple[NoticeKind, str, str], b: tuple[NoticeKind, str, str]
) -> None:
    def email_of(kind: NoticeKind, fact: str, address: str) -> str:
        return email_id(Notice(kind, "P-1", fact, "s", (), "/"), address)

    same = email_of(*a) == email_of(*b)
    assert same == (a == b)


SECRET = "unsubscribe-secret"


def test_an_unsubscribe_token_is_valid_for_its_address_and_kind_only() -> None:
    token = unsubscribe_token(SECRET, "pat@acme.example", NoticeKind.PAYOUT_SETTLED)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert valid_unsubscribe(SECRET, "pat@acme.example", NoticeKind.PAYOUT_SETTLED, token)
    assert valid_unsubscribe(SECRET, " PAT@Acme.Example", NoticeKind.PAYOUT_SETTLED, token)
    assert not valid_unsubscribe(SECRET, "sam@acme.example", NoticeKind.PAYOUT_SETTLED, token)
    assert not valid_unsubscribe(SECRET, "pat@acme.example", NoticeKind.MDF_CLAIM_DECIDED, token)
    assert not valid_unsubscribe(
        "another-secret", "pat@acme.example", NoticeKind.PAYOUT_SETTLED, token
    )
    assert not valid_unsubscribe(SECRET, "pat@acme.example", NoticeKind.PAYOUT_SETTLED, "0" * 64)
    assert not valid_unsubscribe(
        SECRET, "pat@acme.example", NoticeKind.PAYOUT_SETTLED, token.upper()
    )


@given(address=st.text(), token=st.text())
def test_any_address_and_token_are_answered_not_raised(address: str, token: str) -> None:
    """Both come from whoever calls the unsubscribe route (the fuzzer found a 500)."""
    assert valid_unsubscribe(SECRET, address, NoticeKind.PAYOUT_SETTLED, token) is False
    assert (
        valid_unsubscribe(SECRET, address + "\ud800", NoticeKind.PAYOUT_SETTLED, "\udfff") is False
    )


@given(
    address=st.emails(),
    kind=st.sampled_from(KINDS),
    other=st.sampled_from(KINDS),
)
def test_a_token_never_serves_another_kind(
    address: str, kind: NoticeKind, other: NoticeKind
) -> None:
    token = unsubscribe_token(SECRET, address, kind)
    assert valid_unsubscribe(SECRET, address.upper(), kind, token)
    assert valid_unsubscribe(SECRET, address, other, token) == (other is kind)


# --------------------------------------------------------------------------- ends ahead

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ends_in", "is_due"),
    [
        (timedelta(days=3), True),
        (timedelta(days=7), True),
        (timedelta(0), True),
        (timedelta(days=7, seconds=1), False),
        (timedelta(days=30), False),
        (-timedelta(seconds=1), False),
        (-timedelta(days=2), False),
    ],
)
def test_a_registration_is_due_within_7_days_of_its_end(ends_in: timedelta, is_due: bool) -> None:
    ending = registration_expiring("R-1", "P-1", "D-1", NOW + ends_in)
    assert ending.kind is NoticeKind.REGISTRATION_EXPIRING
    assert due(ending, NOW) is is_due


def award(expires_at: datetime, partner_id: str = "P-1") -> CertificationAwarded:
    return CertificationAwarded(
        partner_id=partner_id,
        learner_id="L-1",
        certification_id="CERT-CLOUD",
        product_line="cloud",
        awarded_at=expires_at - timedelta(days=365),
        expires_at=expires_at,
    )


@pytest.mark.parametrize(
    ("ends_in", "is_due"),
    [
        (timedelta(days=29), True),
        (timedelta(days=30), True),
        (timedelta(days=3), True),
        (timedelta(days=30, seconds=1), False),
        (timedelta(days=45), False),
        (-timedelta(days=1), False),
    ],
)
def test_a_certification_is_due_within_30_days_of_its_end(ends_in: timedelta, is_due: bool) -> None:
    ending = certification_expiring(award(NOW + ends_in))
    assert ending.kind is NoticeKind.CERTIFICATION_EXPIRING
    assert due(ending, NOW) is is_due


def test_an_end_that_moves_is_a_new_fact() -> None:
    end = NOW + timedelta(days=5)
    first = registration_expiring("R-1", "P-1", "D-1", end).notice()
    same = registration_expiring("R-1", "P-1", "D-1", end).notice()
    moved = registration_expiring("R-1", "P-1", "D-1", end + timedelta(days=30)).notice()
    assert first.fact == same.fact
    assert moved.fact != first.fact
    assert email_id(first, "pat@acme.example") != email_id(moved, "pat@acme.example")
    assert first.kind is NoticeKind.REGISTRATION_EXPIRING
    assert first.audience is Audience.PARTNER
    assert first.page == "/registrations/R-1"
    renewed = certification_expiring(award(end + timedelta(days=365))).notice()
    assert renewed.fact != certification_expiring(award(end)).notice().fact
    assert renewed.partner_id == "P-1"
    assert renewed.page == "/partners/P-1"


def test_money_is_rounded_to_cents_with_thousands_separated() -> None:
    notice = notice_of(parsed(event("MdfApproved", amount="1234567.891")))
    assert notice is not None
    assert "1,234,567.89 EUR" in notice.lines[0]
    assert "1234567" not in " ".join(notice.lines)
