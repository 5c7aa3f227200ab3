"""Batching: changes settling within ``notify_batch`` seconds of the first make one event,
with an id made from its content."""

from __future__ import annotations

import pytest

from statusd.notify.batch import Batch, Batcher, status_event
from statusd.notify.settle import Settled
from statusd.verdicts.cells import DEGRADED, MAJOR, OPERATIONAL, PARTIAL
from statusd.verdicts.statuspage import component_id

WALL = 1_780_000_000.0


def change(cell: str, before: str, after: str, at: float, since: float | None = None) -> Settled:
    return Settled(cell, before, after, at - 120 if since is None else since, at)


def feed(window: float, changes: list[Settled], until: float) -> list[Batch]:
    batcher = Batcher(window)
    out = [b for c in changes if (b := batcher.add(c)) is not None]
    closed = batcher.due(until)
    return out if closed is None else [*out, closed]


def cells_of(batches: list[Batch]) -> list[list[tuple[str, str | None, str]]]:
    return [[(c.cell, c.before, c.after) for c in b.changes] for b in batches]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            [
                change("sms:DE", OPERATIONAL, DEGRADED, 100),
                change("sms:FR", OPERATIONAL, MAJOR, 130),
            ],
            [[("sms:DE", OPERATIONAL, DEGRADED), ("sms:FR", OPERATIONAL, MAJOR)]],
            id="two-within-the-window",
        ),
        pytest.param(
            [
                change("sms:DE", OPERATIONAL, DEGRADED, 100),
                change("sms:FR", OPERATIONAL, MAJOR, 160),
            ],
            [[("sms:DE", OPERATIONAL, DEGRADED), ("sms:FR", OPERATIONAL, MAJOR)]],
            id="at-the-window-end-inclusive",
        ),
        pytest.param(
            [
                change("sms:DE", OPERATIONAL, DEGRADED, 100),
                change("sms:FR", OPERATIONAL, MAJOR, 161),
            ],
            [[("sms:DE", OPERATIONAL, DEGRADED)], [("sms:FR", OPERATIONAL, MAJOR)]],
            id="past-the-window-opens-the-next",
        ),
        pytest.param(
            [change("sms:DE", OPERATIONAL, DEGRADED, 100), change("sms:DE", DEGRADED, MAJOR, 110)],
            [[("sms:DE", OPERATIONAL, MAJOR)]],
            id="one-cell-twice-counts-once",
        ),
        pytest.param(
            [
                change("sms:DE", OPERATIONAL, DEGRADED, 100),
                change("sms:DE", DEGRADED, OPERATIONAL, 110),
            ],
            [],
            id="there-and-back-is-nothing",
        ),
        pytest.param(
            [
                change("support:support", OPERATIONAL, PARTIAL, 100),
                change("billing:payout", OPERATIONAL, MAJOR, 101),
                change("voice:AT", OPERATIONAL, MAJOR, 102),
                change("sms:ZA", OPERATIONAL, MAJOR, 103),
            ],
            [
                [
                    ("sms:ZA", OPERATIONAL, MAJOR),
                    ("voice:AT", OPERATIONAL, MAJOR),
                    ("billing:payout", OPERATIONAL, MAJOR),
                    ("support:support", OPERATIONAL, PARTIAL),
                ]
            ],
            id="listing-order",
        ),
    ],
)
def test_batches(changes: list[Settled], expected: list[list[tuple[str, str, str]]]) -> None:
    assert cells_of(feed(60, changes, until=1000)) == expected


def test_the_deadline_is_the_first_settle_plus_the_window() -> None:
    """The planner sleeps until the batch closes; before that it stays open."""
    batcher = Batcher(60)
    assert batcher.deadline() is None
    assert batcher.add(change("sms:DE", OPERATIONAL, DEGRADED, 100)) is None
    assert batcher.deadline() == 160
    assert batcher.due(159.9) is None
    closed = batcher.due(160)
    assert closed is not None
    assert closed.first_at == 100
    assert batcher.deadline() is None


def test_a_silent_record_is_refused() -> None:
    with pytest.raises(ValueError, match="silent"):
        Batcher(60).add(Settled("sms:DE", None, OPERATIONAL, 0, 120))


def batch_of(*changes: Settled) -> Batch:
    return Batch(changes[0].at, changes)


def test_the_status_event() -> None:
    """Type, changes in the payload's terms, occurred_at = when the earliest new verdict
    began (in wall seconds), notified verdicts."""
    batch = batch_of(
        change("sms:DE", OPERATIONAL, DEGRADED, 100, since=-20),
        change("billing:payout", OPERATIONAL, MAJOR, 130, since=10),
    )
    event = status_event(batch, lambda at: WALL + at)
    assert event.type == "status.changed"
    assert event.occurred_at == WALL - 20
    assert [c.to_json() for c in event.changes] == [
        {
            "product": "sms",
            "country": "DE",
            "key": "DE",
            "component_id": component_id("sms:DE"),
            "from": OPERATIONAL,
            "to": DEGRADED,
        },
        {
            "product": "billing",
            "country": None,
            "key": "payout",
            "component_id": component_id("billing:payout"),
            "from": OPERATIONAL,
            "to": MAJOR,
        },
    ]
    assert batch.notified == {"sms:DE": DEGRADED, "billing:payout": MAJOR}


def test_event_ids_are_stable_and_distinct() -> None:
    """The same batch gives the same id; the same change another time, or another change at
    the same time, another id."""
    one = batch_of(change("sms:DE", OPERATIONAL, DEGRADED, 100))
    wall = lambda at: WALL + at  # noqa: E731
    assert status_event(one, wall).id == status_event(one, wall).id
    later = batch_of(change("sms:DE", OPERATIONAL, DEGRADED, 86_500))
    other = batch_of(change("sms:DE", OPERATIONAL, MAJOR, 100))
    ids = {status_event(b, wall).id for b in (one, later, other)}
    assert len(ids) == 3
