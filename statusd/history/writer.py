"""The one task that writes the history, so the event loop never waits on the disk.

The public view (``verdicts.live.PublicState``) hands every new set of verdicts to a
``HistoryInbox`` with ``offer`` — a plain method that never blocks and never fails.
``run_history_writer`` (a child of the main nursery, started with ``nursery.start``) takes
what has accumulated, writes it through ``trio.to_thread.run_sync`` in one transaction,
heartbeats, and prunes old rows. Database trouble never reaches the caller: a full disk or
an unreachable database (PostgreSQL down, connection lost) pauses the history with one
warning and is retried — meanwhile the snapshots wait, at most ``max_pending`` of them, and
are written in order when it is back; a damaged SQLite file is moved aside and a new one
started (a damaged shared database only pauses the history: it is never touched).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar, TypeVarTuple, Unpack

import trio

from statusd.history.planned import MaintenanceRecord
from statusd.history.schema import HistoryCorrupt, HistoryError, database_url, move_aside
from statusd.history.store import HistoryStore, Snapshot
from statusd.mailbox import Mailbox
from statusd.storage.url import DatabaseUrl
from statusd.verdicts.timeline import Incident, Timeline

log = logging.getLogger("statusd.history_writer")

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class RunSync(Protocol):
    """How a blocking call is run off the event loop (``trio.to_thread.run_sync``)."""

    async def __call__(self, sync_fn: Callable[[Unpack[Ts]], T], /, *args: *Ts) -> T: ...


StoreOpener = Callable[[DatabaseUrl, float], HistoryStore]
"""Opens the store in a database at a wall time (tests wrap it to inject disk trouble)."""


class HistoryInbox(Mailbox[Snapshot]):
    """Non-blocking handoff of snapshots from the public view to the writer task.

    Holds at most ``max_pending`` snapshots; if the writer falls that far behind, the oldest
    are dropped (counted in ``dropped``) — the history loses detail, /api never waits.
    """

    def __init__(self, max_pending: int = 256) -> None:
        super().__init__(keep=max_pending)

    @property
    def max_pending(self) -> int:
        return self.keep

    def offer(
        self,
        at: float,
        verdicts: Mapping[str, str],
        incidents: Sequence[Incident] | None = None,
        maintenance: MaintenanceRecord | None = None,
    ) -> None:
        """Queue the verdict of every current cell (``"sms:DE"`` → verdict) at wall time ``at``,
        and optionally the current incidents and the maintenance task's last record; returns
        at once."""
        kept = None if incidents is None else tuple(incidents)
        self.put(Snapshot(at, dict(verdicts), kept, maintenance))


def open_store(url: DatabaseUrl, now: float, *, max_gap: float, rollup_days: int) -> HistoryStore:
    """The default opener: ``HistoryStore.open`` (moves a damaged SQLite file aside)."""
    return HistoryStore.open(url, now=now, max_gap=max_gap, rollup_days=rollup_days)


async def run_history_writer(
    where: DatabaseUrl | Path,
    inbox: HistoryInbox,
    *,
    raw_days: int = 35,
    rollup_days: int = 400,
    heartbeat_every: float = 60.0,
    prune_every: float = 3600.0,
    retry_after: float = 30.0,
    clock: Callable[[], float] = time.time,
    run_sync: RunSync = trio.to_thread.run_sync,
    opener: StoreOpener | None = None,
    task_status: trio.TaskStatus[Timeline] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Write the history until cancelled; ``started`` hands back the stored ``Timeline``.

    ``clock`` gives the wall time stored (UNIX seconds); waits use trio's clock. A silence
    longer than three heartbeats (history paused) is stored as unknown. On cancellation the
    stop time is recorded (shielded, so a clean stop is not mistaken for a crash).
    """
    max_gap = 3 * heartbeat_every
    if opener is None:
        opener = partial(open_store, max_gap=max_gap, rollup_days=rollup_days)
    writer = _Writer(database_url(where), inbox, opener, clock, run_sync, retry_after, max_gap)
    await writer.open()
    task_status.started(await writer.timeline())
    try:
        await writer.loop(raw_days, rollup_days, heartbeat_every, prune_every)
    finally:
        with trio.CancelScope(shield=True):
            await writer.stop()


def compact(snapshots: Sequence[Snapshot], within: float) -> list[Snapshot]:
    """``snapshots`` without those that only repeat the one before them and whose neighbours
    are at most ``within`` seconds apart: writing them would only move the heartbeat, and
    without them no silence longer than ``within`` (the store's ``max_gap``) appears, so a
    quiet outage holds hours of snapshots in ``max_pending``."""
    kept: list[Snapshot] = []
    for snapshot in snapshots:
        if len(kept) >= 2 and _repeats(kept[-1], kept[-2]) and snapshot.at - kept[-2].at <= within:
            kept[-1] = snapshot
        else:
            kept.append(snapshot)
    return kept


def _repeats(snapshot: Snapshot, before: Snapshot) -> bool:
    return (
        snapshot.verdicts == before.verdicts
        and snapshot.incidents in (None, before.incidents)
        and snapshot.maintenance in (None, before.maintenance)
    )


class _Writer:
    """The writer task's state: the open store (or None while it cannot be opened)."""

    def __init__(
        self,
        url: DatabaseUrl,
        inbox: HistoryInbox,
        opener: StoreOpener,
        clock: Callable[[], float],
        run_sync: RunSync,
        retry_after: float,
        max_gap: float,
    ) -> None:
        self.url = url
        self.inbox = inbox
        self.opener = opener
        self.clock = clock
        self.run_sync = run_sync
        self.retry_after = retry_after
        self.store: HistoryStore | None = None
        self.max_gap = max_gap
        self.paused = False
        self.retry_at = -float("inf")

    def _pause(self, what: str, error: BaseException) -> None:
        """Stop writing until ``retry_after``; warn once per pause."""
        if not self.paused:
            log.warning(
                "history paused, /api is not affected",
                extra={
                    "failed": what,
                    "database": self.url.redacted(),
                    "error": str(error),
                    "retry_seconds": self.retry_after,
                },
            )
        self.paused = True
        self.retry_at = trio.current_time() + self.retry_after

    async def open(self) -> bool:
        try:
            self.store = await self.run_sync(self.opener, self.url, self.clock())
        except (HistoryError, OSError) as error:
            self._pause("opening", error)
            return False
        return True

    async def timeline(self) -> Timeline:
        if self.store is None:
            return Timeline()
        try:
            return await self.run_sync(self.store.load_timeline)
        except HistoryError as error:
            log.warning(
                "history timeline unreadable",
                extra={"database": self.url.redacted(), "error": str(error)},
            )
            return Timeline()

    async def reset(self, error: HistoryCorrupt) -> None:
        """The database broke while running: move a SQLite file aside and start a new one;
        pause on a shared database (never moved or dropped by statusd)."""
        if self.url.dialect != "sqlite":
            self._pause("writing", error)
            return
        if self.store is not None:
            await self.run_sync(self.store.close)
            self.store = None
        try:
            aside = await self.run_sync(move_aside, self.url.path, self.clock())
        except OSError as move_error:
            self._pause("moving aside the damaged", move_error)
            return
        log.warning(
            "history database damaged, moved it aside and started a new one",
            extra={"database": self.url.redacted(), "error": str(error), "moved_to": str(aside)},
        )
        await self.open()

    def keep_newest(self, pending: list[Snapshot]) -> list[Snapshot]:
        """The newest ``max_pending`` snapshots waiting to be written (while the database is
        away), repeats left out (``compact``); the older ones are dropped and counted in the
        inbox's ``dropped``."""
        pending = compact(pending, self.max_gap)
        over = len(pending) - self.inbox.max_pending
        if over <= 0:
            return pending
        self.inbox.dropped += over
        return pending[over:]

    async def loop(
        self, raw_days: int, rollup_days: int, heartbeat_every: float, prune_every: float
    ) -> None:
        pending: list[Snapshot] = []
        next_beat = trio.current_time() + heartbeat_every
        next_prune = trio.current_time()
        while True:
            wake_at = min(next_beat, next_prune)
            if self.paused or self.store is None:
                wake_at = self.retry_at
            with trio.move_on_at(wake_at):
                await self.inbox.wait()
            pending = self.keep_newest(pending + self.inbox.take())
            now = trio.current_time()
            if (self.paused or self.store is None) and now < self.retry_at:
                continue
            if self.store is None and not await self.open():
                continue
            store = self.store
            assert store is not None
            try:
                if pending:
                    await self.run_sync(store.apply, pending)
                    pending = []
                    next_beat = now + heartbeat_every
                elif now >= next_beat:
                    await self.run_sync(store.heartbeat, self.clock())
                    next_beat = now + heartbeat_every
                if now >= next_prune:
                    await self.run_sync(store.prune, self.clock(), raw_days, rollup_days)
                    next_prune = now + prune_every
            except HistoryCorrupt as error:
                await self.reset(error)
                continue
            except (HistoryError, OSError) as error:
                self._pause("writing", error)
                continue
            if self.paused:
                log.warning("history resumed", extra={"database": self.url.redacted()})
                self.paused = False

    async def stop(self) -> None:
        """Record the stop time and close (called shielded on the way out).

        On a shared database (replicas) only a heartbeat: this writer may be stopping because
        another replica now leads and writes, and a gap written now would cut into its
        history. Readers and the next leader turn a silence longer than ``max_gap`` after
        that heartbeat into unknown time, so a clean stop of the last replica still is."""
        store, self.store = self.store, None
        if store is None:
            return
        record = store.heartbeat if self.url.shared else store.mark_stopped
        try:
            await self.run_sync(record, self.clock())
        except HistoryError as error:
            log.warning(
                "history stop not recorded",
                extra={"database": self.url.redacted(), "error": str(error)},
            )
        finally:
            await self.run_sync(store.close)
