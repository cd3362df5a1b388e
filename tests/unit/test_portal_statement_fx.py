"""Deals in another currency on the portal's statement (docs/portal.md, "The statement"):
a converted line shows its converted amount and, under it, its own amount with its
currency and the rate; a line waiting for an exchange rate says so in words and shows its
amount in the deal's own currency; every amount carries its currency."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient

from services.portal.views import converted, line_status
from tests.support.portal import (
    FakeServices,
    assert_hardened,
    inquiries,
    money_without,
    partner_360,
    statement,
    statement_line,
)

STATEMENT = "/partners/P-A/statements/2026-Q2"
#: A converted deal whose id needs escaping.
CONVERTED_DEAL = "D-<9>&"


def lines() -> list[dict[str, Any]]:
    """A deal in dollars, one converted from euros at 1.0860, one waiting for a rate."""
    return [
        statement_line("D-USD", status="commissionable"),
        statement_line(
            CONVERTED_DEAL,
            status="commissionable",
            amount="10860.00",
            base="1086.00",
            uplift="0.00",
            commission="1086.00",
            revision=2,
            original_amount="10000.00",
            original_currency="EUR",
            fx_rate="1.0860",
        ),
        statement_line(
            "D-WAIT",
            status="fx_pending",
            currency="EUR",
            amount="5000.00",
            base="0.00",
            uplift="0.00",
            commission="0.00",
        ),
    ]


def statement_of(services: FakeServices) -> None:
    """What P-A's 2026-Q2 statement page reads: a USD statement with those lines."""
    found = statement("P-A", "2026-Q2", "USD", lines())
    services.on("GET", "reporting", STATEMENT, found)
    services.on("GET", "reporting", "/partners/P-A", partner_360("P-A", "Alpha", "USD"))
    services.on("GET", "incentives", "/inquiries", inquiries())


def row(html: str, deal_id: str) -> str:
    """The statement's row of ``deal_id`` (as the page escapes it)."""
    start = html.index(f'<tr id="line-{deal_id}">')
    return html[start : html.index("</tr>", start)]


def cells(row_html: str) -> list[str]:
    """The text of each cell of a row, tags left out."""
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)
    ]


def test_a_converted_line_shows_its_own_amount_and_the_rate(
    as_pat: TestClient, services: FakeServices
) -> None:
    statement_of(services)
    answer = as_pat.get(STATEMENT)
    assert answer.status_code == 200, answer.text
    assert_hardened(answer)
    html = answer.text
    assert CONVERTED_DEAL not in html, "escaped"
    shown = row(html, "D-&lt;9&gt;&amp;")
    deal, _, status, amount, base, _, commission, *_ = cells(shown)
    assert (deal, status) == (CONVERTED_DEAL, "commissionable")
    assert amount == "10,860.00 USD 10,000.00 EUR at 1.0860 USD per EUR"
    assert '<small class="converted">10,000.00 EUR at 1.0860 USD per EUR</small>' in shown
    assert (base, commission) == ("1,086.00 USD", "1,086.00 USD")
    plain = row(html, "D-USD")
    assert 'class="converted"' not in plain, "a deal in the contract's currency has no rate"
    assert money_without(html, "USD", "EUR") == []


def test_a_line_waiting_for_a_rate_says_so_in_its_own_currency(
    as_pat: TestClient, services: FakeServices
) -> None:
    statement_of(services)
    html = as_pat.get(STATEMENT).text
    _, _, status, amount, base, uplift, commission, bonus, *_ = cells(row(html, "D-WAIT"))
    assert status == "waiting for an exchange rate"
    assert "fx_pending" not in status
    assert amount == "5,000.00 EUR", "the deal's own amount, in its own currency"
    assert (base, uplift, commission, bonus) == ("0.00 EUR", "0.00 EUR", "0.00 EUR", "0.00 EUR")
    assert "81,250.00 USD" in row(html, "D-USD"), "the other lines in the statement's"
    assert money_without(html, "USD", "EUR") == []


def test_asking_about_a_line_shows_it_in_its_own_currency(
    as_pat: TestClient, services: FakeServices
) -> None:
    statement_of(services)
    html = as_pat.get(f"{STATEMENT}/inquiries/new?deal_id=D-WAIT").text
    start = html.index('id="asked-line"')
    asked = unescape(html[start : html.index("</dl>", start)])
    assert "waiting for an exchange rate" in asked
    assert "5,000.00 EUR" in asked
    assert "USD" not in asked
    converted_page = as_pat.get(f"{STATEMENT}/inquiries/new", params={"deal_id": CONVERTED_DEAL})
    start = converted_page.text.index('id="asked-line"')
    asked = unescape(converted_page.text[start : converted_page.text.index("</dl>", start)])
    assert "10,860.00 USD (converted from 10,000.00 EUR at 1.0860 USD per EUR)" in asked


def test_the_words_for_a_status_and_a_conversion() -> None:
    assert line_status("fx_pending") == "waiting for an exchange rate"
    assert line_status("clawed_back") == "clawed back"
    assert line_status("currency_mismatch") == "not in the contract's currency"
    assert line_status("something_new") == "something new"
    line = {"original_amount": "10000", "original_currency": "EUR", "fx_rate": "1.0860"}
    assert converted(line, "USD") == "10,000.00 EUR at 1.0860 USD per EUR"
    assert converted(line, None) == "10,000.00 EUR at 1.0860 (currency unknown) per EUR"
    assert converted({"amount": "1.00"}, "USD") == ""
