"""Support: items of ``/support`` (SPEC §1) and ``[load, wait_minutes]`` (SPEC §2)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources import support
from statusd.sources.base import Limits, SourceError
from statusd.sources.records import SupportTopic
from tests.sources.source_rules import PROPERTY


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"topic": "SMS", "active_tickets": 3}, SupportTopic("SMS", 3)),
        ({"topic": " Billing ", "active_tickets": 0, "x": 1}, SupportTopic("Billing", 0)),
        ({"topic": "", "active_tickets": 2**63 - 1}, SupportTopic("", 2**63 - 1)),
        ({"topic": "", "active_tickets": 2**63}, "active_tickets"),
        ({"topic": "SMS", "active_tickets": -1}, "active_tickets"),
        ({"topic": "SMS", "active_tickets": True}, "wrong_type"),
        ({"topic": "SMS", "active_tickets": False}, "wrong_type"),
        ({"topic": "SMS", "active_tickets": 3.0}, "wrong_type"),
        ({"topic": "SMS", "active_tickets": "3"}, "wrong_type"),
        ({"topic": "SMS", "active_tickets": None}, "wrong_type"),
        ({"topic": 1, "active_tickets": 3}, "wrong_type"),
        ({"topic": None, "active_tickets": 3}, "wrong_type"),
        ({"topic": "SMS"}, "missing_key"),
        ({"active_tickets": 3}, "missing_key"),
        ({}, "missing_key"),
        ([["SMS", 3]], "not_an_object"),
        ("SMS", "not_an_object"),
        (3, "not_an_object"),
    ],
)
def test_parse_support_item(item: Any, expected: SupportTopic | str) -> None:
    """A topic needs a string name and a JSON integer count ≥ 0 (not a boolean)."""
    assert support.parse_support_item(item) == expected


def test_parse_support_body() -> None:
    """Topics in array order; the rest counted by reason."""
    body = [
        {"topic": "a", "active_tickets": 1},
        {"topic": "b"},
        {"topic": "c", "active_tickets": 2},
    ]
    result = support.parse_support(json.dumps(body).encode(), Limits())
    assert result.records == (SupportTopic("a", 1), SupportTopic("c", 2))
    assert result.skipped == {"missing_key": 1}


@pytest.mark.parametrize("body", [b"", b"{}", b"[", b'{"topic": "a", "active_tickets": 1}', b"[1,"])
def test_parse_support_fails_on_a_bad_body(body: bytes) -> None:
    """A body that is not a JSON array fails the source."""
    with pytest.raises(SourceError):
        support.parse_support(body, Limits())


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0, [1, 0]),
        (1, [1, 4]),  # 60 / 18 = 3.33… → 4
        (3, [1, 10]),
        (8, [1, 27]),  # 480 / 18 = 26.67 → 27
        (9, [2, 30]),
        (16, [2, 54]),  # 960 / 18 = 53.33 → 54
        (17, [3, 57]),  # 1020 / 18 = 56.67 → 57
        (18, [3, 60]),
        (33, [3, 110]),
    ],
)
def test_load_and_wait_at_the_boundaries(total: int, expected: list[int]) -> None:
    """Load 1 below 9, 2 from 9 to 16, 3 above; the wait rounds total × 60 / 18 up."""
    one_topic = [SupportTopic("all", total)]
    assert support.prepare_support(one_topic) == expected
    split = [SupportTopic(f"t{n}", 1) for n in range(total)]
    assert support.prepare_support(split) == expected


def test_no_topics_means_no_tickets() -> None:
    """An empty array is a total of 0: load 1, no wait."""
    assert support.prepare_support([]) == [1, 0]
    assert support.prepare_support(support.parse_support(b"[]", Limits()).records) == [1, 0]


@PROPERTY
@given(st.lists(st.integers(0, 10**6), max_size=20))
def test_formula(tickets: list[int]) -> None:
    """For any tickets: the load follows SPEC's thresholds and the wait is ceil(total × 60 / 18)."""
    load, wait = support.prepare_support([SupportTopic("t", n) for n in tickets])
    total = sum(tickets)
    assert load == (1 if total < 9 else 2 if total <= 16 else 3)
    assert wait == math.ceil(total * 60 / 18)
    assert wait == 0 if total == 0 else (wait - 1) * 18 < total * 60 <= wait * 18


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {
                    "topic": st.one_of(st.text(max_size=4), st.integers()),
                    "active_tickets": st.one_of(
                        st.integers(-3, 30), st.booleans(), st.floats(0, 3)
                    ),
                }
            ),
            st.dictionaries(st.sampled_from(["topic", "active_tickets"]), st.integers(0, 5)),
            st.integers(),
        ),
        max_size=10,
    )
)
def test_kept_topics_obey_the_rules(items: list[Any]) -> None:
    """Every item is kept or counted; a kept topic has a str name and an int count ≥ 0."""
    result = support.parse_support(json.dumps(items).encode(), Limits())
    assert len(result.records) + sum(result.skipped.values()) == len(items)
    expected = [
        SupportTopic(item["topic"].strip(), item["active_tickets"])
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("topic"), str)
        and type(item.get("active_tickets")) is int
        and item["active_tickets"] >= 0
    ]
    assert list(result.records) == expected
