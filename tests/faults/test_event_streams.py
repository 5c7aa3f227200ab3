"""Event streams under their own limit (issue 16): the whole app (``FrontApp`` over the
Quart app) served for real by ``serve_limited`` on 127.0.0.1 (port 0), with
``max_event_streams=3`` and only two connection slots for requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing

from statusd.collect.outcome import CollectionOutcome
from statusd.config import Settings
from statusd.metrics import Metrics
from statusd.serve.app import create_app
from statusd.serve.fastpath import FrontApp
from statusd.serve.streams import RETRY_AFTER_RANGE, EventStreams
from statusd.state.holder import StateHolder
from tests.fakes import outcome
from tests.serve.test_server import connect, read_until_closed, serving

NAMES = ("a", "b")
STREAMS = 3
CONNECTIONS = 2


@asynccontextmanager
async def statusd_app() -> AsyncIterator[tuple[int, EventStreams]]:
    """statusd's app with data, served with ``max_connections=2``; (port, streams)."""
    state = StateHolder(NAMES, stale_after=90)
    send, receive = trio.open_memory_channel[CollectionOutcome](0)
    metrics = Metrics(list(NAMES))
    streams = EventStreams(STREAMS)
    settings = Settings(max_event_streams=STREAMS)
    app = FrontApp(state, create_app(state, settings, metrics, streams=streams), metrics)
    async with trio.open_nursery() as nursery:
        await nursery.start(state.run, receive)
        await send.send(outcome("a", [1]))
        await send.send(outcome("b", [2]))
        async with serving(app, max_connections=CONNECTIONS) as (port, _stop, _stopped):
            yield port, streams
        state.close()
        nursery.cancel_scope.cancel()


async def get(port: int, path: str) -> tuple[bytes, bytes]:
    """One request on its own connection (closed by the server after it): (head, body)."""
    stream = await connect(port)
    async with stream:
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
        )
        head, _, body = (await read_until_closed(stream)).partition(b"\r\n\r\n")
        return head, body


def header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


async def open_stream(port: int) -> trio.SocketStream:
    """An /api/events stream that has received its first event."""
    stream = await connect(port)
    await stream.send_all(b"GET /api/events HTTP/1.1\r\nHost: t\r\n\r\n")
    data = bytearray()
    while b"data: " not in data:
        chunk = await stream.receive_some(65536)
        assert chunk, f"stream closed: {bytes(data)!r}"
        data += chunk
    assert data.startswith(b"HTTP/1.1 200"), bytes(data)
    return stream


async def test_streams_beyond_the_limit_get_503_and_requests_keep_their_slots() -> None:
    """Three streams open: the fourth gets 503 with Retry-After at once; /api, /healthz and
    /readyz still answer although the streams outnumber the two connection slots; closing
    one stream lets a new one in."""
    with trio.fail_after(20):
        async with statusd_app() as (port, streams):
            opened = [await open_stream(port) for _ in range(STREAMS)]
            assert streams.open == STREAMS
            head, body = await get(port, "/api/events")
            assert head.startswith(b"HTTP/1.1 503"), head
            retry_after = header(head, b"retry-after")
            assert retry_after is not None
            low, high = RETRY_AFTER_RANGE
            assert low <= int(retry_after) <= high
            assert b"Retry-After" in (header(head, b"access-control-expose-headers") or b"")
            assert json.loads(body)["retry_after"] == int(retry_after)
            for path in ("/api", "/healthz", "/readyz", "/api", "/healthz"):
                head, body = await get(port, path)
                assert head.startswith(b"HTTP/1.1 200"), (path, head)
            assert json.loads((await get(port, "/api"))[1])["status"] is True

            await opened.pop().aclose()
            await streams.wait_open_below(STREAMS)  # the server notices the close
            opened.append(await open_stream(port))
            assert streams.open == STREAMS
            for stream in opened:
                await stream.aclose()


async def test_retry_after_is_jittered() -> None:
    """Refused clients are not all told the same wait."""
    streams = EventStreams(0)
    seen = {streams.retry_after() for _ in range(50)}
    assert len(seen) > 1
    assert all(RETRY_AFTER_RANGE[0] <= s <= RETRY_AFTER_RANGE[1] for s in seen)


async def test_zero_streams_means_every_page_polls() -> None:
    """``max_event_streams = 0`` refuses every stream; requests are served as usual."""
    streams = EventStreams(0)
    assert not streams.has_room()
    assert not streams.acquire(None)
