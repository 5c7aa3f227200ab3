"""The shared machinery of the HTTP sources: one JSON array per body, items skipped by reason."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statusd.sources._json import decode_array, object_values, parse_items, string_values
from statusd.sources.base import SourceError
from tests.sources.source_rules import PROPERTY


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "body is not valid JSON"),
        (b"   ", "body is not valid JSON"),
        (b"[", "body is not valid JSON"),
        (b'[{"a": 1}', "body is not valid JSON"),  # truncated
        (b"[1,]", "body is not valid JSON"),
        (b"<html>error</html>", "body is not valid JSON"),
        (b"[NaN]", "body is not valid JSON"),
        (b"[Infinity]", "body is not valid JSON"),
        (b"[-Infinity]", "body is not valid JSON"),
        (b"[1] [2]", "body is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "body is not valid JSON"),  # too deep to decode
        (b"[" + b"9" * 5000 + b"]", "body is not valid JSON"),  # too long a number
        (b'["\xff"]', "body is not valid UTF-8"),
        (b"\xff\xfe[\x00]\x00", "body is not valid UTF-8"),  # UTF-16 is not accepted
        (b"{}", "body is not a JSON array"),
        (b'{"items": []}', "body is not a JSON array"),
        (b'"[]"', "body is not a JSON array"),
        (b"null", "body is not a JSON array"),
        (b"42", "body is not a JSON array"),
        (b"true", "body is not a JSON array"),
    ],
)
def test_decode_array_failures(raw: bytes, message: str) -> None:
    """A body that is not one UTF-8 JSON array fails the source with a short message."""
    with pytest.raises(SourceError, match=f"^{message}$"):
        decode_array(raw)


@pytest.mark.parametrize(
    ("raw", "items"),
    [
        (b"[]", []),
        (b" \n[ ] \n", []),
        (b"\xef\xbb\xbf[1]", [1]),  # a leading BOM is ignored
        (b'[1, "a", null, {"b": [true]}]', [1, "a", None, {"b": [True]}]),
        ('["Türkiye"]'.encode(), ["Türkiye"]),
    ],
)
def test_decode_array(raw: bytes, items: list[Any]) -> None:
    """Any JSON array decodes to its items, whatever they are (items are checked later)."""
    assert decode_array(raw) == items


KEYS = ("a", "b")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"a": " x ", "b": "\ty\u00a0"}, ["x", "y"]),
        ({"b": "2", "a": "1", "extra": 3}, ["1", "2"]),  # key order and extra keys do not matter
        ({"a": "", "b": "  "}, ["", ""]),
        ([], "not_an_object"),
        ("a", "not_an_object"),
        (None, "not_an_object"),
        (1, "not_an_object"),
        ({"a": "1"}, "missing_key"),
        ({}, "missing_key"),
        ({"a": 1}, "missing_key"),  # every key is looked for before any type
        ({"a": 1, "b": "2"}, "wrong_type"),
        ({"a": "1", "b": None}, "wrong_type"),
        ({"a": "1", "b": ["2"]}, "wrong_type"),
        ({"a": "1", "b": True}, "wrong_type"),
    ],
)
def test_string_values(item: Any, expected: list[str] | str) -> None:
    """An item gives its stripped strings, or the reason it is skipped."""
    assert string_values(item, KEYS) == expected


def test_object_values_keeps_types() -> None:
    """``object_values`` only checks the object and its keys; types are the source's job."""
    assert object_values({"a": 1, "b": None}, KEYS) == [1, None]
    assert object_values({"a": 1}, KEYS) == "missing_key"
    assert object_values([1, 2], KEYS) == "not_an_object"


def test_parse_items_counts_reasons() -> None:
    """Items become records or reasons; records keep array order."""
    raw = json.dumps([{"a": "1", "b": "2"}, 3, {"a": "4", "b": "5"}, {"a": "6"}]).encode()
    result = parse_items(raw, lambda item: string_values(item, KEYS))
    # string_values returns a list for a good item, which here stands for the record
    assert result.records == (["1", "2"], ["4", "5"])
    assert result.skipped == {"not_an_object": 1, "missing_key": 1}


@PROPERTY
@given(st.binary(max_size=100))
def test_decode_array_only_raises_source_error(raw: bytes) -> None:
    """Arbitrary bytes either decode to a list or raise ``SourceError``, nothing else."""
    with contextlib.suppress(SourceError):
        assert isinstance(decode_array(raw), list)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@PROPERTY
@given(st.lists(json_values, max_size=6))
def test_any_json_array_decodes(items: list[Any]) -> None:
    """Every JSON array decodes; every item is kept or counted by ``string_values``."""
    raw = json.dumps(items).encode()
    result = parse_items(raw, lambda item: string_values(item, KEYS))
    assert len(result.records) + sum(result.skipped.values()) == len(items)
