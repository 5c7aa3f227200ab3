"""The state file: round trip, atomic replacement, and bad files ignored without a crash."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from statusd.persistence import decode_state, encode_state, load_state, write_atomically
from statusd.sources import ALL_SOURCES
from statusd.sources.base import Limits
from statusd.supervisor import parse_and_encode

RAW = {
    "sms": b"RU;40;300;Topolo\nUS;10;2000;Rond\nXX;1;1;Topolo\n",
    "mms": b'[{"country":"GB","provider":"Kildy","bandwidth":"50","response_time":"100"}]',
    "voice_call": b"FR;45;921;TransparentCalls;0.91;308;96;2\n",
    "email": b"RU;Gmail;245\nRU;Yahoo;33\n",
    "billing": b"010011\n",
    "support": b'[{"topic":"SMS","active_tickets":9}]',
    "incident": b'[{"topic":"<b>x</b>","status":"closed"},{"topic":"y","status":"active"}]',
}


def collected() -> list[object]:
    return [
        parse_and_encode(spec, RAW[spec.name], Limits(), 1_800_000_000.0) for spec in ALL_SOURCES
    ]


def test_round_trip_gives_the_same_documents() -> None:
    """Saved and loaded results prepare to exactly the bytes that were served."""
    results = collected()
    loaded = decode_state(encode_state(results), ALL_SOURCES)  # type: ignore[arg-type]
    assert loaded == results


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state" / "last-good.json"
    write_atomically(path, b"one")
    write_atomically(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["last-good.json"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"format": 1, "sources": {"sms": {"wall_time": 1, "skipped": {}, "records": [',
        b"\xff\xfe",
        b"[]",
        b'{"format": 99, "sources": {}}',
        b'{"format": 1, "sources": {"sms": {"wall_time": 1, "skipped": {}, "records": [{}]}}}',
        b'{"format": 1, "sources": {"billing": {"wall_time": 1, "skipped": {}, "records": '
        b'[{"create_customer": 1, "purchase": true, "payout": true, "reccuring": true, '
        b'"fraud_control": true, "checkout_page": true}]}}}',
    ],
)
def test_bad_state_file_is_ignored_with_a_warning(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "last-good.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="statusd.persistence"):
        assert load_state(path, ALL_SOURCES) == []
    assert "state file ignored" in caplog.text


def test_missing_state_file_is_a_quiet_empty_start(tmp_path: Path) -> None:
    assert load_state(tmp_path / "none.json", ALL_SOURCES) == []


def test_partial_sources_are_restored(tmp_path: Path) -> None:
    results = collected()
    path = tmp_path / "s.json"
    path.write_bytes(encode_state(results[:2]))  # type: ignore[arg-type]
    loaded = load_state(path, ALL_SOURCES)
    assert [r.source for r in loaded] == ["sms", "mms"]
    by_provider = json.loads(loaded[0].prepared_json)[0]
    assert [row["country"] for row in by_provider] == ["United States", "Russian Federation"]
