"""The history database (SPEC §7, §11): its tables, their migration, errors and day arithmetic.

One SQLite file in WAL mode (the default) or a PostgreSQL database that replicas share, both
through ``statusd.storage.engine`` with the same SQL. ``store.HistoryStore`` is the writer:
synchronous methods that one writer task (``writer``) calls through ``trio.to_thread.run_sync``
(one call at a time). ``reader.HistoryReader`` serves request handlers: each read is a
transaction of its own (SQLite: its own connection, WAL; PostgreSQL: a pooled one), so readers
never wait for the writer.

Model: every change of a cell's verdict closes the cell's open interval and opens a new one.
Closing an interval adds its time to the daily rollup of each UTC day it covers (one row per
cell and day, whole milliseconds per verdict; in the file a verdict is its position in
``STORED_VERDICTS``). A heartbeat (every write, and periodically) records that statusd was
alive; time after the last heartbeat — statusd stopped, killed, or the history paused —
becomes an ``unknown`` *gap* interval, never counted as up. Raw intervals are kept
``raw_days``, rollups ``rollup_days``, pruned by ``prune``. Older files are converted when the
writer opens it, in one transaction: version 1 (text verdicts, a rollup row per verdict) and
version 2 (no ``under_maintenance``, no incident ``reopens``, no maintenance tables). On
PostgreSQL the current schema is created directly (under a transaction advisory lock, so
replicas starting together create it once).

Besides the verdicts (schema 3, SPEC §9): ``incidents`` keeps every incident's life for
``rollup_days`` (``reopens``: the incident of the same topic it follows, when the topic was
seen active again after a close); ``maintenance_state`` what the maintenance task last
decided (the windows and the instant, the revisions) and ``maintenance_events`` the events
it decided (announced, started, completed), for the feed and across restarts.

Errors are the storage layer's (``HistoryError`` and its subclasses are their names here)::

    HistoryError = StorageError      a database operation failed; nothing was written
    ├── StorageUnavailable           the database cannot be reached: pause, retry, routes 503
    ├── HistoryFull = StorageFull    disk or database full: pause and retry later
    └── HistoryCorrupt = StorageCorrupt
                                     not a usable history database: a SQLite file is moved
                                     aside and a new one started; a shared PostgreSQL
                                     database is never touched (the writer pauses)
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, suppress
from pathlib import Path

from statusd.storage.engine import Connection, StorageCorrupt, StorageError, StorageFull, ddl
from statusd.storage.url import DatabaseUrl, sqlite_url
from statusd.verdicts.cells import DEGRADED, MAJOR, OPERATIONAL, PARTIAL

log = logging.getLogger("statusd.history")

DAY = 86400
SCHEMA_VERSION = 3
MAX_DAYS = 400

STORED_VERDICTS = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "unknown",
    "under_maintenance",
)
"""The verdicts as the file stores them: ``intervals.verdict`` and ``intervals.previous`` hold
a verdict's position in this tuple. The order is the file format: never reorder it; a new
verdict is appended (and ``daily`` gains its column) with a new schema version."""
VERDICT_CODES = {verdict: code for code, verdict in enumerate(STORED_VERDICTS)}
DAILY_COLUMNS = {verdict: f"{verdict}_ms" for verdict in STORED_VERDICTS}
"""``daily``'s column of each verdict: whole milliseconds. SQL names come only from here."""
ADD_DAILY = {
    verdict: f"INSERT INTO daily (cell, day, {column}) VALUES (?, ?, ?) "
    f"ON CONFLICT (cell, day) DO UPDATE SET {column} = daily.{column} + excluded.{column}"
    for verdict, column in DAILY_COLUMNS.items()
}
"""Add milliseconds of a verdict to a cell's day (the statement of each verdict)."""

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
    resolved_at REAL,
    reopens TEXT
)""",
    "CREATE TABLE IF NOT EXISTS maintenance_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # "window" is quoted: a reserved word in PostgreSQL (the same column in SQLite files).
    """CREATE TABLE IF NOT EXISTS maintenance_events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    "window" TEXT NOT NULL,
    occurred_at REAL NOT NULL,
    detail TEXT NOT NULL
)""",
)
# No index on intervals ("end"): only the daily prune looks for old ends, and it may scan.
INDEXES = (
    'CREATE INDEX IF NOT EXISTS intervals_open ON intervals (cell) WHERE "end" IS NULL',
    "CREATE INDEX IF NOT EXISTS intervals_cell_start ON intervals (cell, start)",
    "CREATE INDEX IF NOT EXISTS intervals_notable ON intervals (start) WHERE notable = 1",
    "CREATE INDEX IF NOT EXISTS daily_day ON daily (day)",
    "CREATE INDEX IF NOT EXISTS incidents_topic ON incidents (topic, started_at)",
    "CREATE INDEX IF NOT EXISTS maintenance_events_at ON maintenance_events (occurred_at)",
)


HistoryError = StorageError
"""A history operation failed; nothing was written."""
HistoryFull = StorageFull
"""The disk (or the database) is full: history pauses until a retry succeeds."""
HistoryCorrupt = StorageCorrupt
"""The database is damaged, not a database, or of an unknown schema version."""

SCHEMA_LOCK = 0x73746174_68697374
"""The PostgreSQL transaction advisory lock taken while the schema is checked or created
("stathist"; leadership uses a lock of its own)."""


def database_url(where: DatabaseUrl | Path) -> DatabaseUrl:
    """``where`` as a ``DatabaseUrl`` (a path is the SQLite file there)."""
    return where if isinstance(where, DatabaseUrl) else sqlite_url(where)


def table_names(conn: Connection) -> set[str]:
    """The tables in the database (PostgreSQL: in the connection's schema)."""
    if conn.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {name for (name,) in conn.execute(sql)}


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
    """(operational + degraded) / known seconds; None without known seconds (SPEC §7).

    Known seconds are up and down time: ``unknown`` and ``under_maintenance`` (planned work,
    SPEC §9) count neither as up nor as down, so they are left out of both."""
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


def checkpoint(path: Path) -> None:
    """Fold the SQLite file's WAL back into it and truncate the WAL (after a prune)."""
    with suppress(sqlite3.Error), closing(sqlite3.connect(path, timeout=1.0)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def prepare(conn: Connection, max_gap: float) -> None:
    """Inside the caller's write transaction: create the schema in a new database or convert
    a version-1 or -2 SQLite file; ``HistoryCorrupt`` for a database of an unknown version."""
    sqlite = conn.dialect == "sqlite"
    if not sqlite:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
    tables = table_names(conn)
    version = None
    if "meta" in tables:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        version = None if row is None else row[0]
    if version is None and "daily" in tables:
        raise HistoryCorrupt("history tables without a schema version")
    if sqlite and version == "1":
        _migrate_v1(conn)
        _migrate_v2(conn)
    elif sqlite and version == "2":
        _migrate_v2(conn)
    elif version is None:
        for statement in (*TABLES, *INDEXES):
            conn.execute(ddl(statement, conn.dialect))
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    elif version != str(SCHEMA_VERSION):
        raise HistoryCorrupt(f"unknown schema version {version!r}")
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('max_gap', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (repr(float(max_gap)),),
    )


def _verdict_code_sql(column: str) -> str:
    """SQL turning a version-1 verdict text in ``column`` into its code (NULL stays NULL)."""
    cases = " ".join(f"WHEN '{verdict}' THEN {code}" for verdict, code in VERDICT_CODES.items())
    return f"CASE {column} {cases} END"


def _migrate_v1(conn: Connection) -> None:
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
    log.info("history database converted", extra={"from_schema": 1, "to_schema": 2})


def _columns(conn: Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _migrate_v2(conn: Connection) -> None:
    """Version 2 -> 3 inside the caller's transaction: ``daily`` gains its
    ``under_maintenance_ms`` column and ``incidents`` its ``reopens`` (each table rebuilt,
    so a converted file has exactly the schema of a new one); the maintenance tables are
    created. Also the last step of a version-1 file, whose ``daily`` is new already."""
    for name in ("daily_day", "incidents_topic"):
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    for create in TABLES:
        table = create.split("EXISTS ", 1)[1].split(" ", 1)[0]
        if table not in ("daily", "incidents"):
            conn.execute(create)
            continue
        kept = ", ".join(_columns(conn, table))
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v2")
        conn.execute(create)
        conn.execute(f"INSERT INTO {table} ({kept}) SELECT {kept} FROM {table}_v2")
        conn.execute(f"DROP TABLE {table}_v2")
    for statement in INDEXES:
        conn.execute(statement)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
    log.info("history database converted", extra={"from_schema": 2, "to_schema": SCHEMA_VERSION})
