"""Planned maintenance in the history file (SPEC §9): what the maintenance task decided last,
and the events it decided, so a restart emits no event twice and a window that ended while
statusd was down still completes; the feed's maintenance entries come from the events.

Windows are kept in the maintenance file's own canonical TOML (``render_file``) and read back
with the same validator, so the history holds no second format of a window. Pure SQL on a
connection the caller owns (the writer's, in its transaction; or a reader's).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from statusd.history.entries import FEED_NAMESPACE, FeedEntry
from statusd.maintenance.events import MaintenanceEvent
from statusd.maintenance.render import render_file, render_window
from statusd.maintenance.revisions import Revision
from statusd.maintenance.windows import (
    MaintenanceFileError,
    MaintenanceWindow,
    parse_maintenance_toml,
    scope_text,
)
from statusd.storage.engine import Connection
from statusd.verdicts.statuspage import iso_utc

SCAN_EVENTS = 10_000
"""A filtered feed looks at most this many of the newest events for its entries."""


@dataclass(frozen=True, slots=True)
class MaintenanceRecord:
    """What the maintenance task decided at ``at``: the windows then, their revisions, and
    the events decided (the newest few; each is stored once, by id)."""

    at: float
    windows: tuple[MaintenanceWindow, ...] = ()
    revisions: Mapping[str, Revision] = field(default_factory=dict)
    events: tuple[MaintenanceEvent, ...] = ()


def write_maintenance(conn: Connection, record: MaintenanceRecord) -> None:
    """Store ``record`` (inside the caller's transaction)."""
    decided = json.dumps({"at": record.at, "file": render_file(record.windows)})
    revisions = json.dumps(
        {
            window_id: [r.digest, r.created_at, r.updated_at, r.sequence]
            for window_id, r in record.revisions.items()
        }
    )
    conn.executemany(
        "INSERT INTO maintenance_state (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [("decided", decided), ("revisions", revisions)],
    )
    conn.executemany(
        'INSERT INTO maintenance_events (id, kind, "window", occurred_at, detail) '
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        [
            (e.id, e.kind, e.window.id, e.occurred_at, render_window(e.window))
            for e in record.events
        ],
    )


def read_maintenance(conn: Connection | None) -> MaintenanceRecord | None:
    """The last record stored (its events left out), or None when there is none or it
    cannot be read back (then the task starts as on a first run)."""
    if conn is None:
        return None
    values = dict(conn.execute("SELECT name, value FROM maintenance_state"))
    if "decided" not in values:
        return None
    try:
        decided = json.loads(values["decided"])
        windows = parse_maintenance_toml(decided["file"])
        revisions = {
            window_id: Revision(digest, created, updated, sequence)
            for window_id, (digest, created, updated, sequence) in json.loads(
                values.get("revisions", "{}")
            ).items()
        }
        return MaintenanceRecord(float(decided["at"]), windows, revisions)
    except (MaintenanceFileError, ValueError, KeyError, TypeError):
        return None


def maintenance_entry_id(event_id: str) -> str:
    """The feed id of a maintenance event."""
    return "urn:uuid:" + str(uuid.uuid5(FEED_NAMESPACE, f"maintenance|{event_id}"))


def read_maintenance_feed(
    conn: Connection,
    *,
    country: str | None = None,
    product: str | None = None,
    limit: int,
) -> list[FeedEntry]:
    """Newest first: the maintenance events of the windows that concern the filters."""
    entries: list[FeedEntry] = []
    for event_id, kind, occurred_at, detail in conn.execute(
        "SELECT id, kind, occurred_at, detail FROM maintenance_events "
        "ORDER BY occurred_at DESC, id LIMIT ?",
        (SCAN_EVENTS,),
    ):
        try:
            (window,) = parse_maintenance_toml(detail)
        except (MaintenanceFileError, ValueError):
            continue
        if not window.concerns(product=product, country=country):
            continue
        entries.append(
            FeedEntry(
                maintenance_entry_id(event_id),
                occurred_at,
                "maintenance",
                key=window.id,
                topic=window.title,
                status=kind,
                detail=f"{scope_text(window)}, {iso_utc(window.start_at)} to "
                f"{iso_utc(window.end_at)}",
            )
        )
        if len(entries) >= limit:
            break
    return entries
