"""The settler: a verdict counts once it has held ``notify_hold`` seconds, ``unknown`` is no
news and interrupts nothing, changes compare with the last notified verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statusd.notify.settle import QUIET_VERDICTS, Settled, Settler
from statusd.verdicts.cells import DEGRADED, MAJOR, OPERATIONAL, PARTIAL, UNKNOWN

CELL = "sms:DE"
KNOWN = (OPERATIONAL, DEGRADED, PARTIAL, MAJOR)
GONE = "gone"
"""In the generated observations: the cell is missing from that snapshot."""


def run(
    hold: float,
    notified: Mapping[str, str],
    observations: Sequence[tuple[float, Mapping[str, str]]],
    *,
    until: float | None = None,
    wake_at_deadlines: bool = True,
) -> tuple[Settler, list[Settled]]:
    """Feed ``observations`` as the planner does: waking at every deadline before the next
    observation (or not: ``feed`` must settle the same way), then advancing to ``until``."""
    settler = Settler(hold, notified)
    out: list[Settled] = []

    def wake_until(at: float) -> None:
        deadline = settler.next_deadline()
        while wake_at_deadlines and deadline is not None and deadline <= at:
            out.extend(settler.advance(deadline))
            deadline = settler.next_deadline()

    for at, verdicts in observations:
        wake_until(at)
        out.extend(settler.feed(at, verdicts))
    if until is not None:
        wake_until(until)
        out.extend(settler.advance(until))
    return settler, out


def changes(out: list[Settled]) -> list[tuple[str, str | None, str, float]]:
    return [(s.cell, s.before, s.after, s.at) for s in out]


def test_a_verdict_settles_once_held_and_is_told_once() -> None:
    """Degraded at 10 settles at 130 (hold 120) and is one change; it stays told."""
    settler, out = run(
        120, {CELL: OPERATIONAL}, [(0, {CELL: OPERATIONAL}), (10, {CELL: DEGRADED})], until=1000
    )
    assert changes(out) == [(CELL, OPERATIONAL, DEGRADED, 130)]
    assert out[0].since == 10
    assert settler.notified(CELL) == DEGRADED
    assert settler.next_deadline() is None


def test_next_deadline_is_the_settle_instant() -> None:
    """The task sleeps exactly until the hold runs out; before it, nothing settles."""
    settler = Settler(120, {CELL: OPERATIONAL})
    assert settler.feed(5, {CELL: DEGRADED}) == []
    assert settler.next_deadline() == 125
    assert settler.advance(124.999) == []
    assert [s.at for s in settler.advance(125)] == [125]


def test_a_flapping_cell_sends_nothing() -> None:
    """Degraded and operational every 30 s for ten minutes (hold 120): no change at all."""
    flaps = [(t, {CELL: DEGRADED if (t // 30) % 2 else OPERATIONAL}) for t in range(0, 600, 30)]
    _, out = run(120, {CELL: OPERATIONAL}, flaps, until=599)
    assert out == []


def test_degraded_unknown_operational_is_one_recovery() -> None:
    """``degraded → unknown → operational``: told degraded, then operational, never unknown."""
    _, out = run(
        120,
        {CELL: OPERATIONAL},
        [(0, {CELL: DEGRADED}), (200, {CELL: UNKNOWN}), (900, {CELL: OPERATIONAL})],
        until=2000,
    )
    assert changes(out) == [(CELL, OPERATIONAL, DEGRADED, 120), (CELL, DEGRADED, OPERATIONAL, 1020)]


def test_unknown_does_not_interrupt_a_hold() -> None:
    """Degraded, unknown for a while, degraded again: held since the first degraded."""
    _, out = run(
        120,
        {CELL: OPERATIONAL},
        [(0, {CELL: DEGRADED}), (60, {CELL: UNKNOWN}), (100, {CELL: DEGRADED})],
        until=500,
    )
    assert changes(out) == [(CELL, OPERATIONAL, DEGRADED, 120)]


def test_a_hold_run_out_while_blind_settles_when_seen_again() -> None:
    """Unknown across the settle instant: nothing then; the verdict settles when seen again."""
    settler, out = run(
        120, {CELL: OPERATIONAL}, [(0, {CELL: DEGRADED}), (60, {CELL: UNKNOWN})], until=300
    )
    assert out == []
    assert settler.next_deadline() is None
    assert changes(settler.feed(310, {CELL: DEGRADED})) == [(CELL, OPERATIONAL, DEGRADED, 310)]


def test_unknown_only_is_never_settled() -> None:
    """A cell statusd cannot see is neither told nor recorded."""
    settler, out = run(10, {}, [(0, {CELL: UNKNOWN}), (100, {CELL: UNKNOWN})], until=1000)
    assert out == []
    assert settler.notified(CELL) is None


def test_a_new_cell_is_recorded_silently_then_changes_are_told() -> None:
    """First start: every cell's first settled verdict is recorded, not told."""
    _, out = run(
        120,
        {},
        [(0, {CELL: OPERATIONAL, "billing:payout": MAJOR}), (300, {CELL: DEGRADED})],
        until=1000,
    )
    assert changes(out) == [
        ("billing:payout", None, MAJOR, 120),
        (CELL, None, OPERATIONAL, 120),
        (CELL, OPERATIONAL, DEGRADED, 420),
    ]
    assert [s.silent for s in out] == [True, True, False]


def test_a_restart_does_not_tell_again() -> None:
    """The notified verdicts from the store: the same verdicts after a restart are no news."""
    notified = {CELL: DEGRADED, "sms:FR": OPERATIONAL}
    _, out = run(120, notified, [(0, {CELL: DEGRADED, "sms:FR": OPERATIONAL})], until=1000)
    assert out == []


def test_a_change_while_down_is_told_after_a_restart() -> None:
    """Told degraded before the restart, operational now: the recovery is told."""
    _, out = run(120, {CELL: DEGRADED}, [(0, {CELL: OPERATIONAL})], until=1000)
    assert changes(out) == [(CELL, DEGRADED, OPERATIONAL, 120)]


def test_a_disappearing_cell_is_not_notified_and_loses_its_hold() -> None:
    """A cell gone before its hold ran out settles nothing; back with a new verdict, it is
    compared with what was told before."""
    settler, out = run(
        120,
        {CELL: OPERATIONAL},
        [(0, {CELL: DEGRADED}), (60, {}), (100, {CELL: DEGRADED})],
        until=219,
    )
    assert out == []
    assert settler.next_deadline() == 220  # held again from 100, not from 0
    assert changes(settler.advance(220)) == [(CELL, OPERATIONAL, DEGRADED, 220)]


def test_observations_must_come_in_time_order() -> None:
    settler = Settler(120, {})
    settler.feed(10, {CELL: OPERATIONAL})
    with pytest.raises(ValueError, match="time order"):
        settler.feed(9, {CELL: OPERATIONAL})


# --- properties -----------------------------------------------------------------------------

verdict_or_gone = st.sampled_from((*KNOWN, UNKNOWN, GONE))
observation_lists = st.lists(
    st.tuples(st.integers(1, 90), verdict_or_gone, verdict_or_gone), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(
    hold=st.sampled_from([1, 20, 60]),
    told=st.sampled_from((None, *KNOWN)),
    steps=observation_lists,
    wake=st.booleans(),
)
def test_settling_properties(
    hold: int,
    told: str | None,
    steps: list[tuple[int, str, str]],
    wake: bool,
) -> None:
    """For any observations of two cells: each told verdict held ``hold`` seconds (quiet
    observations aside, never missing) and was seen when it settled; nothing quiet is
    told; each cell's told verdicts form a chain with no two equal in a row; a verdict
    still seen ``hold`` seconds after the last observation ends up told."""
    cells = ("sms:DE", "billing:payout")
    notified = {} if told is None else {"sms:DE": told}
    observations: list[tuple[float, Mapping[str, str]]] = []
    at = 0
    for dt, *verdicts in steps:
        at += dt
        observations.append((at, {c: v for c, v in zip(cells, verdicts, strict=True) if v != GONE}))
    settler, out = run(hold, notified, observations, until=at + hold, wake_at_deadlines=wake)

    for cell in cells:
        seen = [(t, obs.get(cell, GONE)) for t, obs in observations]
        mine = [s for s in out if s.cell == cell]
        previous = notified.get(cell)
        for settled in mine:
            assert settled.after not in QUIET_VERDICTS
            assert settled.before not in QUIET_VERDICTS
            assert settled.before == previous
            assert settled.before != settled.after
            previous = settled.after
            assert settled.at - settled.since >= hold
            assert (settled.since, settled.after) in seen
            between = [v for t, v in seen if settled.since < t < settled.at]
            assert set(between) <= {settled.after, *QUIET_VERDICTS}
            last_before = [v for t, v in seen if t < settled.at][-1]
            at_instant = [v for t, v in seen if t == settled.at]
            assert last_before == settled.after or at_instant == [settled.after]
        assert [s.silent for s in mine] == [
            cell not in notified and i == 0 for i in range(len(mine))
        ]
        final = seen[-1][1]
        if final in KNOWN:
            assert settler.notified(cell) == final
