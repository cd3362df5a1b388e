"""Feedback to the product, pure (docs/rules/enablement.md, "Feedback to the product"):
the words of a comment, the period of a label, each product line's figures, and the
product teams' CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.enablement.domain import (
    STOP_WORDS,
    Feedback,
    FeedbackFigures,
    feedback_figures,
    feedback_summary,
    feedback_words,
    in_period,
    period_span,
    selected_feedback,
    top_words,
)
from services.enablement.publishing import feedback_event
from services.enablement.views import FEEDBACK_CSV_COLUMNS, csv_cell, feedback_csv
from shared.events import Actor, ActorKind

T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TOKYO = timezone(timedelta(hours=9))


def item(
    feedback_id: str,
    rating: int,
    text: str = "",
    product_line: str | None = None,
    at: datetime = T0,
    partner_id: str = "P-1",
    topic: str = "product",
) -> Feedback:
    return Feedback(feedback_id, partner_id, rating, topic, text, at, product_line)


# --------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("サポートが遅い。マニュアルも古い！", ["サポート", "遅", "マニュアル", "古"]),
        # okurigana and what follows a kanji go; 思 (思う) is a stop word
        ("使いにくいです。ダウンロードが遅いと思います。", ["使", "ダウンロード", "遅"]),
        # ー and 々 stay in their run; full-width Latin is folded to ASCII
        ("すごーい！人々は「ＡＰＩ連携」が欲しい…", ["すごーい", "人々", "api", "連携", "欲"]),
        # half-width katakana is normalized; ・ and CJK brackets separate
        ("ｻﾎﾟｰﾄ・デスク（窓口）、『速い』", ["サポート", "デスク", "窓口", "速"]),
        ("請求書のＰＤＦがダウンロードできない", ["請求書", "pdf", "ダウンロード", "できない"]),
        ("よろしくお願いします。ありがとうございます", []),
    ],
)
def test_japanese_is_split_into_runs_of_one_script(text: str, words: list[str]) -> None:
    assert feedback_words(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "The portal is SLOW, the portal's search is slow — really slow!!",
            ["portal", "slow", "portal", "search", "slow", "slow"],
        ),
        ("e-mail “quotes” don't ‘work’", ["mail", "quotes", "work"]),
        ("It is what it is.", []),
        (
            "L'équipe support était très réactive ; « merci » !",
            ["équipe", "support", "réactive", "merci"],
        ),
        ("Die Größe ist nicht gut, aber die Straße…", ["grösse", "gut", "strasse"]),
        ("¡La documentación es muy útil, pero el precio no!", ["documentación", "útil", "precio"]),
        ("", []),
    ],
)
def test_latin_text_is_case_folded_and_stop_words_dropped(text: str, words: list[str]) -> None:
    assert feedback_words(text) == words


def test_numbers_and_single_letters_are_not_words() -> None:
    text = "2026年の3回目、v2 は OK; 1,000 users x 3 — ٣ a ア"
    assert feedback_words(text) == ["年", "回目", "v2", "ok", "users"]


SEPARATORS = [
    *" \t\n\r\u00a0\u3000",  # white space, the ideographic space
    *",.;:!?/\\()[]{}<>\"'`*&#%=+_|~^@$",  # ASCII punctuation and symbols
    *"“”‘’«»„‚‹›–—―‐…·•¿¡§",  # typographic quotes, dashes and the like
    *"、。，．！？：；「」『』（）［］【】〈〉《》〔〕・…〜～",  # CJK punctuation
    "👍",
]


@pytest.mark.parametrize("separator", SEPARATORS, ids=[f"U+{ord(c):04X}" for c in SEPARATORS])
def test_punctuation_of_any_language_separates_words(separator: str) -> None:
    assert feedback_words(f"alpha{separator}beta{separator}") == ["alpha", "beta"]


def test_the_stop_words_are_in_their_folded_form() -> None:
    assert {
        "the",
        "don",
        "und",
        "dass",
        "über",
        "très",
        "también",
        "です",
        "ください",
    } <= STOP_WORDS
    assert all(word == word.casefold() for word in STOP_WORDS)


def test_a_word_counts_once_per_comment_by_count_then_word() -> None:
    comments = ["slow slow slow", "Slow portal", "portal", "Zebra", "apple"]
    assert top_words(comments) == [("portal", 2), ("slow", 2), ("apple", 1), ("zebra", 1)]
    assert top_words(comments, limit=1) == [("portal", 2)]
    assert top_words(["サポートが遅い。サポートが古い。", "サポート"]) == [
        ("サポート", 2),
        ("古", 1),
        ("遅", 1),
    ]


# --------------------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("label", "since", "until"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-Q1", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ("2026-Q4", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-11", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("9999-Q4", datetime(9999, 10, 1, tzinfo=UTC), datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_a_period_is_its_instants_in_utc(label: str, since: datetime, until: datetime) -> None:
    assert period_span(label) == (since, until)


@pytest.mark.parametrize("label", ["2026-Q5", "2026-13", "26", "2026-1", "0999", "", "2026\n"])
def test_a_period_label_is_checked(label: str) -> None:
    with pytest.raises(ValueError, match="a period is"):
        period_span(label)


def test_an_instant_is_in_the_period_of_its_utc_day() -> None:
    last_of_q3 = datetime(2026, 10, 1, 8, 59, 59, 999999, tzinfo=TOKYO)  # 23:59:59.999999Z
    assert in_period(last_of_q3, "2026-Q3")
    assert not in_period(last_of_q3, "2026-Q4")
    assert in_period(datetime(2026, 10, 1, tzinfo=UTC), "2026-Q4")
    assert not in_period(datetime(2027, 1, 1, tzinfo=UTC), "2026-Q4")
    assert in_period(datetime(1999, 1, 1, tzinfo=UTC), None), "no period: all time"


# --------------------------------------------------------------------------- figures


def test_a_product_line_s_figures() -> None:
    found = [
        item("F-1", 5, "Great dashboards", "cloud"),
        item("F-2", 4, "Dashboards are slow", "cloud"),
        item("F-3", 4, "slow, slow export", "cloud"),
        item("F-4", 2, "", "cloud"),
    ]
    assert feedback_figures("cloud", found) == FeedbackFigures(
        product_line="cloud",
        count=4,
        ratings=(0, 1, 0, 2, 1),
        average_rating=Decimal("3.75"),
        top_words=[("dashboards", 2), ("slow", 2), ("export", 1), ("great", 1)],
    )
    assert feedback_figures("none", []) == FeedbackFigures("none", 0, (0, 0, 0, 0, 0), None, [])


@pytest.mark.parametrize(
    ("ratings", "average"),
    [
        ([1, 2, 2], "1.67"),
        ([4, 5], "4.50"),
        ([5], "5.00"),
        ([4, 4, 4, 4, 4, 3, 3, 3], "3.63"),  # 3.625: half up
        ([1, 1, 1, 1, 1, 1, 1, 2], "1.13"),  # 1.125: half up
    ],
)
def test_the_average_has_two_decimals_rounded_half_up(ratings: list[int], average: str) -> None:
    figures = feedback_figures(None, [item(f"F-{i}", r) for i, r in enumerate(ratings)])
    assert str(figures.average_rating) == average
    assert sum(figures.ratings) == figures.count == len(ratings)


def test_the_summary_groups_by_product_line_with_none_last() -> None:
    found = [
        item("F-1", 3, "", None),
        item("F-2", 5, "", "security"),
        item("F-3", 1, "", "cloud"),
        item("F-4", 2, "", "cloud"),
    ]
    summary = feedback_summary(found, None, None)
    assert [(f.product_line, f.count, f.average_rating) for f in summary] == [
        ("cloud", 2, Decimal("1.50")),
        ("security", 1, Decimal("5.00")),
        (None, 1, Decimal("3.00")),
    ]
    (asked,) = feedback_summary(found, None, "cloud")
    assert (asked.product_line, asked.count) == ("cloud", 2)
    (unknown,) = feedback_summary(found, None, "storage")
    assert unknown == FeedbackFigures("storage", 0, (0, 0, 0, 0, 0), None, [])
    assert feedback_summary([], None, None) == []


def test_the_summary_reads_the_period_of_submitted_at_in_utc() -> None:
    found = [
        item("F-q3", 1, "late", "cloud", at=datetime(2026, 10, 1, 8, 59, 59, tzinfo=TOKYO)),
        item("F-q4a", 4, "first", "cloud", at=datetime(2026, 10, 1, tzinfo=UTC)),
        item(
            "F-q4b", 5, "last", "cloud", at=datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        ),
        item("F-2027", 2, "next", "cloud", at=datetime(2027, 1, 1, tzinfo=UTC)),
    ]
    (q4,) = feedback_summary(found, "2026-Q4", None)
    assert (q4.count, q4.ratings, q4.top_words) == (2, (0, 0, 0, 1, 1), [("first", 1), ("last", 1)])
    (year,) = feedback_summary(found, "2026", None)
    assert year.count == 3
    assert [f.feedback_id for f in selected_feedback(reversed(found), "2026-12", None)] == ["F-q4b"]
    assert [f.feedback_id for f in selected_feedback(reversed(found), None, "cloud")] == [
        "F-q3",
        "F-q4a",
        "F-q4b",
        "F-2027",
    ], "by submitted_at"


# --------------------------------------------------------------------------- the item and its event


def test_a_product_line_is_not_blank_and_goes_into_the_event() -> None:
    with pytest.raises(ValueError, match="product_line"):
        item("F-1", 4, product_line=" ")
    actor = Actor(kind=ActorKind.PERSON, id="pat")
    named = json.loads(feedback_event(item("F-1", 4, product_line="cloud"), actor).to_bytes())
    assert named["data"]["product_line"] == "cloud"
    unnamed = json.loads(feedback_event(item("F-1", 4), actor).to_bytes())
    assert "product_line" not in unnamed["data"], "left out of the JSON when it names none"


# --------------------------------------------------------------------------- the CSV export


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("fine = good", "fine = good"),
        (" =1", " =1"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_quote_first(value: str, cell: str) -> None:
    assert csv_cell(value) == cell


def test_the_export_is_one_row_per_item_crlf_and_formula_safe() -> None:
    at = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    found = [
        item("F-1", 4, 'Slow, "very" slow\nsecond line', "cloud", at=at),
        item("F-2", 1, "=cmd|' /C calc'!A0", None, at=at, partner_id="-P-2", topic="@support"),
        item("F-3", 5, "サポートが速い", "セキュリティ", at=at),
    ]
    text = feedback_csv(found)
    assert text.startswith(",".join(FEEDBACK_CSV_COLUMNS) + "\r\n")
    assert text.endswith("\r\n")
    assert text.count("\r\n") == 4, "a header and three rows (the newline in a cell is quoted)"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [
        list(FEEDBACK_CSV_COLUMNS),
        ["F-1", "P-1", "cloud", "product", "4", at.isoformat(), 'Slow, "very" slow\nsecond line'],
        ["F-2", "'-P-2", "", "'@support", "1", at.isoformat(), "'=cmd|' /C calc'!A0"],
        ["F-3", "P-1", "セキュリティ", "product", "5", at.isoformat(), "サポートが速い"],
    ]
    assert feedback_csv([]) == ",".join(FEEDBACK_CSV_COLUMNS) + "\r\n"
