"""``/feed.atom``: an Atom 1.0 feed of verdict changes, incidents and planned maintenance
(announced, started, completed: SPEC §7, §9).

Pure: entries come from the history (``HistoryReader.feed_entries``), newest first, with ids
derived from what they describe, so a feed reader sees each change once even across restarts.
The XML is built with ElementTree, which escapes every text and attribute; characters XML 1.0
cannot carry at all are removed first.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from statusd import i18n
from statusd.history.entries import FEED_LIMIT, FEED_NAMESPACE, FeedEntry
from statusd.verdicts.cells import COUNTRY_PRODUCTS, VERDICT_LABELS, cell_name
from statusd.verdicts.statuspage import iso_utc

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (control characters, surrogates)."""
    return _NOT_XML.sub("", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = xml_safe(text)
    return element


def _cell(entry: FeedEntry, lang: str) -> dict[str, str]:
    """The words of a verdict entry: product, cell name and verdicts in ``lang``."""
    product = i18n.text(lang, f"feed.product.{entry.product}")
    if entry.product in COUNTRY_PRODUCTS:
        name = country_label(entry.key, lang)
    elif entry.product == "billing":
        name = i18n.text(lang, f"feed.function.{entry.key}")
    else:
        name = product
    return {"product": product, "name": name, "key": entry.key}


def _verdict(verdict: str, lang: str) -> str:
    return i18n.text(lang, f"feed.verdict.{verdict}") if verdict in VERDICT_LABELS else verdict


def country_label(code: str, lang: str) -> str:
    """A country's name: the ISO short name statusd uses in English (``Russian
    Federation``), CLDR's through Babel in another language (``Россия``)."""
    if lang == i18n.DEFAULT_LANGUAGE:
        return cell_name("sms", code)
    return i18n.country_name(lang, code)


def entry_title(entry: FeedEntry, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """A one-line title: ``SMS Germany: degraded performance`` / ``Incident resolved: …``."""
    if entry.kind in ("incident", "maintenance"):
        return i18n.text(lang, f"feed.{entry.kind}.title.{entry.status}", topic=entry.topic)
    words = _cell(entry, lang)
    verdict = _verdict(entry.verdict, lang)
    if words["name"] == words["product"]:  # "Support", not "Support Support"
        return i18n.text(lang, "feed.product.title", product=words["product"], verdict=verdict)
    return i18n.text(lang, "feed.cell.title", verdict=verdict, **words)


def entry_summary(entry: FeedEntry, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """One sentence saying what changed and since when."""
    since = iso_utc(entry.at)
    if entry.kind in ("incident", "maintenance"):
        key = f"feed.{entry.kind}.summary.{entry.status}"
        return i18n.text(lang, key, topic=entry.topic, since=since, detail=entry.detail)
    fields = {**_cell(entry, lang), "verdict": _verdict(entry.verdict, lang), "since": since}
    if entry.previous:
        previous = _verdict(entry.previous, lang)
        return i18n.text(lang, "feed.cell.summary_was", previous=previous, **fields)
    return i18n.text(lang, "feed.cell.summary", **fields)


def feed_id(base_url: str, filters: Mapping[str, str]) -> str:
    """The feed's own stable id, one per base URL and filter set."""
    key = "&".join(f"{name}={value}" for name, value in sorted(filters.items()))
    return "urn:uuid:" + str(uuid.uuid5(FEED_NAMESPACE, f"feed|{base_url}|{key}"))


def atom_feed(
    entries: Sequence[FeedEntry],
    *,
    base_url: str,
    filters: Mapping[str, str],
    now: float,
    title: str = "statusd",
    lang: str = i18n.DEFAULT_LANGUAGE,
) -> bytes:
    """The Atom document (UTF-8 bytes): at most 100 entries, newest first, worded in
    ``lang`` (SPEC §10: ``?lang=``; the XML is the same in every language).

    ``base_url`` is where the page is served (``http://127.0.0.1:8080``); ``now`` dates an
    empty feed.
    """
    lang = i18n.language(lang)
    base_url = base_url.rstrip("/")
    ordered = sorted(entries, key=lambda e: (-e.at, e.id))[:FEED_LIMIT]
    feed = ET.Element("feed", {"xmlns": ATOM})
    scope = []
    if "product" in filters:
        scope.append(i18n.text(lang, f"feed.product.{filters['product']}"))
    if "country" in filters:
        scope.append(country_label(filters["country"], lang))
    key = "feed.title_scoped" if scope else "feed.title"
    _sub(feed, "title", i18n.text(lang, key, page=title, scope=", ".join(scope)))
    _sub(feed, "id", feed_id(base_url, filters))
    _sub(feed, "updated", iso_utc(ordered[0].at if ordered else now))
    asked = {**filters, "lang": lang} if lang != i18n.DEFAULT_LANGUAGE else filters
    query = urlencode(sorted(asked.items()))
    _sub(
        feed,
        "link",
        rel="self",
        type="application/atom+xml",
        href=f"{base_url}/feed.atom" + (f"?{query}" if query else ""),
    )
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base_url}/")
    author = _sub(feed, "author")
    _sub(author, "name", title)
    _sub(feed, "generator", "statusd")
    for entry in ordered:
        item = _sub(feed, "entry")
        _sub(item, "id", entry.id)
        _sub(item, "title", entry_title(entry, lang))
        _sub(item, "updated", iso_utc(entry.at))
        _sub(item, "published", iso_utc(entry.at))
        if entry.kind == "incident":
            anchor = "incidents"
            _sub(item, "category", term="incident")
        elif entry.kind == "maintenance":
            anchor = f"maintenance-{entry.key}"
            _sub(item, "category", term="maintenance")
        else:
            anchor = f"{entry.product}-{entry.key}"
            label = i18n.text(lang, f"feed.product.{entry.product}")
            _sub(item, "category", term=entry.product, label=label)
        _sub(item, "link", rel="alternate", type="text/html", href=f"{base_url}/#{anchor}")
        _sub(item, "summary", entry_summary(entry, lang), type="text")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
