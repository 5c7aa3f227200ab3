"""The history on both engines: intervals and UTC-day rollups, unknown gaps, retention, reads;
and of SQLite files: damage, full disk, old schema versions."""

from __future__ import annotations

import csv
import io
import itertools
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.history.planned import MaintenanceRecord, read_maintenance
from statusd.history.reader import (
    DayBucket,
    HistoryReader,
    MonthRow,
    read_daily,
    read_feed,
    read_month,
)
from statusd.history.schema import (
    DAY,
    STORED_VERDICTS,
    HistoryFull,
    day_text,
    split_by_day,
    split_ms_by_day,
    uptime,
    utc_day,
)
from statusd.history.store import HistoryStore, Snapshot
from statusd.serve.history_bodies import history_csv, history_json
from statusd.serve.query import QueryError, parse_history_query, parse_month
from statusd.storage.url import DatabaseUrl
from statusd.verdicts.cells import VERDICTS
from statusd.verdicts.timeline import Incident
from tests.support.postgres import PostgresServer

D0 = 1_764_028_800.0  # 2025-11-25T00:00:00Z
H = 3600.0
OP, DEG, PART, MAJ, UNK, UM = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "unknown",
    "under_maintenance",
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "history.sqlite3"


EARLY = D0 - 1000 * DAY
"""Stores in tests open long before their first write, and with no silence limit unless a
test is about it, so writes can be hours apart without heartbeats in between."""


@pytest.fixture
def store(url: DatabaseUrl) -> Iterator[HistoryStore]:
    opened = HistoryStore.open(url, now=EARLY, max_gap=1e12)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(path: Path) -> Iterator[HistoryStore]:
    """``store`` in a SQLite file (for what only a file has: pages, a size limit)."""
    opened = HistoryStore.open(path, now=EARLY, max_gap=1e12)
    yield opened
    opened.close()


def days(store: HistoryStore, cell: str, count: int, now: float) -> dict[str, dict[str, float]]:
    """The non-empty buckets of a cell as {date: {verdict: seconds}}."""
    buckets = read_daily(store.connection, cell, count, now)
    return {b.date: dict(b.seconds) for b in buckets if b.seconds}


@given(start=st.floats(0, 4e9), length=st.floats(0, 10 * DAY))
def test_split_by_day_covers_the_interval_exactly(start: float, length: float) -> None:
    """The pieces are within single UTC days, consecutive, and add up to the interval."""
    pieces = list(split_by_day(start, start + length))
    assert sum(seconds for _, seconds in pieces) == pytest.approx(length, abs=1e-3)
    assert [day for day, _ in pieces] == list(range(utc_day(start), utc_day(start) + len(pieces)))
    assert all(0 < seconds <= DAY for _, seconds in pieces)


def test_day_text_is_the_utc_date() -> None:
    assert day_text(utc_day(D0)) == "2025-11-25"
    assert day_text(utc_day(D0 - 1)) == "2025-11-24"


def test_verdicts_split_across_the_utc_day_boundary(store: HistoryStore) -> None:
    """An interval spanning midnight UTC counts in both days, open or closed."""
    store.record_verdicts(D0 - 2 * H, {"sms:DE": OP})
    store.record_verdicts(D0 + H, {"sms:DE": DEG})
    expected_open = {"2025-11-24": {OP: 2 * H}, "2025-11-25": {OP: H, DEG: H}}
    assert days(store, "sms:DE", 3, D0 + 2 * H) == expected_open
    store.record_verdicts(D0 + 2 * H, {"sms:DE": MAJ})  # closes the degraded interval
    assert days(store, "sms:DE", 3, D0 + 2 * H) == expected_open
    assert days(store, "sms:DE", 3, D0 + 3 * H) == {
        "2025-11-24": {OP: 2 * H},
        "2025-11-25": {OP: H, DEG: H, MAJ: H},
    }


def test_only_changes_are_written(store: HistoryStore) -> None:
    """The same verdict again opens nothing; a change opens one interval."""
    assert store.record_verdicts(D0, {"sms:DE": OP, "sms:RU": OP}) == 2
    assert store.record_verdicts(D0 + 30, {"sms:DE": OP, "sms:RU": OP}) == 0
    assert store.record_verdicts(D0 + 60, {"sms:DE": OP, "sms:RU": DEG}) == 1
    (count,) = store.connection.execute("SELECT count(*) FROM intervals").fetchone()
    assert count == 3


def test_a_cell_that_disappears_stops_counting(store: HistoryStore) -> None:
    """A cell missing from a snapshot (no rows any more) is closed: its time is not counted."""
    store.record_verdicts(D0, {"sms:DE": OP, "sms:RU": OP})
    store.record_verdicts(D0 + H, {"sms:DE": OP})
    assert days(store, "sms:RU", 1, D0 + 5 * H) == {"2025-11-25": {OP: H}}
    assert days(store, "sms:DE", 1, D0 + 5 * H) == {"2025-11-25": {OP: 5 * H}}


def test_a_crash_counts_from_the_last_heartbeat_as_unknown(path: Path) -> None:
    """After an unclean stop, time since the last heartbeat is unknown, never up."""
    store = HistoryStore.open(path, now=D0)
    store.record_verdicts(D0, {"sms:DE": OP})
    store.heartbeat(D0 + 60)
    store.close()  # no mark_stopped: as after SIGKILL
    store = HistoryStore.open(path, now=D0 + H, max_gap=1e12)
    try:
        assert days(store, "sms:DE", 1, D0 + H) == {"2025-11-25": {OP: 60, UNK: H - 60}}
        store.record_verdicts(D0 + H + 10, {"sms:DE": OP})
        store.heartbeat(D0 + 2 * H)
        assert days(store, "sms:DE", 1, D0 + 2 * H) == {
            "2025-11-25": {OP: 60 + H - 10, UNK: H - 60 + 10}
        }
    finally:
        store.close()


def test_a_clean_restart_counts_the_downtime_as_unknown(url: DatabaseUrl) -> None:
    """Time between mark_stopped and the first verdicts after the restart is unknown."""
    store = HistoryStore.open(url, now=D0)
    store.record_verdicts(D0, {"sms:DE": OP, "billing:payout": MAJ})
    store.mark_stopped(D0 + 100)
    store.close()
    store = HistoryStore.open(url, now=D0 + 400, max_gap=1e12)
    try:
        store.record_verdicts(D0 + 500, {"sms:DE": OP, "billing:payout": MAJ})
        store.heartbeat(D0 + 1000)
        assert days(store, "sms:DE", 1, D0 + 1000) == {"2025-11-25": {OP: 600, UNK: 400}}
        assert days(store, "billing:payout", 1, D0 + 1000) == {"2025-11-25": {MAJ: 600, UNK: 400}}
    finally:
        store.close()


def test_downtime_across_days_is_unknown_on_each_day(url: DatabaseUrl) -> None:
    """Two days down: each day in between is entirely unknown (uptime null)."""
    store = HistoryStore.open(url, now=D0, max_gap=1e12)
    store.record_verdicts(D0, {"sms:DE": OP})
    store.mark_stopped(D0 + 12 * H)
    store.close()
    store = HistoryStore.open(url, now=D0 + 2 * DAY + 12 * H, max_gap=1e12)
    try:
        store.record_verdicts(D0 + 2 * DAY + 12 * H, {"sms:DE": OP})
        store.heartbeat(D0 + 3 * DAY - 1)
        buckets = read_daily(store.connection, "sms:DE", 3, D0 + 3 * DAY - 1)
        assert [(b.date, dict(b.seconds), b.uptime) for b in buckets] == [
            ("2025-11-25", {OP: 12 * H, UNK: 12 * H}, 1.0),
            ("2025-11-26", {UNK: DAY}, None),
            ("2025-11-27", {UNK: 12 * H, OP: 12 * H - 1}, 1.0),
        ]
    finally:
        store.close()


def test_reads_count_a_silent_writer_as_unknown(url: DatabaseUrl) -> None:
    """A reader does not extend the open verdict past a heartbeat older than max_gap."""
    store = HistoryStore.open(url, now=D0, max_gap=180)
    try:
        store.record_verdicts(D0, {"sms:DE": OP})
        store.heartbeat(D0 + 100)
        assert days(store, "sms:DE", 1, D0 + 200) == {"2025-11-25": {OP: 200}}
        assert days(store, "sms:DE", 1, D0 + 1000) == {"2025-11-25": {OP: 100, UNK: 900}}
    finally:
        store.close()


def test_a_long_silence_while_running_becomes_unknown(url: DatabaseUrl) -> None:
    """Writes further apart than max_gap (history paused) leave an unknown gap."""
    store = HistoryStore.open(url, now=D0, max_gap=180)
    try:
        store.record_verdicts(D0, {"sms:DE": OP})
        store.record_verdicts(D0 + 100, {"sms:DE": OP})
        store.heartbeat(D0 + 280)  # within 180 s of the last write: continuous
        store.record_verdicts(D0 + 1000, {"sms:DE": OP})  # 720 s of silence > 180 s
        assert days(store, "sms:DE", 1, D0 + 1100) == {"2025-11-25": {OP: 380, UNK: 720}}
    finally:
        store.close()


def test_time_never_runs_backwards(store: HistoryStore) -> None:
    """A write dated before the last heartbeat is taken as happening at the heartbeat."""
    store.record_verdicts(D0, {"sms:DE": OP})
    store.record_verdicts(D0 + 100, {"sms:DE": OP})
    store.record_verdicts(D0 + 50, {"sms:DE": DEG})  # the wall clock stepped back
    assert days(store, "sms:DE", 1, D0 + 200) == {"2025-11-25": {OP: 100, DEG: 100}}


def test_stale_source_unknown_is_stored_and_never_up(store: HistoryStore) -> None:
    """An unknown verdict (stale source) counts as unknown, outside uptime."""
    store.record_verdicts(D0, {"sms:DE": OP})
    store.record_verdicts(D0 + H, {"sms:DE": UNK})
    store.record_verdicts(D0 + 2 * H, {"sms:DE": PART})
    [bucket] = read_daily(store.connection, "sms:DE", 1, D0 + 3 * H)
    assert dict(bucket.seconds) == {OP: H, UNK: H, PART: H}
    assert bucket.uptime == 0.5


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ({OP: 10, DEG: 10}, 1.0),
        ({OP: 30, MAJ: 10}, 0.75),
        ({DEG: 1, PART: 3}, 0.25),
        ({UNK: 100}, None),
        ({}, None),
        ({OP: 50, UNK: 1000, MAJ: 50}, 0.5),
    ],
)
def test_uptime_formula(seconds: dict[str, float], expected: float | None) -> None:
    """uptime = (operational + degraded) / known seconds; None without known seconds."""
    assert uptime(seconds) == expected


def test_history_survives_reopen(url: DatabaseUrl) -> None:
    """Everything written is there after closing and opening the file again."""
    store = HistoryStore.open(url, now=D0)
    store.record_verdicts(D0, {"sms:DE": DEG})
    store.record_incidents([Incident("abc", "db", "investigating", D0, D0)])
    store.mark_stopped(D0 + 10)
    store.close()
    store = HistoryStore.open(url, now=D0 + 20)
    try:
        assert days(store, "sms:DE", 1, D0 + 20)["2025-11-25"][DEG] == 10
        timeline = store.load_timeline()
        assert timeline.cells["sms:DE"].verdict == DEG
        assert timeline.cells["sms:DE"].first_seen == D0
        assert [i.id for i in timeline.incidents] == ["abc"]
    finally:
        store.close()


# --- retention --------------------------------------------------------------------------------


def test_prune_keeps_35_days_of_intervals_and_400_days_of_rollups(store: HistoryStore) -> None:
    """Old closed intervals and rollups go, and incidents resolved over the rollup days ago
    (an incident's life is kept as long as the daily rollups, SPEC §9); the open interval
    stays."""
    start = D0 - 500 * DAY
    store.record_verdicts(start, {"sms:DE": OP})
    for n in range(1, 500):  # a change every day, written as if statusd ran all along
        store.record_verdicts(start + n * DAY, {"sms:DE": OP if n % 2 == 0 else DEG})
    store.record_incidents(
        [
            Incident("ancient", "db", "resolved", D0 - 402 * DAY, D0 - 402 * DAY, D0 - 401 * DAY),
            Incident("old", "db", "resolved", D0 - 40 * DAY, D0 - 40 * DAY, D0 - 40 * DAY),
            Incident("new", "db", "resolved", D0 - 5 * DAY, D0 - 5 * DAY, D0 - 5 * DAY),
            Incident("open", "dns", "investigating", D0 - 90 * DAY, D0 - 90 * DAY),
        ]
    )
    now = start + 499 * DAY + H
    deleted = store.prune(now, raw_days=35, rollup_days=400)
    conn = store.connection
    (oldest_end,) = conn.execute('SELECT min("end") FROM intervals').fetchone()
    assert oldest_end >= now - 35 * DAY
    (open_count,) = conn.execute('SELECT count(*) FROM intervals WHERE "end" IS NULL').fetchone()
    assert open_count == 1
    (first_day,) = conn.execute("SELECT min(day) FROM daily").fetchone()
    assert first_day == utc_day(now) - 399
    incidents = {row[0] for row in conn.execute("SELECT id FROM incidents")}
    assert incidents == {"old", "new", "open"}
    assert deleted[0] > 400
    assert deleted[1] >= 100
    assert deleted[2] == 1
    buckets = read_daily(conn, "sms:DE", 400, now)
    assert all(b.seconds for b in buckets)
    assert sum(sum(b.seconds.values()) for b in buckets) == pytest.approx(399 * DAY + H)


# --- damage and full disk -----------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_moved_aside(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage in the file: moved to <path>.corrupt-<time> with a warning; a new one starts."""
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite\n" * 500)
    with caplog.at_level(logging.WARNING, logger="statusd.history"):
        store = HistoryStore.open(path, now=D0)
    try:
        store.record_verdicts(D0, {"sms:DE": OP})
        [aside] = list(path.parent.glob("history.sqlite3.corrupt-*"))
        assert aside.name == "history.sqlite3.corrupt-20251125T000000Z"
        assert aside.read_bytes().startswith(b"this is not sqlite")
        assert [r.levelname for r in caplog.records] == ["WARNING"]
        assert "moved it aside" in caplog.records[0].getMessage()
        assert vars(caplog.records[0])["moved_to"] == str(aside)
    finally:
        store.close()


def test_a_damaged_page_is_detected_and_moved_aside(path: Path) -> None:
    """A database whose pages are damaged fails the integrity check and is replaced."""
    store = HistoryStore.open(path, now=D0)
    for n in range(300):
        store.record_verdicts(D0 + n, {f"sms:C{n % 50}": OP if n % 3 else DEG})
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page : 3 * page] = b"\xff" * page  # wreck a b-tree page
    path.write_bytes(bytes(data))
    store = HistoryStore.open(path, now=D0 + DAY)
    try:
        assert list(path.parent.glob("history.sqlite3.corrupt-*"))
        assert store.load_timeline().cells == {}
    finally:
        store.close()


def test_disk_full_raises_history_full_and_writes_nothing(sqlite_store: HistoryStore) -> None:
    """SQLITE_FULL is HistoryFull; the transaction is rolled back and the store still works."""
    store = sqlite_store
    store.record_verdicts(D0, {"sms:DE": OP})
    conn = store.connection
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = {f"email:X{n:05d}": DEG for n in range(5000)}
    with pytest.raises(HistoryFull):
        store.record_verdicts(D0 + 10, big)
    (cells,) = conn.execute("SELECT count(*) FROM cells").fetchone()
    assert cells == 1
    conn.execute("PRAGMA max_page_count = 1073741823")
    store.record_verdicts(D0 + 20, {"sms:DE": DEG})
    assert days(store, "sms:DE", 1, D0 + 30) == {"2025-11-25": {OP: 20, DEG: 10}}


# --- reads --------------------------------------------------------------------------------------


def test_reader_of_a_missing_database_reads_empty(url: DatabaseUrl) -> None:
    """Before the writer created the file (SQLite) or the tables (PostgreSQL), reads are
    empty, not errors."""
    with closing(HistoryReader(url)) as reader:
        assert reader.feed_entries() == []
        assert reader.month_rows("2025-11", D0) == []
        assert reader.incidents(90, D0) == []
        assert reader.maintenance() is None
        buckets = reader.daily("sms:DE", 2, D0)
    assert buckets == [DayBucket("2025-11-24", {}), DayBucket("2025-11-25", {})]
    if url.dialect == "sqlite":
        assert not url.path.exists()


class RolledBack(Exception):
    """Raised to end a transaction without committing it."""


def test_reader_is_not_blocked_by_a_write_in_progress(
    store: HistoryStore, url: DatabaseUrl
) -> None:
    """WAL (SQLite), MVCC (PostgreSQL): a reader in another thread sees the last commit while
    the writer holds its lock."""
    store.record_verdicts(D0, {"sms:DE": OP})
    results: list[list[DayBucket]] = []
    with closing(HistoryReader(url, timeout=0.5)) as reader:
        try:
            with store.database.transaction(write=True) as conn:
                conn.execute("UPDATE cells SET first_seen = 0")
                thread = threading.Thread(
                    target=lambda: results.append(reader.daily("sms:DE", 1, D0 + 60))
                )
                thread.start()
                thread.join(10)
                raise RolledBack
        except RolledBack:
            pass
    assert results == [[DayBucket("2025-11-25", {OP: 60.0})]]


def test_month_rows_and_csv(store: HistoryStore, url: DatabaseUrl) -> None:
    """history.csv: a header and one row per cell per day with seconds and uptime; time
    under maintenance has its column and counts neither as up nor as down."""
    store.record_verdicts(D0 - DAY, {"sms:DE": OP, "billing:payout": MAJ})
    store.record_verdicts(D0 + 6 * H, {"sms:DE": DEG, "billing:payout": MAJ})
    store.record_verdicts(D0 + 9 * H, {"sms:DE": UM, "billing:payout": MAJ})
    with closing(HistoryReader(url)) as reader:
        rows = reader.month_rows("2025-11", D0 + 12 * H)
        assert reader.month_rows("2025-10", D0) == []
    table = list(csv.reader(io.StringIO(history_csv(rows).decode())))
    assert table[0] == [
        "date",
        "product",
        "key",
        "name",
        "operational_seconds",
        "degraded_performance_seconds",
        "partial_outage_seconds",
        "major_outage_seconds",
        "unknown_seconds",
        "under_maintenance_seconds",
        "uptime",
    ]
    assert table[1:] == [
        ["2025-11-24", "sms", "DE", "Germany", "86400", "0", "0", "0", "0", "0", "1.000000"],
        ["2025-11-24", "billing", "payout", "Payout", "0", "0", "0", "86400", "0", "0", "0.000000"],
        [
            "2025-11-25",
            "sms",
            "DE",
            "Germany",
            "21600",
            "10800",
            "0",
            "0",
            "0",
            "10800",
            "1.000000",
        ],
        ["2025-11-25", "billing", "payout", "Payout", "0", "0", "0", "43200", "0", "0", "0.000000"],
    ]


def test_history_json_shape() -> None:
    """/api/history: the cell, the period's uptime and seconds, and daily buckets."""
    buckets = [
        DayBucket("2025-11-24", {}),
        DayBucket("2025-11-25", {OP: 30.4, MAJ: 10.0, UNK: 5, UM: 20.0}),
    ]
    assert history_json("sms", "DE", buckets) == {
        "product": "sms",
        "key": "DE",
        "name": "Germany",
        "days": 2,
        "uptime": 0.75,
        "seconds": {OP: 30, DEG: 0, PART: 0, MAJ: 10, UNK: 5, UM: 20},
        "buckets": [
            {
                "date": "2025-11-24",
                "uptime": None,
                "seconds": {OP: 0, DEG: 0, PART: 0, MAJ: 0, UNK: 0, UM: 0},
            },
            {
                "date": "2025-11-25",
                "uptime": 0.75,  # from the 30 and 10 shown, not the 30.4 stored; not the 20 planned
                "seconds": {OP: 30, DEG: 0, PART: 0, MAJ: 10, UNK: 5, UM: 20},
            },
        ],
    }


def recomputed(up: int, known: int) -> float | None:
    """The uptime a reader computes from the seconds a row or bucket shows."""
    return None if known == 0 else up / known


STORED_MS = st.fixed_dictionaries({verdict: st.integers(0, 86_400_000) for verdict in VERDICTS})


@given(days=st.lists(STORED_MS, min_size=1, max_size=5))
def test_uptime_recomputes_from_the_seconds_shown(days: list[dict[str, int]]) -> None:
    """For any stored milliseconds, a CSV row's uptime is what its own seconds columns give
    (as printed), and so is each /api/history bucket's and the period's."""
    stored = [{v: ms / 1000 for v, ms in day.items() if ms} for day in days]
    rows = [MonthRow(f"2025-11-{i + 1:02d}", "sms", "DE", day) for i, day in enumerate(stored)]
    table = list(csv.reader(io.StringIO(history_csv(rows).decode())))
    for row in table[1:]:
        op, deg, part, maj, _, _ = map(int, row[4:10])  # unknown, maintenance: neither
        ratio = recomputed(op + deg, op + deg + part + maj)
        assert row[10] == ("" if ratio is None else f"{ratio:.6f}")
    body = history_json("sms", "DE", [DayBucket(row.date, row.seconds) for row in rows])
    for item in [body, *body["buckets"]]:
        shown = item["seconds"]
        up = shown[OP] + shown[DEG]
        ratio = recomputed(up, up + shown[PART] + shown[MAJ])
        assert item["uptime"] == (None if ratio is None else round(ratio, 6))
    for verdict in VERDICTS:
        assert body["seconds"][verdict] == sum(b["seconds"][verdict] for b in body["buckets"])


def test_the_issue_example_row() -> None:
    """4.6 s operational and 1.9 s major outage show as 5 and 2: the row says 0.714286."""
    row = MonthRow("2025-11-25", "sms", "DE", {OP: 4.6, MAJ: 1.9})
    line = history_csv([row]).decode().splitlines()[1]
    assert line == "2025-11-25,sms,DE,Germany,5,0,0,2,0,0,0.714286"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"product": "sms", "country": "DE"}, ("sms", "DE", 90)),
        ({"product": "voice", "country": "de", "days": "400"}, ("voice", "DE", 400)),
        ({"product": "billing", "function": "payout", "days": "1"}, ("billing", "payout", 1)),
        ({"product": "billing", "country": "reccuring"}, ("billing", "recurring", 90)),
        ({"product": "support"}, ("support", "support", 90)),
    ],
)
def test_history_query_parsing(args: dict[str, str], expected: tuple[str, str, int]) -> None:
    """Valid queries: country any case, billing function, support without key, days default 90."""
    assert parse_history_query(args) == expected


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        ({}, 400, "product"),
        ({"product": "fax", "country": "DE"}, 404, "unknown product"),
        ({"product": "sms"}, 400, "country"),
        ({"product": "sms", "country": "D3"}, 400, "alpha-2"),
        ({"product": "sms", "country": "XX"}, 404, "unknown country"),
        ({"product": "billing", "function": "refund"}, 404, "unknown billing function"),
        ({"product": "sms", "country": "DE", "days": "401"}, 400, "days"),
        ({"product": "sms", "country": "DE", "days": "0"}, 400, "days"),
        ({"product": "sms", "country": "DE", "days": "7d"}, 400, "days"),
        ({"product": "sms", "country": "DE", "days": "-1"}, 400, "days"),
    ],
)
def test_history_query_errors(args: dict[str, str], status: int, words: str) -> None:
    """Unknown things are 404, malformed values 400, each with the reason."""
    with pytest.raises(QueryError, match=words) as caught:
        parse_history_query(args)
    assert caught.value.status == status


def test_month_parsing() -> None:
    """month defaults to the current UTC month; anything but YYYY-MM is a 400."""
    assert parse_month(None, D0) == "2025-11"
    assert parse_month("2024-02", D0) == "2024-02"
    for bad in ("2024-13", "2024-2", "24-02", "2024/02", "abcd-ef"):
        with pytest.raises(QueryError) as caught:
            parse_month(bad, D0)
        assert caught.value.status == 400


def test_apply_writes_a_batch_in_order(store: HistoryStore) -> None:
    """The writer's batch: snapshots oldest first, incidents included, one transaction."""
    incident = Incident("i1", "db", "investigating", D0, D0)
    store.apply(
        [
            Snapshot(D0, {"sms:DE": OP}, (incident,)),
            Snapshot(D0 + 10, {"sms:DE": DEG}, None),
        ]
    )
    assert days(store, "sms:DE", 1, D0 + 20) == {"2025-11-25": {OP: 10, DEG: 10}}
    assert store.load_timeline().incidents == (incident,)


def test_unknown_schema_version_is_treated_as_damage(path: Path) -> None:
    """A database from an unknown schema version is moved aside, not misread."""
    store = HistoryStore.open(path, now=D0)
    store.connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    store.close()
    store = HistoryStore.open(path, now=D0 + 1)
    try:
        assert list(path.parent.glob("*.corrupt-*"))
        assert store.connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (
            "3",
        )
    finally:
        store.close()


def test_timeline_keeps_the_newest_incident_of_every_topic(store: HistoryStore) -> None:
    """After a restart every topic's newest incident is back (ids stay), older ones only
    among the newest 50 resolved."""
    store.record_incidents(
        [Incident(f"id{n}", f"t{n}", "resolved", D0 + n, D0 + n, D0 + n) for n in range(80)]
        + [Incident("older", "t0", "resolved", D0 - 10, D0 - 10, D0 - 5)]
    )
    incidents = store.load_timeline().incidents
    assert len(incidents) == 80
    assert "older" not in {i.id for i in incidents}
    assert incidents[0].id == "id79"


# --- storage format -----------------------------------------------------------------------------


def test_stored_verdicts_are_the_verdicts_in_their_file_order() -> None:
    """The codes in the file are positions in STORED_VERDICTS: every verdict once, and the
    order never changes (it is the file format)."""
    assert sorted(STORED_VERDICTS) == sorted(VERDICTS)
    assert len(set(STORED_VERDICTS)) == len(STORED_VERDICTS)
    assert STORED_VERDICTS == (OP, DEG, PART, MAJ, UNK, UM)


@given(
    start=st.floats(1e9, 2e9),
    lengths=st.lists(st.floats(0, DAY / 3), min_size=1, max_size=20),
)
def test_milliseconds_of_consecutive_intervals_add_up_to_their_span(
    start: float, lengths: list[float]
) -> None:
    """Rollups are whole milliseconds of rounded ends: no drift over many intervals."""
    ends = list(itertools.accumulate(lengths, initial=start))
    pieces = [piece for a, b in itertools.pairwise(ends) for piece in split_ms_by_day(a, b)]
    assert sum(ms for _, ms in pieces) == round(ends[-1] * 1000) - round(start * 1000)
    assert all(0 < ms <= DAY * 1000 for _, ms in pieces)


def test_a_day_of_odd_interval_lengths_adds_up_to_the_whole_day(store: HistoryStore) -> None:
    """200 intervals at sub-millisecond times still fill their day's rollup exactly."""
    verdicts = [OP, DEG, PART, MAJ, UNK]
    for n in range(200):
        store.record_verdicts(D0 + n * 431.9997, {"sms:DE": verdicts[n % 5]})
    store.record_verdicts(D0 + DAY, {"sms:DE": OP})
    (total,) = store.connection.execute(
        "SELECT operational_ms + degraded_performance_ms + partial_outage_ms + major_outage_ms"
        " + unknown_ms FROM daily WHERE day = ?",
        (utc_day(D0),),
    ).fetchone()
    assert total == DAY * 1000
    [bucket] = read_daily(store.connection, "sms:DE", 1, D0 + DAY - 1)
    assert sum(bucket.seconds.values()) == pytest.approx(DAY, abs=1e-6)


# --- version 1 files ------------------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_seen REAL NOT NULL,
    verdict TEXT,
    changed_at REAL,
    known TEXT
);
CREATE TABLE IF NOT EXISTS intervals (
    id INTEGER PRIMARY KEY,
    cell INTEGER NOT NULL REFERENCES cells (id),
    verdict TEXT NOT NULL,
    start REAL NOT NULL,
    "end" REAL,
    gap INTEGER NOT NULL DEFAULT 0,
    previous TEXT,
    notable INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS intervals_open ON intervals (cell) WHERE "end" IS NULL;
CREATE INDEX IF NOT EXISTS intervals_cell_start ON intervals (cell, start);
CREATE INDEX IF NOT EXISTS intervals_end ON intervals ("end");
CREATE INDEX IF NOT EXISTS intervals_notable ON intervals (start) WHERE notable = 1;
CREATE TABLE IF NOT EXISTS daily (
    cell INTEGER NOT NULL,
    day INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (cell, day, verdict)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS daily_day ON daily (day);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    resolved_at REAL
);
CREATE INDEX IF NOT EXISTS incidents_topic ON incidents (topic, started_at);
"""
"""The schema of version-1 files, as statusd wrote them (copied, not imported)."""


def write_v1(source: Path, target: Path) -> None:
    """The version-1 file of the (unpruned) history in ``source``: the same cells, meta,
    incidents and intervals (verdicts as text), and the daily rows the version-1 writer
    made — float seconds per (cell, day, verdict), added up from the closed intervals."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as new, closing(sqlite3.connect(target)) as old:
        old.executescript(V1_SCHEMA)
        for key, value in new.execute("SELECT key, value FROM meta"):
            old.execute("INSERT INTO meta VALUES (?, ?)", (key, "1" if key == "schema" else value))
        old.executemany(
            "INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?)", new.execute("SELECT * FROM cells")
        )
        old.executemany(
            "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?)",
            new.execute(f"SELECT {V2_INCIDENT_COLUMNS} FROM incidents"),
        )
        daily: dict[tuple[int, int, str], float] = {}
        for row_id, cell, code, start, end, gap, previous, notable in new.execute(
            'SELECT id, cell, verdict, start, "end", gap, previous, notable FROM intervals'
        ):
            verdict = STORED_VERDICTS[code]
            old.execute(
                "INSERT INTO intervals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    cell,
                    verdict,
                    start,
                    end,
                    gap,
                    None if previous is None else STORED_VERDICTS[previous],
                    notable,
                ),
            )
            if end is not None:
                for day, seconds in split_by_day(start, end):
                    daily[cell, day, verdict] = daily.get((cell, day, verdict), 0.0) + seconds
        old.executemany(
            "INSERT INTO daily VALUES (?, ?, ?, ?)",
            [(*key, seconds) for key, seconds in daily.items()],
        )
        old.commit()


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """The rows of the history tables and the schema of a file."""
    with closing(sqlite3.connect(path)) as conn:
        return {
            "schema": conn.execute(
                "SELECT type, name, sql FROM sqlite_master ORDER BY name"
            ).fetchall(),
            "meta": conn.execute("SELECT * FROM meta ORDER BY key").fetchall(),
            **{
                table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("cells", "intervals", "daily", "incidents")
            },
        }


def write_history(path: Path) -> None:
    """Three cells over two days, a clean stop and restart, incidents, then a SIGKILL-like
    close (open intervals, heartbeat only); times with binary fractions of a second."""
    store = HistoryStore.open(path, now=D0 - 2 * DAY, max_gap=1e12)
    store.apply(
        [
            Snapshot(D0 - DAY - 2 * H, {"sms:DE": OP, "billing:payout": MAJ, "voice:FR": DEG}),
            Snapshot(D0 - DAY + 0.125, {"sms:DE": DEG, "billing:payout": MAJ, "voice:FR": DEG}),
            Snapshot(
                D0 - 3 * H + 0.5,
                {"sms:DE": OP, "billing:payout": MAJ, "voice:FR": UNK},
                (
                    Incident("old", "db", "resolved", D0 - DAY, D0 - DAY, D0 - 20 * H),
                    Incident("now", "dns", "investigating", D0 - 3 * H, D0 - 3 * H),
                ),
            ),
            Snapshot(D0 + H + 0.75, {"sms:DE": OP, "billing:payout": OP}),
        ]
    )
    store.mark_stopped(D0 + 2 * H)
    store.close()
    store = HistoryStore.open(path, now=D0 + 3 * H, max_gap=1e12)
    store.record_verdicts(D0 + 3 * H, {"sms:DE": PART, "billing:payout": OP, "voice:FR": MAJ})
    store.heartbeat(D0 + 4 * H)
    store.close()


def answers(store: HistoryStore, now: float) -> dict[str, object]:
    """Everything the readers answer about the history, and the timeline."""
    conn = store.connection
    return {
        "daily": {
            cell: read_daily(conn, cell, 4, now)
            for cell in ("sms:DE", "billing:payout", "voice:FR")
        },
        "month": read_month(conn, "2025-11", now),
        "feed": read_feed(conn),
        "feed_country": read_feed(conn, country="DE"),
        "feed_product": read_feed(conn, product="billing"),
        "timeline": store.load_timeline(),
    }


def test_a_version_1_file_is_converted_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A version-1 file reads, and goes on, exactly as the same history written natively."""
    native, old = tmp_path / "native.sqlite3", tmp_path / "v1" / "history.sqlite3"
    write_history(native)
    write_v1(native, old)
    opened = D0 + 5 * H
    with caplog.at_level(logging.INFO, logger="statusd.history"):
        stores = [HistoryStore.open(p, now=opened, max_gap=1e12) for p in (native, old)]
    try:
        assert [r.getMessage() for r in caplog.records] == ["history database converted"] * 2
        steps = [(vars(r)["from_schema"], vars(r)["to_schema"]) for r in caplog.records]
        assert steps == [(1, 2), (2, 3)]
        assert not list(old.parent.glob("*.corrupt-*"))
        for now in (opened, D0 + 6 * H + 0.25):
            first, second = (answers(store, now) for store in stores)
            assert first == second
        assert read_daily(stores[1].connection, "sms:DE", 2, opened)[0] == DayBucket(
            "2025-11-24", {OP: 3 * H - 0.375, DEG: 21 * H + 0.375}
        )
        for store in stores:  # both go on writing the same way
            store.record_verdicts(D0 + 6 * H + 0.25, {"sms:DE": OP, "voice:FR": MAJ})
        first, second = (answers(store, D0 + 7 * H) for store in stores)
        assert first == second
        for store in stores:
            store.mark_stopped(D0 + 7 * H)
    finally:
        for store in stores:
            store.close()
    assert dump(native) == dump(old)  # the same rows, the same schema and indexes
    converted = dump(old)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="statusd.history"):
        HistoryStore.open(old, now=D0 + 7 * H, max_gap=1e12).close()  # no new gap: stopped
    assert caplog.records == []
    assert dump(old) == converted  # opening again changes nothing


V2_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_seen REAL NOT NULL,
    verdict TEXT,
    changed_at REAL,
    known TEXT
);
CREATE TABLE IF NOT EXISTS intervals (
    id INTEGER PRIMARY KEY,
    cell INTEGER NOT NULL REFERENCES cells (id),
    verdict INTEGER NOT NULL,
    start REAL NOT NULL,
    "end" REAL,
    gap INTEGER NOT NULL DEFAULT 0,
    previous INTEGER,
    notable INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS daily (
    cell INTEGER NOT NULL,
    day INTEGER NOT NULL,
    operational_ms INTEGER NOT NULL DEFAULT 0, degraded_performance_ms INTEGER NOT NULL DEFAULT 0,
    partial_outage_ms INTEGER NOT NULL DEFAULT 0, major_outage_ms INTEGER NOT NULL DEFAULT 0,
    unknown_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cell, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    resolved_at REAL
);
CREATE INDEX IF NOT EXISTS intervals_open ON intervals (cell) WHERE "end" IS NULL;
CREATE INDEX IF NOT EXISTS intervals_cell_start ON intervals (cell, start);
CREATE INDEX IF NOT EXISTS intervals_notable ON intervals (start) WHERE notable = 1;
CREATE INDEX IF NOT EXISTS daily_day ON daily (day);
CREATE INDEX IF NOT EXISTS incidents_topic ON incidents (topic, started_at);
"""
"""The schema of version-2 files, as statusd wrote them (copied, not imported)."""
V2_INCIDENT_COLUMNS = "id, topic, status, started_at, updated_at, resolved_at"
V2_DAILY_COLUMNS = "cell, day, operational_ms, degraded_performance_ms, partial_outage_ms, " + (
    "major_outage_ms, unknown_ms"
)


def write_v2(source: Path, target: Path) -> None:
    """The version-2 file of the history in ``source`` (which has no maintenance time and
    no reopened incident): the same rows, without the columns and tables of version 3."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as new, closing(sqlite3.connect(target)) as old:
        old.executescript(V2_SCHEMA)
        for key, value in new.execute("SELECT key, value FROM meta"):
            old.execute("INSERT INTO meta VALUES (?, ?)", (key, "2" if key == "schema" else value))
        for table, columns in (
            ("cells", "*"),
            ("intervals", "*"),
            ("daily", V2_DAILY_COLUMNS),
            ("incidents", V2_INCIDENT_COLUMNS),
        ):
            rows = new.execute(f"SELECT {columns} FROM {table}").fetchall()
            marks = ", ".join("?" * len(rows[0]))
            old.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        old.commit()


def test_a_version_2_file_is_converted_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A version-2 file gains the maintenance column and tables and the incidents' reopens
    in one step, and reads and goes on exactly as the same history written natively; the
    converted file has exactly the schema of a new one."""
    native, old = tmp_path / "native.sqlite3", tmp_path / "v2" / "history.sqlite3"
    write_history(native)
    write_v2(native, old)
    opened = D0 + 5 * H
    with caplog.at_level(logging.INFO, logger="statusd.history"):
        stores = [HistoryStore.open(p, now=opened, max_gap=1e12) for p in (native, old)]
    try:
        steps = [(vars(r)["from_schema"], vars(r)["to_schema"]) for r in caplog.records]
        assert steps == [(2, 3)]
        assert answers(stores[0], opened) == answers(stores[1], opened)
        for store in stores:  # both go on writing maintenance time the same way
            store.record_verdicts(D0 + 6 * H, {"sms:DE": UM, "voice:FR": MAJ})
            store.record_verdicts(D0 + 7 * H, {"sms:DE": OP, "voice:FR": MAJ})
        first, second = (answers(store, D0 + 8 * H) for store in stores)
        assert first == second
        day = read_daily(stores[1].connection, "sms:DE", 1, D0 + 8 * H)[0]
        assert day.seconds[UM] == H
    finally:
        for store in stores:
            store.close()
    assert dump(native) == dump(old)


def test_version_1_daily_seconds_become_rounded_milliseconds(path: Path) -> None:
    """Old float seconds per verdict are summed per (cell, day) in whole milliseconds."""
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('schema', '1')")
        conn.execute("INSERT INTO cells (id, name, first_seen) VALUES (1, 'sms:DE', 0)")
        day = utc_day(D0)
        conn.executemany(
            "INSERT INTO daily VALUES (1, ?, ?, ?)",
            [(day, OP, 100.00049), (day, MAJ, 0.0006), (day - 1, UNK, 3.3333333)],
        )
        conn.commit()
    HistoryStore.open(path, now=D0 + DAY, max_gap=1e12).close()
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT * FROM daily ORDER BY day").fetchall()
        types = conn.execute("SELECT DISTINCT typeof(operational_ms) FROM daily").fetchall()
    assert rows == [(1, day - 1, 0, 0, 0, 0, 3333, 0), (1, day, 100000, 0, 0, 1, 0, 0)]
    assert types == [("integer",)]


def test_a_version_1_file_that_cannot_be_converted_is_moved_aside_unchanged(path: Path) -> None:
    """A verdict the format does not know: damage. The conversion is one transaction, so the
    file moved aside is the version-1 file as it was."""
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('schema', '1')")
        conn.execute("INSERT INTO cells (id, name, first_seen) VALUES (1, 'sms:DE', 0)")
        conn.execute("INSERT INTO daily VALUES (1, 1, 'operational', 5.0)")
        conn.execute("INSERT INTO intervals (cell, verdict, start) VALUES (1, 'sideways', 0)")
        conn.commit()
    before = dump(path)
    store = HistoryStore.open(path, now=D0)
    try:
        [aside] = list(path.parent.glob("*.corrupt-*"))
        assert dump(aside) == before
        assert store.connection.execute("SELECT count(*) FROM intervals").fetchone() == (0,)
    finally:
        store.close()


# --- a shared database: another replica takes over ------------------------------------------


@pytest.mark.parametrize(
    ("opened_at", "expected"),
    [
        (D0 + 150, {OP: 250, DEG: 100}),  # within max_gap of the last heartbeat: continuous
        (D0 + 400, {OP: 60, UNK: 440, DEG: 100}),  # silent longer than max_gap: unknown since
    ],
)
def test_a_replica_taking_over_carries_on_from_the_shared_database(
    postgres: PostgresServer, opened_at: float, expected: dict[str, float]
) -> None:
    """A store opened on the shared database picks up the open intervals, the incidents and
    the heartbeat another replica wrote; the time since that heartbeat is unknown only when
    it exceeds max_gap (on SQLite, opening always means statusd was down)."""
    url = DatabaseUrl("postgresql", postgres.create_database())
    incident = Incident("i1", "db", "investigating", D0, D0)
    first = HistoryStore.open(url, now=D0, max_gap=180)
    first.apply([Snapshot(D0, {"sms:DE": OP}, (incident,))])
    first.heartbeat(D0 + 60)
    first.close()  # no mark_stopped: the first leader died
    second = HistoryStore.open(url, now=opened_at, max_gap=180)
    try:
        assert second.record_incidents([incident]) == 0  # known already: nothing to write
        assert second.load_timeline().incidents == (incident,)
        second.record_verdicts(opened_at + 100, {"sms:DE": DEG})
        assert days(second, "sms:DE", 1, opened_at + 200) == {"2025-11-25": expected}
    finally:
        second.close()


def test_snapshots_kept_while_following_are_not_written_over_the_leaders_history(
    postgres: PostgresServer,
) -> None:
    """A replica that starts leading writes what it kept while following; the snapshots from
    before the last leader's heartbeat are in the history already and are left out (written,
    they would be changes at the new term's start that never happened then)."""
    url = DatabaseUrl("postgresql", postgres.create_database())
    first = HistoryStore.open(url, now=D0, max_gap=180)
    first.apply([Snapshot(D0, {"sms:DE": OP}), Snapshot(D0 + 30, {"sms:DE": DEG})])
    first.heartbeat(D0 + 60)
    first.close()
    second = HistoryStore.open(url, now=D0 + 61, max_gap=180)
    try:
        # While following, it saw the same two changes; then a recovery after the heartbeat.
        kept = [Snapshot(D0, {"sms:DE": OP}), Snapshot(D0 + 30, {"sms:DE": DEG})]
        assert second.apply([*kept, Snapshot(D0 + 90, {"sms:DE": OP})]) == 1
        assert days(second, "sms:DE", 1, D0 + 120) == {"2025-11-25": {OP: 30 + 30, DEG: 60}}
    finally:
        second.close()


def test_a_failed_transaction_reloads_the_writers_state(store: HistoryStore) -> None:
    """A batch that fails halfway is rolled back, and so is what the store remembers: the
    next batch goes on from what the database holds."""
    store.record_verdicts(D0, {"sms:DE": OP})
    with pytest.raises(ValueError, match="sideways"):
        store.record_verdicts(D0 + 10, {"sms:DE": DEG, "sms:FR": "sideways"})
    assert store.record_verdicts(D0 + 20, {"sms:DE": OP}) == 0
    store.record_verdicts(D0 + 30, {"sms:DE": MAJ})
    assert days(store, "sms:DE", 1, D0 + 40) == {"2025-11-25": {OP: 30, MAJ: 10}}
    (count,) = store.connection.execute("SELECT count(*) FROM intervals").fetchone()
    assert count == 2


def test_a_failed_batch_does_not_forget_the_maintenance_record(store: HistoryStore) -> None:
    """The maintenance record of a batch that was rolled back is written with the next one."""
    record = MaintenanceRecord(D0)
    with pytest.raises(ValueError, match="sideways"):
        store.apply(
            [Snapshot(D0, {"sms:DE": OP}, None, record), Snapshot(D0 + 5, {"sms:DE": "sideways"})]
        )
    assert read_maintenance(store.connection) is None
    store.apply([Snapshot(D0 + 10, {"sms:DE": OP}, None, record)])
    kept = read_maintenance(store.connection)
    assert kept is not None
    assert kept.at == D0


def test_feed_filters_by_product_and_country(store: HistoryStore) -> None:
    """The feed's filters select a product's cells (by name prefix, not a pattern) or a
    country's; without filters every change and incident is there."""
    store.record_verdicts(D0, {"sms:DE": DEG, "sms:FR": DEG, "billing:payout": MAJ})
    store.record_incidents([Incident("i1", "db", "investigating", D0, D0)])
    conn = store.connection
    assert {(e.product, e.key) for e in read_feed(conn, product="billing")} == {
        ("billing", "payout")
    }
    assert {(e.product, e.key) for e in read_feed(conn, product="sms")} == {
        ("sms", "DE"),
        ("sms", "FR"),
    }
    assert {(e.product, e.key) for e in read_feed(conn, country="FR")} == {("sms", "FR")}
    assert [e.kind for e in read_feed(conn)].count("incident") == 1
    assert read_feed(conn, product="sm") == []
