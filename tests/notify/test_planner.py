"""The planner task end to end on the mock clock: snapshots in, events recorded through the
store at the settle and batch instants; a busy store delays events, never loses them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from functools import partial

import pytest
import trio
import trio.testing

from statusd.history.store import Snapshot
from statusd.history.writer import RunSync
from statusd.mailbox import Mailbox
from statusd.notify.incidents import incident_key
from statusd.notify.planner import run_notification_planner
from statusd.storage.engine import StorageUnavailable
from statusd.subscriptions.model import NotificationEvent
from statusd.verdicts.cells import DEGRADED, MAJOR, OPERATIONAL, UNKNOWN
from statusd.verdicts.timeline import Incident
from tests.history.test_writer import inline, wall_clock

W0 = 1_780_000_000.0
HOLD, BATCH = 120.0, 60.0
ALL_GOOD = {"sms:DE": OPERATIONAL, "sms:FR": OPERATIONAL, "billing:payout": OPERATIONAL}


class FakeStore:
    """An in-memory ``PlannerStore``; the first ``failures`` calls of each kind raise what
    the engine raises when the database is locked or away."""

    def __init__(
        self,
        notified: Mapping[str, str] | None = None,
        *,
        failures: int = 0,
        load_failures: int = 0,
    ) -> None:
        self._notified = dict(notified or {})
        self.failures = failures
        self.load_failures = load_failures
        self.attempts: list[float] = []
        self.recorded: list[tuple[NotificationEvent, dict[str, str], float]] = []
        self.silent: list[tuple[dict[str, str], float]] = []
        self._lock = threading.Lock()
        self._changed = trio.Event()
        self._token = trio.lowlevel.current_trio_token()

    def notified(self) -> dict[str, str]:
        with self._lock:
            if self.load_failures:
                self.load_failures -= 1
                raise StorageUnavailable("database is locked")
            return dict(self._notified)

    def record_event(
        self, event: NotificationEvent, notified: Mapping[str, str], now: float
    ) -> int:
        with self._lock:
            self.attempts.append(now)
            if self.failures:
                self.failures -= 1
                raise StorageUnavailable("database is locked")
            if all(event.id != e.id for e, _, _ in self.recorded):
                self.recorded.append((event, dict(notified), now))
                self._notified.update(notified)
        if threading.current_thread() is threading.main_thread():
            self._changed.set()
        else:
            trio.from_thread.run_sync(self._changed.set, trio_token=self._token)
        return 1

    def record_notified(self, notified: Mapping[str, str], now: float) -> None:
        with self._lock:
            self.silent.append((dict(notified), now))
            self._notified.update(notified)

    async def wait_recorded(self, count: int) -> None:
        while len(self.recorded) < count:
            await self._changed.wait()
            self._changed = trio.Event()

    def summary(self) -> list[tuple[str, float, list[tuple[str, str, str]]]]:
        """(type, wall seconds after W0 when recorded, changes) of every recorded event."""
        return [
            (e.type, now - W0, [(f"{c.product}:{c.key}", c.before, c.after) for c in e.changes])
            for e, _, now in self.recorded
        ]


class Driver:
    """Puts snapshots into the planner's mailbox at instants relative to the start."""

    def __init__(self, mailbox: Mailbox[Snapshot], clock: Callable[[], float]) -> None:
        self.mailbox = mailbox
        self.clock = clock
        self.start = trio.current_time()
        self.incidents: tuple[Incident, ...] = ()

    async def at(self, offset: float, verdicts: Mapping[str, str]) -> None:
        await trio.sleep_until(self.start + offset)
        self.mailbox.put(Snapshot(self.clock(), dict(verdicts), self.incidents))


def incident(status: str = "investigating") -> Incident:
    resolved = W0 + 900 if status == "resolved" else None
    return Incident("inc1", "SMS delays", status, W0 + 400, W0 + 400, resolved)


async def run_planner(
    nursery: trio.Nursery,
    store: FakeStore,
    *,
    run_sync: RunSync | None = None,
    queue_size: int = 1000,
    retry_max: float = 60.0,
) -> tuple[Driver, Mailbox[Snapshot]]:
    mailbox: Mailbox[Snapshot] = Mailbox(keep=64)
    clock = wall_clock(W0)
    await nursery.start(
        partial(
            run_notification_planner,
            mailbox,
            store,
            hold=HOLD,
            batch=BATCH,
            clock=clock,
            limiter=trio.CapacityLimiter(1),
            run_sync=run_sync,
            queue_size=queue_size,
            retry_max=retry_max,
        )
    )
    return Driver(mailbox, clock), mailbox


async def test_snapshots_in_events_recorded_at_the_right_instants(
    thread_friendly_clock: trio.testing.MockClock,
) -> None:
    """First start (nothing notified): the cells are recorded silently; two changes 30 s
    apart settle (hold 120) and go out as one batch 60 s after the first settled; an incident
    opens and closes; ``degraded → unknown → operational`` is one recovery. The store runs
    in real worker threads."""
    store = FakeStore()
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            drive, _ = await run_planner(nursery, store)
            await drive.at(0, ALL_GOOD)
            await drive.at(200, {**ALL_GOOD, "sms:DE": DEGRADED})
            await drive.at(230, {**ALL_GOOD, "sms:DE": DEGRADED, "sms:FR": MAJOR})
            drive.incidents = (incident(),)
            await drive.at(400, {**ALL_GOOD, "sms:DE": DEGRADED, "sms:FR": MAJOR})
            await drive.at(500, {**ALL_GOOD, "sms:DE": UNKNOWN, "sms:FR": MAJOR})
            await drive.at(700, {**ALL_GOOD, "sms:FR": MAJOR})
            drive.incidents = (incident("resolved"),)
            await drive.at(900, {**ALL_GOOD, "sms:FR": MAJOR})
            await store.wait_recorded(4)
            nursery.cancel_scope.cancel()
    assert store.summary() == [
        (
            "status.changed",
            380,
            [("sms:DE", OPERATIONAL, DEGRADED), ("sms:FR", OPERATIONAL, MAJOR)],
        ),
        ("incident.opened", 400, []),
        ("status.changed", 880, [("sms:DE", DEGRADED, OPERATIONAL)]),
        ("incident.resolved", 900, []),
    ]
    first, _, _ = store.recorded[0]
    assert first.occurred_at == W0 + 200
    # the silent first records reach the store once settled, before any event
    assert [(notified, now - W0) for notified, now in store.silent] == [
        ({"sms:DE": OPERATIONAL, "sms:FR": OPERATIONAL, "billing:payout": OPERATIONAL}, 120)
    ]
    assert store.recorded[0][1] == {"sms:DE": DEGRADED, "sms:FR": MAJOR}
    assert store.recorded[1][1] == {incident_key("inc1"): "investigating"}
    assert store.notified()["sms:DE"] == OPERATIONAL


async def test_a_busy_store_delays_events_in_order_and_never_loses_them(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The database is locked for three tries: the batch decided at 380 is retried after 1,
    2 and 4 s; the incident decided meanwhile waits behind it; one warning, one recovery."""
    store = FakeStore({"sms:DE": OPERATIONAL}, failures=3)
    with caplog.at_level(logging.WARNING, logger="statusd.notifications"), trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            drive, _ = await run_planner(nursery, store, run_sync=inline)
            await drive.at(0, {"sms:DE": OPERATIONAL})
            await drive.at(10, {"sms:DE": DEGRADED})  # settles at 130, batch closes at 190
            drive.incidents = (incident(),)
            await drive.at(191, {"sms:DE": DEGRADED})
            await store.wait_recorded(2)
            nursery.cancel_scope.cancel()
    assert [a - W0 for a in store.attempts] == [190, 191, 193, 197, 197]
    assert store.summary() == [
        ("status.changed", 197, [("sms:DE", OPERATIONAL, DEGRADED)]),
        ("incident.opened", 197, []),
    ]
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "notification store unavailable, decided events wait in memory",
        "notification store available again",
    ]


async def test_a_restart_tells_nothing_again(autojump_clock: trio.testing.MockClock) -> None:
    """What the store says was told (a degraded cell, an open incident) is not told again,
    even when loading it needed retries; the next real change is."""
    notified = {"sms:DE": DEGRADED, incident_key("inc1"): "investigating"}
    store = FakeStore(notified, load_failures=2)
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            drive, _ = await run_planner(nursery, store, run_sync=inline)
            drive.incidents = (incident(),)
            await drive.at(0, {"sms:DE": DEGRADED})
            await drive.at(1000, {"sms:DE": DEGRADED})
            await drive.at(1000, {"sms:DE": OPERATIONAL})
            await store.wait_recorded(1)
            nursery.cancel_scope.cancel()
    assert store.summary() == [("status.changed", 1180, [("sms:DE", DEGRADED, OPERATIONAL)])]


async def test_a_full_queue_pauses_deciding_and_loses_nothing(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Queue of one, store locked for a long time: three incidents opening one after the
    other are all recorded, in order, once the store is back."""
    store = FakeStore(failures=12)
    topics = ("a", "b", "c")
    with caplog.at_level(logging.WARNING, logger="statusd.notifications"), trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            drive, _ = await run_planner(nursery, store, run_sync=inline, queue_size=1, retry_max=4)
            await drive.at(0, {})
            for n, topic in enumerate(topics, start=1):
                drive.incidents = (
                    *drive.incidents,
                    Incident(f"inc-{topic}", topic, "investigating", W0 + n, W0 + n),
                )
                await drive.at(n, {})
            await store.wait_recorded(3)
            nursery.cancel_scope.cancel()
    assert [e.incident["id"] for e, _, _ in store.recorded if e.incident] == [
        "inc-a",
        "inc-b",
        "inc-c",
    ]
    assert len(store.attempts) == 15
    assert "notification queue full, deciding waits for the store" in caplog.messages
