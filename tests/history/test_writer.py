"""The history writer task on both engines: MockClock across days, restarts, pruning; and of
SQLite files: full disk, damage, SIGKILL."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple

import pytest
import trio
import trio.testing

from statusd.history.reader import read_daily
from statusd.history.schema import DAY, STORED_VERDICTS, HistoryCorrupt, database_url
from statusd.history.store import HistoryStore, Snapshot
from statusd.history.writer import HistoryInbox, compact, run_history_writer
from statusd.storage.engine import Connection, open_database
from statusd.storage.url import DatabaseUrl
from statusd.verdicts.timeline import Incident, Timeline
from tests.support.postgres import PostgresServer

D0 = 1_764_028_800.0  # 2025-11-25T00:00:00Z
H = 3600.0
REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
Ts = TypeVarTuple("Ts")


async def inline(sync_fn: Callable[[*Ts], T], /, *args: *Ts) -> T:
    """Runs the blocking call in the event loop: deterministic under MockClock."""
    await trio.lowlevel.checkpoint()
    return sync_fn(*args)


def wall_clock(start: float) -> Callable[[], float]:
    """A wall clock that reads ``start`` now and follows trio's (mock) clock."""
    offset = start - trio.current_time()
    return lambda: offset + trio.current_time()


@contextmanager
def reading(where: DatabaseUrl | Path) -> Iterator[Connection]:
    """A read transaction on a database of its own (as a request handler would read)."""
    database = open_database(database_url(where))
    try:
        with database.transaction() as conn:
            yield conn
    finally:
        database.close()


def query(where: DatabaseUrl | Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a read in a transaction of its own."""
    with reading(where) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def buckets(
    where: DatabaseUrl | Path, cell: str, days: int, now: float
) -> dict[str, dict[str, float]]:
    """Non-empty daily buckets of a cell, seconds rounded."""
    with reading(where) as conn:
        return {
            b.date: {k: round(v) for k, v in b.seconds.items()}
            for b in read_daily(conn, cell, days, now)
            if b.seconds
        }


async def start_paused_writer(
    nursery: trio.Nursery,
    where: DatabaseUrl | Path,
    inbox: HistoryInbox,
    clock: Callable[[], float],
    opener: Callable[[DatabaseUrl, float], HistoryStore],
) -> None:
    """The writer of the pause tests: inline calls, ``opener``, a retry every 30 s."""
    await nursery.start(
        lambda task_status: run_history_writer(
            where,
            inbox,
            clock=clock,
            run_sync=inline,
            opener=opener,
            retry_after=30,
            task_status=task_status,
        )
    )


def test_inbox_never_blocks_and_drops_the_oldest() -> None:
    """offer returns at once; beyond max_pending the oldest snapshots go and are counted."""
    inbox = HistoryInbox(max_pending=3)
    for n in range(5):
        inbox.offer(float(n), {"sms:DE": "operational"})
    assert inbox.dropped == 2
    assert [s.at for s in inbox.take()] == [2.0, 3.0, 4.0]
    assert inbox.take() == []


async def test_writer_records_across_midnight_with_heartbeats(
    url: DatabaseUrl, autojump_clock: trio.testing.MockClock
) -> None:
    """Verdicts offered around midnight UTC land in both days; heartbeats keep it continuous."""
    inbox = HistoryInbox()
    with trio.fail_after(10 * DAY):
        clock = wall_clock(D0 - 2 * H)
        async with trio.open_nursery() as nursery:
            timeline = await nursery.start(
                lambda task_status: run_history_writer(
                    url, inbox, clock=clock, run_sync=inline, task_status=task_status
                )
            )
            assert timeline == Timeline()
            inbox.offer(clock(), {"sms:DE": "operational"})
            await trio.sleep(3 * H)  # across midnight
            inbox.offer(clock(), {"sms:DE": "major_outage"})
            await trio.sleep(H)
            nursery.cancel_scope.cancel()
    assert buckets(url, "sms:DE", 2, D0 + 2 * H) == {
        "2025-11-24": {"operational": 2 * H},
        "2025-11-25": {"operational": H, "major_outage": H},
    }


async def test_restart_counts_the_time_down_as_unknown(
    url: DatabaseUrl, autojump_clock: trio.testing.MockClock
) -> None:
    """Stop the writer for 30 minutes: that half hour is unknown; the timeline comes back."""
    clock = wall_clock(D0)
    incident = Incident("i1", "db", "investigating", D0, D0)

    async def run_for(seconds: float, verdict: str) -> Timeline:
        inbox = HistoryInbox()
        async with trio.open_nursery() as nursery:
            timeline: Timeline = await nursery.start(
                lambda task_status: run_history_writer(
                    url, inbox, clock=clock, run_sync=inline, task_status=task_status
                )
            )
            inbox.offer(clock(), {"sms:DE": verdict}, [incident])
            await trio.sleep(seconds)
            nursery.cancel_scope.cancel()
        return timeline

    with trio.fail_after(DAY):
        assert await run_for(H, "operational") == Timeline()
        await trio.sleep(H / 2)  # statusd is down
        timeline = await run_for(H, "operational")
    assert timeline.cells["sms:DE"].verdict == "operational"
    assert timeline.incidents == (incident,)
    assert buckets(url, "sms:DE", 1, D0 + 3 * H) == {
        "2025-11-25": {"operational": 2 * H, "unknown": H / 2 + H / 2},
    }


async def test_disk_full_pauses_with_one_warning_and_resumes(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk: one warning, offers still return at once, writing resumes when space is back."""
    path = tmp_path / "h.sqlite3"
    stores: list[HistoryStore] = []

    def opener(at_path: DatabaseUrl, now: float) -> HistoryStore:
        store = HistoryStore.open(at_path, now=now)
        (pages,) = store.connection.execute("PRAGMA page_count").fetchone()
        store.connection.execute(f"PRAGMA max_page_count = {pages}")
        stores.append(store)
        return store

    inbox = HistoryInbox()
    clock = wall_clock(D0)
    big = {f"email:X{n:05d}": "degraded_performance" for n in range(3000)}
    with caplog.at_level(logging.WARNING, logger="statusd.history_writer"), trio.fail_after(DAY):
        async with trio.open_nursery() as nursery:
            await start_paused_writer(nursery, path, inbox, clock, opener)
            for _ in range(10):
                inbox.offer(clock(), big)
                await trio.sleep(20)
            paused = [r.getMessage() for r in caplog.records]
            stores[0].connection.execute("PRAGMA max_page_count = 1073741823")
            await trio.sleep(60)
            nursery.cancel_scope.cancel()
    assert len(paused) == 1
    assert paused[0].startswith("history paused")
    assert "resumed" in caplog.records[-1].getMessage()
    assert query(path, "SELECT count(*) FROM cells") == [(3000,)]


async def test_damage_while_running_moves_the_file_aside(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged database found while writing is moved aside and a new one takes the writes."""
    path = tmp_path / "h.sqlite3"
    failures = [HistoryCorrupt("database disk image is malformed")]

    class Damaged(HistoryStore):
        def apply(self, snapshots: Any) -> int:
            if failures:
                raise failures.pop()
            return super().apply(snapshots)

    inbox = HistoryInbox()
    clock = wall_clock(D0)
    with caplog.at_level(logging.WARNING, logger="statusd.history_writer"), trio.fail_after(DAY):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: run_history_writer(
                    path,
                    inbox,
                    clock=clock,
                    run_sync=inline,
                    opener=lambda p, now: Damaged.open(p, now=now),
                    task_status=task_status,
                )
            )
            inbox.offer(clock(), {"sms:DE": "operational"})
            await trio.sleep(10)
            inbox.offer(clock(), {"sms:DE": "degraded_performance"})
            await trio.sleep(10)
            nursery.cancel_scope.cancel()
    assert len(list(await trio.Path(tmp_path).glob("h.sqlite3.corrupt-*"))) == 1
    assert any("damaged" in r.getMessage() for r in caplog.records)
    # The batch that met the damage is written again, into the new database.
    assert buckets(path, "sms:DE", 1, D0 + 20) == {
        "2025-11-25": {"operational": 10, "degraded_performance": 10}
    }


async def test_unopenable_database_does_not_stop_the_writer(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """If the file cannot be opened at all, the writer starts anyway (empty timeline) and warns."""
    path = tmp_path / "is-a-directory"
    path.mkdir()
    inbox = HistoryInbox()
    with caplog.at_level(logging.WARNING, logger="statusd.history_writer"), trio.fail_after(DAY):
        async with trio.open_nursery() as nursery:
            timeline = await nursery.start(
                lambda task_status: run_history_writer(
                    path, inbox, clock=wall_clock(D0), run_sync=inline, task_status=task_status
                )
            )
            inbox.offer(D0, {"sms:DE": "operational"})
            await trio.sleep(120)
            nursery.cancel_scope.cancel()
    assert timeline == Timeline()
    assert len(caplog.records) == 1
    assert "history paused" in caplog.records[0].getMessage()


async def test_writer_prunes_old_rows_at_start(
    url: DatabaseUrl, autojump_clock: trio.testing.MockClock
) -> None:
    """Retention is applied by statusd itself, at start and then periodically."""
    store = HistoryStore.open(url, now=D0 - 100 * DAY, max_gap=1e12)
    store.apply(
        [
            Snapshot(D0 - 100 * DAY, {"sms:DE": "operational"}),
            Snapshot(D0 - 90 * DAY, {"sms:DE": "degraded_performance"}),
        ]
    )
    store.close()
    with trio.fail_after(DAY):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: run_history_writer(
                    url,
                    HistoryInbox(),
                    raw_days=35,
                    rollup_days=95,
                    clock=wall_clock(D0),
                    run_sync=inline,
                    task_status=task_status,
                )
            )
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
    assert query(url, 'SELECT count(*) FROM intervals WHERE "end" IS NOT NULL') == [(0,)]
    assert query(url, "SELECT min(day) FROM daily") == [(int(D0 // DAY) - 94,)]


async def test_writer_with_real_threads(url: DatabaseUrl) -> None:
    """With trio.to_thread (the default), offered verdicts reach the database."""
    inbox = HistoryInbox()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: run_history_writer(url, inbox, task_status=task_status)
            )
            inbox.offer(D0, {"sms:DE": "operational"})
            inbox.offer(D0 + 1, {"sms:DE": "degraded_performance"})
            while True:  # until the writer's thread has stored both
                if query(url, "SELECT count(*) FROM intervals WHERE gap = 0") == [(2,)]:
                    break
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    rows = query(url, "SELECT verdict FROM intervals WHERE gap = 0 ORDER BY start")
    assert [STORED_VERDICTS[code] for (code,) in rows] == ["operational", "degraded_performance"]


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from statusd.history.store import HistoryStore
    path, start = Path(sys.argv[1]), float(sys.argv[2])
    store = HistoryStore.open(path, now=start)
    store.record_verdicts(start, {"sms:DE": "operational", "billing:payout": "major_outage"})
    later = {"sms:DE": "degraded_performance", "billing:payout": "major_outage"}
    store.record_verdicts(start + 100, later)
    store.heartbeat(start + 160)
    print("ready", flush=True)
    time.sleep(60)
    """
)


async def run_then_kill(args: list[str], done: Callable[[bytes], bool]) -> bytes:
    """Run ``python -c ARGS…`` until its output so far satisfies ``done``, then SIGKILL it
    (asserting it died of the signal); returns that output."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", *args], stdout=subprocess.PIPE, env=env
    )
    seen = b""
    try:
        with trio.fail_after(30):
            assert process.stdout is not None
            while not done(seen):
                chunk = await process.stdout.receive_some()
                assert chunk, "child exited early"
                seen += chunk
    finally:
        process.kill()
        with trio.fail_after(10):
            await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()
    assert process.returncode == -signal.SIGKILL
    return seen


async def test_history_survives_sigkill(tmp_path: Path) -> None:
    """A process killed with SIGKILL after committing loses nothing before its last heartbeat;
    the time after it is unknown."""
    path = tmp_path / "h.sqlite3"
    await run_then_kill([CHILD, str(path), str(D0)], lambda seen: b"ready\n" in seen)
    store = HistoryStore.open(path, now=D0 + 1000)
    try:
        store.record_verdicts(
            D0 + 1000, {"sms:DE": "operational", "billing:payout": "major_outage"}
        )
        got = {
            b.date: dict(b.seconds) for b in read_daily(store.connection, "sms:DE", 1, D0 + 1100)
        }
    finally:
        store.close()
    assert got == {
        "2025-11-25": {"operational": 100 + 100, "degraded_performance": 60, "unknown": 840}
    }


WRITER_CHILD = textwrap.dedent(
    """
    import sqlite3, sys, time
    from contextlib import closing
    from pathlib import Path
    import trio
    from statusd.history.writer import HistoryInbox, run_history_writer

    path = Path(sys.argv[1])

    def committed_heartbeat():
        with closing(sqlite3.connect(path)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'heartbeat'").fetchone()
            (count,) = conn.execute("SELECT count(*) FROM intervals").fetchone()
        return float(row[0]) if row and count else None

    async def main():
        inbox = HistoryInbox()
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: run_history_writer(
                    path, inbox, heartbeat_every=0.25, task_status=task_status
                )
            )
            offered = time.time()
            inbox.offer(offered, {"sms:DE": "operational"})
            with trio.fail_after(20):
                while True:
                    await trio.sleep(0.05)
                    beat = await trio.to_thread.run_sync(committed_heartbeat)
                    if beat is not None and beat > offered:
                        break
            print(offered, beat, flush=True)
            await trio.sleep(60)

    trio.run(main)
    """
)


async def test_writer_history_survives_sigkill(tmp_path: Path) -> None:
    """The real writer (threads, WAL, heartbeats) killed with SIGKILL: every committed
    heartbeat survives, and the time after the last one is unknown, never up."""
    path = tmp_path / "h.sqlite3"
    line = await run_then_kill([WRITER_CHILD, str(path)], lambda seen: seen.endswith(b"\n"))
    offered, seen_beat = (float(word) for word in line.split())
    [(last_beat,)] = query(path, "SELECT value FROM meta WHERE key = 'heartbeat'")
    assert float(last_beat) >= seen_beat > offered
    reopened_at = float(last_beat) + 100
    store = HistoryStore.open(path, now=reopened_at)
    try:
        days = read_daily(store.connection, "sms:DE", 2, reopened_at)  # midnight may fall inside
        intervals = [
            (STORED_VERDICTS[code], *rest)
            for code, *rest in store.connection.execute(
                'SELECT verdict, start, "end", gap FROM intervals ORDER BY id'
            )
        ]
    finally:
        store.close()
    assert intervals[0][:2] == ("operational", offered)
    assert all(verdict == "unknown" and gap for verdict, _, _, gap in intervals[1:])
    assert intervals[-1][1] <= float(last_beat)
    assert sum(day.seconds.get("operational", 0) for day in days) > 0
    total = sum(sum(day.seconds.values()) for day in days)
    # Closed time is rolled up in whole milliseconds of rounded ends: at most 1 ms off.
    assert total == pytest.approx(reopened_at - offered, abs=1e-3)


async def test_postgresql_outage_pauses_and_keeps_the_snapshots_until_it_returns(
    postgres: PostgresServer,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL stopped: one warning, offers still return at once, the newest max_pending
    snapshots (of the batch that failed and those offered meanwhile) wait and are written in
    order when the server is back, with no unknown gap for the outage."""
    url = DatabaseUrl("postgresql", postgres.create_database())
    inbox = HistoryInbox(max_pending=3)
    clock = wall_clock(D0)

    def opener(at: DatabaseUrl, now: float) -> HistoryStore:
        return HistoryStore.open(at, now=now, max_gap=180, timeout=1.0)

    with caplog.at_level(logging.WARNING, logger="statusd.history_writer"), trio.fail_after(DAY):
        try:
            async with trio.open_nursery() as nursery:
                await start_paused_writer(nursery, url, inbox, clock, opener)
                inbox.offer(clock(), {"sms:DE": "operational"})
                await trio.sleep(10)
                postgres.stop()
                await trio.sleep(10)
                inbox.offer(clock(), {"sms:DE": "degraded_performance"})  # D0 + 20
                await until_paused(caplog)  # the writer took it, failed, and holds it
                offered = []
                for verdict in ("major_outage", "operational", "partial_outage", "operational"):
                    await trio.sleep(1)  # well within the 30 s before the writer retries
                    offered.append(clock() - D0)
                    inbox.offer(clock(), {"sms:DE": verdict})
                postgres.start()
                await trio.sleep(600)  # retries every 30 s until the pool connects again
                nursery.cancel_scope.cancel()
        finally:
            if not postgres.is_running():
                postgres.start()
    messages = [r.getMessage() for r in caplog.records if r.name == "statusd.history_writer"]
    assert messages == ["history paused, /api is not affected", "history resumed"]
    # Five waiting (the batch that failed and four offers) with room for three: the two
    # oldest are dropped; the three newest are written in order (the first of them repeats
    # the stored verdict, so it opens no interval).
    assert inbox.dropped == 2
    rows = query(url, "SELECT verdict, start FROM intervals WHERE gap = 0 ORDER BY start")
    assert [(STORED_VERDICTS[code], start - D0) for code, start in rows] == [
        ("operational", 0),
        ("partial_outage", offered[2]),
        ("operational", offered[3]),
    ]
    assert query(url, f"SELECT count(*) FROM intervals WHERE gap = 1 AND start <= {D0 + 60}") == [
        (0,)
    ]


async def until_paused(caplog: pytest.LogCaptureFixture) -> None:
    """Until the writer has said that the history is paused (it logs; nothing to wait on)."""
    while not any(r.getMessage().startswith("history paused") for r in caplog.records):  # noqa: ASYNC110
        await trio.sleep(0.5)


def test_repeated_snapshots_are_compacted_without_opening_a_gap() -> None:
    """While the database is away, snapshots that only repeat the one before are left out as
    long as the ones kept stay within max_gap of each other; every change stays."""
    same = {"sms:DE": "operational"}
    snapshots = [Snapshot(D0 + 10 * n, dict(same)) for n in range(60)]  # 10 minutes, no change
    snapshots.append(Snapshot(D0 + 600, {"sms:DE": "major_outage"}))
    snapshots.append(
        Snapshot(
            D0 + 610, {"sms:DE": "major_outage"}, (Incident("i", "db", "investigating", D0, D0),)
        )
    )
    kept = compact(snapshots, 180)
    assert [s.at - D0 for s in kept] == [0, 180, 360, 540, 600, 610]
    assert all(b.at - a.at <= 180 for a, b in itertools.pairwise(kept))
    assert compact(kept, 180) == kept


async def test_a_writer_stopping_on_a_shared_database_leaves_the_history_open(
    postgres: PostgresServer, autojump_clock: trio.testing.MockClock
) -> None:
    """A replica's writer stops (its term ended): it records a heartbeat, not a gap, so
    the history the next leader writes meanwhile is not cut by unknown time."""
    url = DatabaseUrl("postgresql", postgres.create_database())
    clock = wall_clock(D0)
    inbox = HistoryInbox()
    with trio.fail_after(DAY):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: run_history_writer(
                    url, inbox, clock=clock, run_sync=inline, task_status=task_status
                )
            )
            inbox.offer(clock(), {"sms:DE": "operational"})
            await trio.sleep(90)
            nursery.cancel_scope.cancel()
    assert query(url, "SELECT count(*) FROM intervals WHERE gap = 1") == [(0,)]
    assert query(url, "SELECT value FROM meta WHERE key = 'heartbeat'") == [(repr(D0 + 90),)]
    # Within max_gap of that heartbeat the cell reads as still operational (another replica
    # carries on); long after it, as unknown from the heartbeat on.
    assert buckets(url, "sms:DE", 1, D0 + 120) == {"2025-11-25": {"operational": 120}}
    assert buckets(url, "sms:DE", 1, D0 + H) == {
        "2025-11-25": {"operational": 90, "unknown": H - 90}
    }
