"""Maintenance events (announced, started, completed): what each change of windows or time
emits, with ids that do not depend on when or how often it is decided."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.maintenance.events import maintenance_events
from statusd.maintenance.windows import MaintenanceWindow
from tests.maintenance.strategies import T0, window_sets

START = datetime(2026, 3, 1, 2, tzinfo=UTC)
W = MaintenanceWindow("w", "Work", START, START + timedelta(hours=2), ("sms",), ("DE",))
S, E = W.start_at, W.end_at
HOUR = timedelta(hours=1)

Windows = tuple[MaintenanceWindow, ...]
CASES: list[tuple[str, Windows, Windows, float | None, float, list[str]]] = [
    ("new future window is announced", (), (W,), S - 99, S - 9, ["scheduled"]),
    ("first load, future window", (), (W,), None, S - 9, ["scheduled"]),
    ("first load, running window", (), (W,), None, S + 9, ["scheduled", "started"]),
    ("first load, window over: nothing", (), (W,), None, E + 9, []),
    ("nothing happens", (W,), (W,), S - 99, S - 9, []),
    ("start crossed", (W,), (W,), S - 9, S, ["started"]),
    ("still running", (W,), (W,), S, S + 9, []),
    ("end crossed", (W,), (W,), E - 9, E, ["completed"]),
    ("both crossed in one step", (W,), (W,), S - 9, E + 9, ["started", "completed"]),
    ("title edit: nothing", (W,), (replace(W, title="New"),), S - 99, S - 9, []),
    (
        "postponed while scheduled",
        (W,),
        (replace(W, start=W.start + HOUR, end=W.end + HOUR),),
        S - 99,
        S - 9,
        ["scheduled"],
    ),
    ("extended while running", (W,), (replace(W, end=W.end + HOUR),), S + 9, S + 19, ["scheduled"]),
    (
        "cut short while running",
        (W,),
        (replace(W, end=W.start + HOUR / 2),),
        S + 9,
        S + 3600,
        ["completed"],
    ),
    (
        "postponed while running",
        (W,),
        (replace(W, start=W.start + 3 * HOUR, end=W.end + 3 * HOUR),),
        S + 9,
        S + 19,
        ["completed", "scheduled"],
    ),
    ("removed while running", (W,), (), S + 9, S + 19, ["completed"]),
    ("removed while scheduled: nothing", (W,), (), S - 99, S - 9, []),
    (
        "past window recorded: nothing",
        (W,),
        (replace(W, start=W.start - 9 * HOUR, end=W.end - 9 * HOUR),),
        S - 99,
        S - 9,
        [],
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "previous_at", "at", "kinds"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_events_of_each_change(
    before: tuple[MaintenanceWindow, ...],
    after: tuple[MaintenanceWindow, ...],
    previous_at: float | None,
    at: float,
    kinds: list[str],
) -> None:
    events = maintenance_events(before, after, previous_at, at)
    assert [e.kind for e in events] == kinds
    assert all(e.type == f"maintenance.{e.kind}" for e in events)


def test_started_and_completed_occur_at_the_window_boundaries() -> None:
    started, completed = maintenance_events((W,), (W,), S - 9, E + 9)
    assert (started.occurred_at, completed.occurred_at) == (S, E)


def test_ids_ignore_when_and_how_often_it_is_decided() -> None:
    """A restart (nothing known) or a reload re-deciding the same window gives the same ids."""
    before_restart = maintenance_events((), (W,), S - 99, S + 9)
    after_restart = maintenance_events((), (W,), None, S + 60)
    assert [e.id for e in before_restart] == [e.id for e in after_restart]
    renamed = replace(W, title="Other title", body="more")
    assert [e.id for e in maintenance_events((), (renamed,), None, S + 1)] == [
        e.id for e in before_restart
    ]
    moved = replace(W, end=W.end + HOUR)
    assert maintenance_events((), (moved,), None, S + 1)[0].id != before_restart[0].id


@given(window_sets(), st.lists(st.integers(-3600, 40 * 600 + 9000), min_size=2, max_size=8))
def test_stepping_through_time_emits_each_event_once_and_as_one_jump(
    ws: tuple[MaintenanceWindow, ...], seconds: list[int]
) -> None:
    """With the file unchanged, deciding at many instants emits every id once, the same ids
    as deciding once from the first instant to the last."""
    instants = sorted({float(T0 + s) for s in seconds})
    stepwise = [
        e.id
        for previous, now in itertools.pairwise(instants)
        for e in maintenance_events(ws, ws, previous, now)
    ]
    assert len(stepwise) == len(set(stepwise))
    assert set(stepwise) == {e.id for e in maintenance_events(ws, ws, instants[0], instants[-1])}
