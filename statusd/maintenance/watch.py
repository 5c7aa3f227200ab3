"""The daemon's maintenance task (SPEC §9): re-read the file when it changes, hand the windows
to the public view at every start and end, decide the events, and never stop statusd.

``MaintenanceTask.run`` (a child of the daemon's nursery, started with ``nursery.start``)
sleeps on trio's clock until the earlier of the next window start or end
(``next_transition``) and the next look at the file (every ``check_every`` seconds: its
device, inode, size and modification time, one ``stat``). So a window starts and ends at its
instant, and an edit is picked up within ``check_every`` seconds (2 s), without a restart:
an atomic replace (``statusd maintenance``, most editors) changes the inode, an edit in place
the size or the modification time.

An invalid file keeps the windows in force (``MaintenanceWatcher``), is logged once per
distinct problem and shown in ``/healthz`` until a valid file replaces it. What the events
and revisions need across restarts (the windows and instant last decided, the revisions,
the events) goes to the history with every published view (``MaintenanceRecord``); at
start the task takes the last record back, so a restart emits no event twice and a window
that ended while statusd was down still completes.

Observers (``add_observer``) receive every ``MaintenanceEvent`` as it is decided, on the
event loop; they must not block (hand it to a ``Mailbox``). ``events.maintenance_events``
stays the one place events are decided.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import trio

from statusd.history.planned import MaintenanceRecord
from statusd.maintenance.events import MaintenanceEvent, maintenance_events
from statusd.maintenance.file import MaintenanceWatcher, read_maintenance_file
from statusd.maintenance.overlay import MaintenanceView
from statusd.maintenance.windows import (
    MaintenanceFileError,
    MaintenanceWindow,
    active_windows,
    next_transition,
)
from statusd.verdicts.cells import VerdictSet
from statusd.verdicts.statuspage import iso_utc

log = logging.getLogger("statusd.maintenance")

CHECK_EVERY: Final = 2.0
"""Seconds between two looks at the file: the longest an edit waits to be picked up."""
MAX_FILE_BYTES: Final = 4 * 1024 * 1024
"""A bigger file is refused (it is a hand-edited list of windows)."""
KEEP_EVENTS: Final = 64
"""The newest events carried in each record (the history stores each once, by id)."""

Stamp = tuple[int, int, int, int] | None
"""(device, inode, size, mtime in ns) of the file, None when it does not exist."""


class MaintenanceSink(Protocol):
    """Where the task hands its view (``PublicState``)."""

    async def set_maintenance(self, view: MaintenanceView) -> VerdictSet: ...


def file_stamp(path: Path) -> Stamp:
    """What changes when the file is replaced or edited; None when it is missing."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class MaintenanceTask:
    """The windows in force and the events decided, kept up to date by ``run``."""

    def __init__(
        self,
        path: Path,
        sink: MaintenanceSink,
        *,
        previous: MaintenanceRecord | None = None,
        clock: Callable[[], float] = time.time,
        check_every: float = CHECK_EVERY,
    ) -> None:
        """``previous``: the last record the history kept (None on a first run); ``clock``
        the wall time (UNIX seconds) the windows are compared with."""
        self.path = path
        self.sink = sink
        self.clock = clock
        self.check_every = check_every
        self.watcher = MaintenanceWatcher(
            str(path),
            previous.windows if previous else (),
            previous.revisions if previous else None,
        )
        self._decided: tuple[MaintenanceWindow, ...] = previous.windows if previous else ()
        self._decided_at: float | None = previous.at if previous else None
        self._events: tuple[MaintenanceEvent, ...] = ()
        self._observers: list[Callable[[MaintenanceEvent], None]] = []
        self._logged_error: str | None = None
        self.view = MaintenanceView()

    def add_observer(self, observer: Callable[[MaintenanceEvent], None]) -> None:
        """Call ``observer(event)`` for every event decided from now on (announced, started,
        completed); it runs on the event loop and must return at once."""
        self._observers.append(observer)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load the file, publish, then follow the file and the clock until cancelled."""
        stamp = self._stamp()
        self._load(stamp)
        await self.decide()
        task_status.started()
        while True:
            now = self.clock()
            wait = self.check_every
            upcoming = next_transition(self.watcher.windows, now)
            if upcoming is not None:
                wait = min(wait, upcoming - now)
            await trio.sleep(max(wait, 0.0))
            fresh = self._stamp()
            changed = fresh != stamp
            if changed:
                stamp = fresh
                self._load(stamp)
            crossed = upcoming is not None and self.clock() >= upcoming
            if changed or crossed:
                await self.decide()

    def _stamp(self) -> Stamp | str:
        try:
            return file_stamp(self.path)
        except OSError as error:
            return f"cannot be read: {error.strerror or error}"

    def _load(self, stamp: Stamp | str) -> None:
        """Reload the file (small: read on the event loop) and log what became of it."""
        now = self.clock()
        if isinstance(stamp, str):
            self.watcher.fail(stamp)
        elif stamp is not None and stamp[2] > MAX_FILE_BYTES:
            self.watcher.fail(f"over {MAX_FILE_BYTES} bytes")
        else:
            try:
                raw = read_maintenance_file(self.path)
            except MaintenanceFileError as unreadable:
                self.watcher.fail(str(unreadable))
            else:
                self.watcher.reload(raw, now)
        problem = self.watcher.error
        if problem is not None and problem != self._logged_error:
            log.warning(
                "maintenance file invalid, keeping the previous windows",
                extra={"path": str(self.path), "error": problem},
            )
        elif problem is None:
            log.info(
                "maintenance file loaded",
                extra={"path": str(self.path), "windows": len(self.watcher.windows)},
            )
        self._logged_error = problem

    async def decide(self) -> None:
        """Decide the events since the last decision, publish the view, tell the observers."""
        now = self.clock()
        windows = self.watcher.windows
        events = maintenance_events(self._decided, windows, self._decided_at, now)
        self._decided, self._decided_at = windows, now
        self._events = (*self._events, *events)[-KEEP_EVENTS:]
        revisions = dict(self.watcher.revisions)
        record = MaintenanceRecord(now, windows, revisions, self._events)
        self.view = MaintenanceView(windows, revisions, now, self.watcher.error, record)
        await self.sink.set_maintenance(self.view)
        for event in events:
            log.info(
                "maintenance event",
                extra={"event": event.type, "window": event.window.id, "id": event.id},
            )
            for observer in self._observers:
                observer(event)

    def health(self) -> Mapping[str, Any]:
        """The ``maintenance`` entry of ``/healthz``."""
        view = self.view
        upcoming = next_transition(view.windows, view.at)
        return {
            "file": str(self.path),
            "windows": len(view.windows),
            "active": [w.id for w in active_windows(view.windows, view.at)],
            "next_transition": None if upcoming is None else iso_utc(upcoming),
            "error": view.error,
        }
