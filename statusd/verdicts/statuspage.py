"""The public status documents: Atlassian Statuspage's API v2 shapes and ``/api/verdicts``.

Pure builders from a ``VerdictSet`` (what is true now), a ``Timeline`` (since when) and the
wall time of each source's last good result (how old the data is). They return JSON-able
dicts; the app encodes them once per change of state. Existing Statuspage clients read
``/api/v2/*.json`` unchanged: one group component per product, one component per cell, ids
derived from the cell so they survive restarts, names unique across the page (``SMS —
Germany``), ``unknown`` shown as ``degraded_performance`` with the true verdict in the extra
object ``statusd``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from statusd.verdicts.cells import (
    COUNTRY_PRODUCTS,
    INDICATOR_DESCRIPTIONS,
    PRODUCT_NAMES,
    PRODUCT_SOURCE,
    PRODUCTS,
    UNKNOWN,
    Cell,
    VerdictSet,
    cell_name,
)
from statusd.verdicts.rules import VerdictThresholds, rule_texts, worst_verdict
from statusd.verdicts.timeline import CellClock, Incident, Timeline, short_id

STATUSPAGE_DOCUMENTS = ("status", "summary", "components", "incidents")
"""The ``/api/v2/<name>.json`` documents ``public_documents`` builds."""

MAX_INCIDENTS = 50
"""``incidents.json`` lists at most this many incidents, as Statuspage does."""


@dataclass(frozen=True, slots=True)
class PageInfo:
    """The status page itself, as Statuspage's ``page`` object names it."""

    name: str = "statusd"
    url: str = "http://127.0.0.1:8080"
    time_zone: str = "Etc/UTC"

    @property
    def id(self) -> str:
        return short_id(f"page|{self.name}")


def iso_utc(at: float) -> str:
    """RFC 3339 UTC with whole seconds (``2026-11-25T14:00:00Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def public_status(verdict: str) -> str:
    """The Statuspage component status of a verdict: ``unknown`` is shown as degraded."""
    return "degraded_performance" if verdict == UNKNOWN else verdict


def component_id(cell: str) -> str:
    """The stable component id of a cell id (``sms:DE``)."""
    return short_id(f"component|{cell}")


def group_id(product: str) -> str:
    """The stable id of a product's group component."""
    return short_id(f"group|{product}")


def age_seconds(source_times: Mapping[str, float], source: str, now: float) -> int | None:
    """Whole seconds since the source's last good result; None if it never had one."""
    at = source_times.get(source)
    return None if at is None else max(0, int(now - at))


def page_json(page: PageInfo, now: float) -> dict[str, Any]:
    """Statuspage's ``page`` object."""
    return {
        "id": page.id,
        "name": page.name,
        "url": page.url,
        "time_zone": page.time_zone,
        "updated_at": iso_utc(now),
    }


def status_object(verdicts: VerdictSet) -> dict[str, str]:
    """Statuspage's ``status`` object: the overall indicator and its description."""
    return {"indicator": verdicts.indicator, "description": verdicts.description}


def status_json(page: PageInfo, verdicts: VerdictSet, now: float) -> dict[str, Any]:
    """``/api/v2/status.json``."""
    return {"page": page_json(page, now), "status": status_object(verdicts)}


SUPPORT_COMPONENT_NAME = "Support — Ticket queue"
"""The support cell's component name: "Support" alone is already its group's."""


def component_name(product: str, key: str) -> str:
    """A cell's Statuspage component name, unique across the page (SPEC §7): the product
    and the cell's name (``SMS — Germany``, ``Billing — Payout``), since many Statuspage
    clients key components by name and a bare ``Germany`` would be one of four."""
    if product == "support":
        return SUPPORT_COMPONENT_NAME
    return f"{PRODUCT_NAMES[product]} — {cell_name(product, key)}"


def _component(
    cell: Cell, clock: CellClock | None, page: PageInfo, position: int, age: int | None, now: float
) -> dict[str, Any]:
    first_seen = clock.first_seen if clock else now
    name = cell_name(cell.product, cell.key)
    if cell.product in COUNTRY_PRODUCTS:
        description = f"{PRODUCT_NAMES[cell.product]} to {name} ({cell.key})"
    else:
        description = f"{PRODUCT_NAMES[cell.product]}: {name}"
    return {
        "id": component_id(cell.id),
        "name": component_name(cell.product, cell.key),
        "status": public_status(cell.verdict),
        "created_at": iso_utc(first_seen),
        "updated_at": iso_utc(clock.changed_at if clock else now),
        "position": position,
        "description": description,
        "showcase": False,
        "start_date": iso_utc(first_seen)[:10],
        "group_id": group_id(cell.product),
        "page_id": page.id,
        "group": False,
        "only_show_if_degraded": False,
        "statusd": _extra(cell, age),
    }


def _extra(cell: Cell, age: int | None) -> dict[str, Any]:
    """A cell component's ``statusd`` object; ``data_verdict`` only under maintenance."""
    extra: dict[str, Any] = {
        "verdict": cell.verdict,
        "age_seconds": age,
        "product": cell.product,
        "key": cell.key,
    }
    if cell.data_verdict is not None:
        extra["data_verdict"] = cell.data_verdict
    return extra


def components_list(
    page: PageInfo,
    verdicts: VerdictSet,
    timeline: Timeline,
    source_times: Mapping[str, float],
    now: float,
) -> list[dict[str, Any]]:
    """Every component: per product with cells, its group then one component per cell."""
    by_product: dict[str, list[Cell]] = {}
    for cell in verdicts.cells.values():
        by_product.setdefault(cell.product, []).append(cell)
    out: list[dict[str, Any]] = []
    position = 0
    for product in PRODUCTS:
        cells = by_product.get(product)
        if not cells:
            continue
        age = age_seconds(source_times, PRODUCT_SOURCE[product], now)
        clocks = [timeline.cells.get(cell.id) for cell in cells]
        first_seen = min((c.first_seen for c in clocks if c), default=now)
        changed_at = max((c.changed_at for c in clocks if c), default=now)
        verdict = worst_verdict(cell.verdict for cell in cells)
        position += 1
        out.append(
            {
                "id": group_id(product),
                "name": PRODUCT_NAMES[product],
                "status": public_status(verdict),
                "created_at": iso_utc(first_seen),
                "updated_at": iso_utc(changed_at),
                "position": position,
                "description": None,
                "showcase": False,
                "start_date": iso_utc(first_seen)[:10],
                "group_id": None,
                "page_id": page.id,
                "group": True,
                "only_show_if_degraded": False,
                "components": [component_id(cell.id) for cell in cells],
                "statusd": {"verdict": verdict, "age_seconds": age, "product": product},
            }
        )
        for cell, clock in zip(cells, clocks, strict=True):
            position += 1
            out.append(_component(cell, clock, page, position, age, now))
    return out


def components_json(
    page: PageInfo,
    verdicts: VerdictSet,
    timeline: Timeline,
    source_times: Mapping[str, float],
    now: float,
    *,
    components: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``/api/v2/components.json`` (``components``: the list, if already built)."""
    if components is None:
        components = components_list(page, verdicts, timeline, source_times, now)
    return {"page": page_json(page, now), "components": components}


def update_object(
    update_id: str, incident_id: str, status: str, at: float, body: str
) -> dict[str, Any]:
    """One Statuspage incident update (incidents and scheduled maintenances share the shape)."""
    return {
        "id": update_id,
        "status": status,
        "body": body,
        "incident_id": incident_id,
        "created_at": iso_utc(at),
        "updated_at": iso_utc(at),
        "display_at": iso_utc(at),
        "affected_components": None,
        "deliver_notifications": False,
        "custom_tweet": None,
        "tweet_id": None,
    }


def _incident_update(incident: Incident, status: str, at: float) -> dict[str, Any]:
    said = "closed" if status == "resolved" else "active"
    body = f"The incident source reports “{incident.topic}” as {said}."
    return update_object(short_id(f"update|{incident.id}|{status}"), incident.id, status, at, body)


def incident_object(incident: Incident, page: PageInfo) -> dict[str, Any]:
    """One Statuspage incident; its updates newest first."""
    updates = []
    if incident.resolved_at is not None:
        updates.append(_incident_update(incident, "resolved", incident.resolved_at))
    if incident.resolved_at is None or incident.resolved_at > incident.started_at:
        updates.append(_incident_update(incident, "investigating", incident.started_at))
    return {
        "id": incident.id,
        "name": incident.topic,
        "status": incident.status,
        "created_at": iso_utc(incident.started_at),
        "updated_at": iso_utc(incident.updated_at),
        "monitoring_at": None,
        "resolved_at": None if incident.resolved_at is None else iso_utc(incident.resolved_at),
        "impact": "minor",
        "shortlink": f"{page.url}/#incident-{incident.id}",
        "started_at": iso_utc(incident.started_at),
        "page_id": page.id,
        "incident_updates": updates,
        "components": [],
    }


def incidents_json(page: PageInfo, timeline: Timeline, now: float) -> dict[str, Any]:
    """``/api/v2/incidents.json``: the newest incidents, open and resolved."""
    return {
        "page": page_json(page, now),
        "incidents": [incident_object(i, page) for i in timeline.incidents[:MAX_INCIDENTS]],
    }


def summary_json(
    page: PageInfo,
    verdicts: VerdictSet,
    timeline: Timeline,
    source_times: Mapping[str, float],
    now: float,
    *,
    components: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``/api/v2/summary.json``: page, components, unresolved incidents, status
    (``components``: the list, if already built)."""
    if components is None:
        components = components_list(page, verdicts, timeline, source_times, now)
    return {
        "page": page_json(page, now),
        "components": components,
        "incidents": [
            incident_object(i, page) for i in timeline.incidents if i.status != "resolved"
        ],
        "scheduled_maintenances": [],
        "status": status_object(verdicts),
    }


def verdicts_json(
    verdicts: VerdictSet,
    thresholds: VerdictThresholds,
    source_times: Mapping[str, float],
    now: float,
) -> dict[str, Any]:
    """``/api/verdicts``: what the page shows, with the rules for its tooltips."""
    cells = []
    for cell in verdicts.cells.values():
        item: dict[str, Any] = {
            "product": cell.product,
            "key": cell.key,
            "name": cell_name(cell.product, cell.key),
            "verdict": cell.verdict,
            "age_seconds": age_seconds(source_times, cell.source, now),
        }
        if cell.data_verdict is not None:
            item["data_verdict"] = cell.data_verdict
        if cell.product in COUNTRY_PRODUCTS:
            item["good_providers"] = list(cell.good_providers)
            item["providers"] = cell.providers
        cells.append(item)
    return {
        "indicator": verdicts.indicator,
        "description": INDICATOR_DESCRIPTIONS[verdicts.indicator],
        "updated_at": iso_utc(now),
        "rules": rule_texts(thresholds),
        "cells": cells,
    }


def public_documents(
    page: PageInfo,
    thresholds: VerdictThresholds,
    verdicts: VerdictSet,
    timeline: Timeline,
    source_times: Mapping[str, float],
    now: float,
) -> dict[str, dict[str, Any]]:
    """Every public JSON document of one state, keyed by the path that serves it."""
    # One list for both documents: they are encoded, never mutated.
    components = components_list(page, verdicts, timeline, source_times, now)
    return {
        "/api/v2/status.json": status_json(page, verdicts, now),
        "/api/v2/summary.json": summary_json(
            page, verdicts, timeline, source_times, now, components=components
        ),
        "/api/v2/components.json": components_json(
            page, verdicts, timeline, source_times, now, components=components
        ),
        "/api/v2/incidents.json": incidents_json(page, timeline, now),
        "/api/verdicts": verdicts_json(verdicts, thresholds, source_times, now),
    }
