"""Connection limits hypercorn does not have: a cap on concurrent connections, a bound on
sends to clients that stopped reading, and keep-alive connections that really go idle.

``serve_limited`` is ``hypercorn.trio.serve`` (its ``worker_serve``, plain HTTP only) with
these changes, so the daemon can call it in the same place with the same arguments:

- the listener is a ``GuardedListener``: it accepts a connection only while fewer than
  ``max_connections`` are open (the rest wait in the kernel's backlog, as with nginx's
  ``worker_connections``), and hands hypercorn ``GuardedStream``s, which give the slot back
  when closed and cut a client that accepts no byte for ``send_timeout`` seconds. Without
  that, hypercorn's socket write (shielded from cancellation) waits forever on a client
  that stopped reading a large response, pinning the connection and holding shutdown past
  ``graceful_timeout``. When shutdown starts, every send is bounded by the graceful
  timeout as well;
- the app is wrapped by ``shield_sends``: quart-trio cancels its own request nursery when
  hypercorn delivers ``http.disconnect`` during the response's last send, which interrupts
  hypercorn's bookkeeping, so the keep-alive connection never becomes idle, is never closed
  by ``keep_alive_timeout`` and holds shutdown for the whole ``graceful_timeout``.
  Finishing each send under a shield lets the bookkeeping complete;
- with ``max_header_bytes``, a request head over it is answered 431 even when it arrived
  in one read (``refuse_large_headers``);
- a connection that becomes a long event stream leaves the cap (``GuardedStream.leave_cap``;
  ``statusd.serve.streams`` counts streams against their own limit), so streams alone can never
  fill ``max_connections`` and lock requests out;
- when every slot is taken and a new client waits in the backlog, the oldest keep-alive
  connection that is idle between two requests is closed to make room for it, so idle
  keep-alive connections cannot lock out ``/healthz`` either (a client sees an ordinary
  keep-alive close and reconnects).

Each connection's ``GuardedStream`` is in the ASGI scope's ``state`` under
``CONNECTION_STATE_KEY`` (hypercorn copies the connection state into every request's scope).

Everything hypercorn-specific is imported from its modules as ``worker_serve`` uses them
(hypercorn is pinned below 0.19); ``tests/serve/test_server.py`` checks the behaviour.

``serve_front`` is hypercorn's ``serve`` that ends a graceful shutdown as soon as the
requests in flight are answered (``FrontApp.wait_idle``): hypercorn 0.18 itself waits out its
whole graceful timeout whenever a kept-alive client sent its next request just as the
shutdown began (its h11 connection then waits for a read that never comes), which under
load is every time (docs/bench.md, "start and stop").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, cast

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.statsd import StatsdLogger
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    ConnectionState,
    HTTPScope,
    LifespanState,
    Scope,
)
from hypercorn.utils import ShutdownError, raise_shutdown, repr_socket_addr, wrap_app

from statusd.serve.connections import (
    CONNECTION_STATE_KEY,
    DEFAULT_SEND_TIMEOUT,
    GuardedListener,
    GuardedStream,
    GuardedTCPServer,
)
from statusd.serve.fastpath import FrontApp


def head_size(scope: HTTPScope) -> int:
    """Bytes of a request head as sent: request line and ``name: value`` lines."""
    line = len(scope["method"]) + len(scope["raw_path"]) + len(scope["query_string"]) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


def refuse_large_headers(app: ASGIFramework, max_header_bytes: int) -> ASGIFramework:
    """``app`` behind a check that answers 431 to a request head over ``max_header_bytes``.

    hypercorn's ``h11_max_incomplete_size`` only counts a head still incomplete after a read,
    so a head that arrives whole (up to 64 KiB per read) passes it; this makes the limit hold
    for every head.
    """

    async def limited_app(
        scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "http" and head_size(scope) > max_header_bytes:
            body = b'{"error":"request header fields too large"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 431,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                    "trailers": False,
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await app(scope, receive, send)

    return limited_app


def shield_sends(app: ASGIFramework) -> ASGIFramework:
    """``app`` whose every ``send`` finishes even if the app cancels itself meanwhile."""

    async def shielded_app(
        scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def shielded_send(message: ASGISendEvent) -> None:
            with trio.CancelScope(shield=True):
                await send(message)

        await app(scope, receive, shielded_send)

    return shielded_app


async def serve_limited(
    app: ASGIFramework,
    config: Config,
    *,
    max_connections: int,
    max_header_bytes: int | None = None,
    send_timeout: float = DEFAULT_SEND_TIMEOUT,
    shutdown_trigger: Callable[[], Awaitable[Any]],
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` like ``hypercorn.trio.serve`` (plain HTTP), with the limits above.

    ``max_header_bytes`` (when given) is enforced for every request head, not only for
    heads that arrive in several reads. Reports the bound URLs through ``task_status``;
    returns after a graceful shutdown:
    ``shutdown_trigger`` returned, listeners closed, open connections given at most
    ``config.graceful_timeout`` (sends included) before they are cut.
    """
    config.set_statsd_logger_class(StatsdLogger)
    if max_header_bytes is not None:
        app = refuse_large_headers(app, max_header_bytes)
    wrapped = wrap_app(shield_sends(app), config.wsgi_max_body_size, "asgi")
    lifespan_state: LifespanState = {}
    lifespan = Lifespan(wrapped, config, lifespan_state)
    context = WorkerContext(None)
    sockets = config.create_sockets()
    if sockets.secure_sockets or sockets.quic_sockets:
        raise ValueError("serve_limited serves plain HTTP only")

    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()

        async with trio.open_nursery() as server_nursery:
            listeners: list[GuardedListener] = []
            binds: list[str] = []
            for sock in sockets.insecure_sockets:
                sock.listen(config.backlog)
                inner = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
                listeners.append(GuardedListener(inner, max_connections, send_timeout))
                bind = repr_socket_addr(sock.family, sock.getsockname())
                binds.append(f"http://{bind}")
                await config.log.info(f"Running on http://{bind} (CTRL + C to quit)")

            def handler(stream: GuardedStream) -> GuardedTCPServer:
                state = ConnectionState({**lifespan_state, CONNECTION_STATE_KEY: stream})
                return GuardedTCPServer(wrapped, config, context, state, cast(Any, stream))

            task_status.started(binds)
            try:
                async with trio.open_nursery(strict_exception_groups=True) as nursery:
                    nursery.start_soon(raise_shutdown, shutdown_trigger)
                    nursery.start_soon(raise_shutdown, context.terminate.wait)
                    nursery.start_soon(
                        partial(
                            trio.serve_listeners,
                            handler,
                            listeners,
                            handler_nursery=server_nursery,
                        )
                    )
                    await trio.sleep_forever()
            except BaseExceptionGroup as error:
                _, other_errors = error.split((ShutdownError, KeyboardInterrupt))
                if other_errors is not None:
                    raise other_errors from None
            finally:
                await context.terminated.set()
                deadline = trio.current_time() + config.graceful_timeout
                server_nursery.cancel_scope.deadline = deadline
                for listener in listeners:
                    listener.stop_waiting_sends(deadline)

        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()


Server = Callable[..., Awaitable[None]]
"""``hypercorn.trio.serve`` or a function with its signature (``serve_limited``)."""


IDLE_SETTLE = 0.05
"""After a shutdown, how long no request must be in flight before the server is stopped."""


async def serve_front(
    app: FrontApp,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    grace: float,
    server: Server = serve,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """``server(app, config, shutdown_trigger=…)`` (hypercorn's ``serve`` unless given);
    once the trigger fires, it returns as soon as no request is in flight (at most ``grace``
    seconds later) instead of waiting for the server to close every connection."""
    async with trio.open_nursery() as nursery:

        async def end_when_idle() -> None:
            await shutdown_trigger()
            with trio.move_on_after(grace):
                while True:  # idle, and still idle a moment later (no request was being read)
                    await app.wait_idle()
                    await trio.sleep(IDLE_SETTLE)
                    if not app.in_flight:
                        break
            nursery.cancel_scope.cancel()

        nursery.start_soon(end_when_idle)
        await server(app, config, shutdown_trigger=shutdown_trigger, task_status=task_status)
        nursery.cancel_scope.cancel()
