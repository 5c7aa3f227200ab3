"""Long-lived objects kept out of the cyclic garbage collector's full passes.

An open event stream holds about 200 objects (hypercorn's connection, h11's state, the
request, trio's tasks and cancel scopes), so 5,000 open pages are a million objects, and a
full collection walks every one of them holding the GIL: 0.6-0.74 s, every 2 s under /api
load, while every request waited (docs/bench.md, issue 16). Reference counting frees nearly
all of them; the cyclic collector is needed only for the few that form cycles.

``LongLivedObjects`` watches full collections (``gc.callbacks``). Right after one, every
object the collector tracks has survived it, so all of them are reachable; when that pass
took ``slow_seconds`` or more they are frozen (``gc.freeze``) and later passes walk only
what is newer (7-50 ms with the same crowd). A frozen object that becomes garbage inside a
reference cycle (a closed stream's task and its frames) waits for the next renewal: every
``renew_seconds`` everything is unfrozen, collected in one pass and frozen again. That is
one pass over the whole heap per period instead of one every few seconds, and cyclic
garbage is kept at most that long.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import trio

log = logging.getLogger("statusd.long_lived")

OLDEST_GENERATION = 2

SLOW_FULL_COLLECTION_SECONDS = 0.05
"""A full pass this long means many long-lived objects: freeze them. Without a crowd a pass
over statusd's heap takes 5-20 ms and nothing more is frozen than at start-up."""

RENEW_SECONDS = 600.0
"""How often frozen objects are handed back to the collector, so cyclic garbage among them
is freed. Each renewal is one full pass (0.7 s with 5,000 open streams, ~20 ms without)."""

FullCollectionReport = Callable[[float, bool], None]
"""Told of every full collection: its duration in seconds and whether it froze the heap."""


class LongLivedObjects:
    """Freezes the heap after a slow full collection; renews the frozen set periodically."""

    def __init__(
        self,
        *,
        slow_seconds: float = SLOW_FULL_COLLECTION_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        on_full_collection: FullCollectionReport | None = None,
    ) -> None:
        self.slow_seconds = slow_seconds
        self.renew_seconds = renew_seconds
        self.on_full_collection = on_full_collection
        self.freezes = 0
        self.renewals = 0
        self._started: float | None = None

    def observe(self, phase: str, info: Mapping[str, Any]) -> None:
        """The ``gc.callbacks`` entry. Collections never overlap (the interpreter runs one at
        a time, in whichever thread allocated), so one start time is enough."""
        if info.get("generation") != OLDEST_GENERATION:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        if self._started is None:
            return
        seconds, self._started = time.perf_counter() - self._started, None
        froze = seconds >= self.slow_seconds
        if froze:
            gc.freeze()
            self.freezes += 1
        if self.on_full_collection is not None:
            self.on_full_collection(seconds, froze)

    def renew(self) -> int:
        """Hand the frozen objects back, collect everything once, freeze what is left; the
        number of objects freed."""
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        self.renewals += 1
        log.info(
            "long-lived objects renewed",
            extra={
                "seconds": round(time.perf_counter() - started, 3),
                "collected": collected,
                "frozen": gc.get_freeze_count(),
            },
        )
        return collected

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch full collections and renew every ``renew_seconds`` until cancelled."""
        gc.callbacks.append(self.observe)
        try:
            task_status.started()
            while True:
                await trio.sleep(self.renew_seconds)
                self.renew()
        finally:
            gc.callbacks.remove(self.observe)
