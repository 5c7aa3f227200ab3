"""Batching (SPEC §8): changes that settle within ``notify_batch`` seconds make one message.

A batch opens with the first change that settles and takes every change settling up to
``notify_batch`` seconds after it (inclusive); it closes at that instant. A cell changing
twice within one batch counts once, from its first ``before`` to its last ``after`` (and not
at all if it came back). ``status_event`` turns a closed batch into one ``status.changed``
event whose id is made from its content, so deciding the same batch again gives the same id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from statusd.notify.settle import Settled
from statusd.subscriptions.model import Change, NotificationEvent
from statusd.verdicts.cells import COUNTRY_PRODUCTS, cell_sort_key, split_cell_id
from statusd.verdicts.statuspage import component_id
from statusd.verdicts.timeline import short_id


@dataclass(frozen=True, slots=True)
class Batch:
    """Changes settled in ``[first_at, first_at + window]``, at most one per cell."""

    first_at: float
    changes: tuple[Settled, ...]

    @property
    def notified(self) -> dict[str, str]:
        """The verdicts told once this batch is sent (cell → verdict)."""
        return {change.cell: change.after for change in self.changes}


class Batcher:
    """The open batch, if any; feed it settled changes in time order."""

    def __init__(self, window: float) -> None:
        if window < 0:
            raise ValueError(f"window must be >= 0, got {window}")
        self.window = window
        self._first_at: float | None = None
        self._changes: dict[str, Settled] = {}

    def deadline(self) -> float | None:
        """When the open batch closes (None: no batch is open)."""
        return None if self._first_at is None else self._first_at + self.window

    def add(self, change: Settled) -> Batch | None:
        """Take a (not silent) change; returns the batch it closed, if it settled too late
        for the open one (it opens the next)."""
        if change.before is None:
            raise ValueError(f"a silent record is not a change: {change}")
        closed = None
        deadline = self.deadline()
        if deadline is not None and change.at > deadline:
            closed = self._close()
        if self._first_at is None:
            self._first_at = change.at
        earlier = self._changes.get(change.cell)
        if earlier is not None:
            change = Settled(change.cell, earlier.before, change.after, earlier.since, change.at)
        self._changes[change.cell] = change
        return closed

    def due(self, now: float) -> Batch | None:
        """The open batch if it closes by ``now``."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        return self._close()

    def _close(self) -> Batch | None:
        first_at, changes = self._first_at, self._changes
        assert first_at is not None
        self._first_at, self._changes = None, {}
        ordered = sorted(changes.values(), key=lambda c: cell_sort_key(*split_cell_id(c.cell)))
        kept = tuple(c for c in ordered if c.before != c.after)
        return Batch(first_at, kept) if kept else None


def change_of(settled: Settled) -> Change:
    """The ``Change`` a subscriber is told about a settled cell."""
    product, key = split_cell_id(settled.cell)
    assert settled.before is not None
    return Change(
        product=product,
        country=key if product in COUNTRY_PRODUCTS else None,
        key=key,
        component_id=component_id(settled.cell),
        before=settled.before,
        after=settled.after,
    )


def status_event(batch: Batch, wall: Callable[[float], float]) -> NotificationEvent:
    """The ``status.changed`` event of a closed batch.

    ``wall`` converts the batch's trio-clock instants to UNIX seconds. ``occurred_at`` is
    when the earliest of its new verdicts began; the id is a digest of the changes and the
    instant the batch opened, so the same decision replayed keeps its id, and the same
    change happening again another day gets a new one.
    """
    first = wall(batch.first_at)
    signature = ";".join(f"{c.cell}:{c.before}>{c.after}" for c in batch.changes)
    return NotificationEvent(
        id=short_id(f"status.changed|{first:.3f}|{signature}"),
        type="status.changed",
        occurred_at=wall(min(c.since for c in batch.changes)),
        changes=tuple(change_of(c) for c in batch.changes),
    )
