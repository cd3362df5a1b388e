"""Notifications in the browser (docs/portal.md, "Webhooks", "Email notifications",
"Unsubscribing"): a channel manager subscribes a receiver and sees a delivery made to
it, signed with the secret the page showed once; a partner user chooses which emails
to receive, and an unsubscribe link works without signing in."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from services.notifications.domain import NoticeKind, unsubscribe_token
from shared.settings import Settings
from tests.browser.conftest import NOTIFICATIONS_SECRET, Portal, close_a_deal
from tests.browser.test_portal import notice_says, on_page, shot, sign_in, text
from tests.integration.test_notifications import Receiver, serving


def test_the_manager_subscribes_a_receiver_and_sees_the_delivery_it_acknowledged(
    browser: WebDriver, portal: Portal, settings: Settings
) -> None:
    receiver = Receiver()
    with serving(receiver) as url:
        sign_in(browser, portal, portal.people["manager"], "/webhooks")
        on_page(browser, "url").send_keys(url)
        Select(on_page(browser, "event_types")).select_by_value("DealClosed")
        on_page(browser, "partner_id").send_keys(portal.partner_a)
        on_page(browser, "add-webhook").click()
        secret = arrived(browser, "webhook-secret").text
        assert secret.startswith("whsec_")
        assert "not shown again" in on_page(browser, "secret-note").text
        shot(browser, "webhook-created")
        receiver.secret = secret

        deal_id = f"{portal.deal_id}-hook"
        asyncio.run(close_a_deal(settings, portal.partner_a, deal_id))
        browser.get(f"{portal.url}/webhooks")
        link = on_page(browser, "webhooks").find_element(By.PARTIAL_LINK_TEXT, "WH-")
        link.click()
        wait_for_status(browser, "delivered")
        shot(browser, "webhook-deliveries")
        assert [e["data"]["deal_id"] for e in receiver.acknowledged] == [deal_id]
        assert receiver.bad_signatures == 0

        webhook_id = browser.current_url.split("?")[0].rstrip("/").rsplit("/", 1)[1]
        on_page(browser, f"pause-{webhook_id}").find_element(By.TAG_NAME, "button").click()
        notice_says(browser, "paused")
        assert on_page(browser, "webhook-status").text == "paused"


def arrived(browser: WebDriver, element_id: str) -> WebElement:
    """The element ``element_id`` of the page a form led to, once that page is there."""
    wait = WebDriverWait(
        browser, 20, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    )
    try:
        return wait.until(seen.presence_of_element_located((By.ID, element_id)))
    except TimeoutException:
        raise AssertionError(
            f"no #{element_id} on {browser.current_url}: {text(browser)[:2000]}"
        ) from None


def wait_for_status(browser: WebDriver, wanted: str, seconds: float = 60) -> None:
    """Reload until a delivery of the page shows ``wanted`` as its status (the status
    filter names every status, so the page's text alone says nothing)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            cells = browser.find_elements(By.CSS_SELECTOR, "#deliveries td.status")
            if any(cell.text.split("\n")[0] == wanted for cell in cells):
                return
        except StaleElementReferenceException:  # read while the page was being replaced
            pass
        assert time.monotonic() < deadline, (
            f"no delivery {wanted} within {seconds} s: {text(browser)}"
        )
        time.sleep(0.5)
        browser.refresh()


def test_a_partner_user_chooses_their_email_and_unsubscribes_from_a_link(
    browser: WebDriver, portal: Portal
) -> None:
    person = portal.people["a"]
    sign_in(browser, portal, person, "/notifications")
    address = f"{person.username}@partnerhub.invalid"
    assert address in on_page(browser, "address").text
    payouts = on_page(browser, f"kind-{NoticeKind.PAYOUT_SETTLED.value}")
    assert payouts.is_selected()
    assert not browser.find_elements(By.ID, f"kind-{NoticeKind.APPLICATION_WAITING.value}")
    payouts.click()
    on_page(browser, "save-preferences").click()
    notice_says(browser, "Saved")
    assert not on_page(browser, f"kind-{NoticeKind.PAYOUT_SETTLED.value}").is_selected()

    kind = NoticeKind.REGISTRATION_DECIDED
    query = urlencode(
        {
            "address": address,
            "kind": kind.value,
            "token": unsubscribe_token(NOTIFICATIONS_SECRET, address, kind),
        }
    )
    browser.delete_all_cookies()  # the link works without signing in
    browser.get(f"{portal.url}/unsubscribe?{query}")
    assert address in on_page(browser, "question").text
    on_page(browser, "unsubscribe").click()
    notice_says(browser, "no longer receive")
    shot(browser, "unsubscribed")

    sign_in(browser, portal, person, "/notifications")
    assert not on_page(browser, f"kind-{kind.value}").is_selected()
    assert not on_page(browser, f"kind-{NoticeKind.PAYOUT_SETTLED.value}").is_selected()
    assert on_page(browser, f"kind-{NoticeKind.MDF_CLAIM_DECIDED.value}").is_selected()
    assert "Email" in text(browser)
