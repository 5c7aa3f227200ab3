"""Maintenance windows as Atlassian Statuspage's ``scheduled_maintenances`` (public API v2).

Pure functions of (windows, revisions, now, components): the object of one window, its
status at ``now`` (``scheduled`` before start, ``in_progress`` during, ``completed`` from end
on), and the lists of ``/api/v2/scheduled-maintenances.json`` (the newest 50, any status),
``…/upcoming.json`` (``scheduled``), ``…/active.json`` (``in_progress``) and the
``scheduled_maintenances`` of ``summary.json`` (upcoming and in progress). Statuspage clients
read them unchanged: same keys, ``impact`` ``maintenance``, ``incident_updates`` newest first.

``components`` is the page's component list as ``/api/v2/components.json`` carries it (each
cell component with ``statusd.product`` and ``statusd.key``); a window lists the cell
components in its scope, group components left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from statusd.maintenance.revisions import Revision
from statusd.maintenance.windows import (
    COMPLETED,
    IN_PROGRESS,
    SCHEDULED,
    MaintenanceWindow,
    active_windows,
    scope_text,
    upcoming_windows,
)
from statusd.verdicts.statuspage import iso_utc, update_object
from statusd.verdicts.timeline import short_id

MAX_MAINTENANCES: Final = 50
"""``scheduled-maintenances.json`` lists at most this many, as Statuspage does."""


@dataclass(frozen=True, slots=True)
class MaintenanceLists:
    """The four lists of one instant, ready for their documents."""

    all: list[dict[str, Any]]
    upcoming: list[dict[str, Any]]
    active: list[dict[str, Any]]
    summary: list[dict[str, Any]]


def maintenance_id(window_id: str) -> str:
    """The stable Statuspage id of a window."""
    return short_id(f"maintenance|{window_id}")


def scope_components(
    window: MaintenanceWindow, components: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The cell components (not groups) in the window's scope, in page order."""
    return [
        component
        for component in components
        if not component.get("group")
        and window.covers_cell(component["statusd"]["product"], component["statusd"]["key"])
    ]


def _update(window: MaintenanceWindow, status: str, at: float, body: str) -> dict[str, Any]:
    update_id = short_id(f"maintenance-update|{window.id}|{status}|{at!r}")
    return update_object(update_id, maintenance_id(window.id), status, at, body)


def _updates(window: MaintenanceWindow, revision: Revision, now: float) -> list[dict[str, Any]]:
    """The updates so far, newest first: scheduled (announced), in progress, completed."""
    announced = min(revision.updated_at, window.start_at)
    affects = f"Affects: {scope_text(window)}."
    text = f"{window.body}\n\n{affects}" if window.body else affects
    updates = [_update(window, SCHEDULED, announced, text)]
    if now >= window.start_at:
        updates.append(_update(window, IN_PROGRESS, window.start_at, "Maintenance is under way."))
    if now >= window.end_at:
        updates.append(_update(window, COMPLETED, window.end_at, "Maintenance has completed."))
    return updates[::-1]


def maintenance_object(
    window: MaintenanceWindow,
    revision: Revision,
    now: float,
    components: Iterable[Mapping[str, Any]],
    *,
    page_id: str,
    page_url: str,
) -> dict[str, Any]:
    """One Statuspage scheduled maintenance, as it stands at ``now``."""
    status = window.status_at(now)
    updates = _updates(window, revision, now)
    created = min(revision.created_at, window.start_at)
    return {
        "id": maintenance_id(window.id),
        "name": window.title,
        "status": status,
        "created_at": iso_utc(created),
        "updated_at": updates[0]["created_at"],
        "monitoring_at": None,
        "resolved_at": iso_utc(window.end_at) if status == COMPLETED else None,
        "impact": "maintenance",
        "shortlink": f"{page_url.rstrip('/')}/#maintenance-{window.id}",
        "started_at": iso_utc(window.start_at),
        "page_id": page_id,
        "incident_updates": updates,
        "components": list(scope_components(window, components)),
        "scheduled_for": iso_utc(window.start_at),
        "scheduled_until": iso_utc(window.end_at),
        "statusd": {
            "id": window.id,
            "products": list(window.products),
            "countries": list(window.countries),
            "functions": list(window.functions),
            "scope": scope_text(window),
        },
    }


def maintenance_lists(
    windows: Sequence[MaintenanceWindow],
    revisions: Mapping[str, Revision],
    now: float,
    components: Sequence[Mapping[str, Any]],
    *,
    page_id: str,
    page_url: str,
) -> MaintenanceLists:
    """The lists of every route at ``now``.

    ``all``: the 50 latest windows by start, newest first; ``upcoming``: scheduled, soonest
    first; ``active``: in progress, earliest start first; ``summary``: active then upcoming.
    ``revisions`` must hold every window's revision.
    """

    def shaped(selected: Iterable[MaintenanceWindow]) -> list[dict[str, Any]]:
        return [
            maintenance_object(
                w, revisions[w.id], now, components, page_id=page_id, page_url=page_url
            )
            for w in selected
        ]

    newest = sorted(windows, key=lambda w: (w.start_at, w.end_at, w.id), reverse=True)
    upcoming_objects = shaped(upcoming_windows(windows, now))
    active_objects = shaped(active_windows(windows, now))
    return MaintenanceLists(
        all=shaped(newest[:MAX_MAINTENANCES]),
        upcoming=upcoming_objects,
        active=active_objects,
        summary=active_objects + upcoming_objects,
    )
