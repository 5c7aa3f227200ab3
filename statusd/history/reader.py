"""Reads of the history for request handlers: daily buckets, a month's rows, the feed, the
incidents of the last days and the maintenance task's last record."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
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
    day_text,
    history_error,
    split_by_day,
    uptime,
    utc_day,
)
from statusd.verdicts.cells import COUNTRY_PRODUCTS, UNKNOWN, cell_id, cell_sort_key, split_cell_id
from statusd.verdicts.timeline import Incident

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
    entries += read_maintenance_feed(conn, country=country, product=product, limit=limit)
    entries.sort(key=lambda entry: (-entry.at, entry.id))
    return entries[:limit]


def read_incidents(conn: sqlite3.Connection, since: float) -> list[Incident]:
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
            raise history_error(error) from error

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
