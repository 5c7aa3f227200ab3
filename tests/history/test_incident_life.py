"""An incident's life in the history (SPEC §9): first seen active, closed, reopened; a restart
or a gap in the incident source invents neither a close nor a new incident."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from statusd.history.reader import read_incidents
from statusd.history.store import HistoryStore
from statusd.history.writer import HistoryInbox
from statusd.sources.records import IncidentRecord
from statusd.storage.url import DatabaseUrl
from statusd.verdicts.live import PublicState
from statusd.verdicts.rules import VerdictThresholds
from statusd.verdicts.statuspage import PageInfo
from tests.support.public_state import RECORDS

T0 = 1_772_326_800.0


def observe(
    public: PublicState, store: HistoryStore, now: float, incidents: Sequence[Any] | None
) -> None:
    """One view of the state at ``now`` with the incident source's ``incidents`` (None: the
    source has no fresh result), written to the history as the writer would."""
    records = {**RECORDS, "incident": incidents}
    fresh = {name for name, rows in records.items() if rows is not None}
    public.update(
        records,
        stale=frozenset(records) - fresh,
        source_times=dict.fromkeys(fresh, now),
        document_ok=True,
        now=now,
    )
    store.apply(public.inbox.take())


def start(url: DatabaseUrl, now: float) -> tuple[HistoryStore, PublicState]:
    """statusd starting at ``now``: the history opened, the timeline taken from it."""
    store = HistoryStore.open(url, now=now, max_gap=1e12)
    public = PublicState(PageInfo(), VerdictThresholds(), HistoryInbox(), store.load_timeline())
    return store, public


def lives(store: HistoryStore) -> list[tuple[str, str, float, float | None, str | None]]:
    return [
        (i.topic, i.status, i.started_at, i.resolved_at, i.reopens)
        for i in read_incidents(store.connection, 0.0)
    ]


ACTIVE = [IncidentRecord("dns", "active")]
CLOSED = [IncidentRecord("dns", "closed")]


def test_first_seen_closed_and_reopened(url: DatabaseUrl) -> None:
    """Each incident's start and end are stored; seen active again is a new incident that
    names the one it reopens."""
    store, public = start(url, T0)
    try:
        observe(public, store, T0, ACTIVE)
        observe(public, store, T0 + 60, CLOSED)
        observe(public, store, T0 + 120, ACTIVE)
        first, second = lives(store)[1], lives(store)[0]
        assert first[:4] == ("dns", "resolved", T0, T0 + 60)
        assert second[:4] == ("dns", "investigating", T0 + 120, None)
        [row] = [i for i in read_incidents(store.connection, 0.0) if i.status == "resolved"]
        assert second[4] == row.id
    finally:
        store.close()


def test_a_restart_invents_no_close_and_no_new_incident(url: DatabaseUrl) -> None:
    """statusd stops while an incident is open and starts again: until the source answers
    nothing changes, and when it says active the same incident goes on."""
    store, public = start(url, T0)
    observe(public, store, T0, ACTIVE)
    store.mark_stopped(T0 + 30)
    store.close()
    store, public = start(url, T0 + 3600)
    try:
        before = lives(store)
        observe(public, store, T0 + 3600, None)  # the incident source not fetched yet
        observe(public, store, T0 + 3630, ACTIVE)
        assert lives(store) == before == [("dns", "investigating", T0, None, None)]
    finally:
        store.close()


def test_a_gap_in_the_incident_source_invents_no_close(url: DatabaseUrl) -> None:
    """The incident source fails for an hour (its data dropped as stale): the incident stays
    open, and when the source is back with it active it is the same incident."""
    store, public = start(url, T0)
    try:
        observe(public, store, T0, ACTIVE)
        for minute in range(1, 60):
            observe(public, store, T0 + 60 * minute, None)
        observe(public, store, T0 + 3600, ACTIVE)
        assert lives(store) == [("dns", "investigating", T0, None, None)]
        observe(public, store, T0 + 3660, CLOSED)
        assert lives(store) == [("dns", "resolved", T0, T0 + 3660, None)]
    finally:
        store.close()
