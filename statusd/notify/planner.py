"""The notification planner (SPEC §8): the one task that decides what subscribers are told
and records it, so the senders can act on it (decide → record → act).

The public view hands every new set of verdicts and incidents to a mailbox (as it does to
the history writer). ``run_notification_planner`` takes them, settles the verdicts
(``notify_hold``), batches the changes (``notify_batch``), notices incidents opening and
closing, and records each event with its notified verdicts through the ``PlannerStore`` in
a worker thread — one transaction per event, which also writes an outbox entry per
subscriber in scope. It sleeps until the next settle or batch instant on trio's clock, or
until a snapshot arrives: no polling.

Deciding and recording are two child tasks joined by a bounded channel: while the database
is busy or down, decided events wait in memory, in order, and are retried with backoff; the
daemon never crashes for it and no decided event is lost while the process lives. If the
channel fills up, deciding pauses (the mailbox keeps only the newest snapshots meanwhile).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar, TypeVarTuple, Unpack

import trio

from statusd.history.schema import HistoryError
from statusd.history.writer import RunSync
from statusd.mailbox import Mailbox
from statusd.notify.batch import Batch, Batcher, status_event
from statusd.notify.incidents import INCIDENT_KEY_PREFIX, IncidentWatch
from statusd.notify.settle import Settled, Settler
from statusd.storage.engine import StorageError
from statusd.subscriptions.model import NotificationEvent, PlannerStore
from statusd.verdicts.timeline import Incident

log = logging.getLogger("statusd.notifications")

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

STORE_ERRORS: tuple[type[Exception], ...] = (StorageError, OSError, HistoryError)
"""What a store raises when the database is busy, locked, full or gone: retried."""


class SnapshotLike(Protocol):
    """What the planner reads of a ``history.store.Snapshot``."""

    @property
    def verdicts(self) -> Mapping[str, str]: ...

    @property
    def incidents(self) -> Sequence[Incident] | None: ...


S = TypeVar("S", bound=SnapshotLike)


@dataclass(frozen=True, slots=True)
class Decision:
    """An event to record, with the notified verdicts recorded in the same transaction;
    ``event`` None: only notified verdicts (silent first records, nobody is told)."""

    event: NotificationEvent | None
    notified: Mapping[str, str]


class Decider:
    """Settling, batching and incidents together (no I/O): observations in, decisions out.

    Instants are trio-clock seconds; ``offset`` (wall − trio) turns them into the UNIX
    seconds of the events. Silent records (cells and incidents seen for the first time)
    ride along with the next decision when there is one, else ``silent`` hands them over on
    their own, so that a restart or another replica starts from them.
    """

    def __init__(self, notified: Mapping[str, str], *, hold: float, batch: float) -> None:
        cells = {k: v for k, v in notified.items() if not k.startswith(INCIDENT_KEY_PREFIX)}
        self.settler = Settler(hold, cells)
        self.batcher = Batcher(batch)
        self.incidents = IncidentWatch(notified)
        self._silent: dict[str, str] = {}

    def deadline(self) -> float | None:
        """When something is decided next if no snapshot comes first."""
        due = [d for d in (self.settler.next_deadline(), self.batcher.deadline()) if d is not None]
        return min(due, default=None)

    def advance(self, now: float, offset: float) -> list[Decision]:
        """What is decided by ``now`` with no new snapshot."""
        out = self._route(self.settler.advance(now), offset)
        return out + self._close(self.batcher.due(now), offset)

    def observe(self, now: float, snapshot: SnapshotLike, offset: float) -> list[Decision]:
        """What is decided by ``now``, then with ``snapshot`` (seen at ``now``)."""
        out = self._route(self.settler.feed(now, snapshot.verdicts), offset)
        out += self._close(self.batcher.due(now), offset)
        for told in self.incidents.observe(snapshot.incidents):
            if told.event is None:
                self._silent.update(told.notified)
            else:
                out.append(self._decision(told.event, told.notified))
        return out

    def silent(self) -> Decision | None:
        """The silent records no decision has carried yet, as a decision without event."""
        if not self._silent:
            return None
        decision = Decision(None, self._silent)
        self._silent = {}
        return decision

    def _route(self, settled: list[Settled], offset: float) -> list[Decision]:
        out: list[Decision] = []
        for change in settled:
            if change.silent:
                self._silent[change.cell] = change.after
            else:
                out += self._close(self.batcher.add(change), offset)
        return out

    def _close(self, batch: Batch | None, offset: float) -> list[Decision]:
        if batch is None:
            return []
        event = status_event(batch, lambda at: at + offset)
        return [self._decision(event, batch.notified)]

    def _decision(self, event: NotificationEvent, notified: Mapping[str, str]) -> Decision:
        merged = {**self._silent, **notified}
        self._silent = {}
        return Decision(event, merged)


async def run_notification_planner(
    snapshots: Mailbox[S],
    store: PlannerStore,
    *,
    hold: float,
    batch: float,
    clock: Callable[[], float] = time.time,
    limiter: trio.CapacityLimiter,
    queue_size: int = 1000,
    retry_first: float = 1.0,
    retry_max: float = 60.0,
    run_sync: RunSync | None = None,
    on_recorded: Callable[[], None] = lambda: None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Decide and record notification events until cancelled.

    ``clock`` gives the UNIX seconds stored; every wait uses trio's clock. Store calls run
    through ``run_sync`` (default: ``trio.to_thread.run_sync`` bounded by ``limiter``;
    tests pass one that calls inline). Started at once; the notified verdicts are loaded
    first (retried like every store call), and snapshots wait in the mailbox meanwhile.
    """
    retry = _Retry(clock, run_sync or _in_threads(limiter), retry_first, retry_max)
    task_status.started()
    notified = await retry.call(lambda now: store.notified(), "loading the notified verdicts")
    decider = Decider(notified, hold=hold, batch=batch)
    send, receive = trio.open_memory_channel[Decision](queue_size)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_record_all, receive, store, retry, on_recorded)
        async with send:
            await _decide_all(snapshots, decider, send, clock)


async def _decide_all(
    snapshots: Mailbox[S],
    decider: Decider,
    send: trio.MemorySendChannel[Decision],
    clock: Callable[[], float],
) -> None:
    full = False
    while True:
        deadline = decider.deadline()
        with trio.move_on_at(math.inf if deadline is None else deadline):
            await snapshots.wait()
        now = trio.current_time()
        offset = clock() - now
        decisions = decider.advance(now, offset)
        for snapshot in snapshots.take():
            decisions += decider.observe(now, snapshot, offset)
        if (silent := decider.silent()) is not None:
            decisions.append(silent)
        for decision in decisions:
            try:
                send.send_nowait(decision)
            except trio.WouldBlock:
                if not full:
                    log.warning(
                        "notification queue full, deciding waits for the store",
                        extra={"queued": send.statistics().current_buffer_used},
                    )
                full = True
                await send.send(decision)
            else:
                full = False


async def _record_all(
    receive: trio.MemoryReceiveChannel[Decision],
    store: PlannerStore,
    retry: _Retry,
    on_recorded: Callable[[], None],
) -> None:
    async with receive:
        async for decision in receive:
            event = decision.event
            if event is None:
                await retry.call(
                    partial(store.record_notified, decision.notified),
                    "recording the notified verdicts",
                )
                continue
            added = await retry.call(
                partial(store.record_event, event, decision.notified),
                f"recording event {event.id}",
            )
            log.info(
                "notification event recorded",
                extra={"event": event.id, "type": event.type, "outbox_entries": added},
            )
            if added:
                on_recorded()


def _in_threads(limiter: trio.CapacityLimiter) -> RunSync:
    async def run(sync_fn: Callable[[Unpack[Ts]], T], /, *args: *Ts) -> T:
        return await trio.to_thread.run_sync(sync_fn, *args, limiter=limiter)

    return run


class _Retry:
    """Runs a store call in a worker thread until it succeeds, backing off on store errors
    (``retry_first`` seconds, doubling up to ``retry_max``); warns once per outage."""

    def __init__(
        self,
        clock: Callable[[], float],
        run_sync: RunSync,
        first: float,
        most: float,
    ) -> None:
        self.clock = clock
        self.run_sync = run_sync
        self.first = first
        self.most = most
        self.failing = False

    async def call(self, attempt: Callable[[float], T], what: str) -> T:
        """``attempt(now)`` in a thread, ``now`` the wall time of each try."""
        delay = self.first
        while True:
            try:
                result = await self.run_sync(attempt, self.clock())
            except STORE_ERRORS as error:
                if not self.failing:
                    log.warning(
                        "notification store unavailable, decided events wait in memory",
                        extra={"failed": what, "error": str(error), "retry_seconds": delay},
                    )
                self.failing = True
                await trio.sleep(delay)
                delay = min(delay * 2, self.most)
                continue
            if self.failing:
                log.warning("notification store available again", extra={"done": what})
                self.failing = False
            return result
