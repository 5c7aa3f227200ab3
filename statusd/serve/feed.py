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

from statusd.history.entries import FEED_LIMIT, FEED_NAMESPACE, FeedEntry
from statusd.verdicts.cells import PRODUCT_NAMES, VERDICT_LABELS, cell_name
from statusd.verdicts.statuspage import iso_utc

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"

MAINTENANCE_WORDS = {"scheduled": "announced", "started": "started", "completed": "completed"}
"""A maintenance event's kind in words."""

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (control characters, surrogates)."""
    return _NOT_XML.sub("", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = xml_safe(text)
    return element


def entry_title(entry: FeedEntry) -> str:
    """A one-line title: ``SMS Germany: degraded performance`` / ``Incident resolved: …``."""
    if entry.kind == "incident":
        return f"Incident {entry.status}: {entry.topic}"
    if entry.kind == "maintenance":
        return f"Maintenance {MAINTENANCE_WORDS.get(entry.status, entry.status)}: {entry.topic}"
    product = PRODUCT_NAMES.get(entry.product, entry.product)
    name = cell_name(entry.product, entry.key)
    label = product if name == product else f"{product} {name}"  # "Support", not "Support Support"
    return f"{label}: {VERDICT_LABELS.get(entry.verdict, entry.verdict)}"


def entry_summary(entry: FeedEntry) -> str:
    """One sentence saying what changed and since when."""
    since = iso_utc(entry.at)
    if entry.kind == "incident":
        state = "active" if entry.status == "investigating" else "closed"
        return f"The incident source reports “{entry.topic}” as {state} since {since}."
    if entry.kind == "maintenance":
        words = MAINTENANCE_WORDS.get(entry.status, entry.status)
        return f"Planned maintenance “{entry.topic}” {words} at {since}: {entry.detail}."
    product = PRODUCT_NAMES.get(entry.product, entry.product)
    name = cell_name(entry.product, entry.key)
    verdict = VERDICT_LABELS.get(entry.verdict, entry.verdict)
    text = f"{product} {name} ({entry.key}) is {verdict} since {since}"
    if entry.previous:
        text += f" (was {VERDICT_LABELS.get(entry.previous, entry.previous)})"
    return text + "."


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
) -> bytes:
    """The Atom document (UTF-8 bytes): at most 100 entries, newest first.

    ``base_url`` is where the page is served (``http://127.0.0.1:8080``); ``now`` dates an
    empty feed.
    """
    base_url = base_url.rstrip("/")
    ordered = sorted(entries, key=lambda e: (-e.at, e.id))[:FEED_LIMIT]
    feed = ET.Element("feed", {"xmlns": ATOM})
    scope = []
    if "product" in filters:
        scope.append(PRODUCT_NAMES[filters["product"]])
    if "country" in filters:
        scope.append(cell_name("sms", filters["country"]))
    _sub(feed, "title", f"{title}: status changes" + (f" ({', '.join(scope)})" if scope else ""))
    _sub(feed, "id", feed_id(base_url, filters))
    _sub(feed, "updated", iso_utc(ordered[0].at if ordered else now))
    query = urlencode(sorted(filters.items()))
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
        _sub(item, "title", entry_title(entry))
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
            _sub(item, "category", term=entry.product, label=PRODUCT_NAMES[entry.product])
        _sub(item, "link", rel="alternate", type="text/html", href=f"{base_url}/#{anchor}")
        _sub(item, "summary", entry_summary(entry), type="text")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
