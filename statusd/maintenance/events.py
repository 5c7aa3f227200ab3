"""The one place maintenance events are decided, for notifications (SPEC §8) and the feed.

``maintenance_events`` compares what was known at ``previous_at`` (the windows then) with
what is known at ``at`` (the windows now) and says what happened in between:

- ``scheduled`` — a window is announced: it is new, or its start or end moved; not for a
  window that is over already (an operator recording a past window tells nobody anything);
- ``started`` — a window's start was crossed (or it is announced while already running);
- ``completed`` — a window's end was crossed, or a running window was removed, cut short
  (its end moved to the past) or postponed (its start moved to the future).

Each event has an id made from (window id, kind, the instant it is about), never from when
it was noticed: ``scheduled`` from start and end, ``started`` from start, ``completed``
from end. Deciding again after a restart or a reload gives the same ids, so the consumer
(the outbox, the feed table) stores each id once. The caller should persist the last
(windows, at) it decided on and pass them after a restart (with nothing, ``previous_at``
None, a running window is announced and started again under the ids it had).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from statusd.maintenance.windows import COMPLETED, IN_PROGRESS, SCHEDULED, MaintenanceWindow
from statusd.verdicts.timeline import short_id

KINDS: Final = ("scheduled", "started", "completed")
"""The event kinds, in the order they happen to a window."""


@dataclass(frozen=True, slots=True)
class MaintenanceEvent:
    """Something a subscriber in the window's scope is told about."""

    id: str
    kind: str
    window: MaintenanceWindow
    occurred_at: float

    @property
    def type(self) -> str:
        """The webhook payload's ``type`` (``maintenance.started``…)."""
        return f"maintenance.{self.kind}"


def event_id(window_id: str, kind: str, *instants: float) -> str:
    """The stable id of the ``kind`` event of a window about ``instants``."""
    return short_id("|".join(["maintenance-event", window_id, kind, *map(repr, instants)]))


def _event(window: MaintenanceWindow, kind: str, occurred_at: float) -> MaintenanceEvent:
    about = {
        "scheduled": (window.start_at, window.end_at),
        "started": (window.start_at,),
        "completed": (window.end_at,),
    }[kind]
    return MaintenanceEvent(event_id(window.id, kind, *about), kind, window, occurred_at)


def _window_events(
    old: MaintenanceWindow | None,
    new: MaintenanceWindow | None,
    previous_at: float | None,
    at: float,
) -> list[MaintenanceEvent]:
    """The events of one window id between the two views."""
    was = old.status_at(previous_at) if old is not None and previous_at is not None else None
    now = new.status_at(at) if new is not None else None
    events: list[MaintenanceEvent] = []
    if old is not None and was == IN_PROGRESS and (new is None or now == SCHEDULED):
        events.append(_event(old, "completed", at))  # removed or postponed while running
    if new is not None:
        moved = old is None or (old.start_at, old.end_at) != (new.start_at, new.end_at)
        if moved and now != COMPLETED:
            events.append(_event(new, "scheduled", at))
        if now == IN_PROGRESS and was != IN_PROGRESS:
            events.append(_event(new, "started", new.start_at))
        crossed_both = not moved and was == SCHEDULED and now == COMPLETED
        if crossed_both:
            events.append(_event(new, "started", new.start_at))
        if crossed_both or (was == IN_PROGRESS and now == COMPLETED):
            events.append(_event(new, "completed", min(new.end_at, at)))
    return events


def maintenance_events(
    previous_windows: Iterable[MaintenanceWindow],
    windows: Iterable[MaintenanceWindow],
    previous_at: float | None,
    at: float,
) -> list[MaintenanceEvent]:
    """The events between the view at ``previous_at`` (None: nothing known, e.g. the first
    load) and the view at ``at``: each window's in the order they happen to it (announced
    before started before completed), windows by their earliest event."""
    before = {w.id: w for w in previous_windows} if previous_at is not None else {}
    after = {w.id: w for w in windows}
    per_window = [
        _window_events(before.get(window_id), after.get(window_id), previous_at, at)
        for window_id in [*after, *(i for i in before if i not in after)]
    ]
    per_window.sort(key=lambda events: min((e.occurred_at for e in events), default=at))
    return [event for events in per_window for event in events]
