"""Fault modes as data: parsing of flags and control bodies, and the pure fault bodies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.faults import (
    MODES,
    FaultError,
    Mode,
    huge_block,
    object_body,
    parse_assignment,
    parse_request,
    truncated_body,
    wrong_types_body,
)
from simulator.generate import Plan, endpoint_body, endpoint_items


def test_every_mode_is_described() -> None:
    """The table of modes covers the enum, including the reliability-matrix extras."""
    assert set(MODES) == set(Mode)
    assert {mode.value for mode in Mode} >= {
        "ok",
        "error",
        "hang",
        "slow",
        "garbage",
        "truncated",
        "huge",
        "notfound",
        "redirect_loop",
        "drip",
        "object",
        "wrong_types",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mms=error", ("mms", Mode.ERROR)),
        ("support = hang", ("support", Mode.HANG)),
        ("accendent=redirect_loop", ("accendent", Mode.REDIRECT_LOOP)),
    ],
)
def test_parse_assignment(text: str, expected: tuple[str, Mode]) -> None:
    """``ENDPOINT=MODE`` parses to the pair."""
    assert parse_assignment(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("mms", "expected ENDPOINT=MODE"),
        ("sms=error", "unknown endpoint 'sms'"),
        ("mms=broken", "unknown fault mode 'broken'"),
        ("mms=", "unknown fault mode ''"),
    ],
)
def test_parse_assignment_rejects(text: str, reason: str) -> None:
    """A bad assignment names what is wrong."""
    with pytest.raises(FaultError, match=reason):
        parse_assignment(text)


def test_parse_request() -> None:
    """A well-formed control body gives the pair."""
    assert parse_request(b'{"endpoint": "mms", "mode": "hang"}') == ("mms", Mode.HANG)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"\xff", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"endpoint": "mms"}', "missing key 'mode'"),
        (b'{"mode": "ok"}', "missing key 'endpoint'"),
        (b'{"endpoint": "mms", "mode": 1}', "'mode' must be a string"),
        (b'{"endpoint": "mms", "mode": "ok", "x": 1}', "unknown key 'x'"),
        (b'{"endpoint": "voice", "mode": "ok"}', "unknown endpoint"),
        (b'{"endpoint": "mms", "mode": "sleepy"}', "unknown fault mode"),
    ],
)
def test_parse_request_rejects(body: bytes, reason: str) -> None:
    """Every malformed body is refused with a reason."""
    with pytest.raises(FaultError, match=reason):
        parse_request(body)


@settings(max_examples=50, deadline=None)
@given(items=st.lists(st.dictionaries(st.text(), st.text() | st.integers()), max_size=5))
def test_truncated_body_never_parses(items: list[dict[str, object]]) -> None:
    """Half of any valid JSON array is not valid JSON."""
    body = json.dumps(items).encode()
    cut = truncated_body(body)
    assert body.startswith(cut)
    assert len(cut) < len(body)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)


def test_object_and_wrong_types_bodies() -> None:
    """``object`` wraps the items; ``wrong_types`` keeps keys but no value keeps its type."""
    items = endpoint_items(Plan(seed=1), "support")
    assert json.loads(object_body(items)) == {"data": items}
    wrong = json.loads(wrong_types_body(items))
    assert [set(item) for item in wrong] == [set(item) for item in items]
    for before, after in zip(items, wrong, strict=True):
        for key, value in before.items():
            assert type(after[key]) is not type(value)


def test_huge_block_is_a_repeatable_array_tail() -> None:
    """``[`` + the block repeated + ``{}]`` would be a valid array: the stream is JSON-like."""
    block = huge_block(endpoint_items(Plan(seed=1), "mms"))
    assert len(block) <= 64 * 1024
    parsed = json.loads(b"[" + block * 3 + b"{}]")
    assert isinstance(parsed, list)
    assert len(parsed) > 100
    assert endpoint_body(Plan(seed=1), "mms").startswith(b"[")
