"""The timeline (SPEC §7): what the public documents remember beyond one snapshot — when a
cell was first seen and last changed, and the incidents with stable ids (``advance_timeline``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from statusd.verdicts.cells import VerdictSet


@dataclass(frozen=True, slots=True)
class CellClock:
    """A cell's current verdict, when statusd first saw the cell and when the verdict changed."""

    verdict: str
    first_seen: float
    changed_at: float


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident of the incident source as a Statuspage incident.

    ``status`` is ``investigating`` (the source says active) or ``resolved``; ``id`` is derived
    from the topic and the time it was first seen, so it survives restarts once persisted.
    ``reopens``: the id of the resolved incident of the same topic this one follows (the
    topic was seen active again after a close), else None.
    """

    id: str
    topic: str
    status: str
    started_at: float
    updated_at: float
    resolved_at: float | None = None
    reopens: str | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    """What the public documents remember across snapshots (seeded from the history on start)."""

    cells: Mapping[str, CellClock] = field(default_factory=dict)
    incidents: tuple[Incident, ...] = ()


@functools.lru_cache(maxsize=16384)
def short_id(text: str) -> str:
    """A stable 12-character id in Statuspage's alphabet (lower-case base32 of a SHA-256).

    Cached: the public documents name every cell's id on every rebuild (thousands of ids
    for ``--countries all``). Twelve base32 characters are the first 60 bits, so encoding
    the first 10 bytes gives the same id as encoding the whole digest.
    """
    digest = hashlib.sha256(text.encode()).digest()
    return base64.b32encode(digest[:10]).decode().lower()[:12]


def incident_id(topic: str, started_at: float) -> str:
    """The stable id of the incident of ``topic`` first seen at ``started_at``."""
    return short_id(f"incident|{topic}|{int(started_at)}")


def advance_timeline(
    previous: Timeline, verdicts: VerdictSet, now: float, *, keep_resolved: int = 50
) -> Timeline:
    """The timeline after a new verdict set at ``now`` (pure).

    A cell keeps ``first_seen`` forever and gets ``changed_at = now`` when its verdict
    changes. Per incident topic: active opens an ``investigating`` incident unless one is open
    (after a resolved one of the topic, it ``reopens`` that one); closed (or gone from the
    source) resolves the open one; a topic first seen closed is
    recorded as resolved at once. Kept: open incidents, the newest incident of every topic the
    source still lists (so ids never churn), and the newest ``keep_resolved`` resolved ones;
    listing order is newest first. Incidents stay as they were while the
    incident source has never had a good result (``verdicts.incidents is None``).
    """
    clocks = dict(previous.cells)
    for cell in verdicts.cells.values():
        clock = clocks.get(cell.id)
        if clock is None:
            clocks[cell.id] = CellClock(cell.verdict, now, now)
        elif clock.verdict != cell.verdict:
            clocks[cell.id] = CellClock(cell.verdict, clock.first_seen, now)

    if verdicts.incidents is None:
        return Timeline(cells=clocks, incidents=previous.incidents)
    active: dict[str, bool] = {}
    for record in verdicts.incidents:
        active[record.topic] = active.get(record.topic, False) or record.status == "active"
    latest: dict[str, Incident] = {}
    for incident in previous.incidents:
        if incident.topic not in latest or incident.started_at > latest[incident.topic].started_at:
            latest[incident.topic] = incident
    changed: dict[str, Incident] = {}
    for topic, is_active in active.items():
        last = latest.get(topic)
        if is_active and (last is None or last.status == "resolved"):
            changed[incident_id(topic, now)] = Incident(
                incident_id(topic, now),
                topic,
                "investigating",
                now,
                now,
                reopens=None if last is None else last.id,
            )
        elif not is_active and last is None:
            changed[incident_id(topic, now)] = Incident(
                incident_id(topic, now), topic, "resolved", now, now, now
            )
    for topic, last in latest.items():
        if last.status != "resolved" and not active.get(topic, False):
            changed[last.id] = Incident(last.id, topic, "resolved", last.started_at, now, now)
    merged = {incident.id: incident for incident in previous.incidents}
    merged.update(changed)
    ordered = sorted(merged.values(), key=lambda i: (-i.started_at, i.topic, i.id))
    kept = {i.id for i in ordered if i.status != "resolved"}
    resolved = [i for i in ordered if i.status == "resolved"]
    kept |= {i.id for i in resolved[:keep_resolved]}
    newest: dict[str, str] = {}
    for incident in ordered:
        newest.setdefault(incident.topic, incident.id)
    kept |= {newest[topic] for topic in active}
    return Timeline(cells=clocks, incidents=tuple(i for i in ordered if i.id in kept))
