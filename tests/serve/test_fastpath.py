"""The speed work of issue 7 changes no behaviour: chunked JSON encoding, the /api answer
cache, the front layer's in-flight count, and big inputs parsed one at a time with the
cyclic GC paused. (Timings are in bench/; these tests check only what must stay true.)"""

from __future__ import annotations

import gc
import gzip
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any
from unittest.mock import patch

import httpx
import pytest
import trio
from hypercorn.config import Config
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from hypothesis import given
from hypothesis import strategies as st

from statusd.body import jsonpieces
from statusd.body.document import Document, result_parts
from statusd.body.jsonpieces import encode_json, encode_json_chunked
from statusd.body.spill import joined
from statusd.collect.parse import INLINE_PARSE_BELOW, cyclic_gc_paused
from statusd.collect.supervisor import collect_once
from statusd.metrics import Metrics
from statusd.serve.fastpath import FrontApp
from statusd.serve.http_cache import AnswerCache, negotiate
from statusd.serve.server import serve_front
from statusd.sources.base import Limits, ParseResult, SourceSpec
from statusd.state.holder import StateHolder

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=12)
        | st.dictionaries(st.text(max_size=4), children, max_size=12)
    ),
    max_leaves=60,
)


@given(JSON_VALUES)
def test_chunked_encoding_gives_the_same_bytes(value: Any) -> None:
    """Encoding piece by piece yields exactly ``encode_json``'s bytes, for any JSON value."""
    with patch.object(jsonpieces, "ENCODE_CHUNK_ITEMS", 2):
        assert encode_json_chunked(value) == encode_json(value)


@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(1, 100))
def test_coalesce_keeps_the_bytes_in_bounded_pieces(pieces: list[bytes], size: int) -> None:
    """Joined, the pieces are the input; none is empty; all but the last reach ``size``
    and none passes it by more than one input piece."""
    joined = jsonpieces.coalesce(pieces, size)
    assert b"".join(joined) == b"".join(pieces)
    assert all(joined)
    assert all(len(piece) >= size for piece in joined[:-1])
    assert all(len(piece) < size + 40 for piece in joined)


@given(st.lists(st.text(max_size=8), max_size=30), st.integers(1, 5))
def test_json_rows_pieces_join_with_commas(rows: list[str], per_piece: int) -> None:
    pieces = list(jsonpieces.json_rows_pieces(rows, per_piece))
    assert b"".join(pieces) == ",".join(rows).encode()
    assert len(pieces) == -(-len(rows) // per_piece)


@given(st.lists(st.lists(st.binary(max_size=20), max_size=4), max_size=12), st.integers(1, 60))
def test_json_list_pieces_is_the_list_in_bounded_pieces(
    items: list[list[bytes]], size: int
) -> None:
    pieces = list(jsonpieces.json_list_pieces(items, size))
    assert b"".join(pieces) == b"[" + b",".join(b"".join(item) for item in items) + b"]"
    assert all(len(piece) < size + 21 for piece in pieces)


def test_big_values_are_encoded_in_pieces() -> None:
    """A million-row value is never one bytes object: its pieces are about a MiB."""
    rows = [{"country": "Türkiye", "n": i} for i in range(100_000)]
    pieces = jsonpieces.encode_json_pieces([rows, rows])
    assert b"".join(pieces) == encode_json([rows, rows])
    assert len(pieces) > 2
    assert max(map(len, pieces)) < 2 * jsonpieces.PIECE_BYTES


def test_chunked_encoding_of_big_nested_lists() -> None:
    """The shape of a big SMS value (two long lists of objects) encodes identically."""
    rows = [{"country": "Türkiye", "bandwidth": str(i % 101), "n": i} for i in range(10_000)]
    value = [rows, list(reversed(rows))]
    assert encode_json_chunked(value) == encode_json(value)
    assert encode_json_chunked({"RU": value, "x": 1}) == encode_json({"RU": value, "x": 1})


DOC = Document.of(b'{"status":true,"data":{}}')
OTHER = Document.of(b'{"status":true,"data":{"x":1}}')


@pytest.mark.parametrize("if_none_match", ["", DOC.etag, f"W/{DOC.etag}", '"nope"', "*"])
@pytest.mark.parametrize("accept_encoding", ["", "gzip", "br, gzip;q=0", "identity"])
@pytest.mark.parametrize("max_age", [1, 30])
def test_answer_cache_answers_like_negotiate(
    if_none_match: str, accept_encoding: str, max_age: int
) -> None:
    """The cached answer is what ``negotiate`` builds, on the first and on later requests."""
    cache = AnswerCache()
    expected = negotiate(
        DOC, if_none_match=if_none_match, accept_encoding=accept_encoding, max_age=max_age
    )
    for _ in range(2):
        answer = cache.answer(
            DOC, if_none_match=if_none_match, accept_encoding=accept_encoding, max_age=max_age
        )
        assert answer == expected


def test_answer_cache_follows_a_new_document() -> None:
    """After the document changes, answers carry the new ETag and body."""
    cache = AnswerCache()
    cache.answer(DOC, if_none_match="", accept_encoding="", max_age=5)
    status, headers, body = cache.answer(OTHER, if_none_match="", accept_encoding="", max_age=5)
    assert status == 200
    assert joined(body) == OTHER.body
    assert (b"etag", OTHER.etag.encode()) in headers


class Inner:
    """An inner ASGI app that answers 204 once ``release`` is set, counting its calls."""

    def __init__(self) -> None:
        self.release = trio.Event()
        self.entered = trio.Event()
        self.calls: list[str] = []

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        assert scope["type"] == "http"
        self.calls.append(scope["path"])
        self.entered.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def http_scope(path: str, method: str = "GET", headers: Sequence[tuple[bytes, bytes]] = ()) -> Any:
    return {"type": "http", "path": path, "method": method, "headers": list(headers)}


async def no_receive() -> Any:
    raise AssertionError("the front layer reads no request body")


def front_app() -> tuple[FrontApp, Inner]:
    inner = Inner()
    state = StateHolder(["sms"], 90.0)
    return FrontApp(state, inner, Metrics(["sms"])), inner


async def test_api_is_answered_in_front_like_negotiate() -> None:
    """GET /api gets ``negotiate``'s answer; HEAD the same headers without a body."""
    front, inner = front_app()
    for method in ("GET", "HEAD"):
        sent: list[Any] = []

        async def send(message: Any, sent: list[Any] = sent) -> None:
            sent.append(message)

        with trio.fail_after(5):
            await front(
                http_scope("/api", method, [(b"accept-encoding", b"gzip")]), no_receive, send
            )
        view = front._state.view
        status, headers, body = negotiate(
            view.document,
            if_none_match="",
            accept_encoding="gzip",
            max_age=view.seconds_until_next_collection(trio.current_time()),
        )
        assert sent[0]["status"] == status
        assert sent[0]["headers"] == headers
        pieces = sent[1:]
        assert joined(m["body"] for m in pieces) == (joined(body) if method == "GET" else b"")
        assert [m["more_body"] for m in pieces] == [True] * (len(pieces) - 1) + [False]
    assert inner.calls == []


async def test_a_document_in_parts_is_sent_part_by_part() -> None:
    """A big /api body is never joined: each part is one body message, the last one ends
    it, and Content-Length counts them all (plain and gzip)."""
    front, _ = front_app()
    parts = result_parts([("sms", (b"[" + b"1," * 40, b"1]")), ("support", (b"[1,0]",))])
    document = Document.of_parts(parts, [gzip.compress(joined(parts), mtime=0)], '"parts"')
    assert len(document.parts) > 1
    front._state._view = replace(front._state.view, document=document)
    for encoding, expected in ((b"identity", document.parts), (b"gzip", document.gzip_parts)):
        sent: list[Any] = []

        async def send(message: Any, sent: list[Any] = sent) -> None:
            sent.append(message)

        with trio.fail_after(5):
            await front(
                http_scope("/api", "GET", [(b"accept-encoding", encoding)]), no_receive, send
            )
        headers = dict(sent[0]["headers"])
        assert [m["body"] for m in sent[1:]] == list(expected)
        assert [m["more_body"] for m in sent[1:]][-1] is False
        assert int(headers[b"content-length"]) == sum(map(len, expected))


async def test_api_request_with_a_body_goes_to_the_inner_app() -> None:
    """A request declaring a body is left to Quart (which refuses it)."""
    front, inner = front_app()
    inner.release.set()

    async def send(message: Any) -> None:
        pass

    with trio.fail_after(5):
        await front(http_scope("/api", headers=[(b"content-length", b"3")]), no_receive, send)
    assert inner.calls == ["/api"]


async def test_wait_idle_waits_for_requests_in_flight() -> None:
    """``wait_idle`` returns at once when idle, else only after the last request is answered."""
    front, inner = front_app()

    async def send(message: Any) -> None:
        pass

    with trio.fail_after(5):
        await front.wait_idle()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(front, http_scope("/healthz"), no_receive, send)
            nursery.start_soon(front, http_scope("/"), no_receive, send)
            await trio.testing.wait_all_tasks_blocked()
            assert front.in_flight == 2
            idle = trio.Event()

            async def wait() -> None:
                await front.wait_idle()
                idle.set()

            nursery.start_soon(wait)
            await trio.testing.wait_all_tasks_blocked()
            assert not idle.is_set()
            inner.release.set()
        assert idle.is_set()
        assert front.in_flight == 0


def test_cyclic_gc_is_paused_then_restored_and_new_objects_frozen() -> None:
    """Inside: the collector is off; after: it is as before, and new objects are frozen."""
    assert gc.isenabled()
    before = gc.get_freeze_count()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        made = [[index] for index in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(made)
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


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


async def test_serve_front_answers_in_flight_requests_then_returns() -> None:
    """After the shutdown trigger, the request in flight is answered, then serving ends
    (well before the grace period, which would only bound a request that never ends)."""
    front, inner = front_app()
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.graceful_timeout = 30
    stop = trio.Event()
    statuses: list[int] = []
    with trio.fail_after(15):
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(
                partial(serve_front, front, config, shutdown_trigger=stop.wait, grace=30.0)
            )

            async def request() -> None:
                async with httpx.AsyncClient() as client:
                    response = await client.get(f"{binds[0]}/healthz")
                statuses.append(response.status_code)

            nursery.start_soon(request)
            await inner.entered.wait()
            stop.set()
            await trio.testing.wait_all_tasks_blocked()
            assert front.in_flight == 1
            assert statuses == []
            inner.release.set()
    assert statuses == [204]
    assert front.in_flight == 0
