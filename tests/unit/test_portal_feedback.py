"""The portal's feedback pages on a fake of the services (tests/support/portal.py): the
form with its product line, and the product teams' summary and CSV export, each asked
of enablement with the person's own token."""

from __future__ import annotations

from html import unescape

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from services.portal.pages.home import current_quarter
from tests.support.portal import (
    FakeServices,
    assert_hardened,
    feedback_summary,
    form_of,
)

PAT = "Bearer access-token-of-pat"
MARIA = "Bearer access-token-of-maria"
CSV = "feedback_id,partner_id,product_line,topic,rating,submitted_at,text\r\nF-1,P-1,cloud,product,4,2026-11-10T12:00:00+00:00,'=1+1\r\n"
CSV_HEADERS = {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": 'attachment; filename="feedback-2026-Q4.csv"',
}


class ServicesWithCsv(FakeServices):
    """The fake services, answering a text body where told (:meth:`on_text`)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[tuple[str, str], tuple[int, str, dict[str, str]]] = {}

    def on_text(
        self, service: str, path: str, text: str, headers: dict[str, str], status: int = 200
    ) -> None:
        self.on("GET", service, path, None, status)
        self.texts[(service, path)] = (status, text, headers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        answer = super().handle(request)
        found = self.texts.get((self.calls[-1].service, self.calls[-1].path))
        if found is None:
            return answer
        status, text, headers = found
        return httpx.Response(status, content=text.encode(), headers=headers)


@pytest.fixture
def services() -> ServicesWithCsv:
    return ServicesWithCsv()


FEEDBACK_ANSWER = {
    "feedback_id": "F-1",
    "partner_id": "P-A",
    "rating": 2,
    "topic": "product",
    "text": "slow",
    "submitted_at": "2026-11-10T12:00:00+00:00",
    "product_line": "cloud",
    "event_id": "E-1",
}


# --------------------------------------------------------------------------- the form


def test_a_partner_names_the_product_line_of_its_feedback(
    as_pat: TestClient, services: FakeServices
) -> None:
    services.on("POST", "enablement", "/feedback", FEEDBACK_ANSWER, status=201)
    form = form_of(as_pat, "/feedback/new")
    page = as_pat.get("/feedback/new").text
    assert 'name="product_line"' in page
    assert "For the product teams" not in page, "the summary is staff's"
    typed = {"topic": "product", "rating": "2", "text": " slow ", "product_line": " cloud "}
    answer = as_pat.post("/feedback", data={**form, **typed})
    assert answer.status_code == 200
    assert_hardened(answer)
    assert "Thank you" in answer.text
    [sent] = services.calls
    assert (sent.method, sent.service, sent.path, sent.authorization) == (
        "POST",
        "enablement",
        "/feedback",
        PAT,
    )
    assert sent.body == {"topic": "product", "rating": 2, "text": "slow", "product_line": "cloud"}
    assert sent.idempotency_key == form["submission"]


def test_feedback_without_a_product_line_sends_none(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("POST", "enablement", "/feedback", FEEDBACK_ANSWER, status=201)
    form = form_of(as_maria, "/feedback/new")
    typed = {"topic": "support", "rating": "5", "text": "", "product_line": "  "}
    as_maria.post("/feedback", data={**form, **typed, "partner_id": "P-B"})
    assert services.calls[-1].body == {
        "topic": "support",
        "rating": 5,
        "text": "",
        "partner_id": "P-B",
    }
    assert 'href="/feedback/summary"' in as_maria.get("/feedback/new").text


def test_a_refused_product_line_is_shown_with_what_was_typed(
    as_pat: TestClient, services: FakeServices
) -> None:
    refusal = {
        "detail": [
            {
                "type": "string_too_long",
                "loc": ["body", "product_line"],
                "msg": "String should have at most 200 characters",
            }
        ]
    }
    services.on("POST", "enablement", "/feedback", refusal, status=422)
    form = form_of(as_pat, "/feedback/new")
    typed = {"topic": "product", "rating": "3", "product_line": "c<l>oud"}
    answer = as_pat.post("/feedback", data={**form, **typed})
    assert answer.status_code == 422
    assert "product_line: String should have at most 200 characters" in answer.text
    assert 'value="c&lt;l&gt;oud"' in answer.text


# --------------------------------------------------------------------------- the summary


def test_the_summary_is_this_quarter_by_product_line(
    as_maria: TestClient, services: FakeServices
) -> None:
    quarter = current_quarter()
    services.on("GET", "enablement", "/feedback/summary", feedback_summary(quarter))
    answer = as_maria.get("/feedback/summary")
    assert answer.status_code == 200
    assert_hardened(answer)
    [asked] = services.calls
    assert (asked.service, asked.path, asked.authorization) == (
        "enablement",
        "/feedback/summary",
        MARIA,
    )
    assert asked.params == {"period": quarter}, "this quarter; every product line"
    page = unescape(answer.text)
    assert f"4 feedback items in {quarter}" in page
    rows = page.split('<table id="feedback-summary">')[1].split("<tr>")[2:]
    assert "cloud" in rows[0]
    assert ">3.67<" in rows[0]
    assert "portal (2), <slow> (1)" in rows[0], "words shown as text"
    assert "&lt;slow&gt;" in answer.text, "escaped"
    assert "<em>(none)</em>" in rows[1]
    assert "サポート (1)" in rows[1]
    assert f'href="/feedback/export.csv?period={quarter}&amp;product_line="' in answer.text


def test_the_summary_of_a_period_and_a_product_line_or_all_time(
    as_maria: TestClient, services: FakeServices
) -> None:
    services.on("GET", "enablement", "/feedback/summary", feedback_summary("2026-11", "storage"))
    page = as_maria.get(
        "/feedback/summary", params={"period": "2026-11", "product_line": "storage"}
    )
    assert services.calls[-1].params == {"period": "2026-11", "product_line": "storage"}
    assert "0 feedback items in 2026-11 about storage" in page.text
    assert 'href="/feedback/export.csv?period=2026-11&amp;product_line=storage"' in page.text

    services.on("GET", "enablement", "/feedback/summary", feedback_summary(None))
    everything = as_maria.get("/feedback/summary", params={"period": "", "product_line": ""})
    assert services.calls[-1].params == {}, "an empty period: all time"
    assert "4 feedback items of all time" in everything.text


def test_a_period_enablement_refuses_is_said_on_the_page(
    as_maria: TestClient, services: FakeServices
) -> None:
    refusal = {
        "detail": [
            {
                "type": "string_pattern_mismatch",
                "loc": ["query", "period"],
                "msg": "String should match pattern",
            }
        ]
    }
    services.on("GET", "enablement", "/feedback/summary", refusal, status=422)
    answer = as_maria.get("/feedback/summary", params={"period": "2026-Q5"})
    assert answer.status_code == 422
    assert "period: String should match pattern" in answer.text
    assert 'value="2026-Q5"' in answer.text
    assert 'id="feedback-summary"' not in answer.text


@pytest.mark.parametrize("page", ["/feedback/summary", "/feedback/export.csv"])
def test_the_product_teams_pages_are_for_staff(
    as_pat: TestClient, services: FakeServices, page: str
) -> None:
    answer = as_pat.get(page)
    assert answer.status_code == 403
    assert services.calls == []


# --------------------------------------------------------------------------- the export


def test_the_export_is_enablements_csv_asked_as_the_person(
    as_maria: TestClient, services: ServicesWithCsv
) -> None:
    services.on_text("enablement", "/feedback/export.csv", CSV, CSV_HEADERS)
    answer = as_maria.get("/feedback/export.csv", params={"period": "2026-Q4"})
    assert answer.status_code == 200
    assert_hardened(answer)
    assert answer.content == CSV.encode()
    assert answer.headers["content-type"] == CSV_HEADERS["content-type"]
    assert answer.headers["content-disposition"] == CSV_HEADERS["content-disposition"]
    [asked] = services.calls
    assert (asked.service, asked.path, asked.authorization) == (
        "enablement",
        "/feedback/export.csv",
        MARIA,
    )
    assert asked.params == {"period": "2026-Q4"}
    as_maria.get("/feedback/export.csv", params={"period": "", "product_line": "cloud"})
    assert services.calls[-1].params == {"product_line": "cloud"}


def test_an_export_enablement_refuses_is_the_portals_error_page(
    as_maria: TestClient, services: ServicesWithCsv
) -> None:
    services.on("GET", "enablement", "/feedback/export.csv", {"detail": "not for you"}, 403)
    answer = as_maria.get("/feedback/export.csv")
    assert answer.status_code == 403
    assert "not for you" in answer.text
    services.down.add("enablement")
    unreachable = as_maria.get("/feedback/export.csv")
    assert unreachable.status_code == 503
    assert "the enablement service cannot be reached" in unreachable.text
