"""/feed.atom: valid Atom (feedparser, no bozo), newest first, stable ids, filters, escaping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest

from statusd.history.entries import FeedEntry
from statusd.history.reader import HistoryReader, read_feed
from statusd.history.store import HistoryStore
from statusd.serve.feed import atom_feed, xml_safe
from statusd.serve.query import QueryError, parse_feed_query
from statusd.verdicts.timeline import Incident

D0 = 1_764_028_800.0  # 2025-11-25T00:00:00Z
BASE = "http://127.0.0.1:8080"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[HistoryStore]:
    opened = HistoryStore.open(path, now=D0, max_gap=1e12)
    yield opened
    opened.close()


def parse(document: bytes) -> Any:
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def fill(store: HistoryStore) -> None:
    store.record_verdicts(
        D0,
        {
            "sms:DE": "operational",
            "mms:DE": "operational",
            "sms:RU": "operational",
            "billing:payout": "operational",
        },
    )
    store.record_verdicts(
        D0 + 60,
        {
            "sms:DE": "degraded_performance",
            "mms:DE": "operational",
            "sms:RU": "operational",
            "billing:payout": "operational",
        },
    )
    store.record_verdicts(
        D0 + 120,
        {
            "sms:DE": "degraded_performance",
            "mms:DE": "major_outage",
            "sms:RU": "operational",
            "billing:payout": "major_outage",
        },
    )
    store.record_incidents(
        [Incident("inc1", 'db <slow> & "odd"', "resolved", D0 + 30, D0 + 90, D0 + 90)]
    )


def test_feed_parses_without_bozo_newest_first(store: HistoryStore, path: Path) -> None:
    """feedparser reads the feed cleanly; entries are newest first with titles and links."""
    fill(store)
    entries = HistoryReader(path).feed_entries()
    feed = parse(atom_feed(entries, base_url=BASE, filters={}, now=D0 + 200))
    assert feed.version == "atom10"
    titles = [e.title for e in feed.entries]
    assert titles == [
        "Billing Payout: major outage",
        "MMS Germany: major outage",
        'Incident resolved: db <slow> & "odd"',
        "SMS Germany: degraded performance",
        'Incident investigating: db <slow> & "odd"',
    ]
    assert feed.feed.updated == "2025-11-25T00:02:00Z"
    assert feed.entries[3].summary == (
        "SMS Germany (DE) is degraded performance since 2025-11-25T00:01:00Z (was operational)."
    )
    assert feed.entries[3].link == f"{BASE}/#sms-DE"
    assert all(e.id.startswith("urn:uuid:") for e in feed.entries)
    assert len({e.id for e in feed.entries}) == 5


def test_entry_ids_are_stable_across_restarts(path: Path) -> None:
    """The same change has the same id after a restart; the restart itself adds no entries."""
    store = HistoryStore.open(path, now=D0, max_gap=1e12)
    fill(store)
    before = [
        e.id
        for e in parse(
            atom_feed(read_feed(store.connection), base_url=BASE, filters={}, now=D0)
        ).entries
    ]
    store.close()  # as after a crash: no mark_stopped
    store = HistoryStore.open(path, now=D0 + 3600)
    try:
        store.record_verdicts(
            D0 + 3700,
            {
                "sms:DE": "degraded_performance",
                "mms:DE": "major_outage",
                "sms:RU": "operational",
                "billing:payout": "major_outage",
            },
        )
        after = [
            e.id
            for e in parse(
                atom_feed(read_feed(store.connection), base_url=BASE, filters={}, now=D0)
            ).entries
        ]
    finally:
        store.close()
    assert after == before


def test_only_changes_between_known_verdicts_are_entries(store: HistoryStore) -> None:
    """First appearance operational: no entry; through unknown back to the same: no entry;
    through unknown to another verdict: one entry, naming the verdict before."""
    store.record_verdicts(D0, {"sms:DE": "operational", "sms:FR": "partial_outage"})
    store.record_verdicts(D0 + 10, {"sms:DE": "unknown", "sms:FR": "partial_outage"})
    store.record_verdicts(D0 + 20, {"sms:DE": "operational", "sms:FR": "partial_outage"})
    store.record_verdicts(D0 + 30, {"sms:DE": "unknown", "sms:FR": "partial_outage"})
    store.record_verdicts(D0 + 40, {"sms:DE": "degraded_performance", "sms:FR": "partial_outage"})
    entries = read_feed(store.connection)
    assert [(e.key, e.verdict, e.previous, e.at) for e in entries] == [
        ("DE", "degraded_performance", "operational", D0 + 40),
        ("FR", "partial_outage", None, D0),
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"country": "DE"}, {("sms", "DE"), ("mms", "DE")}),
        ({"product": "sms"}, {("sms", "DE")}),
        ({"product": "billing"}, {("billing", "payout")}),
        ({"country": "DE", "product": "mms"}, {("mms", "DE")}),
        ({"country": "RU"}, set()),
    ],
)
def test_filters(
    store: HistoryStore, path: Path, filters: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    """?country= and ?product= keep only their cells' changes (and drop incidents)."""
    fill(store)
    reader = HistoryReader(path)
    entries = reader.feed_entries(country=filters.get("country"), product=filters.get("product"))
    assert {(e.product, e.key) for e in entries} == expected
    feed = parse(atom_feed(entries, base_url=BASE, filters=filters, now=D0))
    assert feed.feed.links[0].href.startswith(f"{BASE}/feed.atom")
    if filters:
        assert "?" in feed.feed.links[0].href


def test_at_most_100_entries(store: HistoryStore) -> None:
    """The feed never carries more than 100 entries, the newest."""
    for n in range(150):
        store.record_verdicts(
            D0 + n, {"sms:DE": "operational" if n % 2 else "degraded_performance"}
        )
    entries = read_feed(store.connection)
    assert len(entries) == 100
    feed = parse(atom_feed(entries * 2, base_url=BASE, filters={}, now=D0))
    assert len(feed.entries) == 100
    assert feed.entries[0].updated == "2025-11-25T00:02:29Z"


def test_text_is_escaped_and_forbidden_characters_removed() -> None:
    """Markup in topics is text, not XML; control characters XML cannot carry are dropped."""
    entry = FeedEntry(
        "urn:uuid:1", D0, "incident", topic='<script>&\x00\x1b"x"</script>', status="investigating"
    )
    document = atom_feed([entry], base_url=BASE, filters={}, now=D0)
    assert b"<script>" not in document
    feed = parse(document)
    assert feed.entries[0].title == 'Incident investigating: <script>&"x"</script>'
    assert xml_safe("a\x00b\x7fc\ud800") == "ab\x7fc"


def test_empty_feed_is_valid() -> None:
    """No entries yet: still a valid feed dated now."""
    feed = parse(atom_feed([], base_url=BASE, filters={"country": "DE"}, now=D0))
    assert feed.entries == []
    assert feed.feed.updated == "2025-11-25T00:00:00Z"
    assert feed.feed.title == "statusd: status changes (Germany)"


def test_feed_query_parsing() -> None:
    """Filters: country (any case) and product; unknown ones 404, malformed 400."""
    assert parse_feed_query({}) == {}
    assert parse_feed_query({"country": "de", "product": "sms"}) == {
        "country": "DE",
        "product": "sms",
    }
    for args, status in (
        ({"country": "XX"}, 404),
        ({"country": "Deutschland"}, 400),
        ({"product": "fax"}, 404),
        ({"product": "billing", "country": "DE"}, 400),
    ):
        with pytest.raises(QueryError) as caught:
            parse_feed_query(args)
        assert caught.value.status == status


def test_incident_first_seen_closed_is_no_entry(store: HistoryStore) -> None:
    """An incident already closed when first seen tells a subscriber nothing new."""
    store.record_incidents(
        [
            Incident("a", "old news", "resolved", D0, D0, D0),
            Incident("b", "fresh", "investigating", D0 + 5, D0 + 5),
        ]
    )
    assert [(e.topic, e.status) for e in read_feed(store.connection)] == [
        ("fresh", "investigating")
    ]


def test_maintenance_events_are_entries_filtered_by_scope(store: HistoryStore, path: Path) -> None:
    """A window announced, started and completed is three entries with the events' stable
    ids and a link to #maintenance-<id>; a filtered feed keeps the windows that concern it
    (billing ones concern every country), and storing the events again adds nothing."""
    from statusd.history.planned import MaintenanceRecord
    from statusd.history.store import Snapshot
    from statusd.maintenance.events import maintenance_events
    from statusd.maintenance.windows import parse_window

    def window(window_id: str, products: list[str], countries: list[str]) -> Any:
        table = {
            "id": window_id,
            "title": f"Work {window_id}",
            "start": "2025-11-25T01:00:00Z",
            "end": "2025-11-25T02:00:00Z",
            "products": products,
            "countries": countries,
        }
        return parse_window(table, 1)

    windows = (window("sms-de", ["sms"], ["DE"]), window("pay", ["billing"], []))
    events = maintenance_events((), windows, None, D0) + maintenance_events(
        windows, windows, D0, D0 + 3 * 3600
    )
    record = MaintenanceRecord(D0 + 3 * 3600, windows, {}, tuple(events))
    store.apply([Snapshot(D0 + 3 * 3600, {}, None, record)] * 2)
    reader = HistoryReader(path)
    feed = parse(atom_feed(reader.feed_entries(), base_url=BASE, filters={}, now=D0))
    titles = [e.title for e in feed.entries]
    assert titles.count("Maintenance announced: Work sms-de") == 1
    assert set(titles[:2]) == {
        "Maintenance completed: Work pay",
        "Maintenance completed: Work sms-de",
    }
    [started] = [e for e in feed.entries if e.title == "Maintenance started: Work sms-de"]
    assert started.link == f"{BASE}/#maintenance-sms-de"
    assert started.summary == (
        "Planned maintenance “Work sms-de” started at 2025-11-25T01:00:00Z: SMS in Germany "
        "(DE), 2025-11-25T01:00:00Z to 2025-11-25T02:00:00Z."
    )
    ids = {e.id for e in feed.entries}
    assert len(ids) == 6
    again = reader.feed_entries()  # the same ids on every read
    assert {entry.id for entry in again} == ids
    german = [e.topic for e in reader.feed_entries(country="DE")]
    assert german.count("Work sms-de") == 3
    assert german.count("Work pay") == 3
    french = [e.topic for e in reader.feed_entries(country="FR")]
    assert set(french) == {"Work pay"}
    assert {e.topic for e in reader.feed_entries(product="sms")} == {"Work sms-de"}


def test_the_feed_speaks_russian_with_lang_ru(store: HistoryStore, path: Path) -> None:
    """``lang=ru``: every title and summary in Russian (CLDR country names, Russian verdicts
    and function names); ids, links, dates and the XML's shape are the English feed's."""
    fill(store)
    entries = HistoryReader(path).feed_entries()
    english = parse(atom_feed(entries, base_url=BASE, filters={}, now=D0 + 200))
    russian = parse(atom_feed(entries, base_url=BASE, filters={}, now=D0 + 200, lang="ru"))
    titles = [e.title for e in russian.entries]
    assert "MMS — Германия: серьёзный сбой" in titles
    assert "Биллинг — Выплаты: серьёзный сбой" in titles
    assert "SMS — Германия: снижение производительности" in titles
    assert 'Инцидент устранён: db <slow> & "odd"' in titles
    summaries = [e.summary for e in russian.entries]
    assert any("(было: работает штатно)" in s for s in summaries)
    assert [e.id for e in russian.entries] == [e.id for e in english.entries]
    assert [e.link for e in russian.entries] == [e.link for e in english.entries]
    assert [e.updated for e in russian.entries] == [e.updated for e in english.entries]
    assert russian.feed.title == "statusd: изменения статуса"


def test_a_filtered_russian_feed_names_its_scope_and_links_itself_in_russian(
    store: HistoryStore, path: Path
) -> None:
    fill(store)
    entries = HistoryReader(path).feed_entries("DE", "sms")
    filters = {"country": "DE", "product": "sms"}
    feed = parse(atom_feed(entries, base_url=BASE, filters=filters, now=D0, lang="ru"))
    assert feed.feed.title == "statusd: изменения статуса (SMS, Германия)"
    [self_link] = [link.href for link in feed.feed.links if link.rel == "self"]
    assert self_link == f"{BASE}/feed.atom?country=DE&lang=ru&product=sms"


@pytest.mark.parametrize("lang", ["xx", "", "en", "EN-us"])
def test_an_unknown_language_is_english(store: HistoryStore, path: Path, lang: str) -> None:
    fill(store)
    entries = HistoryReader(path).feed_entries()
    english = atom_feed(entries, base_url=BASE, filters={}, now=D0)
    assert atom_feed(entries, base_url=BASE, filters={}, now=D0, lang=lang) == english
