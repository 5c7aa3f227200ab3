"""Collectors: deadlines, retries, size caps and the interval loop (MockClock: instant)."""

from __future__ import annotations

import gc
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import trio
import trio.lowlevel
import trio.testing

from statusd.body.spill import joined
from statusd.collect.outcome import CollectionOutcome
from statusd.collect.parse import INLINE_PARSE_BELOW, LastInput
from statusd.collect.supervisor import collect_once, make_fetch, run_collectors
from statusd.config import Settings
from statusd.sources.base import Limits, ParseResult, SourceSpec
from tests.fakes import FILE_SPEC, HTTP_SPEC

LIMITS = Limits()


def client_for(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler)


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "source_url": "http://sources.test",
        "interval": 30.0,
        "deadline": 5.0,
        "stale_after": 90.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def test_http_success_is_parsed_prepared_and_encoded(tmp_path: Path) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/numbers"
        return httpx.Response(200, json=[3, 1, "x", 2])

    settings = settings_for(tmp_path)
    async with client_for(httpx.MockTransport(handler)) as client:
        fetch = make_fetch(HTTP_SPEC, settings, client)
        result, error = await collect_once(HTTP_SPEC, fetch, LIMITS, 5.0)
    assert error is None
    assert result is not None
    assert json.loads(joined(result.prepared_json)) == [1, 2, 3]
    assert result.skipped == {"wrong_type": 1}


async def test_hang_fails_at_the_deadline(autojump_clock: trio.abc.Clock, tmp_path: Path) -> None:
    """A source that never answers fails exactly when the deadline passes."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError

    settings = settings_for(tmp_path)
    async with client_for(httpx.MockTransport(handler)) as client:
        started = trio.current_time()
        result, error = await collect_once(
            HTTP_SPEC, make_fetch(HTTP_SPEC, settings, client), LIMITS, 5.0
        )
    assert result is None
    assert error == "no result within the 5 s deadline"
    assert trio.current_time() - started == 5.0


async def test_server_errors_are_retried_within_the_deadline(
    autojump_clock: trio.abc.Clock, tmp_path: Path
) -> None:
    """A 500 then a 200: the blip is ridden over inside one collection."""
    answers = [httpx.Response(500), httpx.Response(200, json=[1])]

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    settings = settings_for(tmp_path)
    async with client_for(httpx.MockTransport(handler)) as client:
        result, error = await collect_once(
            HTTP_SPEC, make_fetch(HTTP_SPEC, settings, client), LIMITS, 5.0
        )
    assert error is None
    assert result is not None


async def test_persistent_error_is_reported_after_three_attempts(
    autojump_clock: trio.abc.Clock, tmp_path: Path
) -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(404)

    settings = settings_for(tmp_path)
    async with client_for(httpx.MockTransport(handler)) as client:
        result, error = await collect_once(
            HTTP_SPEC, make_fetch(HTTP_SPEC, settings, client), LIMITS, 5.0
        )
    assert (result, error, calls) == (None, "HTTP 404", 3)


async def test_body_over_the_cap_fails_without_reading_it_all(tmp_path: Path) -> None:
    """An endless body is cut at the cap: the stream is abandoned, not buffered."""
    sent = 0

    async def endless() -> object:
        nonlocal sent
        while True:
            sent += 65536
            await trio.lowlevel.checkpoint()  # like a socket read: every chunk is a checkpoint
            yield b"[" * 65536

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())  # type: ignore[arg-type]

    settings = settings_for(tmp_path, max_body_bytes=1024 * 1024)
    async with client_for(httpx.MockTransport(handler)) as client:
        result, error = await collect_once(
            HTTP_SPEC, make_fetch(HTTP_SPEC, settings, client), LIMITS, 5.0
        )
    assert result is None
    assert error == "body larger than 1 MiB"
    assert sent < 4 * 1024 * 1024


async def test_parse_failure_is_a_source_failure(tmp_path: Path) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{not json")

    settings = settings_for(tmp_path)
    async with client_for(httpx.MockTransport(handler)) as client:
        result, error = await collect_once(
            HTTP_SPEC, make_fetch(HTTP_SPEC, settings, client), LIMITS, 5.0
        )
    assert (result, error) == (None, "invalid JSON")


async def test_collectors_run_on_their_interval(
    thread_friendly_clock: trio.abc.Clock, tmp_path: Path
) -> None:
    """Every source is collected at start and then every interval; failures do not stop it."""
    (tmp_path / "numbers.data").write_text("[1]")
    settings = settings_for(tmp_path)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    seen: list[tuple[float, str, bool]] = []
    async with client_for(httpx.MockTransport(handler)) as client, trio.open_nursery() as nursery:
        send, receive = trio.open_memory_channel[CollectionOutcome](0)
        await nursery.start(run_collectors, [FILE_SPEC, HTTP_SPEC], settings, client, send)
        async for item in receive:
            seen.append((round(trio.current_time(), 1), item.source, item.result is not None))
            if len(seen) == 6:
                break
        nursery.cancel_scope.cancel()
    by_source = {
        name: [(t, ok) for t, n, ok in seen if n == name] for name in ("numbers", "remote")
    }
    assert by_source["numbers"] == [(0.0, True), (30.0, True), (60.0, True)]
    # the HTTP source spends its retry pauses (0.2 + 0.5 s) before reporting each failure
    assert by_source["remote"] == [(0.7, False), (30.7, False), (60.7, False)]


async def test_a_parser_bug_is_a_failed_collection_not_a_crash(tmp_path: Path) -> None:
    """An unexpected exception in parsing fails that collection with a short reason."""

    def broken_parse(raw: bytes, limits: Limits) -> ParseResult[int]:
        raise ZeroDivisionError

    spec = SourceSpec("broken", "http", "/numbers", int, broken_parse, sorted)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[1])

    settings = settings_for(tmp_path)
    async with client_for(httpx.MockTransport(handler)) as client:
        result, error = await collect_once(spec, make_fetch(spec, settings, client), LIMITS, 5.0)
    assert result is None
    assert error == "internal error while reading the source (ZeroDivisionError)"


def counting_spec(parsed: list[bytes]) -> SourceSpec[int]:
    """A JSON-numbers source that notes every input it parses in ``parsed``."""

    def counting_parse(raw: bytes, limits: Limits) -> ParseResult[int]:
        parsed.append(raw)
        return ParseResult(tuple(json.loads(raw)))

    return SourceSpec("counted", "http", "/numbers", int, counting_parse, sorted)


async def test_unchanged_input_reuses_the_last_result(tmp_path: Path) -> None:
    """The same bytes again: the previous records with a new time, not parsed again."""
    parsed: list[bytes] = []
    spec = counting_spec(parsed)
    bodies = [b"[2, 1]", b"[2, 1]", b"[3, 1]"]

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bodies.pop(0))

    last = LastInput()
    settings = settings_for(tmp_path)
    async with client_for(httpx.MockTransport(handler)) as client:
        fetch = make_fetch(spec, settings, client)
        first, _ = await collect_once(spec, fetch, LIMITS, 5.0, last=last)
        second, _ = await collect_once(spec, fetch, LIMITS, 5.0, last=last)
        third, _ = await collect_once(spec, fetch, LIMITS, 5.0, last=last)
    assert first is not None
    assert second is not None
    assert third is not None
    assert parsed == [b"[2, 1]", b"[3, 1]"]
    assert second.records is first.records
    assert second.prepared_json is first.prepared_json
    assert second.wall_time >= first.wall_time
    assert json.loads(joined(third.prepared_json)) == [1, 3]
    assert last.result is third


async def test_a_failed_collection_keeps_the_last_input(tmp_path: Path) -> None:
    """A failure in between does not make the next identical input parse again."""
    parsed: list[bytes] = []
    spec = counting_spec(parsed)
    statuses = [200, 404, 404, 404, 200]

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(statuses.pop(0), content=b"[1]")

    last = LastInput()
    settings = settings_for(tmp_path)
    async with client_for(httpx.MockTransport(handler)) as client:
        fetch = make_fetch(spec, settings, client)
        good, _ = await collect_once(spec, fetch, LIMITS, 5.0, last=last)
        failed, error = await collect_once(spec, fetch, LIMITS, 0.1, last=last)
        again, _ = await collect_once(spec, fetch, LIMITS, 5.0, last=last)
    assert failed is None
    assert error is not None
    assert good is not None
    assert again is not None
    assert again.records is good.records
    assert parsed == [b"[1]"]


class ConcurrencyProbe:
    """A parser that records how many copies of it run at the same moment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def parse(self, raw: bytes, limits: Limits) -> ParseResult[int]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return ParseResult((len(raw),))


async def test_big_inputs_are_parsed_one_at_a_time() -> None:
    """With a shared limiter of one, two big collections never parse at the same time."""
    probe = ConcurrencyProbe()
    spec: SourceSpec[int] = SourceSpec("big", "file", "big.data", int, probe.parse, list)
    big = b"x" * INLINE_PARSE_BELOW
    limiter = trio.CapacityLimiter(1)
    results: list[Any] = []

    async def fetch() -> bytes:
        return big

    async def collect() -> None:
        results.append(await collect_once(spec, fetch, Limits(), 30.0, big_inputs=limiter))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(collect)
    assert probe.most == 1
    assert [error for _, error in results] == [None, None, None]
    gc.unfreeze()
