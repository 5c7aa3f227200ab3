"""Worker processes (``statusd.collect.bigparse``): the same result as a parse in statusd, on disk.

Real worker processes are started (``python -m statusd.collect._bigparse_child``); each
test's inputs are small, so they run in a fraction of a second each.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from statusd.body.document import build_result_document
from statusd.body.spill import SPAN_CHUNK_BYTES, FileSpan, SpillFile, crc32_combine, joined
from statusd.collect import bigparse, parse
from statusd.collect.bigparse import (
    SpillUnavailable,
    parse_in_worker,
    result_of_answer,
    spill_input,
)
from statusd.collect.outcome import GoodResult
from statusd.collect.parse import LastInput, WorkerProcesses, parse_and_encode, parse_input
from statusd.collect.supervisor import collect_once
from statusd.metrics import Metrics
from statusd.serve.fastpath import FrontApp
from statusd.sources import ALL_SOURCES
from statusd.sources.base import Limits, SourceError
from statusd.state.holder import StateHolder
from statusd.state.persistence import load_state, restore_state, write_atomically
from statusd.state.statefile import encode_state_pieces
from statusd.verdicts.rules import (
    ROW_RULES,
    SUMMARY_CHUNK_ROWS,
    CountryProviders,
    CountrySummary,
    VerdictThresholds,
    compute_verdicts,
    summarize_countries,
)

SPECS = {spec.name: spec for spec in ALL_SOURCES}
THRESHOLDS = VerdictThresholds(sms_max_response_time=700, voice_max_ttfb=400)
LIMITS = Limits(max_line_bytes=200)
PRODUCT = {"sms": "sms", "mms": "mms", "voice_call": "voice", "email": "email"}


def sms_input(rows: int, rng: random.Random) -> bytes:
    lines = [
        f"{rng.choice(['DE', 'FR', 'RU', 'ZZ', 'BR'])};{rng.randint(0, 120)};"
        f"{rng.randint(0, 2000)};{rng.choice(['Topolo', 'Rond', 'Kildy', 'kildy'])}"
        for _ in range(rows)
    ]
    lines[3] = " DE ; 07 ;0900; Rond "  # valid, but not in the plain form
    lines[5] = "x" * 300  # too long
    return ("\ufeff" + "\n".join(lines) + "\r\n\n").encode()


def voice_input(rows: int, rng: random.Random) -> bytes:
    lines = [
        f"{rng.choice(['DE', 'US', 'JP'])};{rng.randint(0, 100)};{rng.randint(0, 900)};"
        f"{rng.choice(['TransparentCalls', 'E-Voice', 'JustPhone'])};"
        f"{rng.choice(['0.81', '1.00', '0.5', '0', '0.90', '1.01'])};{rng.randint(0, 900)};"
        f"{rng.randint(0, 100)};{rng.randint(0, 60)}"
        for _ in range(rows)
    ]
    return "\n".join(lines).encode() + b"\n\xff\xfe;bad\n"


def email_input(rows: int, rng: random.Random) -> bytes:
    lines = [
        f"{rng.choice(['DE', 'US', 'GB'])};{rng.choice(['Gmail', 'MSN', 'Yandex', 'Nope'])};"
        f"{rng.randint(0, 600)}"
        for _ in range(rows)
    ]
    return "\n".join(lines).encode()


def mms_input(rows: int, rng: random.Random) -> bytes:
    items: list[Any] = [
        {
            "country": rng.choice(["DE", "FR", "XX"]),
            "provider": rng.choice(["Topolo", "Rond", "Kildy"]),
            "bandwidth": str(rng.randint(0, 100)),
            "response_time": str(rng.randint(0, 1500)),
        }
        for _ in range(rows)
    ]
    items.append({"country": "DE"})
    return json.dumps(items).encode()


INPUTS = {"sms": sms_input, "voice_call": voice_input, "email": email_input, "mms": mms_input}


async def in_worker(name: str, raw: bytes, spill_dir: Path) -> GoodResult:
    return await parse_in_worker(
        SPECS[name], raw, LIMITS, 123.0, spill_dir=spill_dir, thresholds=THRESHOLDS
    )


@pytest.mark.parametrize("name", sorted(INPUTS))
async def test_a_worker_gives_the_result_of_a_parse_in_statusd(name: str, tmp_path: Path) -> None:
    raw = INPUTS[name](3000, random.Random(name))
    inside = parse_and_encode(SPECS[name], raw, LIMITS, 123.0)
    result = await in_worker(name, raw, tmp_path)
    assert inside.skipped, "the input has skipped records"
    assert joined(result.prepared_json) == joined(inside.prepared_json)
    assert result.skipped == inside.skipped
    assert result.record_count == len(inside.records) > 0
    assert result.records == ()
    assert result.wall_time == 123.0
    assert joined([result.raw]) == raw
    segment = joined([result.prepared_deflate])
    assert zlib.decompressobj(-zlib.MAX_WBITS).decompress(segment) == joined(inside.prepared_json)
    assert result.summary == summarize_countries(PRODUCT[name], inside.records, THRESHOLDS)
    with_rows = compute_verdicts({name: inside.records}, THRESHOLDS)
    with_summary = compute_verdicts({name: result.verdict_rows}, THRESHOLDS)
    assert with_summary == with_rows
    assert os.listdir(tmp_path) == []  # the spill file has no name


async def test_the_document_of_spans_is_the_document_of_bytes(tmp_path: Path) -> None:
    """/api built from worker results: same body, a valid gzip body, its own ETag."""
    rng = random.Random(5)
    names = ("sms", "voice_call")
    raws = {name: INPUTS[name](2000, rng) for name in names}
    inside = {name: parse_and_encode(SPECS[name], raws[name], LIMITS, 1.0) for name in names}
    spilled = {name: await in_worker(name, raws[name], tmp_path) for name in names}
    expected = build_result_document([(n, inside[n].prepared_json) for n in names])
    document = build_result_document(
        [(n, spilled[n].prepared_json) for n in names],
        [spilled[n].prepared_deflate for n in names],
    )
    assert any(isinstance(part, FileSpan) for part in document.parts)
    assert document.body == expected.body
    assert document.length == len(expected.body)
    assert gzip.decompress(document.gzip_body) == expected.body
    assert document.gzip_length == len(document.gzip_body)
    other = parse_and_encode(SPECS["sms"], INPUTS["sms"](2000, rng), LIMITS, 1.0)
    changed = build_result_document(
        [("sms", other.prepared_json), ("voice_call", spilled["voice_call"].prepared_json)],
        [b"", spilled["voice_call"].prepared_deflate],
    )
    assert changed.etag != document.etag
    again = build_result_document(
        [(n, spilled[n].prepared_json) for n in names],
        [spilled[n].prepared_deflate for n in names],
    )
    assert again.etag == document.etag


async def test_a_rejected_input_fails_with_the_parsers_reason(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="body is not a JSON array"):
        await in_worker("mms", b'{"an": "object"}', tmp_path)


async def test_a_crashing_worker_fails_the_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bigparse, "worker_request", lambda *args: "not json")
    with pytest.raises(SourceError, match=r"internal error .*worker status 1"):
        await in_worker("sms", sms_input(50, random.Random(1)), tmp_path)


async def test_cancelling_stops_the_worker(tmp_path: Path) -> None:
    """A deadline that passes while a worker runs ends the wait at once (the worker is
    killed by trio's ``run_process``)."""
    raw = voice_input(200_000, random.Random(2))
    with trio.move_on_after(0.3) as scope:
        await in_worker("voice_call", raw, tmp_path)
    assert scope.cancelled_caught


def spill_of(data: bytes, tmp_path: Path) -> SpillFile:
    return spill_input(tmp_path, data)


@pytest.mark.parametrize(
    "answer",
    [
        b"",
        b"[]",
        b'{"value": [0, 1, "00", 0]}',
        b'{"skipped": {}, "records": 1, "value": [4, 900, "00", 0], "deflate": [4, 0],'
        b' "summary": null}',
        b'{"skipped": {}, "records": 1, "value": [4, 2, "zz", 0], "deflate": [4, 0],'
        b' "summary": null}',
        b'{"skipped": {}, "records": 1, "value": [4, 2, "00", 0], "deflate": [4, 0],'
        b' "summary": {"DE": [["Rond"], ["Rond"]]}}',
        b'{"skipped": {}, "records": 1, "value": [4.0, 2, "00", 0], "deflate": [4, 0],'
        b' "summary": null}',
        b"x" * (bigparse.MAX_ANSWER_BYTES + 1),
    ],
)
def test_an_answer_that_does_not_fit_is_an_internal_error(answer: bytes, tmp_path: Path) -> None:
    """Only answers that describe the spill file are taken (support has no summary)."""
    spill = spill_of(b"abcd[]", tmp_path)
    with pytest.raises(SourceError, match="internal error"):
        result_of_answer(SPECS["support"], spill, 4, answer, 1.0, THRESHOLDS)


def test_a_worker_that_cannot_write_its_spill_file_hands_the_input_back(tmp_path: Path) -> None:
    """A full disk is no fault of the source: the input is then parsed in statusd."""
    spill = spill_of(b"abcd", tmp_path)
    answer = b'{"spill_error": "No space left on device"}'
    with pytest.raises(SpillUnavailable, match="No space left"):
        result_of_answer(SPECS["support"], spill, 4, answer, 1.0, THRESHOLDS)


def test_a_fitting_answer_is_a_result(tmp_path: Path) -> None:
    spill = spill_of(b"abcd[]xyz", tmp_path)
    answer = (
        b'{"skipped": {"x": 2}, "records": 7, "value": [4, 2, "00ff", 5], "deflate": [6, 3],'
        b' "summary": null}'
    )
    result = result_of_answer(SPECS["support"], spill, 4, answer, 1.0, THRESHOLDS)
    assert joined(result.prepared_json) == b"[]"
    assert joined([result.prepared_deflate]) == b"xyz"
    assert joined([result.raw]) == b"abcd"
    assert (result.skipped, result.record_count, result.summary) == ({"x": 2}, 7, None)
    assert result.prepared_json[0] == FileSpan(spill, 4, 2, b"\x00\xff", 5)


def test_no_spill_file_where_the_directory_cannot_be(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(SpillUnavailable, match="no spill file"):
        spill_input(blocker / "state", b"raw")


async def test_without_a_spill_file_the_input_is_parsed_in_a_thread(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    workers = WorkerProcesses(1, blocker / "state", THRESHOLDS, trio.CapacityLimiter(1))
    raw = sms_input(20_000, random.Random(3))
    result = await parse_input(SPECS["sms"], raw, LIMITS, 1.0, workers=workers)
    assert len(result.records) == result.record_count > 0  # records kept: parsed in statusd
    assert result.summary is None


async def test_small_inputs_never_go_to_a_worker(tmp_path: Path) -> None:
    workers = WorkerProcesses(1, tmp_path, THRESHOLDS, trio.CapacityLimiter(1))
    result = await parse_input(SPECS["sms"], b"DE;50;100;Rond\n", LIMITS, 1.0, workers=workers)
    assert result.records
    assert result.summary is None


def test_a_spill_file_is_closed_with_its_last_span(tmp_path: Path) -> None:
    spill = spill_of(b"0123456789", tmp_path)
    fd = spill.fd
    span = FileSpan(spill, 2, 5)
    assert span.read_chunk(1, 2) == b"34"
    assert list(span.chunks(2)) == [b"23", b"45", b"6"]
    assert span.read_all() == b"23456"
    del spill
    assert span.read_all() == b"23456"  # the span keeps its file open
    del span
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


def test_a_span_past_the_end_of_its_file_is_an_error(tmp_path: Path) -> None:
    span = FileSpan(spill_of(b"0123", tmp_path), 2, 5)
    with pytest.raises(OSError, match="ended early"):
        span.read_all()


@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_crc32_combine_is_the_crc_of_the_concatenation(first: bytes, second: bytes) -> None:
    combined = crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second))
    assert combined == zlib.crc32(first + second)


def test_summarized_rows_must_match_the_thresholds() -> None:
    """A summary made under other thresholds (or of another product) is refused, not used."""
    records = parse_and_encode(SPECS["sms"], sms_input(100, random.Random(4)), LIMITS, 1.0)
    summary = summarize_countries("sms", records.records, VerdictThresholds())
    with pytest.raises(ValueError, match="other thresholds"):
        compute_verdicts({"sms": summary}, THRESHOLDS)
    with pytest.raises(ValueError, match="other thresholds or product"):
        compute_verdicts({"mms": summary}, VerdictThresholds())
    with pytest.raises(ValueError, match="only country sources"):
        compute_verdicts({"billing": summary}, VerdictThresholds())


async def test_front_sends_a_span_in_chunks(tmp_path: Path) -> None:
    """/api with a worker's value: the span is read a chunk at a time, the bytes are the
    body, the last message ends it."""
    value = b"[" + b"1," * (SPAN_CHUNK_BYTES // 2 + 10) + b"1]"
    spill = spill_of(value, tmp_path)
    span = FileSpan(spill, 0, len(value), b"d", zlib.crc32(value))
    document = build_result_document(
        [("sms", (span,))],
        [FileSpan(spill, 0, 0)],  # an empty segment: gzip unused here
    )
    state = StateHolder(["sms"], 90.0)
    state._view = replace(state.view, document=document)
    front = FrontApp(state, no_inner_app, Metrics(["sms"]))
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/api", "query_string": b"", "method": "GET", "headers": []}
    with trio.fail_after(10):
        await front(scope, no_receive, send)  # type: ignore[arg-type]
    bodies = [message["body"] for message in sent[1:]]
    assert (
        b"".join(bodies)
        == document.body
        == b'{"status":true,"data":{"sms":' + value + (b'},"error":""}')
    )
    assert max(map(len, bodies)) <= SPAN_CHUNK_BYTES
    assert [m["more_body"] for m in sent[1:]] == [True] * (len(bodies) - 1) + [False]
    assert int(dict(sent[0]["headers"])[b"content-length"]) == document.length


async def no_inner_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("/api is answered in front")


async def no_receive() -> Any:
    raise AssertionError("the front layer reads no request body")


async def test_a_spilled_input_is_saved_and_restored(tmp_path: Path) -> None:
    """The state file holds a worker result's input (read from its spill file) and a
    restart parses it again to the same value."""
    raw = voice_input(3000, random.Random(8))
    result = await in_worker("voice_call", raw, tmp_path / "spill")
    path = tmp_path / "state.json"
    write_atomically(path, encode_state_pieces([result]))
    (restored,) = load_state(path, ALL_SOURCES, LIMITS)
    assert joined(restored.prepared_json) == joined(result.prepared_json)
    assert restored.raw == raw
    assert restored.skipped == result.skipped


def naive_summary(product: str, rows: list[Any], thresholds: VerdictThresholds) -> CountrySummary:
    """The plain loop: every row judged by the row rule."""
    providers: dict[str, set[str]] = {}
    good: dict[str, set[str]] = {}
    for row in rows:
        providers.setdefault(row.country, set()).add(row.provider)
        if ROW_RULES[product](row, thresholds):
            good.setdefault(row.country, set()).add(row.provider)
    countries = {
        code: CountryProviders(frozenset(names), frozenset(good.get(code, ())))
        for code, names in providers.items()
    }
    return CountrySummary(product, thresholds, countries)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["sms", "voice_call", "email"]),
    st.integers(0, 2**32),
    st.integers(10, 3 * SUMMARY_CHUNK_ROWS),
    st.integers(0, 2000),
)
def test_summary_in_chunks_is_the_plain_loop(name: str, seed: int, rows: int, limit: int) -> None:
    """Chunks skipped because their pairs are known good change nothing, whatever the
    thresholds (strict ones leave many pairs without a good row)."""
    records = list(
        parse_and_encode(SPECS[name], INPUTS[name](rows, random.Random(seed)), LIMITS, 1).records
    )
    thresholds = VerdictThresholds(
        sms_max_response_time=limit, voice_max_ttfb=limit // 2, email_max_delivery_time=limit // 4
    )
    product = PRODUCT[name]
    assert summarize_countries(product, records, thresholds) == naive_summary(
        product, records, thresholds
    )


async def test_saved_big_inputs_are_restored_by_worker_processes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At start a big saved input is parsed as a collection would parse it (in a worker:
    no records kept), a rejected one is skipped with a warning, the others are restored."""
    raw = sms_input(20_000, random.Random(9))
    inside = parse_and_encode(SPECS["sms"], raw, LIMITS, 5.0)
    rejected = replace(
        parse_and_encode(SPECS["support"], b"[]", LIMITS, 5.0), raw=b'{"not": "a list"}'
    )
    billing = parse_and_encode(SPECS["billing"], b"101100", LIMITS, 6.0)
    path = tmp_path / "state.json"
    write_atomically(path, encode_state_pieces([inside, rejected, billing]))
    workers = WorkerProcesses(1, tmp_path / "spill", THRESHOLDS, trio.CapacityLimiter(2))
    restored = await restore_state(path, ALL_SOURCES, LIMITS, workers=workers)
    assert [result.source for result in restored] == ["sms", "billing"]
    sms, billing_again = restored
    assert sms.records == ()
    assert sms.summary == summarize_countries("sms", inside.records, THRESHOLDS)
    assert joined(sms.prepared_json) == joined(inside.prepared_json)
    assert (sms.wall_time, sms.skipped) == (5.0, inside.skipped)
    assert joined(billing_again.prepared_json) == joined(billing.prepared_json)
    assert "saved source not restored" in caplog.text


async def test_an_unchanged_input_is_not_parsed_again_after_a_restart(tmp_path: Path) -> None:
    """The collectors start with the restored inputs' digests: the first collection of a
    source whose bytes did not change reuses the restored result (no worker runs)."""
    raw = sms_input(20_000, random.Random(10))
    path = tmp_path / "state.json"
    write_atomically(path, encode_state_pieces([parse_and_encode(SPECS["sms"], raw, LIMITS, 5.0)]))
    workers = WorkerProcesses(1, tmp_path / "spill", THRESHOLDS, trio.CapacityLimiter(2))
    last_inputs: dict[str, LastInput] = {}
    (restored,) = await restore_state(
        path, ALL_SOURCES, LIMITS, workers=workers, last_inputs=last_inputs
    )

    async def same_bytes() -> bytes:
        return raw

    async def no_worker(*args: Any, **kwargs: Any) -> GoodResult:
        raise AssertionError("an unchanged input must not be parsed again")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse, "parse_in_worker", no_worker)
        result, error = await collect_once(
            SPECS["sms"], same_bytes, LIMITS, 30.0, last=last_inputs["sms"], workers=workers
        )
    assert error is None
    assert result is not None
    assert result.prepared_json is restored.prepared_json
    assert result.wall_time > restored.wall_time

    async def new_bytes() -> bytes:
        return raw + b"\nDE;50;100;Rond\n"

    changed, error = await collect_once(
        SPECS["sms"], new_bytes, LIMITS, 30.0, last=last_inputs["sms"], workers=workers
    )
    assert changed is not None
    assert changed.record_count == restored.record_count + 1
