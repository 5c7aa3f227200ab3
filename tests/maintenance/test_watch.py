"""The daemon's maintenance task on trio's clock: windows start and end at their instants,
edits are picked up without a restart, an invalid file keeps the windows, and a restart
emits no event twice."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from statusd.body.spill import joined
from statusd.history.planned import read_maintenance
from statusd.history.store import HistoryStore, Snapshot
from statusd.history.writer import HistoryInbox
from statusd.maintenance.events import MaintenanceEvent
from statusd.maintenance.file import add_window
from statusd.maintenance.overlay import MaintenanceView
from statusd.maintenance.watch import CHECK_EVERY, MaintenanceTask
from statusd.maintenance.windows import MaintenanceWindow, parse_window
from statusd.verdicts.cells import UNDER_MAINTENANCE, VerdictSet
from statusd.verdicts.live import PublicState
from tests.support.public_state import open_public_state

BASE = 1_772_326_800.0  # 2026-03-01T01:00:00Z; trio's clock starts at 0
START, END = BASE + 3600, BASE + 7200  # 02:00 to 03:00 UTC


def window(
    window_id: str = "sms-de", start: float = START, end: float = END, **scope: Any
) -> MaintenanceWindow:
    table = {
        "id": window_id,
        "title": "SMS to Germany: carrier upgrade",
        "start": _iso(start),
        "end": _iso(end),
        "products": scope.get("products", ["sms"]),
        "countries": scope.get("countries", ["DE"]),
    }
    return parse_window(table, 1)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def wall() -> float:
    """The wall clock of these tests: BASE plus trio's (mock) clock."""
    return BASE + trio.current_time()


class Recorder:
    """The public view, recording at which instant each maintenance view arrived and what
    the documents said then; ``wait_for`` waits for a view that satisfies a condition."""

    def __init__(self, public: PublicState) -> None:
        self.public = public
        self.seen: list[tuple[float, dict[str, str], str]] = []
        self.view = MaintenanceView()
        self._arrived = trio.Event()

    async def wait_for(self, condition: Callable[[MaintenanceView], bool]) -> None:
        with trio.fail_after(24 * 3600):
            while not condition(self.view):
                await self._arrived.wait()
                self._arrived = trio.Event()

    async def set_maintenance(self, view: MaintenanceView) -> VerdictSet:
        verdicts = await self.public.set_maintenance(view)
        document = await self.public.document("/api/v2/scheduled-maintenances.json")
        assert document is not None
        body = json.loads(joined(document.parts))
        statuses = {m["statusd"]["id"]: m["status"] for m in body["scheduled_maintenances"]}
        sms_de = verdicts.get("sms", "DE")
        assert sms_de is not None
        self.seen.append((view.at, statuses, sms_de.verdict))
        self.view = view
        self._arrived.set()
        return verdicts


@pytest.fixture
def public(tmp_path: Path) -> Iterator[PublicState]:
    store, state, _ = open_public_state(tmp_path / "history.sqlite3", BASE)
    yield state
    store.close()


async def until(instant: float) -> None:
    """Let everything run (on the mock clock) until the wall time ``instant``."""
    await trio.sleep_until(instant - BASE)


async def test_a_window_starts_and_ends_at_its_instants(
    tmp_path: Path, public: PublicState, autojump_clock: trio.testing.MockClock
) -> None:
    """The task wakes exactly at the start and the end: the Statuspage status goes
    scheduled → in_progress → completed and sms:DE is under maintenance exactly in between,
    whatever its data says; sms:RU (out of scope) is never touched."""
    path = tmp_path / "maintenance.toml"
    add_window(path, window())
    recorder = Recorder(public)
    task = MaintenanceTask(path, recorder, clock=wall)
    async with trio.open_nursery() as nursery:
        await nursery.start(task.run)
        await until(END + 10)
        nursery.cancel_scope.cancel()
    changes = [seen for seen in recorder.seen if seen[0] in (BASE, START, END)]
    assert changes == [
        (BASE, {"sms-de": "scheduled"}, "operational"),
        (START, {"sms-de": "in_progress"}, UNDER_MAINTENANCE),
        (END, {"sms-de": "completed"}, "operational"),
    ]
    assert len(recorder.seen) == 3  # nothing between the instants: it slept
    ru = public.verdicts.get("sms", "RU")
    assert ru is not None
    assert ru.verdict != UNDER_MAINTENANCE


async def test_edits_are_picked_up_and_an_invalid_file_keeps_the_windows(
    tmp_path: Path,
    public: PublicState,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A window added while running is in force within CHECK_EVERY seconds; a broken file
    keeps it, is logged once and shown in health(); the next valid file clears the error."""
    path = tmp_path / "maintenance.toml"
    recorder = Recorder(public)
    task = MaintenanceTask(path, recorder, clock=wall)
    async with trio.open_nursery() as nursery:
        await nursery.start(task.run)
        assert not task.view.windows
        assert task.health()["error"] is None
        added_at = trio.current_time()
        add_window(path, window(start=BASE - 60))  # running already
        await recorder.wait_for(lambda view: bool(view.windows))
        assert trio.current_time() - added_at <= CHECK_EVERY
        sms_de = public.verdicts.get("sms", "DE")
        assert sms_de is not None
        assert sms_de.verdict == UNDER_MAINTENANCE
        assert sms_de.data_verdict == "operational"
        assert task.health()["active"] == ["sms-de"]
        with caplog.at_level(logging.WARNING, logger="statusd.maintenance"):
            path.write_text(path.read_text() + "\n[[maintenance]]\nid = 'x'\nbogus = 1\n")
            await recorder.wait_for(lambda view: view.error is not None)
            await until(wall() + 5 * CHECK_EVERY)  # looked at again: logged once
        assert "unknown key 'bogus'" in str(task.health()["error"])
        assert [w.id for w in task.view.windows] == ["sms-de"]
        sms_de = public.verdicts.get("sms", "DE")
        assert sms_de is not None
        assert sms_de.verdict == UNDER_MAINTENANCE
        assert [r.getMessage() for r in caplog.records] == [
            "maintenance file invalid, keeping the previous windows"
        ]
        path.unlink()  # a missing file is valid: no windows
        await recorder.wait_for(lambda view: view.error is None)
        assert not task.view.windows
        sms_de = public.verdicts.get("sms", "DE")
        assert sms_de is not None
        assert sms_de.verdict == "operational"
        nursery.cancel_scope.cancel()


async def run_until(task: MaintenanceTask, instant: float) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(task.run)
        await until(instant)
        nursery.cancel_scope.cancel()


async def test_a_restart_emits_no_event_twice_and_completes_what_ended_meanwhile(
    tmp_path: Path, public: PublicState, autojump_clock: trio.testing.MockClock
) -> None:
    """Events go to the observers once: the record the history keeps is handed back after a
    restart, so the second run only completes the window that ended while it was down."""
    path = tmp_path / "maintenance.toml"
    add_window(path, window())
    events: list[MaintenanceEvent] = []
    first = MaintenanceTask(path, public, clock=wall)
    first.add_observer(events.append)
    await run_until(first, START + 60)
    assert [e.kind for e in events] == ["scheduled", "started"]
    record = first.view.record
    assert record is not None
    # what the history keeps of it (through the writer's snapshot) is what comes back
    store = HistoryStore.open(tmp_path / "kept.sqlite3", now=BASE)
    try:
        store.apply([Snapshot(START + 60, {}, None, record)])
        kept = read_maintenance(store.connection)
    finally:
        store.close()
    assert kept is not None
    assert (kept.at, kept.windows, dict(kept.revisions)) == (
        record.at,
        record.windows,
        dict(record.revisions),
    )
    await until(END + 600)  # statusd is down while the window ends
    second = MaintenanceTask(path, public, previous=kept, clock=wall)
    later: list[MaintenanceEvent] = []
    second.add_observer(later.append)
    await run_until(second, wall() + 10)
    assert [(e.kind, e.id) for e in later] == [("completed", later[0].id)]
    assert later[0].id not in {e.id for e in events}
    assert second.view.revisions == record.revisions  # created_at survives the restart
    third = MaintenanceTask(path, public, previous=second.view.record, clock=wall)
    again: list[MaintenanceEvent] = []
    third.add_observer(again.append)
    await run_until(third, wall() + 10)
    assert again == []


async def test_an_invalid_file_at_start_keeps_the_windows_of_the_last_run(
    tmp_path: Path, public: PublicState, autojump_clock: trio.testing.MockClock
) -> None:
    """After a restart with a broken file the windows decided before stay in force."""
    path = tmp_path / "maintenance.toml"
    add_window(path, window(start=BASE - 60))
    first = MaintenanceTask(path, public, clock=wall)
    await run_until(first, BASE + 10)
    path.write_text("not toml [")
    second = MaintenanceTask(path, public, previous=first.view.record, clock=wall)
    await run_until(second, BASE + 20)
    assert [w.id for w in second.view.windows] == ["sms-de"]
    assert "not valid TOML" in str(second.health()["error"])
    sms_de = public.verdicts.get("sms", "DE")
    assert sms_de is not None
    assert sms_de.verdict == UNDER_MAINTENANCE


async def test_the_record_reaches_the_history_with_the_published_view(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """set_maintenance publishes: the snapshot offered to the history carries the record
    and the verdicts under maintenance."""
    store, public, inbox = open_public_state(tmp_path / "history.sqlite3", BASE)
    try:
        inbox.take()
        path = tmp_path / "maintenance.toml"
        add_window(path, window(start=BASE - 60))
        task = MaintenanceTask(path, public, clock=wall)
        await run_until(task, BASE + 1)
        [snapshot] = [s for s in inbox.take() if s.maintenance is not None][-1:]
        assert snapshot.verdicts["sms:DE"] == UNDER_MAINTENANCE
        assert snapshot.maintenance == task.view.record
        assert isinstance(inbox, HistoryInbox)
    finally:
        store.close()
