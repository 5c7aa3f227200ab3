"""The writer's side of the history: one connection, one transaction per batch of snapshots."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statusd.history.planned import MaintenanceRecord, write_maintenance
from statusd.history.schema import (
    DAILY_COLUMNS,
    DAY,
    MAX_DAYS,
    STORED_VERDICTS,
    VERDICT_CODES,
    HistoryCorrupt,
    history_error,
    move_aside,
    prepare,
    split_ms_by_day,
    utc_day,
)
from statusd.verdicts.cells import OPERATIONAL, UNKNOWN, VERDICTS
from statusd.verdicts.timeline import CellClock, Incident, Timeline

log = logging.getLogger("statusd.history")

KEEP_INCIDENTS = 50


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the state holder hands to the history: every cell's verdict and the incidents."""

    at: float
    verdicts: Mapping[str, str]
    incidents: tuple[Incident, ...] | None = None
    maintenance: MaintenanceRecord | None = None


@dataclass(slots=True)
class _Open:
    row: int
    verdict: str
    start: float
    gap: bool


_ADD_DAILY = {
    verdict: f"INSERT INTO daily (cell, day, {column}) VALUES (?, ?, ?) "
    f"ON CONFLICT (cell, day) DO UPDATE SET {column} = {column} + excluded.{column}"
    for verdict, column in DAILY_COLUMNS.items()
}
"""Add milliseconds of a verdict to a cell's day (the statement of each verdict)."""


class HistoryStore:
    """The writer's view of the history database (one per process; the model is in ``schema``)."""

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
        self._maintenance: MaintenanceRecord | None = None

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
                "history database damaged, moved it aside and started a new one",
                extra={"path": str(path), "error": str(error), "moved_to": str(aside)},
            )
            return cls._open(path, now=now, max_gap=max_gap, rollup_days=rollup_days)

    @classmethod
    def _open(cls, path: Path, *, now: float, max_gap: float, rollup_days: int) -> HistoryStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise history_error(error) from error
        try:
            try:
                conn.execute("PRAGMA journal_mode=WAL").fetchone()
                conn.execute("PRAGMA synchronous=NORMAL")
                if conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                    raise HistoryCorrupt("integrity check failed")
                prepare(conn, max_gap)
            except sqlite3.Error as error:
                raise history_error(error) from error
            store = cls(conn, path, max_gap=max_gap, rollup_days=rollup_days)
            try:
                store._load()
            except sqlite3.Error as error:
                raise history_error(error) from error
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
            raise history_error(error) from error
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
                "INSERT INTO incidents (id, topic, status, started_at, updated_at, resolved_at,"
                " reopens) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "status = excluded.status, updated_at = excluded.updated_at, "
                "resolved_at = excluded.resolved_at",
                (
                    incident.id,
                    incident.topic,
                    incident.status,
                    incident.started_at,
                    incident.updated_at,
                    incident.resolved_at,
                    incident.reopens,
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
                if snapshot.maintenance not in (None, self._maintenance):
                    write_maintenance(self._conn, snapshot.maintenance)
                    self._maintenance = snapshot.maintenance
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
        """Delete intervals ended over ``raw_days`` ago, rollups of days before the last
        ``rollup_days``, and incidents resolved (maintenance events decided) over
        ``rollup_days`` ago; returns the intervals, days and incidents deleted."""
        cutoff = now - raw_days * DAY
        kept_since = now - rollup_days * DAY
        first_day = utc_day(now) - rollup_days + 1
        with self._write():
            conn = self._conn
            intervals = conn.execute(
                'DELETE FROM intervals WHERE "end" IS NOT NULL AND "end" < ?', (cutoff,)
            ).rowcount
            days = conn.execute("DELETE FROM daily WHERE day < ?", (first_day,)).rowcount
            incidents = conn.execute(
                "DELETE FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?",
                (kept_since,),
            ).rowcount
            conn.execute("DELETE FROM maintenance_events WHERE occurred_at < ?", (kept_since,))
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

    @property
    def connection(self) -> sqlite3.Connection:
        """The writer's connection, for reads in the writer's thread (tests, benchmarks)."""
        return self._conn
