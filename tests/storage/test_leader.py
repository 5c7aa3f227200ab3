"""Leadership by a PostgreSQL session advisory lock (SPEC §11), against the suite's real
PostgreSQL: one of two contenders leads, the other takes over when the holder's session dies,
nobody leads while the server is down; ``while_leader`` follows the terms; SQLite always leads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import psycopg
import trio

from statusd.storage.leader import Leadership, lock_key, run_leadership, while_leader
from statusd.storage.url import parse_database_url, sqlite_url
from tests.support.postgres import PostgresServer

INTERVAL = 0.5
GENEROUS = 30.0
"""Bound of every wait for a condition (the goal is 2 × INTERVAL; the machine may be busy)."""


class Pair:
    """Two contenders in one trio run; ``until`` waits for a condition on their states."""

    def __init__(self) -> None:
        self.a = Leadership(on_change=self._changed)
        self.b = Leadership(on_change=self._changed)
        self._event = trio.Event()

    def _changed(self, _leading: bool) -> None:
        self._event.set()
        self._event = trio.Event()

    @property
    def leaders(self) -> list[Leadership]:
        return [one for one in (self.a, self.b) if one.is_leader]

    async def until(self, condition: Callable[[], bool]) -> None:
        with trio.fail_after(GENEROUS):
            while not condition():
                await self._event.wait()


@asynccontextmanager
async def contenders(url: str) -> AsyncIterator[Pair]:
    database = parse_database_url(url, default_path=Path("unused"))
    pair = Pair()
    async with trio.open_nursery() as nursery:
        for one in (pair.a, pair.b):
            await nursery.start(
                partial(run_leadership, database, interval=INTERVAL, leadership=one)
            )
        yield pair
        nursery.cancel_scope.cancel()


def sessions(url: str) -> list[tuple[str, bool]]:
    """Each statusd-leader session on ``url``'s database: its last query and whether it holds
    the advisory lock (from the server's point of view)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT a.query, EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
            "AND l.locktype = 'advisory' AND l.granted) "
            "FROM pg_stat_activity a "
            "WHERE a.application_name = 'statusd-leader' AND a.datname = current_database()"
        ).fetchall()
    return [(str(query), bool(holds)) for query, holds in rows]


async def until_both_asked(url: str) -> None:
    """Until the server has seen both sessions: one holding the lock, the other having asked
    for it (and been refused) since."""

    def both() -> bool:
        seen = sessions(url)
        return sorted(holds for _, holds in seen) == [False, True] and any(
            "pg_try_advisory_lock" in query for query, holds in seen if not holds
        )

    with trio.fail_after(GENEROUS):
        while True:  # the server's view: polled, nothing in this process signals it
            if await trio.to_thread.run_sync(both):
                return
            await trio.sleep(INTERVAL / 5)


async def settled(pair: Pair, url: str) -> Leadership:
    """Until one leads and the server saw the other ask since; exactly one leads then."""
    await pair.until(lambda: len(pair.leaders) == 1)
    await until_both_asked(url)
    [leader] = pair.leaders
    return leader


def terminate_holder(url: str) -> int:
    """``pg_terminate_backend`` of the session holding the lock; how many were terminated."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
            "AND granted AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


def test_lock_key_is_a_fixed_signed_64_bit_number() -> None:
    assert lock_key() == lock_key("statusd-leader")
    assert lock_key("a") != lock_key("b")
    assert -(2**63) <= lock_key() < 2**63


async def test_sqlite_is_always_the_leader(tmp_path: Path) -> None:
    leadership = Leadership()
    await run_leadership(sqlite_url(tmp_path / "h.db"), interval=INTERVAL, leadership=leadership)
    assert leadership.is_leader
    assert leadership.terms == 1


async def test_exactly_one_of_two_leads(postgres: PostgresServer) -> None:
    url = postgres.create_database()
    async with contenders(url) as pair:
        leader = await settled(pair, url)
        assert leader.terms >= 1


async def test_the_other_takes_over_when_the_holder_session_is_terminated(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database()
    async with contenders(url) as pair:
        holder = await settled(pair, url)
        other = pair.b if holder is pair.a else pair.a
        assert await trio.to_thread.run_sync(terminate_holder, url) == 1
        terms = holder.terms
        await pair.until(lambda: other.is_leader and not holder.is_leader)
        assert holder.terms == terms  # its lock is gone: it did not lead again


async def test_nobody_leads_while_the_server_is_down_then_exactly_one(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database()
    async with contenders(url) as pair:
        await pair.until(lambda: len(pair.leaders) == 1)
        await trio.to_thread.run_sync(postgres.stop)
        try:
            await pair.until(lambda: not pair.leaders)
        finally:
            await trio.to_thread.run_sync(postgres.start)
        await settled(pair, url)
        assert pair.a.terms + pair.b.terms >= 2


async def test_while_leader_cancels_the_work_when_leadership_is_lost_and_restarts_it() -> None:
    leadership = Leadership()
    started: list[int] = []
    cancelled: list[int] = []
    changed = trio.Event()

    async def work() -> None:
        nonlocal changed
        started.append(leadership.terms)
        changed.set()
        try:
            await trio.sleep_forever()
        finally:
            cancelled.append(leadership.terms)
            changed.set()

    async def until(condition: Callable[[], bool]) -> None:
        nonlocal changed
        with trio.fail_after(GENEROUS):
            while not condition():
                await changed.wait()
                changed = trio.Event()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(while_leader, leadership, work)
        await trio.testing.wait_all_tasks_blocked()
        assert started == []
        leadership.lead()
        await until(lambda: started == [1])
        leadership.step_down()
        await until(lambda: cancelled == [1])
        leadership.lead()
        await until(lambda: started == [1, 2])
        assert cancelled == [1]
        nursery.cancel_scope.cancel()


async def test_work_that_returns_early_waits_for_the_next_term() -> None:
    leadership = Leadership()
    runs: list[int] = []

    async def work() -> None:
        runs.append(leadership.terms)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(while_leader, leadership, work)
        leadership.lead()
        await trio.testing.wait_all_tasks_blocked()
        assert runs == [1]
        leadership.step_down()
        leadership.lead()
        await trio.testing.wait_all_tasks_blocked()
        assert runs == [1, 2]
        nursery.cancel_scope.cancel()


def test_since_is_the_time_of_the_last_change() -> None:
    times = iter([1_000.0, 2_000.0, 3_000.0])
    leadership = Leadership(clock=lambda: next(times))
    assert (leadership.is_leader, leadership.since) == (False, 1_000.0)
    leadership.lead()
    leadership.lead()
    assert (leadership.is_leader, leadership.terms, leadership.since) == (True, 1, 2_000.0)
    leadership.step_down()
    assert (leadership.is_leader, leadership.terms, leadership.since) == (False, 1, 3_000.0)
