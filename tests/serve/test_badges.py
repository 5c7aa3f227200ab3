"""SVG badges: well-formed, escaped text, colours per verdict, 404/400 for bad paths."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from statusd.serve.badges import (
    INDICATOR_COLOURS,
    VERDICT_COLOURS,
    badge_svg,
    cell_badge,
    overall_badge,
    text_width,
    verdict_badge,
)
from statusd.serve.query import QueryError
from statusd.sources.records import BillingRecord, SmsRecord, SupportTopic
from statusd.verdicts.rules import VerdictThresholds, compute_verdicts

SVG = "{http://www.w3.org/2000/svg}"


def texts(document: bytes) -> list[str]:
    root = ET.fromstring(document)
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def fills(document: bytes) -> list[str]:
    return [r.get("fill", "") for r in ET.fromstring(document).iter(f"{SVG}rect")]


def test_badge_is_well_formed_svg_with_its_text() -> None:
    """A badge parses as SVG and shows label and message."""
    document = badge_svg("SMS DE", "operational", "#2e7d32")
    assert document.startswith(b"<?xml")
    assert texts(document) == ["SMS DE", "operational"]
    root = ET.fromstring(document)
    assert int(root.get("width", "0")) > 0
    assert root.findtext(f"{SVG}title") == "SMS DE: operational"


def test_markup_characters_are_escaped() -> None:
    """<, &, > and quotes in text and attributes are escaped and read back unchanged."""
    label, message = '<b>"x" & y</b>', "a<b>&'c'"
    document = badge_svg(label, message, "#abc")
    assert b"<b>" not in document
    assert b"&lt;b&gt;" in document
    assert b"&amp;" in document
    assert b"&quot;" in document  # inside the aria-label attribute
    assert texts(document) == [label, message]
    assert ET.fromstring(document).get("aria-label") == f"{label}: {message}"


def test_control_characters_do_not_break_the_xml() -> None:
    """Characters XML cannot carry are removed instead of producing a broken document."""
    assert texts(badge_svg("a\x00b", "c\x1bd", "#000000")) == ["ab", "cd"]


@pytest.mark.parametrize("colour", ["red", "#12", "#1234567", '"/><script>', "#ggg"])
def test_colour_must_be_hex(colour: str) -> None:
    """Only #rgb / #rrggbb colours are accepted."""
    with pytest.raises(ValueError, match="colour"):
        badge_svg("a", "b", colour)


def test_width_follows_the_text() -> None:
    """Longer text gives a wider badge; wide letters count more than narrow ones."""
    assert text_width("mmmm") > text_width("iiii")
    short = ET.fromstring(badge_svg("a", "b", "#000"))
    long = ET.fromstring(badge_svg("a much longer label", "b", "#000"))
    assert int(long.get("width", "0")) > int(short.get("width", "0"))


@pytest.mark.parametrize(
    ("verdict", "words"),
    [
        ("operational", "operational"),
        ("degraded_performance", "degraded performance"),
        ("partial_outage", "partial outage"),
        ("major_outage", "major outage"),
        ("unknown", "unknown"),
    ],
)
def test_verdict_badges_use_the_verdict_colour(verdict: str, words: str) -> None:
    """Each verdict has its own words and colour."""
    document = verdict_badge("x", verdict)
    assert texts(document)[1] == words
    assert VERDICT_COLOURS[verdict] in fills(document)
    assert len(set(VERDICT_COLOURS.values())) == 6


VERDICTS = compute_verdicts(
    {
        "sms": [SmsRecord("DE", "50", "100", "Topolo")],
        "billing": [BillingRecord(True, True, False, True, True, True)],
        "support": [SupportTopic("a", 20)],
    },
    VerdictThresholds(),
)


def test_cell_badges() -> None:
    """Badges of a country cell, a billing function and support."""
    assert texts(cell_badge(VERDICTS, "sms", "de")) == ["SMS DE", "operational"]
    assert texts(cell_badge(VERDICTS, "billing", "payout")) == ["Billing payout", "major outage"]
    assert texts(cell_badge(VERDICTS, "support", None)) == ["Support", "partial outage"]


def test_overall_badge_has_the_indicator_colour() -> None:
    """The overall badge says the indicator's description on its colour."""
    document = overall_badge(VERDICTS)
    assert texts(document) == ["status", "partial system outage"]
    assert INDICATOR_COLOURS["major"] in fills(document)


@pytest.mark.parametrize(
    ("product", "key", "status"),
    [
        ("fax", "DE", 404),
        ("sms", "XX", 404),
        ("sms", "FR", 404),  # a real country without SMS rows: no such cell
        ("mms", "DE", 404),
        ("billing", "refund", 404),
        ("sms", "D!", 400),
        ("sms", None, 400),
    ],
)
def test_bad_badge_paths(product: str, key: str | None, status: int) -> None:
    """Unknown product, country, function or cell: 404; malformed: 400."""
    with pytest.raises(QueryError) as caught:
        cell_badge(VERDICTS, product, key)
    assert caught.value.status == status
