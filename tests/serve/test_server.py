"""``statusd.serve.server``: the connection cap, bounded sends and idle keep-alive connections,
served for real on 127.0.0.1 (port 0) inside the test's nursery."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import httpx
import pytest
import trio
import trio.testing
from hypercorn.config import Config
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart_trio import QuartTrio

from statusd.serve.connections import GuardedListener, GuardedStream, waiting_in_backlog
from statusd.serve.server import serve_front, serve_limited
from tests.serve.asgi import front_app

BIG = b"x" * (8 * 1024 * 1024)
"""More than any socket buffer pair holds: a response this big stays in flight."""

ASGIApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]


async def plain_app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """``/big`` answers ``BIG``, anything else ``ok``; answers the lifespan protocol."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http"
    body = BIG if scope["path"] == "/big" else b"ok"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def held_until(release: trio.Event) -> ASGIApp:
    """``plain_app`` whose ``/slow`` answers only once ``release`` is set."""

    async def slow_app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] == "http" and scope["path"] == "/slow":
            await release.wait()
        await plain_app(scope, receive, send)

    return slow_app


def quart_app() -> QuartTrio:
    app = QuartTrio("limits-test")

    @app.route("/")
    async def index() -> str:
        return "ok"

    return app


@asynccontextmanager
async def serving(
    app: ASGIApp | QuartTrio,
    *,
    max_connections: int = 100,
    max_header_bytes: int | None = None,
    send_timeout: float = 60.0,
    keep_alive: float = 60.0,
    graceful: float = 5.0,
) -> AsyncIterator[tuple[int, trio.Event, trio.Event]]:
    """Serve ``app`` with ``serve_limited``; yields (port, stop, stopped)."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.keep_alive_timeout = keep_alive
    config.graceful_timeout = graceful
    config.accesslog = None
    stop, stopped = trio.Event(), trio.Event()

    async def run(*, task_status: trio.TaskStatus[list[str]]) -> None:
        await serve_limited(
            app,
            config,
            max_connections=max_connections,
            max_header_bytes=max_header_bytes,
            send_timeout=send_timeout,
            shutdown_trigger=stop.wait,
            task_status=task_status,
        )
        stopped.set()

    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(run)
        port = int(binds[0].rsplit(":", 1)[1])
        yield port, stop, stopped
        stop.set()


async def connect(port: int, *, receive_buffer: int | None = None) -> trio.SocketStream:
    sock = trio.socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, receive_buffer)
    await sock.connect(("127.0.0.1", port))
    return trio.SocketStream(sock)


async def request(stream: trio.SocketStream, path: str = "/") -> None:
    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())


async def read_response(stream: trio.SocketStream) -> bytes:
    """One whole response with a Content-Length body; returns the body."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some(65536)
        assert chunk, "closed before the response head"
        data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    rest = bytearray(body)
    while len(rest) < length:
        chunk = await stream.receive_some(1 << 20)
        assert chunk, f"closed after {len(rest)} of {length} body bytes"
        rest += chunk
    return bytes(rest)


async def read_until_closed(stream: trio.SocketStream) -> bytes:
    data = bytearray()
    while chunk := await stream.receive_some(65536):
        data += chunk
    return bytes(data)


async def test_connections_beyond_the_limit_wait_for_a_free_slot() -> None:
    """With two slots held by requests in progress, a third connection is not served; once
    they are answered and closed, it is."""
    release = trio.Event()
    slow_app = held_until(release)

    with trio.fail_after(20):
        async with serving(slow_app, max_connections=2, keep_alive=0.2) as (port, _, _):
            first, second = await connect(port), await connect(port)
            for stream in (first, second):
                await request(stream, "/slow")
            third = await connect(port)  # the kernel completes the handshake (backlog)
            await request(third)
            answered = trio.Event()

            async def wait_answer() -> None:
                assert await read_response(third) == b"ok"
                answered.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait_answer)
                await trio.testing.wait_all_tasks_blocked(cushion=0.2)
                assert not answered.is_set()
                release.set()
                for stream in (first, second):
                    assert await read_response(stream) == b"ok"
                    await stream.aclose()
                await answered.wait()
            await third.aclose()


async def test_idle_keep_alive_connection_after_a_quart_response_is_closed() -> None:
    """A keep-alive connection idle after a quart-trio response is closed by the server
    after keep_alive_timeout (without the send shield it stays open forever)."""
    with trio.fail_after(20):
        async with serving(quart_app(), keep_alive=0.3) as (port, _stop, _stopped):
            stream = await connect(port)
            await request(stream)
            assert await read_response(stream) == b"ok"
            assert await read_until_closed(stream) == b""
            await stream.aclose()


async def test_stalled_reader_is_cut_and_frees_its_slot() -> None:
    """A client that stops reading a big response is disconnected after send_timeout, and
    the next connection gets the slot."""
    with trio.fail_after(30):
        async with serving(plain_app, max_connections=1, send_timeout=0.5, keep_alive=0.2) as (
            port,
            _,
            _,
        ):
            stalled = await connect(port, receive_buffer=4096)
            await request(stalled, "/big")
            waiting = await connect(port)
            await request(waiting)
            assert await read_response(waiting) == b"ok"
            received = await read_until_closed(stalled)
            assert len(received) < len(BIG)  # cut, not completed
            await stalled.aclose()
            await waiting.aclose()


async def test_shutdown_does_not_wait_forever_for_a_stalled_reader() -> None:
    """Shutdown with a stalled reader returns within the graceful timeout (plus slack),
    although the send timeout is far longer."""
    with trio.fail_after(20):
        async with serving(plain_app, send_timeout=3600, graceful=1.0) as (port, stop, stopped):
            stalled = await connect(port, receive_buffer=4096)
            await request(stalled, "/big")
            await trio.testing.wait_all_tasks_blocked(cushion=0.2)
            stop.set()
            await stopped.wait()
            await stalled.aclose()


async def test_in_flight_response_completes_during_shutdown() -> None:
    """A big response half read when shutdown starts still arrives whole."""
    with trio.fail_after(20):
        async with serving(plain_app) as (port, stop, stopped):
            reader = await connect(port, receive_buffer=4096)
            await request(reader, "/big")
            first = await reader.receive_some(65536)
            assert first.startswith(b"HTTP/1.1 200")
            stop.set()
            rest = await read_until_closed(reader)
            body = (bytes(first) + rest).partition(b"\r\n\r\n")[2]
            assert body == BIG
            await stopped.wait()
            await reader.aclose()


async def test_a_cancelled_close_still_frees_the_slot() -> None:
    """``aclose`` gives the slot back before it awaits anything, so even a cancelled close
    (as trio's ``aclose_forcefully`` does) never leaks a slot."""
    with trio.fail_after(10):
        sock = trio.socket.socket()
        await sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        listener = GuardedListener(trio.SocketListener(sock), 1, 1.0)
        client = await connect(sock.getsockname()[1])
        stream = await listener.accept()
        assert listener.open_connections == 1
        await trio.aclose_forcefully(stream)
        assert listener.open_connections == 0
        await client.aclose()
        await listener.aclose()


async def listening(backlog: int = 8) -> tuple[trio.socket.SocketType, int]:
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    return sock, sock.getsockname()[1]


async def idle_at_the_cap() -> tuple[
    GuardedListener, list[trio.SocketStream], list[GuardedStream], list[trio.SocketStream]
]:
    """A listener of 3 slots held by 3 connections idle between requests (their clients
    too), and 2 newcomers waiting in its accept queue."""
    sock, port = await listening()
    listener = GuardedListener(trio.SocketListener(sock), 3, 1.0)
    clients = [await connect(port) for _ in range(3)]
    held = [await listener.accept() for _ in clients]
    for stream in held:
        stream.set_idle(True)
    return listener, clients, held, [await connect(port), await connect(port)]


async def test_the_accept_queue_length_is_read_from_the_kernel() -> None:
    sock, port = await listening()
    clients = [await connect(port) for _ in range(3)]
    assert waiting_in_backlog(sock) == (3 if sys.platform == "linux" else None)
    for client in clients:
        await client.aclose()
    sock.close()


@pytest.mark.skipif(sys.platform != "linux", reason="the accept queue is read from TCP_INFO")
async def test_at_the_cap_one_idle_connection_is_closed_per_waiting_client() -> None:
    """Every client waiting in the backlog gets an idle keep-alive closed for it at once,
    not one per accept (each of which waited for the closed connection's task)."""
    with trio.fail_after(10):
        listener, clients, held, newcomers = await idle_at_the_cap()
        accepted: list[GuardedStream] = []
        async with trio.open_nursery() as nursery:

            async def accept() -> None:
                accepted.append(await listener.accept())

            nursery.start_soon(accept)
            await trio.testing.wait_all_tasks_blocked()
            # The two oldest were closed for the two newcomers, the third kept.
            assert [await stream.receive_some() for stream in held[:2]] == [b"", b""]
            await held[2].send_all(b"still open")
            assert await clients[2].receive_some() == b"still open"
            await held[0].aclose()
        assert len(accepted) == 1
        for closing in (*held[1:], *accepted, *clients, *newcomers):
            await closing.aclose()
        await listener.aclose()


@pytest.mark.skipif(sys.platform != "linux", reason="the accept queue is read from TCP_INFO")
async def test_clients_waiting_together_are_taken_together_up_to_the_free_slots() -> None:
    """One turn of the event loop takes every waiting client a slot is free for; the
    rest wait in the queue."""
    with trio.fail_after(10):
        sock, port = await listening()
        listener = GuardedListener(trio.SocketListener(sock), 2, 1.0)
        clients = [await connect(port) for _ in range(3)]
        first = await listener.accept()
        assert waiting_in_backlog(sock) == 1  # two taken at once: the cap is 2
        with trio.testing.assert_no_checkpoints():
            second = await listener.accept()  # already taken: handed out at once
        assert listener.open_connections == 2
        await first.aclose()
        third = await listener.accept()
        assert waiting_in_backlog(sock) == 0
        for stream in (second, third, *clients):
            await stream.aclose()
        await listener.aclose()
        assert listener.open_connections == 0


@pytest.mark.skipif(sys.platform != "linux", reason="the accept queue is read from TCP_INFO")
async def test_an_idle_connection_is_not_closed_twice_for_the_same_waiting_client() -> None:
    """Closing an idle connection takes a turn of the loop; a waiting client that one is
    already being closed for does not get another one closed meanwhile."""
    with trio.fail_after(10):
        listener, clients, held, newcomers = await idle_at_the_cap()
        async with trio.open_nursery() as nursery:
            accepted: list[GuardedStream] = []

            async def accept() -> None:
                accepted.append(await listener.accept())

            nursery.start_soon(accept)
            await trio.testing.wait_all_tasks_blocked()
            await held[0].aclose()  # one slot back: one newcomer is taken
            await trio.testing.wait_all_tasks_blocked()
            assert len(accepted) == 1
            nursery.start_soon(accept)
            await trio.testing.wait_all_tasks_blocked()
            assert listener.idle_connections == 1  # held[2]: the newcomer waits for held[1]
            await held[1].aclose()
        assert len(accepted) == 2
        for closing in (held[2], *accepted, *clients, *newcomers):
            await closing.aclose()
        await listener.aclose()


def test_at_least_one_connection() -> None:
    with pytest.raises(ValueError, match="max_connections must be >= 1"):
        GuardedListener(None, 0, 1.0)  # type: ignore[arg-type]


async def test_connection_close_after_a_quart_response_is_honoured() -> None:
    """``Connection: close`` after a quart-trio response: the server closes the connection
    (without the send shield it is left open)."""
    with trio.fail_after(20):
        async with serving(quart_app()) as (port, _stop, _stopped):
            stream = await connect(port)
            await stream.send_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert await read_response(stream) == b"ok"
            assert await read_until_closed(stream) == b""
            await stream.aclose()


async def test_a_head_over_the_limit_is_refused_even_when_it_arrives_at_once() -> None:
    with trio.fail_after(20):
        async with serving(plain_app, max_header_bytes=1024) as (port, _stop, _stopped):
            for filler, expected in ((500, b"HTTP/1.1 200"), (2048, b"HTTP/1.1 431")):
                stream = await connect(port)
                await stream.send_all(
                    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: %s\r\n\r\n" % (b"a" * filler)
                )
                answer = await stream.receive_some(65536)
                assert answer.startswith(expected), (filler, answer[:40])
                await stream.aclose()


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


async def test_idle_keep_alive_connections_make_room_for_a_waiting_client() -> None:
    """With every slot held by keep-alive connections idle between requests, a new client
    is served at once (the oldest idle one is closed for it), long before keep_alive."""
    with trio.fail_after(10):
        async with serving(plain_app, max_connections=2, keep_alive=60) as (port, _, _):
            idle = [await connect(port), await connect(port)]
            for stream in idle:
                await request(stream)
                assert await read_response(stream) == b"ok"
            newcomer = await connect(port)
            await request(newcomer)
            assert await read_response(newcomer) == b"ok"
            assert await read_until_closed(idle[0]) == b""  # the oldest made room
            await request(idle[1])  # the other one is still served
            assert await read_response(idle[1]) == b"ok"
            for stream in (*idle, newcomer):
                await stream.aclose()


async def test_a_connection_in_a_request_is_never_reclaimed() -> None:
    """Only idle connections are closed for newcomers: one whose request is being answered
    keeps its slot and the newcomer waits."""
    release = trio.Event()
    slow_app = held_until(release)

    with trio.fail_after(10):
        async with serving(slow_app, max_connections=1, keep_alive=60) as (port, _, _):
            busy = await connect(port)
            await request(busy, "/slow")
            await trio.testing.wait_all_tasks_blocked(cushion=0.1)
            newcomer = await connect(port)
            await request(newcomer)
            await trio.testing.wait_all_tasks_blocked(cushion=0.2)
            release.set()
            assert await read_response(busy) == b"ok"
            await busy.aclose()
            assert await read_response(newcomer) == b"ok"
            await newcomer.aclose()
