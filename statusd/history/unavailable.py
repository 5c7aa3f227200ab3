"""Fail fast while the database is away: a read that finds it unreachable waits for the
connection timeout; the reads after it should not each wait as long (a request would hold a
worker thread for seconds, and a crowd of them would queue for minutes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from statusd.storage.engine import StorageUnavailable

UNAVAILABLE_HOLD = 1.0
"""Seconds during which calls fail at once after one found the database unavailable."""


class UnavailableGate:
    """After a call raised ``StorageUnavailable``, the others raise it at once (with the same
    reason) for ``hold`` seconds; then one call at a time tries again until one succeeds.
    Safe to use from several threads."""

    def __init__(
        self, hold: float = UNAVAILABLE_HOLD, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.hold = hold
        self.clock = clock
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._retry_at = 0.0
        self._probing = False

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Run the block, or raise ``StorageUnavailable`` at once while the database is known
        to be away (see the class)."""
        with self._lock:
            if self._reason is not None:
                if self._probing or self.clock() < self._retry_at:
                    raise StorageUnavailable(self._reason)
                self._probing = True
        try:
            yield
        except StorageUnavailable as error:
            with self._lock:
                self._reason = str(error)
                self._retry_at = self.clock() + self.hold
                self._probing = False
            raise
        except BaseException:
            with self._lock:
                self._probing = False
            raise
        with self._lock:
            self._reason = None
            self._probing = False
