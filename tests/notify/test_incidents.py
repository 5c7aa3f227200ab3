"""Incident and maintenance events: opened/resolved once each across restarts, maintenance
events with the window's scope, and who of the subscribers an event concerns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from statusd.maintenance.events import maintenance_events
from statusd.maintenance.windows import MaintenanceWindow
from statusd.notify.incidents import IncidentWatch, incident_key, maintenance_notification
from statusd.subscriptions.model import Change, NotificationEvent, Scope
from statusd.verdicts.timeline import Incident

T0 = 1_780_000_000.0


def opened(topic: str = "SMS delays", at: float = T0) -> Incident:
    return Incident(f"id-{topic}", topic, "investigating", at, at)


def resolved(incident: Incident, at: float) -> Incident:
    return Incident(incident.id, incident.topic, "resolved", incident.started_at, at, at)


def kinds(watch: IncidentWatch, incidents: tuple[Incident, ...] | None) -> list[object]:
    return [
        (told.event.type, told.event.incident["id"] if told.event.incident else None)
        if told.event
        else ("silent", dict(told.notified))
        for told in watch.observe(incidents)
    ]


def test_an_incident_is_told_opened_then_resolved_once() -> None:
    watch = IncidentWatch({})
    assert kinds(watch, ()) == []
    first = opened()
    assert kinds(watch, (first,)) == [("incident.opened", first.id)]
    assert kinds(watch, (first,)) == []
    assert kinds(watch, (resolved(first, T0 + 600),)) == [("incident.resolved", first.id)]
    assert kinds(watch, (resolved(first, T0 + 600),)) == []


def test_the_first_look_is_silent_and_unknown_incidents_wait() -> None:
    """At the first start, open incidents are recorded, not told; resolved ones are
    ignored. While the incident source never had a good result there is no first look."""
    watch = IncidentWatch({})
    old, running = resolved(opened("old", T0 - 900), T0 - 600), opened("running")
    assert kinds(watch, None) == []
    assert kinds(watch, (running, old)) == [("silent", {incident_key(running.id): "investigating"})]
    assert kinds(watch, (resolved(running, T0 + 60), old)) == [("incident.resolved", running.id)]


def test_a_restart_tells_a_closing_it_missed_and_nothing_twice() -> None:
    """The notified entries from the store: the incident told open and closed while statusd
    was down is told resolved; the one already told is not told again."""
    told_open, still_open = opened("a"), opened("b")
    notified = {
        incident_key(told_open.id): "investigating",
        incident_key(still_open.id): "investigating",
        "sms:DE": "operational",
    }
    watch = IncidentWatch(notified)
    assert kinds(watch, (resolved(told_open, T0 + 300), still_open)) == [
        ("incident.resolved", told_open.id)
    ]


def test_incident_event_ids_are_stable() -> None:
    incident = opened()
    first = IncidentWatch({})
    first.observe(())
    again = IncidentWatch({})
    again.observe(())
    (a,), (b,) = first.observe((incident,)), again.observe((incident,))
    assert a.event is not None
    assert b.event is not None
    assert a.event.id == b.event.id
    (closed,) = first.observe((resolved(incident, T0 + 60),))
    assert closed.event is not None
    assert closed.event.id != a.event.id
    assert closed.event.occurred_at == T0 + 60
    assert closed.event.incident == {
        "id": incident.id,
        "name": "SMS delays",
        "status": "resolved",
        "started_at": "2026-05-28T20:26:40Z",
        "resolved_at": "2026-05-28T20:27:40Z",
    }
    assert closed.event.products == frozenset({"incidents"})


def window(**scope: tuple[str, ...]) -> MaintenanceWindow:
    return MaintenanceWindow(
        id="sms-de",
        title="Carrier upgrade",
        start=datetime.fromtimestamp(T0 + 3600, UTC),
        end=datetime.fromtimestamp(T0 + 7200, UTC),
        body="Messages may be delayed.",
        **scope,
    )


def test_maintenance_events_become_notifications() -> None:
    """Announced, started, completed: the event's id and type, the window in Statuspage's
    terms, its products (none listed: every product) and countries."""
    w = window(products=("sms", "billing"), countries=("DE",), functions=("payout",))
    announced = maintenance_events([], [w], None, T0)
    running = maintenance_events([w], [w], T0, T0 + 3700)
    over = maintenance_events([w], [w], T0 + 3700, T0 + 8000)
    events = [maintenance_notification(e) for e in (*announced, *running, *over)]
    assert [e.type for e in events] == [
        "maintenance.scheduled",
        "maintenance.started",
        "maintenance.completed",
    ]
    assert [e.id for e in events] == [e.id for e in (*announced, *running, *over)]
    assert events[0].maintenance == {
        "id": "sms-de",
        "title": "Carrier upgrade",
        "body": "Messages may be delayed.",
        "status": "scheduled",
        "scheduled_for": "2026-05-28T21:26:40Z",
        "scheduled_until": "2026-05-28T22:26:40Z",
        "products": ["sms", "billing"],
        "countries": ["DE"],
        "functions": ["payout"],
    }
    assert [e.maintenance["status"] for e in events if e.maintenance] == [
        "scheduled",
        "in_progress",
        "completed",
    ]
    assert events[0].products == frozenset({"sms", "billing"})
    assert events[0].countries == frozenset({"DE"})
    everything = maintenance_notification(maintenance_events([], [window()], None, T0)[0])
    assert everything.products == frozenset({"sms", "mms", "voice", "email", "billing", "support"})


SMS_DE_AND_BILLING = maintenance_notification(
    maintenance_events([], [window(products=("sms", "billing"), countries=("DE",))], None, T0)[0]
)


@pytest.mark.parametrize(
    ("products", "countries", "told"),
    [
        ((), (), True),
        (("sms",), ("DE",), True),
        (("sms",), ("FR",), False),
        (("billing",), ("FR",), True),  # billing has no country: the window concerns it
        (("voice",), ("DE",), False),
        (("incidents",), (), False),
    ],
)
def test_who_a_maintenance_event_concerns(
    products: tuple[str, ...], countries: tuple[str, ...], told: bool
) -> None:
    scope = Scope(frozenset(products), frozenset(countries))
    assert (SMS_DE_AND_BILLING.for_scope(scope) is not None) is told


def test_status_changes_are_cut_to_the_scope() -> None:
    event = NotificationEvent(
        "e1",
        "status.changed",
        T0,
        changes=(
            Change("sms", "DE", "DE", "c1", "operational", "major_outage"),
            Change("sms", "FR", "FR", "c2", "operational", "major_outage"),
            Change("billing", None, "payout", "c3", "operational", "major_outage"),
        ),
    )
    cut = event.for_scope(Scope(frozenset({"sms", "billing"}), frozenset({"DE"})))
    assert cut is not None
    assert [c.key for c in cut.changes] == ["DE", "payout"]
    assert event.for_scope(Scope(frozenset({"voice"}), frozenset())) is None
    incident = NotificationEvent(
        "e2", "incident.opened", T0, incident={"id": "x"}, products=frozenset({"incidents"})
    )
    assert incident.for_scope(Scope(frozenset({"incidents"}), frozenset({"DE"}))) is incident
    assert incident.for_scope(Scope(frozenset({"sms"}), frozenset())) is None
