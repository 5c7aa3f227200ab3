"""Maintenance in the public view (SPEC §9), pure: the verdicts during a window and the
Statuspage documents of the windows.

``apply_maintenance`` makes every cell in the scope of a running window ``under_maintenance``
whatever its data says (the data's verdict stays in ``Cell.data_verdict``); a window over a
cell that has no data invents no cell. The overall indicator is computed again from the
cells as shown: a cell under maintenance counts as neither up nor down, so planned work
never raises the indicator (it stays ``critical`` when ``/api`` serves the error document).
Statuspage itself has no indicator for maintenance in ``status.json``; its four values are
kept (SPEC §7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from statusd.history.planned import MaintenanceRecord
from statusd.maintenance.revisions import Revision
from statusd.maintenance.statuspage import maintenance_lists
from statusd.maintenance.windows import MaintenanceWindow, active_windows
from statusd.verdicts.cells import UNDER_MAINTENANCE, VerdictSet
from statusd.verdicts.rules import overall_indicator
from statusd.verdicts.statuspage import PageInfo

MAINTENANCE_DOCUMENTS: Final = {
    "all": "/api/v2/scheduled-maintenances.json",
    "upcoming": "/api/v2/scheduled-maintenances/upcoming.json",
    "active": "/api/v2/scheduled-maintenances/active.json",
}
"""The paths of the three Statuspage maintenance documents, by list."""


@dataclass(frozen=True, slots=True)
class MaintenanceView:
    """The windows in force as the maintenance task last decided them at ``at``, the file's
    problem if it has one, and the record the history keeps."""

    windows: tuple[MaintenanceWindow, ...] = ()
    revisions: Mapping[str, Revision] = field(default_factory=dict)
    at: float = 0.0
    error: str | None = None
    record: MaintenanceRecord | None = None


def apply_maintenance(
    verdicts: VerdictSet, windows: Sequence[MaintenanceWindow], at: float
) -> VerdictSet:
    """``verdicts`` with every cell that a window running at ``at`` covers under maintenance."""
    running = active_windows(windows, at)
    if not running:
        return verdicts
    cells = {
        key: replace(cell, verdict=UNDER_MAINTENANCE, data_verdict=cell.verdict)
        if any(window.covers_cell(cell.product, cell.key) for window in running)
        else cell
        for key, cell in verdicts.cells.items()
    }
    indicator = verdicts.indicator
    if indicator != "critical":
        incident_active = any(i.status == "active" for i in verdicts.incidents or ())
        indicator = overall_indicator((c.verdict for c in cells.values()), incident_active)
    return VerdictSet(cells, indicator, verdicts.incidents)


def add_maintenance_documents(
    documents: dict[str, dict[str, Any]], view: MaintenanceView, page: PageInfo, now: float
) -> None:
    """Fill ``summary.json``'s ``scheduled_maintenances`` and add the three maintenance
    documents to the public documents of one state (``public_documents``' result)."""
    components = documents["/api/v2/components.json"]["components"]
    lists = maintenance_lists(
        view.windows, view.revisions, now, components, page_id=page.id, page_url=page.url
    )
    documents["/api/v2/summary.json"]["scheduled_maintenances"] = lists.summary
    page_object = documents["/api/v2/summary.json"]["page"]
    for name, path in MAINTENANCE_DOCUMENTS.items():
        documents[path] = {"page": page_object, "scheduled_maintenances": getattr(lists, name)}
