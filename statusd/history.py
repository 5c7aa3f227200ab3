"""Verdict history in SQLite (SPEC §7): intervals per cell, daily rollups, incidents.

One file in WAL mode. ``HistoryStore`` is the writer: synchronous methods that one writer task
calls through ``trio.to_thread.run_sync`` (one call at a time, so its connection is never used
by two threads at once). ``HistoryReader`` serves request handlers: each read opens its own
short-lived connection in the calling worker thread, so readers never share a connection and
never wait for the writer (WAL).

Model: every change of a cell's verdict closes the cell's open interval and opens a new one.
Closing an interval adds its time to the daily rollup of each UTC day it covers (one row per
cell and day, whole milliseconds per verdict; in the file a verdict is its position in
``STORED_VERDICTS``). A heartbeat (every write, and periodically) records that statusd was
alive; time after the last heartbeat — statusd stopped, killed, or the history paused —
becomes an ``unknown`` *gap* interval, never counted as up. Raw intervals are kept
``raw_days``, rollups ``rollup_days``, pruned by ``prune``. A version-1 file (text verdicts,
a rollup row per verdict) is converted when the writer opens it.

Errors::

    HistoryError         a database operation failed; nothing was written (transaction rolled back)
    ├── HistoryFull      disk or database full: pause and retry later
    └── HistoryCorrupt   the file is not a usable database: move it aside and start a new one
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from statusd.countries import is_country
from statusd.verdicts import (
    BILLING_FUNCTIONS,
    COUNTRY_PRODUCTS,
    DEGRADED,
    MAJOR,
    OPERATIONAL,
    PARTIAL,
    PRODUCTS,
    SUPPORT_KEY,
    UNKNOWN,
    VERDICTS,
    CellClock,
    Incident,
    QueryError,
    Timeline,
    cell_id,
    cell_name,
    cell_sort_key,
    split_cell_id,
)

log = logging.getLogger(__name__)

DAY = 86400
SCHEMA_VERSION = 2
MAX_DAYS = 400
DEFAULT_DAYS = 90
FEED_LIMIT = 100
KEEP_INCIDENTS = 50
FEED_NAMESPACE = uuid.UUID("5b0d4c2e-6f0a-4d8e-9a51-6d7461747573")
"""Namespace of the feed's ``urn:uuid`` entry ids (uuid5 of the entry's identity)."""

STORED_VERDICTS = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "unknown",
)
"""The verdicts as the file stores them: ``intervals.verdict`` and ``intervals.previous`` hold
a verdict's position in this tuple. The order is the file format: never reorder it; a new
verdict is appended (and ``daily`` gains its column) with a new schema version."""
VERDICT_CODES = {verdict: code for code, verdict in enumerate(STORED_VERDICTS)}
DAILY_COLUMNS = {verdict: f"{verdict}_ms" for verdict in STORED_VERDICTS}
"""``daily``'s column of each verdict: whole milliseconds. SQL names come only from here."""

TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_seen REAL NOT NULL,
    verdict TEXT,
    changed_at REAL,
    known TEXT
)""",
    """CREATE TABLE IF NOT EXISTS intervals (
    id INTEGER PRIMARY KEY,
    cell INTEGER NOT NULL REFERENCES cells (id),
    verdict INTEGER NOT NULL,
    start REAL NOT NULL,
    "end" REAL,
    gap INTEGER NOT NULL DEFAULT 0,
    previous INTEGER,
    notable INTEGER NOT NULL DEFAULT 0
)""",
    f"""CREATE TABLE IF NOT EXISTS daily (
    cell INTEGER NOT NULL,
    day INTEGER NOT NULL,
    {", ".join(f"{column} INTEGER NOT NULL DEFAULT 0" for column in DAILY_COLUMNS.values())},
    PRIMARY KEY (cell, day)
) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    resolved_at REAL
)""",
)
# No index on intervals ("end"): only the daily prune looks for old ends, and it may scan.
INDEXES = (
    'CREATE INDEX IF NOT EXISTS intervals_open ON intervals (cell) WHERE "end" IS NULL',
    "CREATE INDEX IF NOT EXISTS intervals_cell_start ON intervals (cell, start)",
    "CREATE INDEX IF NOT EXISTS intervals_notable ON intervals (start) WHERE notable = 1",
    "CREATE INDEX IF NOT EXISTS daily_day ON daily (day)",
    "CREATE INDEX IF NOT EXISTS incidents_topic ON incidents (topic, started_at)",
)


class HistoryError(Exception):
    """A history operation failed; nothing was written."""


class HistoryFull(HistoryError):
    """The disk (or the database) is full: history pauses until a retry succeeds."""


class HistoryCorrupt(HistoryError):
    """The database file is damaged or not a database."""


def _history_error(error: sqlite3.Error) -> HistoryError:
    """The precise history error of an sqlite3 error (by SQLite's result code)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return HistoryFull(str(error))
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return HistoryCorrupt(str(error))
    return HistoryError(str(error))


# --- pure helpers -----------------------------------------------------------------------------


def utc_day(at: float) -> int:
    """Days since 1970-01-01 of the UTC day containing ``at``."""
    return math.floor(at / DAY)


def day_text(day: int) -> str:
    """``YYYY-MM-DD`` of a day number."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def split_by_day(start: float, end: float) -> Iterator[tuple[int, float]]:
    """The seconds of [start, end) in each UTC day it touches."""
    while start < end:
        day = utc_day(start)
        stop = min(end, (day + 1) * DAY)
        yield day, stop - start
        start = stop


def uptime(seconds: Mapping[str, float]) -> float | None:
    """(operational + degraded) / known seconds; None without known seconds (SPEC §7)."""
    up = seconds.get(OPERATIONAL, 0.0) + seconds.get(DEGRADED, 0.0)
    known = up + seconds.get(PARTIAL, 0.0) + seconds.get(MAJOR, 0.0)
    return None if known <= 0 else up / known


def split_ms_by_day(start: float, end: float) -> Iterator[tuple[int, int]]:
    """The whole milliseconds of [start, end) in each UTC day it touches, without zeros.

    Each piece is the difference of its rounded ends, so the pieces of consecutive
    intervals add up to their whole span: rounding never drifts over a day's intervals.
    """
    while start < end:
        day = utc_day(start)
        stop = min(end, (day + 1) * DAY)
        ms = round(stop * 1000) - round(start * 1000)
        if ms:
            yield day, ms
        start = stop


def _seconds(row: Sequence[int]) -> dict[str, float]:
    """{verdict: seconds} of ``daily``'s millisecond columns (in ``STORED_VERDICTS`` order);
    verdicts without time are left out."""
    return {verdict: ms / 1000 for verdict, ms in zip(STORED_VERDICTS, row, strict=True) if ms}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the state holder hands to the history: every cell's verdict and the incidents."""

    at: float
    verdicts: Mapping[str, str]
    incidents: tuple[Incident, ...] | None = None


@dataclass(frozen=True, slots=True)
class DayBucket:
    """One UTC day of one cell: seconds in each verdict."""

    date: str
    seconds: Mapping[str, float]

    @property
    def uptime(self) -> float | None:
        return uptime(self.seconds)


@dataclass(frozen=True, slots=True)
class MonthRow:
    """One cell on one UTC day, for the SLA export."""

    date: str
    product: str
    key: str
    seconds: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """A verdict change of a cell, or an incident opening or resolving, with a stable id."""

    id: str
    at: float
    kind: str
    product: str = ""
    key: str = ""
    verdict: str = ""
    previous: str | None = None
    topic: str = ""
    status: str = ""


@dataclass(slots=True)
class _Open:
    row: int
    verdict: str
    start: float
    gap: bool


# --- the writer -------------------------------------------------------------------------------


def move_aside(path: Path, now: float) -> Path:
    """Rename a damaged database (and its WAL) to ``<path>.corrupt-<UTC time>``; drop -shm."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    if path.exists():
        path.rename(target)
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        wal.rename(target.with_name(target.name + "-wal"))
    path.with_name(path.name + "-shm").unlink(missing_ok=True)
    return target


def _prepare(conn: sqlite3.Connection, max_gap: float) -> None:
    """Create the schema in a new file or convert a version-1 file, in one transaction;
    ``HistoryCorrupt`` for a file of an unknown version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        version = None
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            version = None if row is None else row[0]
        if version is None and "daily" in tables:
            raise HistoryCorrupt("history tables without a schema version")
        if version == "1":
            _migrate_v1(conn)
        elif version is None:
            for statement in (*TABLES, *INDEXES):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
        elif version != str(SCHEMA_VERSION):
            raise HistoryCorrupt(f"unknown schema version {version!r}")
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('max_gap', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (repr(float(max_gap)),),
        )
        conn.execute("COMMIT")
    except BaseException:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _verdict_code_sql(column: str) -> str:
    """SQL turning a version-1 verdict text in ``column`` into its code (NULL stays NULL)."""
    cases = " ".join(f"WHEN '{verdict}' THEN {code}" for verdict, code in VERDICT_CODES.items())
    return f"CASE {column} {cases} END"


def _migrate_v1(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2 inside the caller's transaction: one ``daily`` row per (cell, day) with
    whole milliseconds per verdict; verdict codes in ``intervals``; no ``intervals_end``."""
    texts = ", ".join(f"'{verdict}'" for verdict in STORED_VERDICTS)
    (unknown,) = conn.execute(
        f"SELECT (SELECT count(*) FROM intervals WHERE verdict NOT IN ({texts})"
        f" OR previous NOT IN ({texts}))"
        f" + (SELECT count(*) FROM daily WHERE verdict NOT IN ({texts}))"
    ).fetchone()
    if unknown:
        raise HistoryCorrupt(f"{unknown} version-1 rows hold no known verdict")
    for name in ("intervals_open", "intervals_cell_start", "intervals_end", "intervals_notable"):
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    conn.execute("DROP INDEX IF EXISTS daily_day")
    conn.execute("ALTER TABLE intervals RENAME TO intervals_v1")
    conn.execute("ALTER TABLE daily RENAME TO daily_v1")
    for statement in TABLES:
        conn.execute(statement)
    conn.execute(
        'INSERT INTO intervals (id, cell, verdict, start, "end", gap, previous, notable) '
        f'SELECT id, cell, {_verdict_code_sql("verdict")}, start, "end", gap, '
        f"{_verdict_code_sql('previous')}, notable FROM intervals_v1 ORDER BY id"
    )
    sums = ", ".join(
        f"sum(CASE verdict WHEN '{verdict}' THEN CAST(round(seconds * 1000) AS INTEGER) ELSE 0 END)"
        for verdict in DAILY_COLUMNS
    )
    conn.execute(
        f"INSERT INTO daily (cell, day, {', '.join(DAILY_COLUMNS.values())}) "
        f"SELECT cell, day, {sums} FROM daily_v1 GROUP BY cell, day ORDER BY cell, day"
    )
    conn.execute("DROP TABLE intervals_v1")
    conn.execute("DROP TABLE daily_v1")
    for statement in INDEXES:
        conn.execute(statement)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
    log.info("history database converted from schema version 1 to %d", SCHEMA_VERSION)


_ADD_DAILY = {
    verdict: f"INSERT INTO daily (cell, day, {column}) VALUES (?, ?, ?) "
    f"ON CONFLICT (cell, day) DO UPDATE SET {column} = {column} + excluded.{column}"
    for verdict, column in DAILY_COLUMNS.items()
}
"""Add milliseconds of a verdict to a cell's day (the statement of each verdict)."""
_DAILY_MS = ", ".join(DAILY_COLUMNS.values())


class HistoryStore:
    """The writer's view of the history database (one per process; see the module doc)."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, max_gap: float, rollup_days: int
    ) -> None:
        self._conn = conn
        self.path = path
        self._max_gap = max_gap
        self._rollup_days = rollup_days
        self._cells: dict[str, int] = {}
        self._current: dict[str, _Open] = {}
        self._last_known: dict[str, str] = {}
        self._incidents: dict[str, tuple[Any, ...]] = {}
        self._heartbeat: float | None = None

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        now: float,
        max_gap: float = 180.0,
        rollup_days: int = MAX_DAYS,
    ) -> HistoryStore:
        """Open (or create) the database; time since the last heartbeat becomes unknown.

        A damaged file is moved aside with a warning and a new database started. ``max_gap``
        is the longest silence between writes still counted as continuous (a longer one —
        history paused, machine suspended — becomes unknown too).
        """
        try:
            return cls._open(path, now=now, max_gap=max_gap, rollup_days=rollup_days)
        except HistoryCorrupt as error:
            aside = move_aside(path, now)
            log.warning(
                "history database %s is damaged (%s); moved it to %s and started a new one",
                path,
                error,
                aside,
            )
            return cls._open(path, now=now, max_gap=max_gap, rollup_days=rollup_days)

    @classmethod
    def _open(cls, path: Path, *, now: float, max_gap: float, rollup_days: int) -> HistoryStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise _history_error(error) from error
        try:
            try:
                conn.execute("PRAGMA journal_mode=WAL").fetchone()
                conn.execute("PRAGMA synchronous=NORMAL")
                if conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                    raise HistoryCorrupt("integrity check failed")
                _prepare(conn, max_gap)
            except sqlite3.Error as error:
                raise _history_error(error) from error
            store = cls(conn, path, max_gap=max_gap, rollup_days=rollup_days)
            try:
                store._load()
            except sqlite3.Error as error:
                raise _history_error(error) from error
            with store._write():
                if store._heartbeat is not None:
                    store._gap(store._heartbeat)
                store._set_heartbeat(max(now, store._heartbeat or now))
            return store
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        self._conn.close()

    # -- transactions and in-memory state --

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One IMMEDIATE transaction; on any failure roll back and reload the state."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            yield
            self._conn.execute("COMMIT")
        except sqlite3.Error as error:
            self._abort()
            raise _history_error(error) from error
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        with suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        with suppress(sqlite3.Error):
            self._load()

    def _load(self) -> None:
        """Read the open intervals, cells, last known verdicts and heartbeat from the file."""
        conn = self._conn
        self._cells = {}
        self._last_known = {}
        for row_id, name, known in conn.execute("SELECT id, name, known FROM cells"):
            self._cells[name] = row_id
            if known is not None:
                self._last_known[name] = known
        names = {row_id: name for name, row_id in self._cells.items()}
        self._current = {
            names[cell]: _Open(row, STORED_VERDICTS[verdict], start, bool(gap))
            for row, cell, verdict, start, gap in conn.execute(
                'SELECT id, cell, verdict, start, gap FROM intervals WHERE "end" IS NULL'
            )
        }
        self._load_incidents()
        row = conn.execute("SELECT value FROM meta WHERE key = 'heartbeat'").fetchone()
        self._heartbeat = None if row is None else float(row[0])

    def _load_incidents(self) -> None:
        self._incidents = {
            row[0]: tuple(row[1:])
            for row in self._conn.execute(
                "SELECT id, status, updated_at, resolved_at FROM incidents"
            )
        }

    def _set_heartbeat(self, at: float) -> None:
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES ('heartbeat', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (repr(at),),
        )
        self._heartbeat = at

    def _touch(self, at: float) -> float:
        """Heartbeat at ``at`` (never backwards); a silence over ``max_gap`` becomes unknown."""
        if self._heartbeat is not None:
            if at < self._heartbeat:
                at = self._heartbeat
            elif at - self._heartbeat > self._max_gap:
                self._gap(self._heartbeat)
        self._set_heartbeat(at)
        return at

    def _gap(self, since: float) -> None:
        """From ``since`` on, every open cell is unknown (statusd was not watching)."""
        for name, current in list(self._current.items()):
            if not current.gap:
                self._close(name, current, since)
                self._start(name, UNKNOWN, since, gap=True)

    def _cell(self, name: str, at: float) -> int:
        row_id = self._cells.get(name)
        if row_id is None:
            cursor = self._conn.execute(
                "INSERT INTO cells (name, first_seen) VALUES (?, ?)", (name, at)
            )
            row_id = cursor.lastrowid
            assert row_id is not None
            self._cells[name] = row_id
        return row_id

    def _start(self, name: str, verdict: str, at: float, *, gap: bool) -> None:
        previous = self._last_known.get(name)
        known = verdict != UNKNOWN
        if previous is None:
            notable = known and verdict != OPERATIONAL
        else:
            notable = known and verdict != previous
        cell = self._cell(name, at)
        cursor = self._conn.execute(
            "INSERT INTO intervals (cell, verdict, start, gap, previous, notable) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                cell,
                VERDICT_CODES[verdict],
                at,
                int(gap),
                None if previous is None else VERDICT_CODES[previous],
                int(notable),
            ),
        )
        assert cursor.lastrowid is not None
        self._current[name] = _Open(cursor.lastrowid, verdict, at, gap)
        if not gap:
            self._conn.execute(
                "UPDATE cells SET verdict = ?, changed_at = ?, known = ? WHERE id = ?",
                (verdict, at, verdict if known else previous, cell),
            )
        if known:
            self._last_known[name] = verdict

    def _close(self, name: str, current: _Open, end: float) -> None:
        self._conn.execute('UPDATE intervals SET "end" = ? WHERE id = ?', (end, current.row))
        del self._current[name]
        start = max(current.start, end - self._rollup_days * DAY)
        cell = self._cells[name]
        self._conn.executemany(
            _ADD_DAILY[current.verdict],
            [(cell, day, ms) for day, ms in split_ms_by_day(start, end)],
        )

    def _verdicts(self, at: float, verdicts: Mapping[str, str]) -> int:
        at = self._touch(at)
        started = 0
        for name, verdict in verdicts.items():
            if verdict not in VERDICTS:
                raise ValueError(f"{name}: not a verdict: {verdict!r}")
            current = self._current.get(name)
            if current is not None:
                if not current.gap and current.verdict == verdict:
                    continue
                self._close(name, current, at)
            self._start(name, verdict, at, gap=False)
            started += 1
        for name in [name for name in self._current if name not in verdicts]:
            self._close(name, self._current[name], at)
        return started

    def _record_incidents(self, incidents: Sequence[Incident]) -> int:
        written = 0
        for incident in incidents:
            values = (incident.status, incident.updated_at, incident.resolved_at)
            if self._incidents.get(incident.id) == values:
                continue
            self._conn.execute(
                "INSERT INTO incidents (id, topic, status, started_at, updated_at, resolved_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "status = excluded.status, updated_at = excluded.updated_at, "
                "resolved_at = excluded.resolved_at",
                (
                    incident.id,
                    incident.topic,
                    incident.status,
                    incident.started_at,
                    incident.updated_at,
                    incident.resolved_at,
                ),
            )
            self._incidents[incident.id] = values
            written += 1
        return written

    # -- the writer's operations --

    def record_verdicts(self, at: float, verdicts: Mapping[str, str]) -> int:
        """Store the verdict of every current cell (``"sms:DE"`` → verdict) at ``at``.

        Only changes are written: a changed cell closes its interval and opens a new one; an
        open cell missing from ``verdicts`` (no rows any more) is closed. Returns how many
        intervals were opened.
        """
        with self._write():
            return self._verdicts(at, verdicts)

    def record_incidents(self, incidents: Sequence[Incident]) -> int:
        """Insert or update incidents that changed; returns how many were written."""
        with self._write():
            return self._record_incidents(incidents)

    def apply(self, snapshots: Sequence[Snapshot]) -> int:
        """Store several snapshots, oldest first, in one transaction (the writer's batch)."""
        with self._write():
            started = 0
            for snapshot in snapshots:
                started += self._verdicts(snapshot.at, snapshot.verdicts)
                if snapshot.incidents is not None:
                    self._record_incidents(snapshot.incidents)
            return started

    def heartbeat(self, at: float) -> None:
        """Record that statusd is alive at ``at`` (a crash loses at most the time since)."""
        with self._write():
            self._touch(at)

    def mark_stopped(self, at: float) -> None:
        """Record a clean stop at ``at``: from there until the next start is unknown."""
        with self._write():
            self._gap(self._touch(at))

    def prune(
        self, now: float, raw_days: int = 35, rollup_days: int = MAX_DAYS
    ) -> tuple[int, int, int]:
        """Delete intervals ended over ``raw_days`` ago (and resolved incidents as old) and
        rollups of days before the last ``rollup_days``; returns the rows deleted of each."""
        cutoff = now - raw_days * DAY
        first_day = utc_day(now) - rollup_days + 1
        with self._write():
            conn = self._conn
            intervals = conn.execute(
                'DELETE FROM intervals WHERE "end" IS NOT NULL AND "end" < ?', (cutoff,)
            ).rowcount
            days = conn.execute("DELETE FROM daily WHERE day < ?", (first_day,)).rowcount
            incidents = conn.execute(
                "DELETE FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?",
                (cutoff,),
            ).rowcount
            self._load_incidents()
        with suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return intervals, days, incidents

    def load_timeline(self) -> Timeline:
        """The public documents' memory: first seen and last real change of each cell, and
        the incidents (open ones, the newest of each topic, the newest resolved)."""
        clocks = {
            name: CellClock(verdict, first_seen, changed_at)
            for name, first_seen, verdict, changed_at in self._conn.execute(
                "SELECT name, first_seen, verdict, changed_at FROM cells WHERE verdict IS NOT NULL"
            )
        }
        incidents = [
            Incident(*row)
            for row in self._conn.execute(
                "SELECT id, topic, status, started_at, updated_at, resolved_at FROM incidents i "
                "WHERE resolved_at IS NULL "
                "OR started_at = (SELECT max(started_at) FROM incidents j WHERE j.topic = i.topic) "
                "OR id IN (SELECT id FROM incidents WHERE resolved_at IS NOT NULL "
                "ORDER BY started_at DESC LIMIT ?)",
                (KEEP_INCIDENTS,),
            )
        ]
        incidents.sort(key=lambda i: (-i.started_at, i.topic, i.id))
        return Timeline(cells=clocks, incidents=tuple(incidents))

    @property
    def connection(self) -> sqlite3.Connection:
        """The writer's connection, for reads in the writer's thread (tests, benchmarks)."""
        return self._conn


# --- reads ------------------------------------------------------------------------------------


def _meta_float(conn: sqlite3.Connection, key: str) -> float | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else float(row[0])


def _open_rows(
    conn: sqlite3.Connection, now: float, cell: int | None = None
) -> list[tuple[int, str, float, float]]:
    """(cell, verdict, start, end) of the time the open intervals cover up to ``now``.

    While the writer keeps heartbeating they run to ``now``; after a silence longer than
    the writer's ``max_gap`` (history paused or statusd gone) they end at the last
    heartbeat and the rest is unknown, as the writer will record it.
    """
    # The planner, without statistics, prefers (cell, start) and walks every interval of
    # the cell (35 days of them); the partial index holds only the open ones.
    sql = (
        "SELECT cell, verdict, start, gap FROM intervals INDEXED BY intervals_open"
        ' WHERE "end" IS NULL'
    )
    rows = conn.execute(sql + " AND cell = ?", (cell,)) if cell is not None else conn.execute(sql)
    heartbeat = _meta_float(conn, "heartbeat")
    max_gap = _meta_float(conn, "max_gap")
    silent = heartbeat is not None and max_gap is not None and now - heartbeat > max_gap
    out = []
    for row_cell, code, start, gap in rows:
        verdict = STORED_VERDICTS[code]
        if silent and not gap and heartbeat is not None:
            out.append((row_cell, verdict, start, heartbeat))
            out.append((row_cell, UNKNOWN, max(start, heartbeat), now))
        else:
            out.append((row_cell, verdict, start, now))
    return out


def read_daily(
    conn: sqlite3.Connection | None, cell: str, days: int, now: float
) -> list[DayBucket]:
    """The last ``days`` UTC days (oldest first, today last) of a cell; the open interval
    counts up to ``now``. Days without data (or no database: ``conn`` None) have empty
    ``seconds``."""
    last = utc_day(now)
    first = last - days + 1
    seconds: dict[int, dict[str, float]] = {day: {} for day in range(first, last + 1)}
    row = None
    if conn is not None:
        row = conn.execute("SELECT id FROM cells WHERE name = ?", (cell,)).fetchone()
    if conn is not None and row is not None:
        # One row holding them all: sqlite3 releases and retakes the GIL for every row it
        # steps to, and while the event loop is busy each retake waits for the switch
        # interval, so a read of a few hundred rows stalled requests for tens of ms.
        (rows,) = conn.execute(
            f"SELECT json_group_array(json_array(day, {_DAILY_MS})) FROM daily"
            " WHERE cell = ? AND day BETWEEN ? AND ?",
            (row[0], first, last),
        ).fetchone()
        for day, *ms in json.loads(rows):
            seconds[day] = _seconds(ms)
        for _, verdict, start, end in _open_rows(conn, now, row[0]):
            for day, amount in split_by_day(max(start, first * DAY), end):
                seconds[day][verdict] = seconds[day].get(verdict, 0.0) + amount
    return [DayBucket(day_text(day), seconds[day]) for day in range(first, last + 1)]


def month_range(month: str) -> tuple[int, int]:
    """First and last day numbers of ``YYYY-MM``; ValueError if it is not a month."""
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
        raise ValueError(f"expected YYYY-MM, got {month!r}")
    year, number = int(month[:4]), int(month[5:])
    first = dt.date(year, number, 1)
    following = dt.date(year + number // 12, number % 12 + 1, 1)
    epoch = dt.date(1970, 1, 1)
    return (first - epoch).days, (following - epoch).days - 1


def read_month(conn: sqlite3.Connection, month: str, now: float) -> list[MonthRow]:
    """Every cell's seconds per verdict on every day of ``month`` that has data, up to
    ``now``; sorted by date, then product and key."""
    first, last = month_range(month)
    last = min(last, utc_day(now))
    names: dict[int, str] = dict(conn.execute("SELECT id, name FROM cells"))
    table: dict[tuple[int, int], dict[str, float]] = {}
    for cell, day, *ms in conn.execute(
        f"SELECT cell, day, {_DAILY_MS} FROM daily WHERE day BETWEEN ? AND ?", (first, last)
    ):
        table[day, cell] = _seconds(ms)
    for cell, verdict, start, end in _open_rows(conn, now):
        for day, amount in split_by_day(max(start, first * DAY), min(end, (last + 1) * DAY)):
            bucket = table.setdefault((day, cell), {})
            bucket[verdict] = bucket.get(verdict, 0.0) + amount
    cells = {}
    for row_id, name in names.items():
        product, key = split_cell_id(name)
        cells[row_id] = (cell_sort_key(product, key), product, key)
    dates = {day: day_text(day) for day in range(first, last + 1)}
    ordered = sorted(table.items(), key=lambda item: (item[0][0], cells[item[0][1]][0]))
    return [
        MonthRow(dates[day], cells[cell][1], cells[cell][2], amounts)
        for (day, cell), amounts in ordered
    ]


def verdict_entry_id(cell: str, start: float, verdict: str) -> str:
    """The feed id of the interval of ``cell`` that started at ``start``."""
    return "urn:uuid:" + str(uuid.uuid5(FEED_NAMESPACE, f"verdict|{cell}|{start!r}|{verdict}"))


def incident_entry_id(incident: str, status: str) -> str:
    """The feed id of an incident's opening (``investigating``) or resolution."""
    return "urn:uuid:" + str(uuid.uuid5(FEED_NAMESPACE, f"incident|{incident}|{status}"))


def read_feed(
    conn: sqlite3.Connection,
    *,
    country: str | None = None,
    product: str | None = None,
    limit: int = FEED_LIMIT,
) -> list[FeedEntry]:
    """Newest first: changes between known verdicts (a first appearance only when not
    operational) and, without filters, incidents opening and resolving (an incident first
    seen already closed is no entry)."""
    where = ["i.notable = 1"]
    args: list[Any] = []
    if country is not None:
        products = [product] if product is not None else list(COUNTRY_PRODUCTS)
        where.append(f"c.name IN ({', '.join('?' * len(products))})")
        args += [cell_id(p, country) for p in products]
    elif product is not None:
        where.append("c.name GLOB ?")
        args.append(f"{product}:*")
    entries = []
    for name, code, previous_code, start in conn.execute(
        "SELECT c.name, i.verdict, i.previous, i.start FROM intervals i "
        f"JOIN cells c ON c.id = i.cell WHERE {' AND '.join(where)} "
        "ORDER BY i.start DESC, c.name LIMIT ?",
        (*args, limit),
    ):
        cell_product, key = split_cell_id(name)
        verdict = STORED_VERDICTS[code]
        previous = None if previous_code is None else STORED_VERDICTS[previous_code]
        entries.append(
            FeedEntry(
                id=verdict_entry_id(name, start, verdict),
                at=start,
                kind="verdict",
                product=cell_product,
                key=key,
                verdict=verdict,
                previous=previous,
            )
        )
    if country is None and product is None:
        for incident_row, topic, started_at, resolved_at in conn.execute(
            "SELECT id, topic, started_at, resolved_at FROM incidents "
            "WHERE resolved_at IS NULL OR resolved_at > started_at "
            "ORDER BY COALESCE(resolved_at, started_at) DESC LIMIT ?",
            (limit,),
        ):
            if resolved_at is not None:
                entries.append(
                    FeedEntry(
                        incident_entry_id(incident_row, "resolved"),
                        resolved_at,
                        "incident",
                        topic=topic,
                        status="resolved",
                    )
                )
            if resolved_at is None or resolved_at > started_at:
                entries.append(
                    FeedEntry(
                        incident_entry_id(incident_row, "investigating"),
                        started_at,
                        "incident",
                        topic=topic,
                        status="investigating",
                    )
                )
    entries.sort(key=lambda entry: (-entry.at, entry.id))
    return entries[:limit]


@dataclass(frozen=True, slots=True)
class HistoryReader:
    """Reads for request handlers: call each method via ``trio.to_thread.run_sync``.

    Every call opens its own connection in the calling thread and closes it; a database that
    does not exist yet reads as empty. Raises ``HistoryError`` (or a subclass) on failure.
    """

    path: Path
    timeout: float = field(default=5.0)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection | None]:
        if not self.path.exists():
            yield None
            return
        try:
            with closing(sqlite3.connect(self.path, timeout=self.timeout)) as conn:
                conn.execute("PRAGMA query_only = 1")
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'daily'"
                ).fetchone()
                yield conn if tables[0] else None
        except sqlite3.Error as error:
            raise _history_error(error) from error

    def daily(self, cell: str, days: int, now: float) -> list[DayBucket]:
        """See ``read_daily``."""
        with self._connect() as conn:
            return read_daily(conn, cell, days, now)

    def month_rows(self, month: str, now: float) -> list[MonthRow]:
        """See ``read_month``."""
        with self._connect() as conn:
            return [] if conn is None else read_month(conn, month, now)

    def feed_entries(
        self, country: str | None = None, product: str | None = None, limit: int = FEED_LIMIT
    ) -> list[FeedEntry]:
        """See ``read_feed``."""
        with self._connect() as conn:
            if conn is None:
                return []
            return read_feed(conn, country=country, product=product, limit=limit)


# --- request parsing and response bodies -------------------------------------------------------


BILLING_ALIASES = {"reccuring": "recurring"}
"""The /api spelling of a billing function, accepted in queries and badge paths."""


def parse_cell(product: str | None, key: str | None) -> tuple[str, str]:
    """(product, key) of a query, or ``QueryError`` (400 bad value, 404 no such thing).

    ``key`` is the country code (upper-cased) for country products, the function for
    ``billing``; ignored for ``support``.
    """
    if not product:
        raise QueryError(400, "query parameter 'product' is required")
    if product not in PRODUCTS:
        raise QueryError(404, f"unknown product {product!r}")
    if product == "support":
        return product, SUPPORT_KEY
    if not key:
        name = "function" if product == "billing" else "country"
        raise QueryError(400, f"query parameter {name!r} is required for product {product!r}")
    if product == "billing":
        key = BILLING_ALIASES.get(key, key)
        if key not in BILLING_FUNCTIONS:
            raise QueryError(404, f"unknown billing function {key!r}")
        return product, key
    return product, parse_country(key)


def parse_country(text: str) -> str:
    """An assigned ISO 3166-1 alpha-2 code (any case), or ``QueryError``."""
    code = text.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise QueryError(400, f"country must be an ISO 3166-1 alpha-2 code, got {text!r}")
    if not is_country(code):
        raise QueryError(404, f"unknown country {code!r}")
    return code


def parse_days(text: str | None) -> int:
    """``days`` of ``/api/history``: 1–400, default 90."""
    if text is None or text == "":
        return DEFAULT_DAYS
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise QueryError(400, f"days must be a whole number from 1 to {MAX_DAYS}, got {text!r}")
    return int(text)


def parse_history_query(args: Mapping[str, str]) -> tuple[str, str, int]:
    """(product, key, days) of ``/api/history?product=P&country=CC&days=N``.

    For billing the function is ``function=`` (``country=`` and ``key=`` are accepted too).
    """
    key = args.get("country") or args.get("function") or args.get("key")
    product, key = parse_cell(args.get("product"), key)
    return product, key, parse_days(args.get("days"))


def parse_month(text: str | None, now: float) -> str:
    """``month`` of ``/api/history.csv``: ``YYYY-MM``, default the current UTC month."""
    if text is None or text == "":
        return time.strftime("%Y-%m", time.gmtime(now))
    try:
        month_range(text)
    except ValueError:
        raise QueryError(400, f"month must be YYYY-MM, got {text!r}") from None
    return text


def shown_seconds(seconds: Mapping[str, float]) -> dict[str, int]:
    """Whole seconds per verdict (every verdict, zeros included): what /api/history and the
    CSV show of a day's stored milliseconds."""
    return {verdict: round(seconds.get(verdict, 0.0)) for verdict in VERDICTS}


def shown_uptime(shown: Mapping[str, int]) -> float | None:
    """The uptime of shown whole seconds, so a reader recomputing it from the seconds a row
    or bucket shows gets the same figure (SPEC §7); six decimals, None without known time."""
    ratio = uptime(shown)
    return None if ratio is None else round(ratio, 6)


def history_json(product: str, key: str, buckets: Sequence[DayBucket]) -> dict[str, Any]:
    """``/api/history``: the cell, its uptime over the period, and its daily buckets.

    Each bucket's ``uptime`` is computed from the whole seconds it shows, and the period's
    ``seconds`` are the sum of the buckets' (its ``uptime`` from those), so every figure
    recomputes from the numbers next to it.
    """
    shown = [shown_seconds(bucket.seconds) for bucket in buckets]
    total = {verdict: sum(day[verdict] for day in shown) for verdict in VERDICTS}
    return {
        "product": product,
        "key": key,
        "name": cell_name(product, key),
        "days": len(buckets),
        "uptime": shown_uptime(total),
        "seconds": total,
        "buckets": [
            {"date": bucket.date, "uptime": shown_uptime(day), "seconds": day}
            for bucket, day in zip(buckets, shown, strict=True)
        ],
    }


CSV_HEADER = (
    "date",
    "product",
    "key",
    "name",
    *(f"{verdict}_seconds" for verdict in VERDICTS),
    "uptime",
)


def history_csv(rows: Sequence[MonthRow]) -> bytes:
    """``/api/history.csv``: one row per cell per day (UTF-8, CRLF lines as RFC 4180 says);
    a row's ``uptime`` is computed from the whole seconds it shows (``shown_uptime``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    names: dict[tuple[str, str], str] = {}
    for row in rows:
        cell = (row.product, row.key)
        name = names.get(cell)
        if name is None:
            name = names[cell] = cell_name(row.product, row.key)
        shown = shown_seconds(row.seconds)
        ratio = shown_uptime(shown)
        writer.writerow(
            (
                row.date,
                row.product,
                row.key,
                name,
                *shown.values(),
                "" if ratio is None else f"{ratio:.6f}",
            )
        )
    return out.getvalue().encode()
