"""Verdicts during a window (pure): cells in scope under maintenance whatever their data says,
no cell invented, overlapping windows, and the overall indicator."""

from __future__ import annotations

from typing import Any

import pytest

from statusd.maintenance.overlay import apply_maintenance
from statusd.maintenance.windows import MaintenanceWindow, parse_window
from statusd.sources.records import IncidentRecord
from statusd.verdicts.cells import Cell, VerdictSet

AT = 1_772_330_400.0  # 2026-03-01T02:00:00Z


def window(window_id: str, start: str, end: str, **scope: Any) -> MaintenanceWindow:
    table = {"id": window_id, "title": "Work", "start": start, "end": end, **scope}
    return parse_window(table, 1)


def verdicts(indicator: str = "major", incidents: tuple[IncidentRecord, ...] = ()) -> VerdictSet:
    cells = [
        Cell("sms", "DE", "major_outage", "sms"),
        Cell("sms", "FR", "operational", "sms"),
        Cell("billing", "payout", "unknown", "billing"),
    ]
    return VerdictSet({(c.product, c.key): c for c in cells}, indicator, incidents)


RUNNING = window(
    "a",
    "2026-03-01T01:00:00Z",
    "2026-03-01T03:00:00Z",
    products=["sms", "billing"],
    countries=["DE", "IT"],
    functions=["payout"],
)


def shown(result: VerdictSet) -> dict[str, str]:
    return result.verdict_map()


def test_cells_in_scope_are_under_maintenance_and_no_cell_is_invented() -> None:
    """sms:DE and billing:payout are under maintenance (their data kept aside); sms:FR is
    not; sms:IT has no data and gets no cell; the indicator drops to none (nothing else
    is wrong)."""
    result = apply_maintenance(verdicts(), [RUNNING], AT)
    assert shown(result) == {
        "sms:DE": "under_maintenance",
        "sms:FR": "operational",
        "billing:payout": "under_maintenance",
    }
    assert result.cells["sms", "DE"].data_verdict == "major_outage"
    assert result.cells["sms", "FR"].data_verdict is None
    assert result.indicator == "none"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-01T02:00:00Z", "2026-03-01T04:00:00Z"),
        ("2026-03-01T00:00:00Z", "2026-03-01T02:00:00Z"),
    ],
)
def test_the_window_is_half_open(start: str, end: str) -> None:
    """At start the cells are under maintenance; at end they are not any more."""
    result = apply_maintenance(
        verdicts(), [window("b", start, end, products=["sms"], countries=[])], AT
    )
    expected = "under_maintenance" if start.endswith("02:00:00Z") else "major_outage"
    assert shown(result)["sms:DE"] == expected


def test_overlapping_windows_and_a_window_in_the_past() -> None:
    """Two running windows over the same cell mark it once; a past one marks nothing."""
    past = window("p", "2026-02-01T00:00:00Z", "2026-02-01T01:00:00Z", products=[], countries=[])
    other = window(
        "c", "2026-03-01T01:30:00Z", "2026-03-01T05:00:00Z", products=["sms"], countries=[]
    )
    result = apply_maintenance(verdicts(), [RUNNING, other, past], AT)
    assert shown(result)["sms:FR"] == "under_maintenance"
    assert shown(result)["sms:DE"] == "under_maintenance"
    assert apply_maintenance(verdicts(), [past], AT) == verdicts()


def test_the_indicator_keeps_critical_and_active_incidents() -> None:
    """Maintenance never hides the error document (critical) or an active incident (minor)."""
    assert apply_maintenance(verdicts("critical"), [RUNNING], AT).indicator == "critical"
    busy = verdicts(incidents=(IncidentRecord("dns", "active"),))
    assert apply_maintenance(busy, [RUNNING], AT).indicator == "minor"
