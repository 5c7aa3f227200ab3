"""Incidents: the JSON array of ``GET {base}/accendent`` (SPEC §1) and its /api value (SPEC §2).

Each item is an object ``{"topic": str, "status": "active" | "closed"}``; both strings are
stripped, the status then matched case-sensitively (reason ``status``). Items are skipped by
reason; a body that is not a JSON array fails the source. The path keeps the original
simulator's spelling; it is configurable.

/api value: every ``active`` incident first, then every ``closed`` one, each in source order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from statusd.sources._json import parse_items, string_values
from statusd.sources.base import JsonValue, Limits, ParseResult, SourceSpec
from statusd.sources.records import IncidentRecord, record_json

INCIDENT_KEYS = ("topic", "status")
ACTIVE = "active"
CLOSED = "closed"
STATUSES = (ACTIVE, CLOSED)


def parse_incident_item(item: Any) -> IncidentRecord | str:
    """One decoded JSON item → its incident, or the reason it is skipped."""
    values = string_values(item, INCIDENT_KEYS)
    if isinstance(values, str):
        return values
    topic, status = values
    if status not in STATUSES:
        return "status"
    return IncidentRecord(topic, status)


def parse_incident(raw: bytes, limits: Limits) -> ParseResult[IncidentRecord]:
    """The body of ``/accendent``: valid incidents in array order, the rest counted."""
    del limits  # the body's size cap is the fetcher's; a JSON body has no lines
    return parse_items(raw, parse_incident_item)


def prepare_incident(records: Sequence[IncidentRecord]) -> JsonValue:
    """The /api value of incidents: active ones first, then closed, each in source order."""
    active = [record_json(record) for record in records if record.status == ACTIVE]
    closed = [record_json(record) for record in records if record.status == CLOSED]
    return active + closed


SPEC: SourceSpec[IncidentRecord] = SourceSpec(
    name="incident",
    kind="http",
    location="/accendent",
    record_type=IncidentRecord,
    parse=parse_incident,
    prepare=prepare_incident,
)
