"""Settled verdicts (SPEC §8): what a cell's verdict is once it has held ``notify_hold`` seconds.

The ``Settler`` is pure: it is fed observations ``(at, verdicts)`` in trio-clock seconds and
says which cells settled on a verdict their subscribers were not told yet. Rules:

- a verdict is *settled* once it has held ``hold`` seconds (a flapping cell settles on
  nothing, so it sends nothing);
- a *quiet* verdict (``unknown``: statusd's own blindness, and ``under_maintenance``, which
  maintenance events tell) is never settled and does not interrupt the hold of the verdict
  before it: ``degraded → unknown → operational`` is one change, degraded to operational; a
  verdict whose hold ran out during a quiet spell settles when it is seen again;
- a change compares with the last *notified* verdict of the cell (given at start from the
  store, so a restart does not notify again what was told); a cell with no notified verdict
  settles silently (``Settled.before`` None: recorded, not told — cells that merely appear,
  e.g. at the first start, are no news);
- a cell missing from an observation (it disappeared) loses its pending hold; it is not
  notified, and its notified verdict is kept for when it comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from statusd.verdicts.cells import UNKNOWN

UNDER_MAINTENANCE = "under_maintenance"
QUIET_VERDICTS = frozenset({UNKNOWN, UNDER_MAINTENANCE})
"""Never notified as a status change, and no interruption of a hold."""


@dataclass(frozen=True, slots=True)
class Settled:
    """A cell's verdict settled on ``after`` at ``at``; it had held it since ``since``."""

    cell: str
    before: str | None
    """The verdict last notified, or None: the cell had none (recorded silently, not told)."""
    after: str
    since: float
    at: float

    @property
    def silent(self) -> bool:
        return self.before is None


@dataclass(slots=True)
class _Track:
    told: str | None
    verdict: str | None = None
    """The known verdict being held (None: none since the cell was last missing)."""
    since: float = 0.0
    settled: bool = False
    visible: bool = False
    """The latest observation shows ``verdict`` (not a quiet one)."""


class Settler:
    """Every cell's hold and last notified verdict; feed it observations in time order."""

    def __init__(
        self,
        hold: float,
        notified: Mapping[str, str],
        *,
        quiet: frozenset[str] = QUIET_VERDICTS,
    ) -> None:
        if hold < 0:
            raise ValueError(f"hold must be >= 0, got {hold}")
        self.hold = hold
        self.quiet = quiet
        self._told = {cell: v for cell, v in notified.items() if v not in quiet}
        self._tracks: dict[str, _Track] = {}
        self._due: dict[str, float] = {}
        """Cells whose visible verdict settles at the instant given, unless it changes."""
        self._now = -float("inf")

    def notified(self, cell: str) -> str | None:
        """The last notified (or silently recorded) verdict of ``cell``."""
        track = self._tracks.get(cell)
        return track.told if track is not None else self._told.get(cell)

    def next_deadline(self) -> float | None:
        """The next instant a cell settles if nothing changes before (None: none pending)."""
        return min(self._due.values(), default=None)

    def advance(self, at: float) -> list[Settled]:
        """What settles up to ``at`` with no new observation, earliest first."""
        self._check_time(at)
        ready = sorted((due, cell) for cell, due in self._due.items() if due <= at)
        out: list[Settled] = []
        for due, cell in ready:
            del self._due[cell]
            settled = self._settle(cell, self._tracks[cell], due)
            if settled is not None:
                out.append(settled)
        return out

    def feed(self, at: float, verdicts: Mapping[str, str]) -> list[Settled]:
        """Settle what was due up to ``at``, then take the observation ``verdicts`` made at
        ``at`` (cell id → verdict; a cell not in it is gone). Earliest first."""
        out = self.advance(at)
        for cell in self._tracks.keys() - verdicts.keys():
            gone = self._tracks[cell]
            gone.verdict, gone.visible, gone.settled = None, False, False
            self._due.pop(cell, None)
        for cell, verdict in verdicts.items():
            track = self._tracks.get(cell)
            if track is None:
                track = self._tracks[cell] = _Track(self._told.pop(cell, None))
            if verdict in self.quiet:
                track.visible = False
                self._due.pop(cell, None)
                continue
            if verdict != track.verdict:
                track.verdict, track.since, track.settled = verdict, at, False
            track.visible = True
            if track.settled:
                continue
            due = track.since + self.hold
            if due <= at:
                self._due.pop(cell, None)
                settled = self._settle(cell, track, at)
                if settled is not None:
                    out.append(settled)
            else:
                self._due[cell] = due
        out.sort(key=lambda s: (s.at, s.cell))
        return out

    def _settle(self, cell: str, track: _Track, at: float) -> Settled | None:
        track.settled = True
        verdict = track.verdict
        assert verdict is not None
        if track.told == verdict:
            return None
        before, track.told = track.told, verdict
        return Settled(cell, before, verdict, track.since, at)

    def _check_time(self, at: float) -> None:
        if at < self._now:
            raise ValueError(f"observations must come in time order: {at} after {self._now}")
        self._now = at
