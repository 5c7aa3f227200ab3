"""Statuspage ``scheduled_maintenances``: fields, status transitions at the right instants,
the upcoming/active/all lists and the components in scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from statusd.maintenance.revisions import advance_revisions
from statusd.maintenance.statuspage import maintenance_id, maintenance_lists, maintenance_object
from statusd.maintenance.windows import MaintenanceWindow
from statusd.verdicts.statuspage import PageInfo, incident_object
from statusd.verdicts.timeline import Incident

START = datetime(2026, 3, 1, 2, tzinfo=UTC)
S = START.timestamp()
W = MaintenanceWindow(
    "sms-de", "SMS to Germany", START, START + timedelta(hours=2), ("sms",), ("DE",), (), "Delays."
)
PAGE = {"page_id": "pageid123456", "page_url": "https://status.example.com"}
INCIDENT = incident_object(Incident("i", "topic", "resolved", 1.0, 2.0, 2.0), PageInfo())
"""An incident as statusd shapes it: a maintenance carries every one of its keys."""


def component(product: str, key: str, *, group: bool = False) -> dict[str, Any]:
    return {"id": f"{product}-{key}", "group": group, "statusd": {"product": product, "key": key}}


COMPONENTS = [
    component("sms", "", group=True),
    component("sms", "DE"),
    component("sms", "FR"),
    component("billing", "payout"),
]


def at(now: float, window: MaintenanceWindow = W) -> dict[str, Any]:
    revision = advance_revisions({}, [window], S - 86400)[window.id]
    return maintenance_object(window, revision, now, COMPONENTS, **PAGE)


def test_object_has_statuspage_fields_and_scope_components() -> None:
    obj = at(S - 1)
    assert set(obj) >= set(INCIDENT) | {"scheduled_for", "scheduled_until"}
    assert set(obj["incident_updates"][0]) == set(INCIDENT["incident_updates"][0])
    assert obj["id"] == maintenance_id("sms-de")
    assert obj["impact"] == "maintenance"
    assert obj["scheduled_for"] == "2026-03-01T02:00:00Z"
    assert obj["scheduled_until"] == "2026-03-01T04:00:00Z"
    assert obj["created_at"] == "2026-02-28T02:00:00Z"
    assert obj["shortlink"] == "https://status.example.com/#maintenance-sms-de"
    assert [c["id"] for c in obj["components"]] == ["sms-DE"]
    update = obj["incident_updates"][0]
    assert update["status"] == "scheduled"
    assert update["incident_id"] == obj["id"]
    assert update["body"] == "Delays.\n\nAffects: SMS in Germany (DE)."


def test_status_moves_at_start_and_end() -> None:
    """``scheduled`` until the start instant, ``in_progress`` from it, ``completed`` from end."""
    end = W.end_at
    assert at(S - 0.001)["status"] == "scheduled"
    assert at(S)["status"] == "in_progress"
    assert at(end - 0.001)["status"] == "in_progress"
    done = at(end)
    assert done["status"] == "completed"
    assert done["resolved_at"] == "2026-03-01T04:00:00Z"
    assert [u["status"] for u in done["incident_updates"]] == [
        "completed",
        "in_progress",
        "scheduled",
    ]
    assert done["updated_at"] == "2026-03-01T04:00:00Z"
    assert at(S)["resolved_at"] is None
    assert len({u["id"] for u in done["incident_updates"]}) == 3


def test_lists_per_route() -> None:
    """upcoming = scheduled soonest first, active = in progress, all = newest first,
    summary = active then upcoming."""
    later = MaintenanceWindow(
        "later", "Later", START + timedelta(days=2), START + timedelta(days=3)
    )
    past = MaintenanceWindow("past", "Past", START - timedelta(days=2), START - timedelta(days=1))
    ws = [later, W, past]
    revisions = advance_revisions({}, ws, S - 86400 * 5)
    lists = maintenance_lists(ws, revisions, S + 60, COMPONENTS, **PAGE)
    assert [m["name"] for m in lists.active] == ["SMS to Germany"]
    assert [m["name"] for m in lists.upcoming] == ["Later"]
    assert [m["name"] for m in lists.all] == ["Later", "SMS to Germany", "Past"]
    assert [m["status"] for m in lists.all] == ["scheduled", "in_progress", "completed"]
    assert [m["name"] for m in lists.summary] == ["SMS to Germany", "Later"]
    everything = maintenance_lists(ws, revisions, S + 60, COMPONENTS, **PAGE).all[0]
    assert [c["id"] for c in everything["components"]] == ["sms-DE", "sms-FR", "billing-payout"]


def test_all_lists_at_most_fifty() -> None:
    ws = [
        MaintenanceWindow(f"w{i}", "W", START + timedelta(hours=i), START + timedelta(hours=i + 1))
        for i in range(60)
    ]
    lists = maintenance_lists(ws, advance_revisions({}, ws, S), S, [], **PAGE)
    assert len(lists.all) == 50
    assert lists.all[0]["statusd"]["id"] == "w59"
