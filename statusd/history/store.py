"""The writer's side of the history: one transaction per batch of snapshots, on either engine."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from statusd.history.planned import MaintenanceRecord, write_maintenance
from statusd.history.reader import read_timeline
from statusd.history.schema import (
    ADD_DAILY,
    DAY,
    MAX_DAYS,
    STORED_VERDICTS,
    VERDICT_CODES,
    HistoryCorrupt,
    checkpoint,
    database_url,
    move_aside,
    prepare,
    split_ms_by_day,
    utc_day,
)
from statusd.history.statements import EachStatement
from statusd.storage.engine import DEFAULT_TIMEOUT, Connection, Database, open_database
from statusd.storage.url import DatabaseUrl
from statusd.verdicts.cells import OPERATIONAL, UNKNOWN, VERDICTS
from statusd.verdicts.timeline import Incident, Timeline

log = logging.getLogger("statusd.history")


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


class HistoryStore:
    """The writer's view of the history database (one per process, and on a shared database
    only on the leader; the model is in ``schema``)."""

    def __init__(self, database: Database, *, max_gap: float, rollup_days: int) -> None:
        self.database = database
        self._max_gap = max_gap
        self._rollup_days = rollup_days
        self._transaction: Connection | None = None
        self._stale = True
        """The in-memory state below must be read again before the next write (at first,
        and after a failed transaction)."""
        self._cells: dict[str, int] = {}
        self._current: dict[str, _Open] = {}
        self._last_known: dict[str, str] = {}
        self._incidents: dict[str, tuple[Any, ...]] = {}
        self._heartbeat: float | None = None
        self._maintenance: MaintenanceRecord | None = None
        self._covered_until: float | None = None  # shared: the heartbeat found at open

    @property
    def url(self) -> DatabaseUrl:
        return self.database.url

    @property
    def path(self) -> Path:
        """The SQLite file (only for the SQLite engine)."""
        return self.url.path

    @classmethod
    def open(
        cls,
        where: DatabaseUrl | Path,
        *,
        now: float,
        max_gap: float = 180.0,
        rollup_days: int = MAX_DAYS,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> HistoryStore:
        """Open (or create) the history in ``where`` (a ``DatabaseUrl``, or a SQLite file's
        path) and carry on from what is stored: the open intervals, incidents and heartbeat.

        On SQLite, opening means statusd was not running since the last heartbeat: that time
        becomes unknown. On a shared database another replica may have written until a moment
        ago (this one takes over as leader): the time since its heartbeat becomes unknown only
        when it exceeds ``max_gap``, the longest silence between writes still counted as
        continuous (a longer one — history paused, machine suspended — is unknown too).

        A damaged SQLite file is moved aside (warned); PostgreSQL raises ``HistoryCorrupt``.
        """
        url = database_url(where)
        opening = partial(
            cls._open, url, now=now, max_gap=max_gap, rollup_days=rollup_days, timeout=timeout
        )
        try:
            return opening()
        except HistoryCorrupt as error:
            if url.dialect != "sqlite":
                raise
            aside = move_aside(url.path, now)
            log.warning(
                "history database damaged, moved it aside and started a new one",
                extra={"path": str(url.path), "error": str(error), "moved_to": str(aside)},
            )
            return opening()

    @classmethod
    def _open(
        cls, url: DatabaseUrl, *, now: float, max_gap: float, rollup_days: int, timeout: float
    ) -> HistoryStore:
        database = open_database(url, timeout=timeout)
        try:
            if database.dialect == "sqlite":
                with database.transaction() as conn:
                    if conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                        raise HistoryCorrupt("integrity check failed")
            with database.transaction(write=True) as conn:
                prepare(conn, max_gap)
            store = cls(database, max_gap=max_gap, rollup_days=rollup_days)
            with store._write():
                beat = store._heartbeat
                store._covered_until = beat if url.shared else None
                if beat is not None and (not url.shared or now - beat > max_gap):
                    store._gap(beat)
                store._set_heartbeat(max(now, beat or now))
            return store
        except BaseException:
            database.close()
            raise

    def close(self) -> None:
        """Close the database (SQLite checkpoints the WAL)."""
        self.database.close()

    # -- transactions and in-memory state --

    @property
    def _conn(self) -> Connection:
        """The connection of the write transaction in progress."""
        assert self._transaction is not None, "only inside _write()"
        return self._transaction

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction (SQLite: IMMEDIATE); the in-memory state is read again from
        the database at its start when a transaction failed since (or it is the first)."""
        try:
            with self.database.transaction(write=True) as conn:
                self._transaction = conn
                if self._stale:
                    self._load()
                    self._stale = False
                yield
        except BaseException:
            self._stale = True
            raise
        finally:
            self._transaction = None

    def _load(self) -> None:
        """Read the open intervals, cells, last known verdicts, incidents and heartbeat; the
        maintenance record is written again with the next snapshot that carries one."""
        conn = self._conn
        self._maintenance = None
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
            (row_id,) = self._conn.execute(
                "INSERT INTO cells (name, first_seen) VALUES (?, ?) RETURNING id", (name, at)
            ).fetchone()
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
        (row,) = self._conn.execute(
            "INSERT INTO intervals (cell, verdict, start, gap, previous, notable) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (
                cell,
                VERDICT_CODES[verdict],
                at,
                int(gap),
                None if previous is None else VERDICT_CODES[previous],
                int(notable),
            ),
        ).fetchone()
        self._current[name] = _Open(row, verdict, at, gap)
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
            ADD_DAILY[current.verdict],
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
                if self._covered_until is not None and snapshot.at < self._covered_until:
                    continue  # kept while following: the leader of then wrote that time
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
        if self.database.dialect == "sqlite":
            checkpoint(self.path)
        return intervals, days, incidents

    def load_timeline(self) -> Timeline:
        """The public documents' memory: first seen and last real change of each cell, and
        the incidents (open ones, the newest of each topic, the newest resolved)."""
        with self.database.transaction() as conn:
            return read_timeline(conn)

    @property
    def connection(self) -> Connection:
        """Statements each in a transaction of their own (tests, benchmarks, tools)."""
        return EachStatement(self.database)
