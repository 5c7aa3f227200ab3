"""Incidents: items of ``/accendent`` (SPEC §1), active first then closed (SPEC §2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources import incident
from statusd.sources.base import Limits, SourceError
from statusd.sources.records import IncidentRecord
from tests.sources.source_rules import PROPERTY


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"topic": "SMS delivery", "status": "active"}, IncidentRecord("SMS delivery", "active")),
        (
            {"topic": " Billing ", "status": " closed\n", "id": 7},
            IncidentRecord("Billing", "closed"),
        ),
        ({"topic": "x", "status": "Active"}, "status"),
        ({"topic": "x", "status": "CLOSED"}, "status"),
        ({"topic": "x", "status": "resolved"}, "status"),
        ({"topic": "x", "status": ""}, "status"),
        ({"topic": "x", "status": True}, "wrong_type"),
        ({"topic": "x", "status": None}, "wrong_type"),
        ({"topic": 5, "status": "active"}, "wrong_type"),
        ({"topic": "x"}, "missing_key"),
        ({"status": "active"}, "missing_key"),
        (["x", "active"], "not_an_object"),
        (None, "not_an_object"),
    ],
)
def test_parse_incident_item(item: Any, expected: IncidentRecord | str) -> None:
    """An incident needs a string topic and the status ``active`` or ``closed``, exactly."""
    assert incident.parse_incident_item(item) == expected


@pytest.mark.parametrize("body", [b"", b"{}", b"[", b'"active"', b"null"])
def test_parse_incident_fails_on_a_bad_body(body: bytes) -> None:
    """A body that is not a JSON array fails the source."""
    with pytest.raises(SourceError):
        incident.parse_incident(body, Limits())


def test_active_first_then_closed_in_source_order() -> None:
    """Active incidents come first, then closed ones; each group keeps source order."""
    body = [
        {"topic": "a", "status": "closed"},
        {"topic": "b", "status": "active"},
        {"topic": "c", "status": "bogus"},
        {"topic": "d", "status": "closed"},
        {"topic": "e", "status": "active"},
    ]
    result = incident.parse_incident(json.dumps(body).encode(), Limits())
    assert result.skipped == {"status": 1}
    assert incident.prepare_incident(result.records) == [
        {"topic": "b", "status": "active"},
        {"topic": "e", "status": "active"},
        {"topic": "a", "status": "closed"},
        {"topic": "d", "status": "closed"},
    ]
    assert incident.prepare_incident([]) == []


incidents = st.builds(IncidentRecord, st.text(max_size=3), st.sampled_from(["active", "closed"]))


@PROPERTY
@given(st.lists(incidents, max_size=20))
def test_prepare_is_a_stable_partition(records: list[IncidentRecord]) -> None:
    """The output is a permutation of the input: every active one, then every closed one."""
    prepared = incident.prepare_incident(records)
    shaped = [{"topic": r.topic, "status": r.status} for r in records]
    assert prepared == sorted(shaped, key=lambda row: row["status"] != "active")


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {
                    "topic": st.one_of(st.text(max_size=3), st.integers()),
                    "status": st.sampled_from(["active", "closed", "Active", " active", 1]),
                }
            ),
            st.none(),
        ),
        max_size=10,
    )
)
def test_kept_incidents_obey_the_rules(items: list[Any]) -> None:
    """Every item is kept or counted; kept ones have a str topic and a valid status."""
    result = incident.parse_incident(json.dumps(items).encode(), Limits())
    assert len(result.records) + sum(result.skipped.values()) == len(items)
    for record in result.records:
        assert record.status in ("active", "closed")
        assert isinstance(record.topic, str)
