"""Event streams (``/api/events``) under a limit of their own, apart from ``max_connections``.

An open page holds one stream for as long as it is open, so a crowd of pages would otherwise
fill every connection slot and lock out ``/api``, the page and ``/healthz`` (issue 16).
``EventStreams`` counts the open streams against ``max_event_streams``; a stream admitted
takes its connection out of the connection cap (``limits.GuardedStream.leave_cap``), so the
``max_connections`` slots stay for requests whatever the crowd. A stream beyond the limit is
answered ``503`` at once with a ``Retry-After`` drawn from ``RETRY_AFTER_RANGE``: the page
polls ``/api`` meanwhile (``web/js/api.js``), and clients refused at the same moment (a
replica restarting sheds its whole crowd at once) do not all come back at the same moment.
"""

from __future__ import annotations

import random
from typing import Protocol

import trio

from statusd.metrics import Metrics

RETRY_AFTER_RANGE = (30, 60)
"""Seconds a refused stream is told to wait (``Retry-After``), drawn uniformly: a refused
crowd comes back spread over 30 s. The page polls ``/api`` meanwhile, so it stays current."""
FD_MARGIN = 256
"""File descriptors besides client connections: listener, log, state, worker pipes, …"""


class SlotHolder(Protocol):
    """The connection of a request (``limits.GuardedStream``)."""

    def leave_cap(self) -> None: ...


class EventStreams:
    """Counts the open event streams against ``limit`` (0: streams are off, pages poll)."""

    def __init__(
        self, limit: int, *, rng: random.Random | None = None, metrics: Metrics | None = None
    ) -> None:
        if limit < 0:
            raise ValueError(f"max_event_streams must be >= 0, got {limit}")
        self.limit = limit
        self._metrics = metrics
        if metrics is not None:
            metrics.event_streams_limit.set(limit)
        self._open = 0
        self._rng = rng or random.Random()
        self._released = trio.Event()

    @property
    def open(self) -> int:
        """Streams being served now."""
        return self._open

    def has_room(self) -> bool:
        return self._open < self.limit

    def retry_after(self) -> int:
        """Whole seconds for ``Retry-After``, jittered within ``RETRY_AFTER_RANGE``."""
        low, high = RETRY_AFTER_RANGE
        return self._rng.randint(low, high)

    def acquire(self, connection: SlotHolder | None) -> bool:
        """Take one stream slot (False when none is free); ``release`` gives it back.

        ``connection`` (when the server has one: ``limits.serve_limited``) leaves the
        connection cap for good: the stream's response closes it when it ends.
        """
        if not self.has_room():
            return False
        self._open += 1
        self._count()
        if connection is not None:
            connection.leave_cap()
        return True

    def release(self) -> None:
        self._open -= 1
        self._count()
        self._released.set()
        self._released = trio.Event()

    def _count(self) -> None:
        if self._metrics is not None:
            self._metrics.event_streams_open.set(self._open)

    async def wait_open_below(self, count: int) -> None:
        """Return once fewer than ``count`` streams are open."""
        while self._open >= count:
            await self._released.wait()


def descriptors_needed(max_connections: int, max_event_streams: int) -> int:
    """File descriptors statusd may hold at once: every connection, every stream, a margin."""
    return max_connections + max_event_streams + FD_MARGIN
