"""Which replica writes the history and sends notifications (SPEC §11): the one holding a
PostgreSQL session advisory lock.

The lock belongs to one dedicated connection (autocommit) and lives as long as its session:
PostgreSQL releases it when the holder closes the connection, dies (kill -9 closes its socket)
or is disconnected, and nothing else is needed: no lease, no heartbeat table. A replica that
does not hold the lock asks again every ``interval / 2`` (one whose term just ended, after a
whole ``interval``, so the others get it first); the holder checks every
``interval / 3`` that its session still holds it and steps down at once when the check fails
or does not answer within ``interval / 2``. The holder's session has
``idle_session_timeout = interval`` (PostgreSQL ≥ 14), so a holder that vanishes without
closing its socket (frozen, cut off) loses the lock on the server side too; the next try of
another replica then takes it: takeover within ``interval + interval / 2`` < ``2 × interval``.

psycopg's async API is asyncio-only, so every call runs in a worker thread
(``trio.to_thread.run_sync(abandon_on_cancel=True)``) under a trio deadline, and libpq's
own timeouts (``connect_timeout``, ``statement_timeout``, ``tcp_user_timeout``, TCP
keepalives) end the thread when trio has stopped waiting for it.

With SQLite (one process, nothing shared) the process is always the leader.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import psycopg
import trio

from statusd.storage.url import DatabaseUrl

log = logging.getLogger("statusd.leader")

T = TypeVar("T")

LOCK_NAME = "statusd-leader"


def lock_key(name: str = LOCK_NAME) -> int:
    """The advisory lock's 64-bit key: the first 8 bytes of BLAKE2b(``name``), signed."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Leadership:
    """Whether this replica leads now, since when, and how many terms it has led.

    ``lead`` and ``step_down`` are called by ``run_leadership`` (or once, for SQLite);
    ``while_leader`` runs work during each term; ``on_change(is_leader)`` feeds the metrics.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.clock = clock
        self.on_change = on_change
        self.is_leader = False
        self.terms = 0
        """How many times this replica became the leader."""
        self.since = clock()
        """Wall time (UNIX seconds) of the last change: became leader, or stopped leading."""
        self._changed = trio.Event()
        self._term_scopes: set[trio.CancelScope] = set()

    def lead(self) -> None:
        """A new term begins (no-op while already leading)."""
        if not self.is_leader:
            self.is_leader = True
            self.terms += 1
            self._change()

    def step_down(self) -> None:
        """The term ends: the work of ``while_leader`` is cancelled now (no-op if not leading)."""
        if self.is_leader:
            self.is_leader = False
            for scope in self._term_scopes:
                scope.cancel()
            self._change()

    def _change(self) -> None:
        self.since = self.clock()
        self._changed.set()
        self._changed = trio.Event()
        if self.on_change is not None:
            self.on_change(self.is_leader)

    async def wait_until(self, leading: bool) -> None:
        """Return once ``is_leader == leading`` (at once if it already is)."""
        while self.is_leader != leading:
            await self._changed.wait()

    @contextmanager
    def term_scope(self) -> Iterator[trio.CancelScope]:
        """A cancel scope that ``step_down`` cancels (already cancelled when not leading)."""
        scope = trio.CancelScope()
        if not self.is_leader:
            scope.cancel()
        self._term_scopes.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._term_scopes.discard(scope)


async def while_leader(leadership: Leadership, work: Callable[[], Awaitable[object]]) -> NoReturn:
    """Run ``work()`` during each term of ``leadership``: started when it begins, cancelled as
    soon as it ends, started again at the next term. Errors of ``work`` propagate."""
    while True:
        await leadership.wait_until(True)
        with leadership.term_scope():
            await work()
            await trio.sleep_forever()  # work is done for this term: wait for the next


async def run_leadership(
    database: DatabaseUrl,
    *,
    interval: float,
    leadership: Leadership,
    key: int | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Keep ``leadership`` up to date until cancelled; ``started`` at once (serving and
    collecting never wait for it). SQLite: lead, and return."""
    if not database.shared:
        leadership.lead()
        task_status.started()
        return
    task_status.started()
    contender = _Contender(database, interval, lock_key() if key is None else key, leadership)
    while True:
        led = await contender.one_session()
        # One that just lost its term asks again after a whole interval: the others, asking
        # every interval / 2, get the lock first (a terminated session hands over).
        await trio.sleep(interval if led else interval / 2)


class _Contender:
    """One replica's attempts at the lock, one session after another."""

    def __init__(
        self, database: DatabaseUrl, interval: float, key: int, leadership: Leadership
    ) -> None:
        self.database = database
        self.interval = interval
        self.key = key
        self.leadership = leadership
        self.query_deadline = interval / 2
        self.connect_timeout = max(2, math.ceil(interval))
        self.last_error: str | None = None

    async def one_session(self) -> bool:
        """Connect, wait for the lock, hold it while the checks pass; return when the
        session is lost (leadership given up first): whether it led."""
        session = _Session(self.database.target, self.interval, self.key)
        led = False
        try:
            await self.call(session, session.connect, self.connect_timeout + 1.0)
            while True:  # polling the server: nothing in this process can wake us earlier
                if await self.call(session, session.try_lock, self.query_deadline):
                    break
                await trio.sleep(self.interval / 2)
            self.leadership.lead()
            led = True
            log.info(
                "leading: this replica writes the history and sends notifications",
                extra={"database": self.database.redacted(), "term": self.leadership.terms},
            )
            self.last_error = None
            while True:
                await trio.sleep(self.interval / 3)
                if not await self.call(session, session.holds_lock, self.query_deadline):
                    break
            self.lost("the session no longer holds the lock")
        except (psycopg.Error, trio.TooSlowError) as error:
            self.lost(str(error).strip() or type(error).__name__)
        finally:
            self.leadership.step_down()
            with trio.CancelScope(shield=True), trio.move_on_after(self.query_deadline):
                await trio.to_thread.run_sync(session.abandon, abandon_on_cancel=True)
        return led

    async def call(self, session: _Session, fn: Callable[[], T], deadline: float) -> T:
        """``fn`` in a worker thread; TooSlowError after ``deadline`` seconds (the thread is
        left to libpq's timeouts and closes the connection when it ends)."""
        with trio.fail_after(deadline):
            return await trio.to_thread.run_sync(session.run, fn, abandon_on_cancel=True)

    def lost(self, reason: str) -> None:
        if self.leadership.is_leader:
            self.leadership.step_down()
            log.warning(
                "stepped down: this replica no longer leads",
                extra={"database": self.database.redacted(), "reason": reason},
            )
        elif reason != self.last_error:
            log.warning(
                "leader lock unavailable, retrying",
                extra={"database": self.database.redacted(), "reason": reason},
            )
        self.last_error = reason


class _Session:
    """The dedicated connection; used by one worker thread at a time. ``abandon`` closes it
    now, or, if a thread trio stopped waiting for still uses it, when that thread is done."""

    def __init__(self, url: str, interval: float, key: int) -> None:
        self.url = url
        self.interval = interval
        self.key = key
        self.conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._busy = False
        self._abandoned = False

    def run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._abandoned:
                raise psycopg.OperationalError("session abandoned")
            self._busy = True
        try:
            return fn()
        finally:
            self._release(busy=False)

    def abandon(self) -> None:
        self._release(abandoned=True)

    def _release(self, *, busy: bool | None = None, abandoned: bool = False) -> None:
        """Update the flags; close the connection once abandoned and no thread uses it."""
        with self._lock:
            self._busy = self._busy if busy is None else busy
            self._abandoned = self._abandoned or abandoned
            if self._abandoned and not self._busy:
                self._close()

    def _close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def connect(self) -> None:
        deadline_ms = max(1, round(self.interval / 2 * 1000))
        conn = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=max(2, math.ceil(self.interval)),
            application_name="statusd-leader",
            keepalives=1,
            keepalives_idle=max(1, math.ceil(self.interval)),
            keepalives_interval=max(1, math.ceil(self.interval / 3)),
            keepalives_count=3,
            tcp_user_timeout=max(1, round(self.interval * 1000)),
            options=f"-c statement_timeout={deadline_ms} -c lock_timeout={deadline_ms}",
        )
        self.conn = conn
        if conn.info.server_version >= 140000:
            idle_ms = str(max(1, round(self.interval * 1000)))
            conn.execute("SELECT set_config('idle_session_timeout', %s, false)", (idle_ms,))

    def _one(self, query: str, params: tuple[int, ...]) -> bool:
        if self.conn is None:
            raise psycopg.OperationalError("not connected")
        row = self.conn.execute(query, params).fetchone()
        return bool(row and row[0])

    def try_lock(self) -> bool:
        return self._one("SELECT pg_try_advisory_lock(%s)", (self.key,))

    def holds_lock(self) -> bool:
        """Whether this session still holds the lock (a bigint key is classid:objid in
        pg_locks, objsubid 1)."""
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        return self._one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND granted AND objsubid = 1 "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid)",
            (unsigned >> 32, unsigned & 0xFFFFFFFF),
        )
