"""MMS: items of the ``/mms`` JSON array (SPEC §1) and its preparation (SPEC §2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources import mms
from statusd.sources.base import Limits, SourceError
from statusd.sources.records import MmsRecord
from tests.sources.source_rules import (
    COUNTRY_POOL,
    PERCENT_POOL,
    PROPERTY,
    SMS_PROVIDERS,
    UINT_POOL,
    sms_rule,
)

LIMITS = Limits()


def item(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "country": "RU",
        "provider": "Rond",
        "bandwidth": "55",
        "response_time": "123",
    }
    base.update(values)
    return {key: value for key, value in base.items() if value is not ...}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (item(), MmsRecord("RU", "Rond", "55", "123")),
        (item(extra=[1, 2], note=None), MmsRecord("RU", "Rond", "55", "123")),
        (
            item(country=" BL ", bandwidth="\t007 ", response_time="0\u00a0"),
            MmsRecord("BL", "Rond", "007", "0"),
        ),
        (item(provider="Kildy", bandwidth="100"), MmsRecord("RU", "Kildy", "100", "123")),
        ([], "not_an_object"),
        ("RU;55;123;Rond", "not_an_object"),
        (None, "not_an_object"),
        (item(country=...), "missing_key"),
        (item(provider=...), "missing_key"),
        (item(bandwidth=...), "missing_key"),
        (item(response_time=...), "missing_key"),
        (item(bandwidth=55), "wrong_type"),
        (item(response_time=123), "wrong_type"),
        (item(country=None), "wrong_type"),
        (item(provider=["Rond"]), "wrong_type"),
        (item(bandwidth=True), "wrong_type"),
        (item(country="ru"), "country"),
        (item(country="UK"), "country"),
        (item(bandwidth="101"), "bandwidth"),
        (item(bandwidth="5.5"), "bandwidth"),
        (item(bandwidth="٥"), "bandwidth"),
        (item(response_time="-1"), "response_time"),
        (item(response_time=""), "response_time"),
        (item(provider="rond"), "provider"),
        (item(provider="Gmail"), "provider"),
    ],
)
def test_parse_mms_item(value: Any, expected: MmsRecord | str) -> None:
    """An item becomes its record with stripped strings, or the reason it is skipped."""
    assert mms.parse_mms_item(value) == expected


def test_parse_mms_body() -> None:
    """Records keep array order; skipped items are counted by reason."""
    body = [item(), 3, item(country="xx"), item(provider="Kildy"), item(bandwidth=1)]
    result = mms.parse_mms(json.dumps(body).encode(), LIMITS)
    assert result.records == (
        MmsRecord("RU", "Rond", "55", "123"),
        MmsRecord("RU", "Kildy", "55", "123"),
    )
    assert result.skipped == {"not_an_object": 1, "country": 1, "wrong_type": 1}


@pytest.mark.parametrize("body", [b"{}", b"[", b"<html>", b"", b'{"country": "RU"}'])
def test_parse_mms_fails_on_a_bad_body(body: bytes) -> None:
    """A body that is not a JSON array fails the source."""
    with pytest.raises(SourceError):
        mms.parse_mms(body, LIMITS)


def test_prepare_mms_like_sms() -> None:
    """The same two lists as SMS, rows in MMS key order with the country's name."""
    records = [
        MmsRecord("US", "Rond", "5", "6"),
        MmsRecord("RU", "Topolo", "1", "2"),
        MmsRecord("RU", "Kildy", "3", "4"),
    ]
    by_provider, by_country = mms.prepare_mms(records)
    assert by_provider == [
        {
            "country": "Russian Federation",
            "provider": "Kildy",
            "bandwidth": "3",
            "response_time": "4",
        },
        {"country": "United States", "provider": "Rond", "bandwidth": "5", "response_time": "6"},
        {
            "country": "Russian Federation",
            "provider": "Topolo",
            "bandwidth": "1",
            "response_time": "2",
        },
    ]
    assert [(row["country"], row["provider"]) for row in by_country] == [
        ("Russian Federation", "Kildy"),
        ("Russian Federation", "Topolo"),
        ("United States", "Rond"),
    ]
    assert list(by_provider[0]) == ["country", "provider", "bandwidth", "response_time"]


def test_prepare_mms_full_ties_keep_source_order() -> None:
    """Rows equal on (provider, country) keep source order."""
    records = [MmsRecord("RU", "Rond", str(n), "1") for n in (3, 1, 2)]
    by_provider, by_country = mms.prepare_mms(records)
    assert [row["bandwidth"] for row in by_provider] == ["3", "1", "2"]
    assert [row["bandwidth"] for row in by_country] == ["3", "1", "2"]


plausible_items = st.one_of(
    st.fixed_dictionaries(
        {
            "country": st.sampled_from(COUNTRY_POOL),
            "provider": st.sampled_from((*SMS_PROVIDERS, "rond")),
            "bandwidth": st.sampled_from(PERCENT_POOL),
            "response_time": st.sampled_from(UINT_POOL),
        },
        optional={"extra": st.integers()},
    ),
    st.dictionaries(
        st.sampled_from(["country", "provider", "bandwidth", "response_time"]),
        st.one_of(st.text(max_size=3), st.integers(), st.none(), st.booleans()),
    ),
    st.integers(),
    st.lists(st.text(max_size=2), max_size=2),
)


@PROPERTY
@given(st.lists(plausible_items, max_size=12))
def test_parse_mms_matches_the_rules(items: list[Any]) -> None:
    """Every item is kept or counted; kept records pass the SMS rules, the others do not."""
    result = mms.parse_mms(json.dumps(items).encode(), LIMITS)
    assert len(result.records) + sum(result.skipped.values()) == len(items)
    expected = []
    for value in items:
        keys = ("country", "bandwidth", "response_time", "provider")
        if isinstance(value, dict) and all(isinstance(value.get(k), str) for k in keys):
            verdict = sms_rule([value[k].strip() for k in keys])
            if isinstance(verdict, tuple):
                expected.append(verdict)
    assert [
        (r.country, r.bandwidth, r.response_time, r.provider) for r in result.records
    ] == expected


@PROPERTY
@given(st.binary(max_size=120))
def test_parse_mms_never_raises_but_source_error(raw: bytes) -> None:
    """Arbitrary bytes give a result or ``SourceError``, nothing else."""
    try:
        result = mms.parse_mms(raw, LIMITS)
    except SourceError:
        return
    assert all(isinstance(record, MmsRecord) for record in result.records)
