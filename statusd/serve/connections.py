"""Connections under limits: the capped listener, the bounded stream, hypercorn's TCP server
that frees a slot at once, and the file-descriptor limit (``serve.server`` serves with them).

See ``statusd.serve.server`` for why each limit exists.
"""

from __future__ import annotations

import errno
import math
import os
import resource
import socket
import struct
from collections import deque
from itertools import islice
from typing import cast

import trio
from hypercorn.events import Event, Updated
from hypercorn.trio.tcp_server import TCPServer

DEFAULT_SEND_TIMEOUT = 10.0
"""Seconds a client may accept no data before its connection is closed."""
SEND_CHUNK = 64 * 1024
"""Sends are made in pieces of this size, each under its own ``send_timeout``: a slow but
moving client is never cut, a stalled one is cut after ``send_timeout``."""
ACCEPT_BATCH = 64
"""Clients taken from the accept queue at most per turn of the event loop."""
IGNORED_ACCEPT_ERRNOS = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})
"""A client that failed while it waited in the queue (as ``trio.SocketListener`` ignores)."""
TCP_INFO_QUEUED_OFFSET = 24
"""Where Linux's ``struct tcp_info`` has ``tcpi_unacked``, which for a listening socket is
the number of connections waiting in its accept queue (8 one-byte fields, 4 ``u32`` before)."""
CONNECTION_STATE_KEY = "statusd.connection"
"""Key of the request's ``GuardedStream`` in the ASGI scope's ``state``."""


class GuardedListener(trio.abc.Listener["GuardedStream"]):
    """A listener that keeps at most ``max_connections`` accepted connections open."""

    def __init__(self, inner: trio.SocketListener, max_connections: int, send_timeout: float):
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections}")
        self._inner = inner
        self._slots = trio.CapacityLimiter(max_connections)
        self.send_timeout = send_timeout
        self.abort_sends_at = math.inf
        """trio time after which no send may wait any more (set when shutdown starts)."""
        self._sending: set[trio.CancelScope] = set()
        self._idle: dict[GuardedStream, None] = {}
        """Connections idle between two requests, oldest first (a dict keeps order)."""
        self._closing: set[GuardedStream] = set()
        """Idle connections closed for waiting clients whose slots are not back yet."""
        self._accepted: deque[tuple[socket.socket, object]] = deque()
        """Connections taken from the queue, not handed out yet, each with its slot."""
        # The listening socket as the standard library's (a duplicate descriptor of the same
        # socket, non-blocking like it): its accept() takes a client without a checkpoint.
        self._raw = socket.socket(fileno=os.dup(inner.socket.fileno()))
        self._raw.setblocking(False)

    @property
    def open_connections(self) -> int:
        """Accepted connections that hold a slot (event streams have left the cap)."""
        return int(self._slots.borrowed_tokens)

    @property
    def idle_connections(self) -> int:
        """Accepted connections waiting for their next request (closable for newcomers)."""
        return len(self._idle)

    @property
    def socket(self) -> trio.socket.SocketType:
        return self._inner.socket

    async def accept(self) -> GuardedStream:
        """The next connection, each holding a slot until it is closed. Clients waiting in
        the accept queue are taken together (``_accept_waiting``) and handed out one per
        call without a checkpoint: taken one per call, each accept waited for a turn of the
        event loop, and under load new connections waited 0.3-2.4 s in the queue while
        established ones were answered in 0.1 s."""
        while not self._accepted:
            await self._accept_waiting()
        sock, token = self._accepted.popleft()
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
        return GuardedStream(stream, self, token)

    async def _accept_waiting(self) -> None:
        """Wait for a free slot and a client, then take every client waiting in the queue
        that a free slot is left for (at most ``ACCEPT_BATCH``)."""
        if not self._slots.available_tokens:
            # Full: once clients wait in the backlog, close an idle keep-alive for each. One
            # at a time, each accept waited for the closed one's task to run: with 5,000
            # pages asking every 10 s (a new connection each, the keep-alive being 5 s)
            # accepts fell behind and requests waited 8 s in the backlog.
            await trio.lowlevel.wait_readable(self._inner.socket)
            self._reclaim_idle(waiting_in_backlog(self._inner.socket) or 1)
        token = object()
        await self._slots.acquire_on_behalf_of(token)
        try:
            await trio.lowlevel.wait_readable(self._inner.socket)
        except BaseException:
            self._slots.release_on_behalf_of(token)
            raise
        while len(self._accepted) < ACCEPT_BATCH:
            try:
                sock, _ = self._raw.accept()
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno in IGNORED_ACCEPT_ERRNOS:
                    continue  # that client gave up while it waited
                self._slots.release_on_behalf_of(token)
                if error.errno == errno.EBADF:
                    raise trio.ClosedResourceError from None
                if self._accepted:
                    return  # hand out what was taken; the error comes back on the next call
                raise
            self._accepted.append((sock, token))
            token = object()
            try:
                self._slots.acquire_on_behalf_of_nowait(token)
            except trio.WouldBlock:
                return
        self._slots.release_on_behalf_of(token)

    async def aclose(self) -> None:
        while self._accepted:
            sock, token = self._accepted.popleft()
            sock.close()
            self._slots.release_on_behalf_of(token)
        self._raw.close()
        await self._inner.aclose()

    def stop_waiting_sends(self, deadline: float) -> None:
        """From now on no send waits past ``deadline`` (trio time), current ones included."""
        self.abort_sends_at = min(self.abort_sends_at, deadline)
        for scope in self._sending:
            scope.deadline = min(scope.deadline, deadline)

    def _release(self, token: object) -> None:
        self._slots.release_on_behalf_of(token)

    def _reclaim_idle(self, waiting: int) -> None:
        """Close the oldest connections idle between requests, one per ``waiting`` client
        that no connection already being closed makes room for (fewer if fewer are idle)."""
        for stream in list(islice(self._idle, max(0, waiting - len(self._closing)))):
            stream.reclaim()
            self._closing.add(stream)


def waiting_in_backlog(sock: trio.socket.SocketType) -> int | None:
    """Connections waiting in a listening socket's accept queue (None where the kernel does
    not say: not Linux, or not TCP)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except (AttributeError, OSError):
        return None
    if len(info) < TCP_INFO_QUEUED_OFFSET + 4:
        return None
    queued: int = struct.unpack_from("=I", info, TCP_INFO_QUEUED_OFFSET)[0]
    return queued


class GuardedStream(trio.abc.HalfCloseableStream):
    """A connection of a ``GuardedListener``: bounded sends, slot released on close.

    hypercorn's ``TCPServer`` reads ``.socket`` and, as this is no TLS stream, finds no
    ``do_handshake``; everything else is the trio stream interface.
    """

    def __init__(self, inner: trio.SocketStream, owner: GuardedListener, token: object) -> None:
        self._inner = inner
        self._owner = owner
        self._token: object | None = token
        self._receiving: trio.CancelScope | None = None
        self._reclaimed = False

    @property
    def socket(self) -> trio.socket.SocketType:
        return self._inner.socket

    @property
    def holds_slot(self) -> bool:
        """Whether this connection counts against ``max_connections``."""
        return self._token is not None

    def leave_cap(self) -> None:
        """Give the slot back now: the connection has become a long event stream, which is
        limited on its own. It must not serve another request (send ``Connection: close``)."""
        self._owner._closing.discard(self)
        if self._token is not None:
            token, self._token = self._token, None
            self._owner._release(token)

    def set_idle(self, idle: bool) -> None:
        """hypercorn says the connection waits for its next request (or no longer does)."""
        if idle and self._token is not None:
            self._owner._idle[self] = None
        else:
            self._reclaimed = False
            self._owner._idle.pop(self, None)
            self._owner._closing.discard(self)  # a request came in first: it stays open

    def reclaim(self) -> None:
        """Close this idle connection: its pending read ends as if the client had closed."""
        self._owner._idle.pop(self, None)
        if self._receiving is not None:
            self._receiving.cancel()
        else:
            self._reclaimed = True  # between two reads: the next one ends it

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, max(len(view), 1), SEND_CHUNK):
            deadline = min(
                trio.current_time() + self._owner.send_timeout, self._owner.abort_sends_at
            )
            with trio.CancelScope(deadline=deadline) as scope:
                self._owner._sending.add(scope)
                try:
                    await self._inner.send_all(view[start : start + SEND_CHUNK])
                finally:
                    self._owner._sending.discard(scope)
            if scope.cancelled_caught:
                await trio.aclose_forcefully(self._inner)
                raise trio.BrokenResourceError("the client accepted no data in time")

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """The next bytes; ``b""`` (end of stream) when reclaimed while idle."""
        if self._reclaimed:
            return b""
        with trio.CancelScope() as scope:
            self._receiving = scope
            try:
                return await self._inner.receive_some(max_bytes)
            finally:
                self._receiving = None
        return b""

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def aclose(self) -> None:
        """Give the slot back first: this runs even when the caller is cancelled."""
        self._owner._idle.pop(self, None)
        self.leave_cap()
        await self._inner.aclose()


class GuardedTCPServer(TCPServer):
    """hypercorn's connection handler that tells its ``GuardedStream`` when it is idle, and
    closes a connection the client ended between two requests at once: hypercorn 0.18
    keeps such a connection (and so its slot) until ``keep_alive_timeout`` runs out."""

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, Updated):
            cast(GuardedStream, self.stream).set_idle(event.idle)
        await super().protocol_send(event)

    async def _read_data(self) -> None:
        await super()._read_data()
        await self.idle_task.stop()  # the keep-alive timer is all that would hold it open


def raise_descriptor_limit(needed: int) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to at least ``needed`` (up to the hard
    limit, which only the service manager can raise: ``LimitNOFILE``); the soft limit now.

    Without enough descriptors, accepting fails with EMFILE and trio's accept loop pauses:
    every client, ``/healthz`` included, then waits. Callers refuse to start instead.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return needed if soft == resource.RLIM_INFINITY else soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target
