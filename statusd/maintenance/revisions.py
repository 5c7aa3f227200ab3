"""When each window was first seen and last changed: what ``DTSTAMP``/``SEQUENCE`` of the
calendar and ``created_at``/``updated_at`` of the Statuspage objects report.

The file says what a window is, not when it was written, so the holder of the windows keeps
one ``Revision`` per window id and advances it on every reload: a window whose content
(``MaintenanceWindow.digest``) changed gets a new ``updated_at`` and the next ``sequence``;
an untouched window keeps its revision whatever happens to the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from statusd.maintenance.windows import MaintenanceWindow


@dataclass(frozen=True, slots=True)
class Revision:
    """A window's first sighting, last change (UNIX seconds) and change count."""

    digest: str
    created_at: float
    updated_at: float
    sequence: int = 0


def advance_revisions(
    previous: Mapping[str, Revision], windows: Iterable[MaintenanceWindow], now: float
) -> dict[str, Revision]:
    """The revision of every window in ``windows`` after a (re)load at ``now``.

    New ids start at ``now`` with sequence 0; a changed window keeps ``created_at`` and
    moves ``updated_at`` to ``now``, sequence + 1; ids no longer in the file are dropped.
    """
    revisions: dict[str, Revision] = {}
    for window in windows:
        digest = window.digest
        old = previous.get(window.id)
        if old is None:
            revisions[window.id] = Revision(digest, now, now)
        elif old.digest == digest:
            revisions[window.id] = old
        else:
            revisions[window.id] = Revision(digest, old.created_at, now, old.sequence + 1)
    return revisions
