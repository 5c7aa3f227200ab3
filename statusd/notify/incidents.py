"""Incident and maintenance events (SPEC §8, §9): what subscribers of ``incidents`` and of
the products under a maintenance window are told. Pure.

Incidents come from the verdict timeline (``verdicts.timeline.Incident``). What was told of
each incident is kept beside the cells' notified verdicts, under the key
``incidents:<incident id>`` (value ``investigating`` or ``resolved``), so a restart neither
tells an opening again nor forgets to tell the closing of an incident that closed while
statusd was down. As for cells, incidents open at the very first look (no notified entry)
are recorded silently; an incident first seen already resolved is not told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from statusd.maintenance.events import MaintenanceEvent
from statusd.subscriptions.model import EventType, NotificationEvent
from statusd.verdicts.cells import PRODUCTS
from statusd.verdicts.statuspage import iso_utc
from statusd.verdicts.timeline import Incident, short_id

INCIDENT_KEY_PREFIX: Final = "incidents:"
OPENED: Final = "investigating"
RESOLVED: Final = "resolved"

MAINTENANCE_TYPES: Final[Mapping[str, EventType]] = {
    "scheduled": "maintenance.scheduled",
    "started": "maintenance.started",
    "completed": "maintenance.completed",
}
MAINTENANCE_STATUS: Final = {
    "scheduled": "scheduled",
    "started": "in_progress",
    "completed": "completed",
}
"""A maintenance event's kind → the window's Statuspage status it reports."""


def incident_key(incident_id: str) -> str:
    """The notified-table key of an incident (``incidents:<id>``)."""
    return INCIDENT_KEY_PREFIX + incident_id


@dataclass(frozen=True, slots=True)
class Told:
    """An event to record (None: only a silent record) and the notified entries it sets."""

    event: NotificationEvent | None
    notified: Mapping[str, str] = field(default_factory=dict)


class IncidentWatch:
    """What was told of each incident; ``observe`` the timeline's incidents in time order."""

    def __init__(self, notified: Mapping[str, str]) -> None:
        self._told = {
            key.removeprefix(INCIDENT_KEY_PREFIX): status
            for key, status in notified.items()
            if key.startswith(INCIDENT_KEY_PREFIX)
        }
        self._looked = False

    def observe(self, incidents: Sequence[Incident] | None) -> list[Told]:
        """The incidents opened and resolved since the last look (None: the incident source
        never had a good result, nothing is known), oldest first."""
        if incidents is None:
            return []
        first, self._looked = not self._looked, True
        out: list[Told] = []
        for incident in sorted(incidents, key=lambda i: (i.started_at, i.id)):
            told = self._told.get(incident.id)
            status = incident.status
            if told == status or (told is None and status == RESOLVED):
                continue
            self._told[incident.id] = status
            notified = {incident_key(incident.id): status}
            if status == OPENED and told is None and not first:
                out.append(Told(incident_event(incident, "opened"), notified))
            elif status == RESOLVED and told == OPENED:
                out.append(Told(incident_event(incident, "resolved"), notified))
            else:
                out.append(Told(None, notified))
        return out


def incident_event(incident: Incident, kind: str) -> NotificationEvent:
    """``incident.opened`` or ``incident.resolved``; the id is (incident id, kind)."""
    if kind == "opened":
        event_type: EventType = "incident.opened"
        occurred_at = incident.started_at
    elif kind == "resolved":
        event_type = "incident.resolved"
        occurred_at = incident.resolved_at or incident.updated_at
    else:
        raise ValueError(f"kind must be opened or resolved, not {kind!r}")
    return NotificationEvent(
        id=short_id(f"{event_type}|{incident.id}"),
        type=event_type,
        occurred_at=occurred_at,
        incident={
            "id": incident.id,
            "name": incident.topic,
            "status": incident.status,
            "started_at": iso_utc(incident.started_at),
            "resolved_at": None if incident.resolved_at is None else iso_utc(incident.resolved_at),
        },
        products=frozenset({"incidents"}),
    )


def maintenance_notification(event: MaintenanceEvent) -> NotificationEvent:
    """The notification of a maintenance event: its id and type, the window's products
    (an empty list: every product) and countries (empty: all)."""
    window = event.window
    return NotificationEvent(
        id=event.id,
        type=MAINTENANCE_TYPES[event.kind],
        occurred_at=event.occurred_at,
        maintenance={
            "id": window.id,
            "title": window.title,
            "body": window.body,
            "status": MAINTENANCE_STATUS[event.kind],
            "scheduled_for": iso_utc(window.start_at),
            "scheduled_until": iso_utc(window.end_at),
            "products": list(window.products),
            "countries": list(window.countries),
            "functions": list(window.functions),
        },
        products=frozenset(window.products or PRODUCTS),
        countries=frozenset(window.countries),
    )
