"""The /api/v2 documents against the field lists of Statuspage's public API v2, and /api/verdicts.

Field lists written down from Statuspage's documentation of the public status API
(``/api/v2/summary.json`` etc.: page, status, components, incidents with incident_updates).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest

from simulator.countries import all_countries
from simulator.generate import Plan, endpoint_body, file_bytes
from statusd.sources import ALL_SOURCES
from statusd.sources.base import Limits
from statusd.sources.records import (
    BillingRecord,
    EmailRecord,
    IncidentRecord,
    MmsRecord,
    SmsRecord,
    SupportTopic,
    VoiceRecord,
)
from statusd.verdicts.cells import PRODUCTS, VerdictSet
from statusd.verdicts.rules import VerdictThresholds, compute_verdicts
from statusd.verdicts.statuspage import (
    STATUSPAGE_DOCUMENTS,
    PageInfo,
    component_id,
    components_json,
    group_id,
    incidents_json,
    public_documents,
    status_json,
    summary_json,
    verdicts_json,
)
from statusd.verdicts.timeline import Timeline, advance_timeline

# --- Statuspage v2 field lists ----------------------------------------------------------------

PAGE_FIELDS = {"id", "name", "url", "time_zone", "updated_at"}
STATUS_FIELDS = {"indicator", "description"}
COMPONENT_FIELDS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
}
GROUP_EXTRA_FIELDS = {"components"}
INCIDENT_FIELDS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
}
INCIDENT_UPDATE_FIELDS = {
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
}
SUMMARY_FIELDS = {"page", "components", "incidents", "scheduled_maintenances", "status"}
COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage"}
INDICATORS = {"none", "minor", "major", "critical"}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}
STATUSD_EXTRA = "statusd"

NOW = 1_764_079_200.0  # 2025-11-25T14:00:00Z
PAGE = PageInfo(name="Example status", url="http://127.0.0.1:8080")
ID = re.compile(r"[a-z2-7]{12}")


def timestamp(value: Any) -> dt.datetime:
    assert isinstance(value, str)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def records(**overrides: Sequence[Any] | None) -> dict[str, Sequence[Any] | None]:
    out: dict[str, Sequence[Any] | None] = {
        "sms": [SmsRecord("DE", "50", "100", "Topolo"), SmsRecord("RU", "5", "100", "Rond")],
        "mms": [MmsRecord("DE", "Rond", "50", "100")],
        "voice_call": [VoiceRecord("US", "50", "100", "E-Voice", 0.9, 100, 80, 3)],
        "email": [EmailRecord("FR", "Gmail", 100)],
        "billing": [BillingRecord(True, True, False, True, True, True)],
        "support": [SupportTopic("billing", 1)],
        "incident": [IncidentRecord("db <down>", "active"), IncidentRecord("dns", "closed")],
    }
    out.update(overrides)
    return out


def state(stale: frozenset[str] = frozenset()) -> tuple[VerdictSet, Timeline]:
    verdicts = compute_verdicts(records(), VerdictThresholds(), stale=stale)
    timeline = advance_timeline(Timeline(), verdicts, NOW - 3600)
    return verdicts, advance_timeline(timeline, verdicts, NOW - 60)


SOURCE_TIMES = dict.fromkeys(("sms", "mms", "voice_call", "email", "billing", "support"), NOW - 7)


def check_page(page: Any) -> None:
    assert set(page) == PAGE_FIELDS
    assert isinstance(page["id"], str)
    assert page["name"] == "Example status"
    assert page["url"] == "http://127.0.0.1:8080"
    timestamp(page["updated_at"])


def check_component(component: Any, page_id: str) -> None:
    extra = GROUP_EXTRA_FIELDS if component["group"] else set()
    assert set(component) == COMPONENT_FIELDS | extra | {STATUSD_EXTRA}
    assert ID.fullmatch(component["id"])
    assert isinstance(component["name"], str)
    assert component["status"] in COMPONENT_STATUSES
    timestamp(component["created_at"])
    timestamp(component["updated_at"])
    assert isinstance(component["position"], int)
    assert component["description"] is None or isinstance(component["description"], str)
    assert isinstance(component["showcase"], bool)
    assert isinstance(component["group"], bool)
    assert isinstance(component["only_show_if_degraded"], bool)
    assert component["page_id"] == page_id
    if component["group"]:
        assert component["group_id"] is None
        assert all(ID.fullmatch(child) for child in component["components"])
    else:
        assert ID.fullmatch(component["group_id"])


def check_incident(incident: Any, page_id: str) -> None:
    assert set(incident) == INCIDENT_FIELDS
    assert incident["status"] in INCIDENT_STATUSES
    assert incident["impact"] in IMPACTS
    assert incident["page_id"] == page_id
    for name in ("created_at", "updated_at", "started_at"):
        timestamp(incident[name])
    assert incident["shortlink"].startswith("http://127.0.0.1:8080/")
    assert incident["incident_updates"]
    for update in incident["incident_updates"]:
        assert set(update) == INCIDENT_UPDATE_FIELDS
        assert update["incident_id"] == incident["id"]
        assert update["status"] in INCIDENT_STATUSES
        timestamp(update["display_at"])


def test_status_json_shape() -> None:
    """status.json: page and status{indicator, description}, nothing else."""
    verdicts, _ = state()
    document = status_json(PAGE, verdicts, NOW)
    assert set(document) == {"page", "status"}
    check_page(document["page"])
    assert set(document["status"]) == STATUS_FIELDS
    assert document["status"] == {"indicator": "major", "description": "Partial System Outage"}


def test_summary_json_shape() -> None:
    """summary.json: Statuspage's five keys; every component and incident has the field list."""
    verdicts, timeline = state()
    document = summary_json(PAGE, verdicts, timeline, SOURCE_TIMES, NOW)
    assert set(document) == SUMMARY_FIELDS
    check_page(document["page"])
    assert document["status"]["indicator"] in INDICATORS
    assert document["scheduled_maintenances"] == []
    for component in document["components"]:
        check_component(component, PAGE.id)
    for incident in document["incidents"]:
        check_incident(incident, PAGE.id)
    assert [i["name"] for i in document["incidents"]] == ["db <down>"]  # unresolved only
    json.dumps(document)


def test_components_json_groups_and_cells() -> None:
    """One group per product with cells, then one component per cell pointing at its group."""
    verdicts, timeline = state()
    components = components_json(PAGE, verdicts, timeline, SOURCE_TIMES, NOW)["components"]
    groups = [c for c in components if c["group"]]
    assert [g["name"] for g in groups] == ["SMS", "MMS", "Voice", "Email", "Billing", "Support"]
    cells = [c for c in components if not c["group"]]
    assert len(cells) == len(verdicts.cells)
    by_id = {c["id"]: c for c in components}
    for group in groups:
        for child in group["components"]:
            assert by_id[child]["group_id"] == group["id"]
    assert [c["position"] for c in components] == list(range(1, len(components) + 1))
    sms_group = by_id[group_id("sms")]
    assert sms_group["status"] == "degraded_performance"  # RU is degraded
    assert sms_group["components"] == [component_id("sms:DE"), component_id("sms:RU")]
    germany = by_id[component_id("sms:DE")]
    assert germany["name"] == "SMS — Germany"
    assert germany["description"] == "SMS to Germany (DE)"
    assert germany["statusd"] == {
        "verdict": "operational",
        "age_seconds": 7,
        "product": "sms",
        "key": "DE",
    }
    assert germany["created_at"] == "2025-11-25T13:00:00Z"
    payout = by_id[component_id("billing:payout")]
    assert (payout["name"], payout["status"]) == ("Billing — Payout", "major_outage")
    assert by_id[component_id("support:support")]["name"] == "Support — Ticket queue"


def every_country_verdicts() -> VerdictSet:
    """The verdicts of the simulator's ``--countries all`` data, parsed as statusd parses it."""
    plan = Plan(seed=1, countries=all_countries())
    parsed: dict[str, Sequence[Any] | None] = {}
    for spec in ALL_SOURCES:
        if spec.kind == "file":
            raw = file_bytes(plan, spec.location)
        else:
            raw = endpoint_body(plan, spec.location.removeprefix("/"))
        parsed[spec.name] = spec.parse(raw, Limits()).records
    return compute_verdicts(parsed, VerdictThresholds())


@pytest.fixture(scope="module")
def every_country() -> tuple[VerdictSet, list[dict[str, Any]]]:
    verdicts = every_country_verdicts()
    components = components_json(PAGE, verdicts, Timeline(), SOURCE_TIMES, NOW)["components"]
    return verdicts, components


def test_component_names_are_unique_for_every_country(
    every_country: tuple[VerdictSet, list[dict[str, Any]]],
) -> None:
    """With every ISO country under SMS, MMS, Voice and Email, no two components (groups
    included) share a name: Statuspage clients key components by name."""
    verdicts, components = every_country
    countries = {cell.key for cell in verdicts.cells.values() if cell.product == "sms"}
    assert len(countries) > 200  # really every country, not the default fifteen
    names = [c["name"] for c in components]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)[:8]
    assert len(components) == len(verdicts.cells) + len(PRODUCTS)


def test_group_structure_is_one_group_per_product_with_its_cells(
    every_country: tuple[VerdictSet, list[dict[str, Any]]],
) -> None:
    """Renaming touched nothing else: one group per product (named as the product), listing
    the ids of that product's cells in verdict order, each followed by its cells."""
    verdicts, components = every_country
    expected: list[tuple[str, str | None, bool]] = []
    for product in PRODUCTS:
        cells = [cell.id for cell in verdicts.cells.values() if cell.product == product]
        expected.append((group_id(product), None, True))
        expected += [(component_id(cell), group_id(product), False) for cell in cells]
    assert [(c["id"], c["group_id"], c["group"]) for c in components] == expected
    groups = [c for c in components if c["group"]]
    assert [g["name"] for g in groups] == ["SMS", "MMS", "Voice", "Email", "Billing", "Support"]
    for group in groups:
        children = [c["id"] for c in components if c["group_id"] == group["id"]]
        assert group["components"] == children
    assert [c["position"] for c in components] == list(range(1, len(components) + 1))


def test_the_route_names_every_statuspage_document() -> None:
    """/api/v2/<statuspage:name>.json matches exactly the documents built (others are 404)."""
    verdicts, timeline = state()
    built = public_documents(PAGE, VerdictThresholds(), verdicts, timeline, SOURCE_TIMES, NOW)
    v2 = {path for path in built if path.startswith("/api/v2/")}
    assert v2 == {f"/api/v2/{name}.json" for name in STATUSPAGE_DOCUMENTS}


def test_unknown_is_degraded_with_the_true_verdict_in_the_extra_object() -> None:
    """An unknown cell shows degraded_performance; statusd.verdict says unknown."""
    verdicts, timeline = state(stale=frozenset({"sms"}))
    components = components_json(PAGE, verdicts, timeline, SOURCE_TIMES, NOW)["components"]
    germany = next(c for c in components if c["id"] == component_id("sms:DE"))
    assert germany["status"] == "degraded_performance"
    assert germany["statusd"]["verdict"] == "unknown"
    sms_group = next(c for c in components if c["id"] == group_id("sms"))
    assert sms_group["statusd"]["verdict"] == "unknown"


def test_age_seconds_is_null_without_a_result() -> None:
    """A cell whose source never had a result has age_seconds null."""
    verdicts = compute_verdicts(records(billing=None), VerdictThresholds())
    components = components_json(PAGE, verdicts, Timeline(), {}, NOW)["components"]
    payout = next(c for c in components if c["id"] == component_id("billing:payout"))
    assert payout["statusd"] == {
        "verdict": "unknown",
        "age_seconds": None,
        "product": "billing",
        "key": "payout",
    }


def test_component_ids_are_stable_and_distinct() -> None:
    """Ids come from the cell only: equal across builds and processes, distinct per cell."""
    assert component_id("sms:RU") == component_id("sms:RU")
    ids = {component_id(f"{p}:{k}") for p in ("sms", "mms") for k in ("RU", "DE")}
    ids |= {group_id(p) for p in ("sms", "mms")}
    assert len(ids) == 6
    # Pinned: a changed derivation would break every client that stored an id.
    assert (component_id("sms:RU"), group_id("sms")) == ("bpkxb3orjbiz", "jgrtokvggu6y")


def test_incidents_json_lists_open_and_resolved_with_updates() -> None:
    """incidents.json: investigating for active, resolved for closed, each with its updates."""
    _, timeline = state()
    document = incidents_json(PAGE, timeline, NOW)
    assert set(document) == {"page", "incidents"}
    for incident in document["incidents"]:
        check_incident(incident, PAGE.id)
    by_name = {i["name"]: i for i in document["incidents"]}
    assert by_name["db <down>"]["status"] == "investigating"
    assert by_name["db <down>"]["resolved_at"] is None
    assert [u["status"] for u in by_name["db <down>"]["incident_updates"]] == ["investigating"]
    assert by_name["dns"]["status"] == "resolved"
    assert [u["status"] for u in by_name["dns"]["incident_updates"]] == ["resolved"]


def test_verdicts_json_matches_the_internal_contract() -> None:
    """/api/verdicts: indicator, description, updated_at, rules and sorted cells (contract)."""
    verdicts, _ = state()
    document = verdicts_json(verdicts, VerdictThresholds(), SOURCE_TIMES, NOW)
    assert set(document) == {"indicator", "description", "updated_at", "rules", "cells"}
    assert document["updated_at"] == "2025-11-25T14:00:00Z"
    assert document["rules"]["sms"]["max_response_time"] == 1000
    assert document["rules"]["voice"]["min_connection_stability"] == 0.8
    first = document["cells"][0]
    assert first == {
        "product": "sms",
        "key": "DE",
        "name": "Germany",
        "verdict": "operational",
        "age_seconds": 7,
        "good_providers": ["Topolo"],
        "providers": 1,
    }
    support = document["cells"][-1]
    assert support == {
        "product": "support",
        "key": "support",
        "name": "Support",
        "verdict": "operational",
        "age_seconds": 7,
    }
    order = ["sms", "mms", "voice", "email", "billing", "support"]
    keys = [(order.index(c["product"]), c["key"]) for c in document["cells"]]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/status.json",
        "/api/v2/summary.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/verdicts",
    ],
)
def test_public_documents_are_json(path: str) -> None:
    """Every public document is keyed by its route and encodes as JSON."""
    verdicts, timeline = state()
    documents = public_documents(PAGE, VerdictThresholds(), verdicts, timeline, SOURCE_TIMES, NOW)
    assert json.loads(json.dumps(documents[path], ensure_ascii=False)) == documents[path]
