"""The state file: round trip, atomic replacement, and bad files ignored without a crash.

Format 2 stores each source's raw input (base64) and parses it again on load; format 1
(records as objects) is still read. In a format-2 file each source stands alone: a part
that is malformed, not strict base64, over ``max_body_bytes`` or rejected by its parser
costs that source only, with a warning.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from statusd.body.document import ERROR_DOCUMENT
from statusd.body.spill import joined
from statusd.collect.outcome import GoodResult
from statusd.collect.parse import INLINE_PARSE_BELOW, parse_and_encode
from statusd.sources import ALL_SOURCES
from statusd.sources.base import Limits, ParseResult, SourceSpec
from statusd.state import persistence, statefile
from statusd.state.holder import SourceStatus, StateView
from statusd.state.persistence import StateWriter, decode_state, load_state, write_atomically
from statusd.state.statefile import base64_pieces, encode_state
from tests.fakes import FILE_SPEC, prepare_numbers

LIMITS = Limits()
WALL = 1_800_000_000.0
RAW = {
    # skipped lines of every kind: invalid UTF-8, too long, wrong field count, bad country
    "sms": b"RU;40;300;Topolo\nUS;10;2000;Rond\nXX;1;1;Topolo\n\xff\xfe;1;2;Rond\n"
    + b"A" * 5000
    + b"\nRU;40;300\r\n\n",
    "mms": b'[{"country":"GB","provider":"Kildy","bandwidth":"50","response_time":"100"},'
    b'7,{"country":"GB"}]',
    "voice_call": b"\xef\xbb\xbfFR;45;921;TransparentCalls;0.91;308;96;2\nFR;\xc3\x28;1\n",
    "email": b"RU;Gmail;245\nRU;Yahoo;33\nRU;Nobody;1\n",
    "billing": b"010011\n",
    "support": b'[{"topic":"SMS","active_tickets":9},{"topic":"SMS","active_tickets":true}]',
    "incident": b'[{"topic":"<b>x</b>","status":"closed"},{"topic":"y","status":"active"}]',
}
SPECS = {spec.name: spec for spec in ALL_SOURCES}


def collected(limits: Limits = LIMITS) -> list[GoodResult]:
    return [parse_and_encode(spec, RAW[spec.name], limits, WALL) for spec in ALL_SOURCES]


def saved_document(results: list[GoodResult]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(encode_state(results))
    return document


def state_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def test_round_trip_gives_the_same_results() -> None:
    """Saved and loaded results have the same records, skip counts, /api bytes and time."""
    results = collected()
    assert all(r.skipped for r in results if r.source in ("sms", "mms", "voice_call", "email"))
    loaded = decode_state(encode_state(results), ALL_SOURCES, LIMITS)
    assert loaded == results
    for before, after in zip(results, loaded, strict=True):
        assert after.records == before.records
        assert after.prepared_json == before.prepared_json
        assert after.skipped == before.skipped
        assert after.wall_time == before.wall_time
        assert after.raw == before.raw == RAW[before.source]


def test_format_2_stores_the_raw_input_as_base64() -> None:
    document = saved_document(collected())
    assert document["format"] == 2
    assert list(document["sources"]) == list(SPECS)
    for name, part in document["sources"].items():
        assert set(part) == {"wall_time", "raw"}
        assert part["wall_time"] == WALL
        assert base64.b64decode(part["raw"], validate=True) == RAW[name]


def test_restoring_parses_again_under_the_configured_limits() -> None:
    """The records are what a collection today would give: a smaller line cap counts more
    lines as too long, as a fresh collection would."""
    content = encode_state(collected())
    small = Limits(max_line_bytes=11)
    loaded = {r.source: r for r in decode_state(content, ALL_SOURCES, small)}
    assert loaded["email"] == parse_and_encode(SPECS["email"], RAW["email"], small, WALL)
    assert loaded["email"].skipped["line_too_long"] >= 1


@given(st.binary(max_size=100), st.sampled_from([3, 6, 30, 3 * 1024]))
def test_base64_in_pieces_is_the_text_of_one_call(raw: bytes, chunk: int) -> None:
    assert b"".join(base64_pieces(raw, chunk)) == base64.b64encode(raw)


def test_big_input_is_parsed_with_the_gc_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = b"RU;40;300;Topolo\n" * (INLINE_PARSE_BELOW // 17 + 1)
    result = parse_and_encode(SPECS["sms"], raw, LIMITS, WALL)
    big_calls: list[int] = []

    def spy(spec: SourceSpec[Any], data: bytes, limits: Limits, wall: float) -> GoodResult:
        big_calls.append(len(data))
        return parse_and_encode(spec, data, limits, wall)

    monkeypatch.setattr(persistence, "parse_big_input", spy)
    assert decode_state(encode_state([result]), ALL_SOURCES, LIMITS) == [result]
    assert big_calls == [len(raw)]


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state" / "last-good.json"
    write_atomically(path, b"one")
    write_atomically(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["last-good.json"]
    write_atomically(path, [b"th", b"", b"ree"])  # pieces, as the state writer gives them
    assert path.read_bytes() == b"three"


def test_state_in_pieces_is_the_state_file() -> None:
    """The writer's pieces (never joined) are the bytes ``encode_state`` describes, and a
    big input's base64 stays in pieces of ``BASE64_CHUNK_BYTES`` of input."""
    results = collected()
    pieces = list(statefile.encode_state_pieces(results))
    assert b"".join(pieces) == encode_state(results)
    assert max(map(len, pieces)) <= 4 * statefile.BASE64_CHUNK_BYTES // 3 + 64


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"format": 1, "sources": {"sms": {"wall_time": 1, "skipped": {}, "records": [',
        b"\xff\xfe",
        b"[]",
        b'{"format": 99, "sources": {}}',
        b'{"format": 2, "sources": []}',
        b'{"format": "2", "sources": {}}',
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
        assert load_state(path, ALL_SOURCES, LIMITS) == []
    assert "state file ignored" in caplog.text


def test_missing_state_file_is_a_quiet_empty_start(tmp_path: Path) -> None:
    assert load_state(tmp_path / "none.json", ALL_SOURCES, LIMITS) == []


def test_partial_sources_are_restored(tmp_path: Path) -> None:
    results = collected()
    path = tmp_path / "s.json"
    path.write_bytes(encode_state(results[:2]))
    loaded = load_state(path, ALL_SOURCES, LIMITS)
    assert [r.source for r in loaded] == ["sms", "mms"]
    by_provider = json.loads(joined(loaded[0].prepared_json))[0]
    assert [row["country"] for row in by_provider] == ["United States", "Russian Federation"]


# A format-1 file as the previous statusd wrote it (records as objects), written by hand.
FORMAT_1: dict[str, Any] = {
    "format": 1,
    "sources": {
        "sms": {
            "wall_time": WALL,
            "skipped": {"country": 1},
            "records": [
                {"country": "RU", "bandwidth": "40", "response_time": "300", "provider": "Topolo"},
                {"country": "US", "bandwidth": "10", "response_time": "2000", "provider": "Rond"},
            ],
        },
        "billing": {
            "wall_time": WALL,
            "skipped": {},
            "records": [
                {
                    "create_customer": True,
                    "purchase": True,
                    "payout": False,
                    "reccuring": False,
                    "fraud_control": True,
                    "checkout_page": False,
                }
            ],
        },
        "incident": {
            "wall_time": WALL,
            "skipped": {},
            "records": [
                {"topic": "<b>x</b>", "status": "closed"},
                {"topic": "y", "status": "active"},
            ],
        },
    },
}


def test_format_1_file_is_still_restored(tmp_path: Path) -> None:
    """What users have on disk after an upgrade gives the results it was written from."""
    path = tmp_path / "last-good.json"
    path.write_bytes(state_bytes(FORMAT_1))
    loaded = load_state(path, ALL_SOURCES, LIMITS)
    sms_raw = b"RU;40;300;Topolo\nUS;10;2000;Rond\nXX;1;1;Topolo\n"
    expected = [
        parse_and_encode(SPECS["sms"], sms_raw, LIMITS, WALL),
        parse_and_encode(SPECS["billing"], RAW["billing"], LIMITS, WALL),
        parse_and_encode(SPECS["incident"], RAW["incident"], LIMITS, WALL),
    ]
    assert loaded == [replace(result, raw=b"") for result in expected]


def test_results_restored_from_format_1_survive_the_next_restart() -> None:
    """A result without its input is saved as records in the format-2 file and read back
    the same, so a source still down after the upgrade keeps its data across restarts."""
    old = decode_state(state_bytes(FORMAT_1), ALL_SOURCES, LIMITS)
    fresh = parse_and_encode(SPECS["mms"], RAW["mms"], LIMITS, WALL + 60)
    content = encode_state([*old, fresh])
    document = json.loads(content)
    assert document["format"] == 2
    assert set(document["sources"]["sms"]) == {"wall_time", "skipped", "records"}
    assert set(document["sources"]["mms"]) == {"wall_time", "raw"}
    assert decode_state(content, ALL_SOURCES, LIMITS) == [old[0], fresh, *old[1:]]


def test_result_without_raw_round_trips() -> None:
    """Results built without ``raw`` (tests, an empty file) keep their records and counts."""
    empty_file = parse_and_encode(SPECS["sms"], b"", LIMITS, WALL)
    assert empty_file.raw == b""
    by_hand = replace(collected()[0], raw=b"")
    assert decode_state(encode_state([by_hand]), ALL_SOURCES, LIMITS) == [by_hand]
    assert decode_state(encode_state([empty_file]), ALL_SOURCES, LIMITS) == [empty_file]


def assert_only_sms_skipped(
    content: bytes, caplog: pytest.LogCaptureFixture, reason: str, limits: Limits = LIMITS
) -> None:
    with caplog.at_level(logging.WARNING, logger="statusd.persistence"):
        loaded = decode_state(content, ALL_SOURCES, limits)
    assert [r.source for r in loaded] == [name for name in SPECS if name != "sms"]
    assert loaded == [r for r in collected(limits) if r.source != "sms"]
    [record] = caplog.records
    assert record.getMessage() == "saved source not restored"
    assert record.levelno == logging.WARNING
    assert getattr(record, "source", None) == "sms"
    assert reason in getattr(record, "error", "")


@pytest.mark.parametrize(
    "text",
    [
        "!!!!",
        "UlU7NDA7MzAwO1RvcG9sbwo",  # padding missing
        "UlU7NDA7\nMzAwO1RvcG9sbwo=",  # a newline: not strict base64
        "UlU7NDA7MzAwO1RvcG9sbwo=" + "=",
        "UlU7NDA7MzAwO1RvcG9sbwo=é",  # not ASCII
    ],
)
def test_corrupt_base64_skips_that_source_only(text: str, caplog: pytest.LogCaptureFixture) -> None:
    """Decided: a part that is not strict base64 costs its source, not the whole file."""
    document = saved_document(collected())
    document["sources"]["sms"]["raw"] = text
    assert_only_sms_skipped(state_bytes(document), caplog, "invalid base64")


@pytest.mark.parametrize(
    "part",
    [
        [],
        "raw",
        {"raw": "UlU7NDA7MzAwO1RvcG9sbwo="},
        {"wall_time": True, "raw": "UlU7NDA7MzAwO1RvcG9sbwo="},
        {"wall_time": "1", "raw": "UlU7NDA7MzAwO1RvcG9sbwo="},
        {"wall_time": float("nan"), "raw": "UlU7NDA7MzAwO1RvcG9sbwo="},
        {"wall_time": 1.0, "raw": None},
        {"wall_time": 1.0, "raw": 5},
        {"wall_time": 1.0, "records": [{}], "skipped": {}},
    ],
)
def test_malformed_part_skips_that_source_only(
    part: object, caplog: pytest.LogCaptureFixture
) -> None:
    document = saved_document(collected())
    document["sources"]["sms"] = part
    assert_only_sms_skipped(state_bytes(document), caplog, "")


@pytest.mark.parametrize("version", [1, 2])
def test_a_null_part_is_no_saved_result(version: int) -> None:
    """As before format 2: ``"sms": null`` means nothing saved for sms, in either format."""
    document = FORMAT_1 if version == 1 else saved_document(collected())
    document = {**document, "sources": {**document["sources"], "sms": None}}
    loaded = decode_state(state_bytes(document), ALL_SOURCES, LIMITS)
    assert [r.source for r in loaded] == [n for n in SPECS if n in document["sources"]][1:]


def test_raw_over_max_body_bytes_is_rejected(caplog: pytest.LogCaptureFixture) -> None:
    """The cap a source's input must fit under holds for a saved input too (to the byte)."""
    biggest = max(len(raw) for name, raw in RAW.items() if name != "sms")
    limits = Limits(max_body_bytes=biggest)
    document = saved_document(collected())
    for over in (1, 1000):  # 1000: its base64 alone is too long, refused before decoding
        document["sources"]["sms"]["raw"] = base64.b64encode(b"x" * (biggest + over)).decode()
        caplog.clear()
        assert_only_sms_skipped(state_bytes(document), caplog, "larger than", limits)
    exactly = b"RU;40;300;Topolo\n" * 3
    result = parse_and_encode(SPECS["sms"], exactly, LIMITS, WALL)
    at_cap = Limits(max_body_bytes=len(exactly))
    assert decode_state(encode_state([result]), ALL_SOURCES, at_cap) == [result]


def test_raw_the_parser_rejects_skips_that_source_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A JSON source whose saved body is not an array (the parser's SourceError)."""
    document = saved_document(collected())
    document["sources"]["mms"]["raw"] = base64.b64encode(b'{"not": "an array"}').decode()
    with caplog.at_level(logging.WARNING, logger="statusd.persistence"):
        loaded = decode_state(state_bytes(document), ALL_SOURCES, LIMITS)
    assert loaded == [r for r in collected() if r.source != "mms"]
    [record] = caplog.records
    assert record.getMessage() == "saved source not restored"
    assert getattr(record, "source", None) == "mms"
    assert getattr(record, "error", None) == "body is not a JSON array"


def test_a_parser_bug_skips_that_source_only(caplog: pytest.LogCaptureFixture) -> None:
    def broken(raw: bytes, limits: Limits) -> ParseResult[int]:
        raise RuntimeError("bug")

    broken_spec = SourceSpec("broken", "file", "b.data", int, broken, prepare_numbers)
    numbers = parse_and_encode(FILE_SPEC, b"[3, 1, 2]", LIMITS, WALL)
    content = encode_state([replace(numbers, source="broken"), numbers])
    with caplog.at_level(logging.WARNING, logger="statusd.persistence"):
        loaded = decode_state(content, [broken_spec, FILE_SPEC], LIMITS)
    assert loaded == [numbers]
    [record] = caplog.records
    assert record.getMessage() == "saved source not restored"
    assert record.levelno == logging.ERROR  # with the traceback: a bug to fix


def view_of(results: list[GoodResult]) -> StateView:
    statuses = {r.source: SourceStatus(r.source, good=r, good_at=0.0) for r in results}
    return StateView(ERROR_DOCUMENT, statuses, frozenset(), False, 0, WALL)


async def test_writer_saves_format_2_and_the_next_start_restores_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer task end to end: collected results as base64, a result restored from a
    format-1 file as records; loading the file gives them all back."""
    path = tmp_path / "state" / "last-good.json"
    written = trio.Event()

    def write_and_tell(target: Path, content: bytes) -> None:
        write_atomically(target, content)
        trio.from_thread.run_sync(written.set)

    monkeypatch.setattr(persistence, "write_atomically", write_and_tell)
    old_sms = decode_state(state_bytes(FORMAT_1), ALL_SOURCES, LIMITS)[0]
    results = [old_sms, *(r for r in collected() if r.source != "sms")]
    writer = StateWriter(path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        writer.observe(view_of(results))
        with trio.fail_after(10):
            await written.wait()
        nursery.cancel_scope.cancel()
    document = json.loads(path.read_bytes())
    assert document["format"] == 2
    assert set(document["sources"]["sms"]) == {"wall_time", "skipped", "records"}
    assert set(document["sources"]["mms"]) == {"wall_time", "raw"}
    assert load_state(path, ALL_SOURCES, LIMITS) == results
