"""/maintenance.ics: valid RFC 5545 read back by an independent parser (``ical``), one event
per window, UIDs stable across edits of other windows, revisions that move with the window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from ical.calendar import Calendar as ParsedCalendar
from ical.calendar_stream import IcsCalendarStream

from statusd.maintenance.calendar import event_uid, maintenance_ics
from statusd.maintenance.file import MaintenanceWatcher, with_window_removed
from statusd.maintenance.render import render_file
from statusd.maintenance.revisions import advance_revisions
from statusd.maintenance.windows import MaintenanceWindow
from tests.maintenance.strategies import window_sets

PAGE = {"page_name": "Acme status", "base_url": "https://status.example.com/"}


def parse(ics: bytes) -> ParsedCalendar:
    return IcsCalendarStream.calendar_from_ics(ics.decode())


def calendar(
    windows: tuple[MaintenanceWindow, ...], now: float = 1e9, **filters: str
) -> ParsedCalendar:
    return parse(maintenance_ics(windows, advance_revisions({}, windows, now), **PAGE, **filters))


@given(window_sets())
def test_every_window_is_one_event_read_back_exactly(ws: tuple[MaintenanceWindow, ...]) -> None:
    """UTC times, title and body survive the round trip through an independent parser."""
    events = {e.uid: e for e in calendar(ws).events}
    assert len(events) == len(ws)
    for w in ws:
        event = events[event_uid(w.id, "Acme status")]
        assert event.dtstart == w.start.astimezone(UTC)
        assert event.dtend == w.end.astimezone(UTC)
        assert event.summary == w.title
        assert event.description is not None
        assert event.description.startswith(w.body)
        assert "Affects: " in event.description
        assert event.url == f"https://status.example.com/#maintenance-{w.id}"


def test_uids_are_stable_across_edits_of_other_windows() -> None:
    """Adding, changing and removing windows leaves the UID, SEQUENCE and DTSTAMP of an
    untouched window as they were; the edited one gets a new DTSTAMP and SEQUENCE."""
    text = render_file(
        [
            _window("keep", "Keep me"),
            _window("edit", "Edit me"),
            _window("drop", "Drop me"),
        ]
    )
    watcher = MaintenanceWatcher("m.toml")
    watcher.reload(text.encode(), now=1_000_000.0)
    before = {e.summary: e for e in parse(_ics(watcher)).events}
    text, _ = with_window_removed(text, "drop")
    text = text.replace('"Edit me"', '"Edited"')
    text += render_file([_window("new", "New one")]).split("\n", 2)[2]
    watcher.reload(text.encode(), now=2_000_000.0)
    after = {e.summary: e for e in parse(_ics(watcher)).events}
    assert set(after) == {"Keep me", "Edited", "New one"}
    keep_before, keep_after = before["Keep me"], after["Keep me"]
    assert (keep_after.uid, keep_after.sequence, keep_after.dtstamp) == (
        keep_before.uid,
        keep_before.sequence,
        keep_before.dtstamp,
    )
    assert after["Edited"].uid == before["Edit me"].uid
    assert after["Edited"].sequence == (before["Edit me"].sequence or 0) + 1
    assert after["Edited"].dtstamp == datetime.fromtimestamp(2_000_000, UTC)
    assert after["Edited"].last_modified == datetime.fromtimestamp(2_000_000, UTC)
    assert after["Edited"].created == before["Edit me"].created
    assert len({e.uid for e in after.values()}) == 3


def _window(window_id: str, title: str) -> MaintenanceWindow:
    start = datetime(2026, 3, 1, 2, tzinfo=UTC)
    return MaintenanceWindow(window_id, title, start, start.replace(hour=4), ("sms",), ("DE",))


def _ics(watcher: MaintenanceWatcher) -> bytes:
    return maintenance_ics(watcher.windows, watcher.revisions, **PAGE)


def test_uid_depends_on_the_page() -> None:
    assert event_uid("w", "Acme status") != event_uid("w", "Other page")


def test_filters_by_country_and_product() -> None:
    """``?country=`` keeps the country's windows and every billing/support window (they have
    no country); ``?product=`` keeps the windows of that product."""
    start = datetime(2026, 3, 1, 2, tzinfo=UTC)
    end = start.replace(hour=4)
    ws = (
        MaintenanceWindow("sms-de", "SMS DE", start, end, ("sms",), ("DE",)),
        MaintenanceWindow("voice-fr", "Voice FR", start, end, ("voice",), ("FR",)),
        MaintenanceWindow("payout", "Payout", start, end, ("billing",), (), ("payout",)),
    )
    assert {e.summary for e in calendar(ws, country="DE").events} == {"SMS DE", "Payout"}
    assert {e.summary for e in calendar(ws, product="voice").events} == {"Voice FR"}
    assert {e.summary for e in calendar(ws, product="sms", country="FR").events} == set()
    assert len(calendar(ws).events) == 3
    assert b"X-WR-CALNAME:Acme status maintenance (sms DE)" in maintenance_ics(
        ws, advance_revisions({}, ws, 0.0), product="sms", country="DE", **PAGE
    )


@pytest.mark.parametrize(("country", "product"), [("XX", None), ("de", None), (None, "fax")])
def test_unknown_filter_values_are_refused(country: str | None, product: str | None) -> None:
    with pytest.raises(ValueError, match="unknown"):
        maintenance_ics((), {}, country=country, product=product, **PAGE)
