"""People use the portal in a real browser: sign in at the real provider, see their own
figures, register a deal and see it decided, ask for its protection to be extended (the
channel manager grants it, then decides the registration by hand), approve an
application, ask about a commission (the channel manager resolves it with an
adjustment, then adjusts the period by hand); a partner user cannot reach another
partner's pages by URL or by form; a partner reads its history, what changed its statement
and the statement as it was; a partner claims against approved funds with evidence and
the channel manager approves part of the claim (docs/portal.md)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

from selenium.common.exceptions import (
    NoSuchElementException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from demo.people import Person
from tests.browser.conftest import SHOTS, Portal


def sign_in(browser: WebDriver, portal: Portal, person: Person, page: str = "/") -> None:
    """Through the provider's own sign-in form, as a person would."""
    browser.get(f"{portal.url}/login?next={page}")
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "username")))
    assert browser.current_url.startswith(portal.services["portal"].env["OIDC_ISSUER"])
    browser.find_element(By.ID, "username").send_keys(person.username)
    browser.find_element(By.ID, "password").send_keys(person.password)
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "person-name")))
    assert browser.current_url.startswith(portal.url)
    assert browser.find_element(By.ID, "person-name").text == person.name


def on_page(browser: WebDriver, element_id: str) -> WebElement:
    """The element ``element_id`` of the page shown; failing, what the page says instead."""
    found = browser.find_elements(By.ID, element_id)
    assert found, f"no #{element_id} on {browser.current_url}: {text(browser)[:2000]}"
    return found[0]


def shot(browser: WebDriver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"portal-{name}.png"))


def text(browser: WebDriver) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


def notice_says(browser: WebDriver, wanted: str) -> None:
    """Wait until the page's notice says ``wanted``: the page a form led to (the page it
    was sent from may show a notice of its own until the answer arrives)."""
    # While the browser moves to the next page, the notice read may belong to the page
    # being left (chromium then says the node "does not belong to the document"): those
    # reads are tried again, and only the notice of a page that stays counts.
    wait = WebDriverWait(
        browser, 20, ignored_exceptions=(NoSuchElementException, WebDriverException)
    )
    try:
        wait.until(seen.text_to_be_present_in_element((By.ID, "notice"), wanted))
    except TimeoutException:
        raise AssertionError(
            f"the notice never said {wanted!r} on {browser.current_url}: {text(browser)[:2000]}"
        ) from None


def wait_for_text(browser: WebDriver, wanted: str, seconds: float = 60) -> None:
    """Reload until the page shows ``wanted`` (the services work asynchronously)."""
    deadline = time.monotonic() + seconds
    while wanted not in text(browser):
        assert time.monotonic() < deadline, (
            f"{wanted!r} not shown within {seconds} s:\n{text(browser)}"
        )
        time.sleep(0.5)
        browser.refresh()


def test_a_partner_user_signs_in_and_sees_their_own_figures(
    browser: WebDriver, portal: Portal
) -> None:
    sign_in(browser, portal, portal.people["a"])
    assert browser.current_url == f"{portal.url}/partners/{portal.partner_a}"
    wait_for_text(browser, "80,000.00 USD")  # the closed deal's revenue, with its currency
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart svg"), "the commission chart"
    shot(browser, "dashboard")
    on_page(browser, "statement-link").click()
    wait_for_text(browser, portal.deal_id)
    assert "USD" in browser.find_element(By.ID, "statement-lines").text
    shot(browser, "statement")


def test_a_partner_user_registers_a_deal_and_sees_it_decided(
    browser: WebDriver, portal: Portal
) -> None:
    sign_in(browser, portal, portal.people["a"], "/registrations/new")
    assert browser.current_url == f"{portal.url}/registrations/new"
    browser.find_element(By.ID, "deal_id").send_keys("D-portal-1")
    browser.find_element(By.ID, "customer").send_keys("Globex")
    browser.find_element(By.ID, "product_line").send_keys("security")
    browser.find_element(By.ID, "expected_amount").send_keys("25000.00")
    shot(browser, "register-a-deal")
    browser.find_element(By.ID, "register").click()
    WebDriverWait(browser, 20).until(
        seen.presence_of_element_located((By.ID, "registration-status"))
    )
    assert "D-portal-1" in text(browser)
    deadline = time.monotonic() + 60
    while browser.find_element(By.ID, "registration-status").text == "pending":
        assert time.monotonic() < deadline, "the registration was not decided within 60 s"
        time.sleep(0.5)
        browser.refresh()
    assert browser.find_element(By.ID, "registration-status").text in ("approved", "rejected")
    shot(browser, "registration")


def test_a_partner_asks_for_an_extension_and_the_manager_grants_it_then_decides_by_hand(
    browser: WebDriver, portal: Portal
) -> None:
    deal_id = f"{portal.deal_id}-extended"
    sign_in(browser, portal, portal.people["a"], "/registrations/new")
    browser.find_element(By.ID, "deal_id").send_keys(deal_id)
    browser.find_element(By.ID, "customer").send_keys(f"Extension Co {portal.deal_id}")
    browser.find_element(By.ID, "product_line").send_keys("networking")
    browser.find_element(By.ID, "expected_amount").send_keys("40000.00")
    browser.find_element(By.ID, "register").click()
    WebDriverWait(browser, 20).until(
        seen.presence_of_element_located((By.ID, "registration-status"))
    )
    registration_url = browser.current_url.split("?")[0]
    wait_for_text(browser, "Ask for an extension")  # approved: nobody else holds the pair
    assert browser.find_element(By.ID, "registration-status").text == "approved"
    assert "days left" in browser.find_element(By.ID, "protection").text
    days = browser.find_element(By.ID, "extension-days")
    days.clear()
    days.send_keys("45")
    browser.find_element(By.ID, "extension-reason").send_keys("The customer's board meets late.")
    browser.find_element(By.ID, "request-extension").click()
    notice_says(browser, "Extension request sent")
    wait_for_text(browser, "waiting for a channel manager's answer")
    assert "requested" in browser.find_element(By.ID, "extensions").text
    shot(browser, "extension-requested")

    browser.delete_all_cookies()
    sign_in(browser, portal, portal.people["manager"], "/registrations?extension=requested")
    wait_for_text(browser, deal_id)
    browser.find_element(By.LINK_TEXT, deal_id).click()
    WebDriverWait(browser, 20).until(
        seen.presence_of_element_located((By.ID, "extension-approve-form"))
    )
    assert "45 more days" in browser.find_element(By.ID, "waiting-extension").text
    shot(browser, "extension-waiting")
    browser.find_element(By.ID, "extension-note").send_keys("Board date confirmed.")
    browser.find_element(By.ID, "grant-extension").click()
    notice_says(browser, "Extension granted")
    wait_for_text(browser, "Board date confirmed.")
    assert "granted" in browser.find_element(By.ID, "extensions").text

    browser.find_element(By.CSS_SELECTOR, '#decision-form input[value="reject"]').click()
    browser.find_element(By.ID, "decision-reason").send_keys("A duplicate of another deal.")
    browser.find_element(By.ID, "decide").click()
    notice_says(browser, "Decided by hand")
    browser.get(registration_url)
    wait_for_text(browser, "decided by hand")
    assert browser.find_element(By.ID, "registration-status").text == "rejected"
    assert "A duplicate of another deal." in browser.find_element(By.ID, "registration-reason").text
    shot(browser, "decided-by-hand")


def test_a_partner_user_cannot_reach_another_partners_pages(
    browser: WebDriver, portal: Portal
) -> None:
    sign_in(browser, portal, portal.people["a"])
    other = portal.partner_b
    for page in (f"/partners/{other}", f"/partners/{other}/statements/2026-Q4"):
        browser.get(f"{portal.url}{page}")
        assert "Not yours to see" in text(browser), page
        assert other not in text(browser).replace(page, ""), f"{page} shows the other partner"
    browser.get(f"{portal.url}/applications")
    assert "This page is for channel managers." in text(browser)
    # A form tampered with to act for the other partner still acts for the user's own.
    browser.get(f"{portal.url}/registrations/new")
    browser.execute_script(
        "const f = document.getElementById('registration-form');"
        "const i = document.createElement('input'); i.type = 'hidden'; i.name = 'partner_id';"
        f"i.value = '{other}'; f.appendChild(i);"
    )
    for field, value in (
        ("deal_id", "D-tampered"),
        ("customer", "Umbrella"),
        ("product_line", "cloud"),
        ("expected_amount", "100"),
    ):
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "register").click()
    WebDriverWait(browser, 20).until(
        seen.presence_of_element_located((By.ID, "registration-status"))
    )
    assert portal.partner_a in text(browser)
    assert other not in text(browser)


def test_the_channel_manager_approves_an_application(browser: WebDriver, portal: Portal) -> None:
    sign_in(browser, portal, portal.people["manager"], "/applications")
    card = browser.find_element(By.ID, f"application-{portal.pending_application}")
    assert "Score" in card.text
    shot(browser, "applications")
    card.find_element(By.CSS_SELECTOR, "button.approve").click()
    notice_says(browser, "Application approved: partner ")
    browser.get(f"{portal.url}/")
    assert "Leaderboard" in text(browser)
    shot(browser, "programme")
    browser.get(f"{portal.url}/partners/at-risk")
    # Partner B has closed no deal and holds no certification: at risk.
    assert browser.find_element(By.CSS_SELECTOR, f'a[href="/partners/{portal.partner_b}"]')
    shot(browser, "at-risk")
    browser.get(f"{portal.url}/partners")
    wait_for_text(browser, "80,000.00 USD")  # partner A's revenue, with its health beside it
    assert browser.find_element(By.CSS_SELECTOR, f'a[href="/partners/{portal.partner_a}"]')
    shot(browser, "partners")


def test_signing_out_ends_the_session(browser: WebDriver, portal: Portal) -> None:
    sign_in(browser, portal, portal.people["b"])
    browser.find_element(By.ID, "sign-out").click()
    browser.find_element(By.ID, "confirm-sign-out").click()
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "welcome-sign-in")))
    browser.get(f"{portal.url}/partners/{portal.partner_b}")
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "username")))


def test_the_channel_manager_settles_a_partner_and_sees_the_payout(
    browser: WebDriver, portal: Portal
) -> None:
    sign_in(browser, portal, portal.people["manager"], "/settlements")
    browser.find_element(By.ID, "period").send_keys("2026-Q4")
    browser.find_element(By.ID, "partner_ids").send_keys(portal.partner_a)
    shot(browser, "settlements")
    browser.find_element(By.ID, "settle").click()
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "outcome")))
    outcome = browser.find_element(By.ID, "outcome").text
    assert portal.partner_a in outcome
    assert "8,000.00 USD" in outcome, outcome
    browser.get(f"{portal.url}/registrations")
    wait_for_text(browser, "D-portal-1")  # the partner's registration, in the manager's list
    shot(browser, "registrations")


def test_a_partner_asks_for_funds_and_the_manager_approves_them(
    browser: WebDriver, portal: Portal
) -> None:
    sign_in(browser, portal, portal.people["a"], "/mdf")
    browser.find_element(By.ID, "campaign").send_keys("Spring webinar series")
    browser.find_element(By.ID, "amount").send_keys("1500.00")
    browser.find_element(By.ID, "request-mdf").click()
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "notice")))
    assert "Spring webinar series" in browser.find_element(By.ID, "mdf-requests").text
    shot(browser, "mdf")
    browser.get(f"{portal.url}/feedback/new")
    browser.find_element(By.ID, "feedback-text").send_keys("The new course on security helped.")
    browser.find_element(By.ID, "send-feedback").click()
    notice_says(browser, "your feedback is recorded")
    browser.delete_all_cookies()
    sign_in(browser, portal, portal.people["manager"], "/mdf")
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#mdf-requests tbody tr")
        if "Spring webinar series" in r.text
    )
    assert portal.partner_a in row.text
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    notice_says(browser, "MDF request approved.")


def test_a_partner_asks_about_a_commission_and_the_manager_resolves_it_with_an_adjustment(
    browser: WebDriver, portal: Portal
) -> None:
    question = f"The certification uplift is missing on {portal.deal_id}."
    sign_in(browser, portal, portal.people["a"])
    on_page(browser, "statement-link").click()
    wait_for_text(browser, portal.deal_id)
    statement_url = browser.current_url.split("?")[0]
    browser.find_element(By.CSS_SELECTOR, f'tr[id="line-{portal.deal_id}"] a.ask').click()
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "inquiry-form")))
    assert portal.deal_id in browser.find_element(By.ID, "asked-line").text
    browser.find_element(By.ID, "inquiry-message").send_keys(question)
    shot(browser, "inquiry-ask")
    browser.find_element(By.ID, "send-inquiry").click()
    notice_says(browser, "Your question is sent")
    assert browser.find_element(By.ID, "inquiry-status").text == "open"
    assert question in browser.find_element(By.ID, "inquiry-message").text
    inquiry_path = browser.current_url.split("?")[0].removeprefix(portal.url)
    browser.get(f"{portal.url}/inquiries")
    assert question in browser.find_element(By.ID, "inquiries").text
    browser.get(statement_url)
    assert question in browser.find_element(By.ID, "statement-inquiries").text
    assert not browser.find_elements(By.ID, "adjustment-form"), "the manager's form"

    browser.delete_all_cookies()
    sign_in(browser, portal, portal.people["manager"], "/inquiries")
    assert "Open" in browser.find_element(By.ID, "inquiry-tabs").text
    shot(browser, "inquiries-work-queue")
    browser.find_element(By.LINK_TEXT, question).click()
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "resolve-form")))
    browser.find_element(By.ID, "resolution-adjusted").click()
    browser.find_element(By.ID, "resolve-note").send_keys("The uplift was missed: corrected.")
    browser.find_element(By.ID, "resolve-amount").send_keys("800.00")
    browser.find_element(By.ID, "resolve-reason").send_keys("Certification uplift.")
    browser.find_element(By.ID, "resolve").click()
    notice_says(browser, "Resolved")
    assert browser.find_element(By.ID, "inquiry-status").text == "resolved"
    assert "800.00 USD" in browser.find_element(By.ID, "inquiry-adjustment").text
    shot(browser, "inquiry-resolved")

    browser.get(statement_url)
    wait_for_text(browser, "Certification uplift.")  # reporting lists the adjustment
    browser.find_element(By.ID, "adjustment-amount").send_keys("-50.00")
    browser.find_element(By.ID, "adjustment-reason").send_keys("Goodwill correction.")
    browser.find_element(By.ID, "adjust").click()
    notice_says(browser, "Adjustment recorded")
    wait_for_text(browser, "Goodwill correction.")
    assert "750.00 USD" in browser.find_element(By.ID, "adjustment-total").text
    shot(browser, "statement-adjusted")

    browser.delete_all_cookies()
    sign_in(browser, portal, portal.people["a"], inquiry_path)
    assert browser.find_element(By.ID, "inquiry-status").text == "resolved"
    assert "The uplift was missed" in browser.find_element(By.ID, "inquiry-note").text
    assert "800.00 USD" in browser.find_element(By.ID, "inquiry-adjustment").text
    assert not browser.find_elements(By.ID, "resolve-form")


def test_a_partner_reads_its_history_and_what_changed_its_statement(
    browser: WebDriver, portal: Portal
) -> None:
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    sign_in(browser, portal, portal.people["a"])
    browser.find_element(By.ID, "history-link").click()
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "history-window")))
    assert "(the last 30 days)" in browser.find_element(By.ID, "history-window").text
    wait_for_text(browser, f"Deal {portal.deal_id} closed")  # reporting has received it
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        if f"Deal {portal.deal_id} closed" in r.text
    )
    assert "80,000.00 USD" in row.text
    assert "DealClosed" in row.text
    assert browser.find_element(By.ID, "history-earlier").get_attribute("href")
    shot(browser, "history")

    browser.get(f"{portal.url}/partners/{portal.partner_a}")
    on_page(browser, "statement-link").click()
    wait_for_text(browser, portal.deal_id)
    statement_url = browser.current_url.split("?")[0]
    day = browser.find_element(By.ID, "changes-since")
    # A date field's typing depends on the browser's locale: its value is set directly.
    browser.execute_script("arguments[0].value = arguments[1]", day, two_days_ago)
    browser.find_element(By.ID, "show-changes").click()
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "changes-summary")))
    assert portal.deal_id in browser.find_element(By.ID, "changes").text
    assert "add up to the change" in browser.find_element(By.ID, "changes-add-up").text
    assert browser.find_element(By.ID, "statement-lines"), "still the statement's page"
    shot(browser, "statement-changes")

    browser.get(f"{statement_url}?as_of={two_days_ago}")
    assert "A past view" in browser.find_element(By.ID, "as-of-label").text
    assert portal.deal_id not in browser.find_element(By.ID, "statement-lines").text
    assert not browser.find_elements(By.CSS_SELECTOR, "a.ask"), "no asking from a past view"
    browser.find_element(By.ID, "statement-now").click()
    wait_for_text(browser, portal.deal_id)
    assert not browser.find_elements(By.ID, "as-of-label")


def claims_of(browser: WebDriver, campaign: str) -> WebElement:
    """The partner's MDF page's section of the approved request ``campaign``."""
    return browser.find_element(
        By.XPATH, f"//section[contains(@class, 'claims')][h3[contains(., '{campaign}')]]"
    )


def fill_claim(
    browser: WebDriver, campaign: str, amount: str, day: str, *evidence: tuple[str, str, str]
) -> None:
    """Fill in and send the claim form of ``campaign``'s request: each piece of evidence
    (kind, URL, SHA-256) in a row of its own."""
    form = claims_of(browser, campaign).find_element(By.TAG_NAME, "form")
    form.find_element(By.NAME, "amount").send_keys(amount)
    # A date field's typing depends on the browser's locale: its value is set directly.
    browser.execute_script(
        "arguments[0].value = arguments[1]", form.find_element(By.NAME, "activity_end"), day
    )
    for row, piece in enumerate(evidence, 1):
        for part, value in zip(("kind", "url", "sha256"), piece, strict=True):
            form.find_element(By.NAME, f"evidence-{row}-{part}").send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_a_partner_claims_with_evidence_and_the_manager_approves_part_of_it(
    browser: WebDriver, portal: Portal
) -> None:
    campaign = f"Claimed roadshow {portal.deal_id}"
    ended = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    files = f"https://files.example.com/{portal.deal_id}"
    invoice = ("invoice", f"{files}/venue.pdf", hashlib.sha256(files.encode()).hexdigest())
    photo = ("photo", f"{files}/booth.jpg", hashlib.sha256(invoice[2].encode()).hexdigest())

    sign_in(browser, portal, portal.people["a"], "/mdf")
    browser.find_element(By.ID, "campaign").send_keys(campaign)
    browser.find_element(By.ID, "amount").send_keys("2000.00")
    browser.find_element(By.ID, "request-mdf").click()
    notice_says(browser, "MDF request sent")
    browser.delete_all_cookies()
    sign_in(browser, portal, portal.people["manager"], "/mdf")
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#mdf-requests tbody tr")
        if campaign in r.text
    )
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    notice_says(browser, "MDF request approved.")

    browser.delete_all_cookies()
    sign_in(browser, portal, portal.people["a"], "/mdf")
    assert "No claim yet." in claims_of(browser, campaign).text
    fill_claim(browser, campaign, "2000.01", ended, invoice)
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "problem")))
    refused = claims_of(browser, campaign)
    assert "Amount: over the approved amount" in refused.find_element(By.ID, "problem").text
    assert refused.find_element(By.NAME, "evidence-1-url").get_attribute("value") == invoice[1]
    browser.get(f"{portal.url}/mdf")
    upper = (photo[0], photo[1], photo[2].upper())  # a digest in either case is the same
    fill_claim(browser, campaign, "1200.00", ended, invoice, upper)
    notice_says(browser, "Claim sent: a channel manager decides it.")
    claimed = claims_of(browser, campaign).text
    assert "1,200.00 USD" in claimed
    assert "submitted" in claimed
    shot(browser, "mdf-claimed")

    browser.delete_all_cookies()
    sign_in(browser, portal, portal.people["manager"], "/mdf/claims")
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#claims-waiting tbody tr")
        if portal.partner_a in r.text and "1,200.00 USD" in r.text
    )
    assert row.find_element(By.LINK_TEXT, "invoice").get_attribute("href") == invoice[1]
    assert row.find_element(By.LINK_TEXT, "photo").get_attribute("href") == photo[1]
    shot(browser, "mdf-claims-waiting")
    row.find_element(By.NAME, "approved_amount").send_keys("900.00")
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    notice_says(browser, "Claim approved")
    assert not any(
        portal.partner_a in r.text and "1,200.00 USD" in r.text
        for r in browser.find_elements(By.CSS_SELECTOR, "#claims-waiting tbody tr")
    ), "no longer waiting"

    browser.delete_all_cookies()
    sign_in(browser, portal, portal.people["a"], "/mdf")
    decided = claims_of(browser, campaign).text
    assert "approved" in decided
    assert "900.00 USD" in decided
    fill_claim(browser, campaign, "300.00", ended, invoice)
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.ID, "problem")))
    said = claims_of(browser, campaign).find_element(By.ID, "problem").text
    assert "Evidence 1, its SHA-256: this evidence was already used" in said
