"""Reads of the history for request handlers: daily buckets, a month's rows, the feed, the
incidents of the last days and the maintenance task's last record; the same SQL on both
engines (``Connection`` of ``statusd.storage.engine``)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statusd.history.entries import FEED_LIMIT as FEED_LIMIT
from statusd.history.entries import FEED_NAMESPACE as FEED_NAMESPACE
from statusd.history.entries import FeedEntry as FeedEntry
from statusd.history.planned import (
    MaintenanceRecord,
    read_maintenance,
    read_maintenance_feed,
)
from statusd.history.schema import (
    DAILY_COLUMNS,
    DAY,
    STORED_VERDICTS,
    database_url,
    day_text,
    split_by_day,
    table_names,
    uptime,
    utc_day,
)
from statusd.history.unavailable import UnavailableGate
from statusd.storage.engine import DEFAULT_TIMEOUT, Connection, Database, open_database
from statusd.storage.url import DatabaseUrl
from statusd.verdicts.cells import COUNTRY_PRODUCTS, UNKNOWN, cell_id, cell_sort_key, split_cell_id
from statusd.verdicts.timeline import CellClock, Incident, Timeline

KEEP_INCIDENTS = 50

_DAILY_MS = ", ".join(DAILY_COLUMNS.values())


def _seconds(row: Sequence[int]) -> dict[str, float]:
    """{verdict: seconds} of ``daily``'s millisecond columns (in ``STORED_VERDICTS`` order);
    verdicts without time are left out."""
    return {verdict: ms / 1000 for verdict, ms in zip(STORED_VERDICTS, row, strict=True) if ms}


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


def _meta_float(conn: Connection, key: str) -> float | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else float(row[0])


def _open_rows(
    conn: Connection, now: float, cell: int | None = None
) -> list[tuple[int, str, float, float]]:
    """(cell, verdict, start, end) of the time the open intervals cover up to ``now``.

    While the writer keeps heartbeating they run to ``now``; after a silence longer than
    the writer's ``max_gap`` (history paused or statusd gone) they end at the last
    heartbeat and the rest is unknown, as the writer will record it.
    """
    # SQLite's planner, without statistics, prefers (cell, start) and walks every interval
    # of the cell (35 days of them); the partial index holds only the open ones.
    hint = " INDEXED BY intervals_open" if conn.dialect == "sqlite" else ""
    sql = f'SELECT cell, verdict, start, gap FROM intervals{hint} WHERE "end" IS NULL'
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


def read_daily(conn: Connection | None, cell: str, days: int, now: float) -> list[DayBucket]:
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
        for day, *ms in _daily_rows(conn, row[0], first, last):
            seconds[day] = _seconds(ms)
        for _, verdict, start, end in _open_rows(conn, now, row[0]):
            for day, amount in split_by_day(max(start, first * DAY), end):
                seconds[day][verdict] = seconds[day].get(verdict, 0.0) + amount
    return [DayBucket(day_text(day), seconds[day]) for day in range(first, last + 1)]


def _daily_rows(conn: Connection, cell: int, first: int, last: int) -> list[list[int]]:
    """``[day, ms…]`` of a cell's days from ``first`` to ``last``."""
    where = " FROM daily WHERE cell = ? AND day BETWEEN ? AND ?"
    if conn.dialect != "sqlite":
        return [
            list(row)
            for row in conn.execute(f"SELECT day, {_DAILY_MS}{where}", (cell, first, last))
        ]
    # One row holding them all: sqlite3 releases and retakes the GIL for every row it steps
    # to, and while the event loop is busy each retake waits for the switch interval, so a
    # read of a few hundred rows stalled requests for tens of ms.
    (rows,) = conn.execute(
        f"SELECT json_group_array(json_array(day, {_DAILY_MS})){where}", (cell, first, last)
    ).fetchone()
    result: list[list[int]] = json.loads(rows)
    return result


def month_range(month: str) -> tuple[int, int]:
    """First and last day numbers of ``YYYY-MM``; ValueError if it is not a month."""
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
        raise ValueError(f"expected YYYY-MM, got {month!r}")
    year, number = int(month[:4]), int(month[5:])
    first = dt.date(year, number, 1)
    following = dt.date(year + number // 12, number % 12 + 1, 1)
    epoch = dt.date(1970, 1, 1)
    return (first - epoch).days, (following - epoch).days - 1


def read_month(conn: Connection, month: str, now: float) -> list[MonthRow]:
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
    conn: Connection,
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
        prefix = f"{product}:"
        where.append("substr(c.name, 1, ?) = ?")
        args += [len(prefix), prefix]
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
    entries += read_maintenance_feed(conn, country=country, product=product, limit=limit)
    entries.sort(key=lambda entry: (-entry.at, entry.id))
    return entries[:limit]


def read_incidents(conn: Connection, since: float) -> list[Incident]:
    """The incidents open now or closed since ``since``, newest first (by first seen); one
    first seen already closed (no life statusd saw) is left out, as in the feed."""
    return [
        Incident(*row)
        for row in conn.execute(
            "SELECT id, topic, status, started_at, updated_at, resolved_at, reopens "
            "FROM incidents WHERE resolved_at IS NULL "
            "OR (resolved_at >= ? AND resolved_at > started_at) "
            "ORDER BY started_at DESC, id",
            (since,),
        )
    ]


class HistoryReader:
    """Reads for request handlers: call each method via ``trio.to_thread.run_sync``.

    Every call is a read transaction of its own (SQLite: a connection of its own, WAL;
    PostgreSQL: a pooled connection). A database that does not exist yet, or has no history
    tables yet, reads as empty. Raises ``HistoryError`` (a ``StorageError``) on failure;
    ``StorageUnavailable`` while the database cannot be reached: after one read found it so,
    the others fail at once for a second, then one read at a time tries again
    (``UnavailableGate``), so requests are not each held for the connection timeout.
    """

    def __init__(
        self,
        where: DatabaseUrl | Path,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = database_url(where)
        self.timeout = timeout
        self.gate = UnavailableGate(clock=clock)
        self._lock = threading.Lock()
        self._database: Database | None = None
        self._tables = False

    def close(self) -> None:
        """Close the database connections (the reader opens them again if used)."""
        with self._lock:
            database, self._database = self._database, None
        if database is not None:
            database.close()

    def _open(self) -> Database | None:
        """The database, opened at the first read that finds it (None: no SQLite file yet)."""
        with self._lock:
            if self._database is None:
                if self.url.dialect == "sqlite" and not self.url.path.exists():
                    return None
                self._database = open_database(self.url, timeout=self.timeout)
            return self._database

    @contextmanager
    def _connect(self) -> Iterator[Connection | None]:
        with self.gate.admitted():
            database = self._open()
            if database is None:
                yield None
                return
            with database.transaction() as conn:
                if conn.dialect == "sqlite":
                    conn.execute("PRAGMA query_only = 1")
                    has_tables = "daily" in table_names(conn)
                else:  # tables once made stay (statusd never drops them on PostgreSQL)
                    has_tables = self._tables = self._tables or "daily" in table_names(conn)
                yield conn if has_tables else None

    def daily(self, cell: str, days: int, now: float) -> list[DayBucket]:
        """See ``read_daily``."""
        with self._connect() as conn:
            return read_daily(conn, cell, days, now)

    def month_rows(self, month: str, now: float) -> list[MonthRow]:
        """See ``read_month``."""
        with self._connect() as conn:
            return [] if conn is None else read_month(conn, month, now)

    def incidents(self, days: int, now: float) -> list[Incident]:
        """See ``read_incidents`` (the last ``days`` days)."""
        with self._connect() as conn:
            return [] if conn is None else read_incidents(conn, now - days * DAY)

    def maintenance(self) -> MaintenanceRecord | None:
        """See ``planned.read_maintenance``."""
        with self._connect() as conn:
            return read_maintenance(conn)

    def feed_entries(
        self, country: str | None = None, product: str | None = None, limit: int = FEED_LIMIT
    ) -> list[FeedEntry]:
        """See ``read_feed``."""
        with self._connect() as conn:
            if conn is None:
                return []
            return read_feed(conn, country=country, product=product, limit=limit)


def read_timeline(conn: Connection) -> Timeline:
    """The public documents' memory: first seen and last real change of each cell, and
    the incidents (open ones, the newest of each topic, the newest ``KEEP_INCIDENTS``
    resolved)."""
    clocks = {
        name: CellClock(verdict, first_seen, changed_at)
        for name, first_seen, verdict, changed_at in conn.execute(
            "SELECT name, first_seen, verdict, changed_at FROM cells WHERE verdict IS NOT NULL"
        )
    }
    incidents = [
        Incident(*row)
        for row in conn.execute(
            "SELECT id, topic, status, started_at, updated_at, resolved_at, reopens "
            "FROM incidents i "
            "WHERE resolved_at IS NULL "
            "OR started_at = (SELECT max(started_at) FROM incidents j WHERE j.topic = i.topic) "
            "OR id IN (SELECT id FROM incidents WHERE resolved_at IS NOT NULL "
            "ORDER BY started_at DESC LIMIT ?)",
            (KEEP_INCIDENTS,),
        )
    ]
    incidents.sort(key=lambda i: (-i.started_at, i.topic, i.id))
    return Timeline(cells=clocks, incidents=tuple(incidents))
