"""The state holder: the last good result of every source and the documents built from them.

One task (``StateHolder.run``) owns the mutable state. It receives ``CollectionOutcome``s from
the collectors over a channel, keeps the last good result of each source, decides which
sources are fresh (a good result younger than ``stale_after``), rebuilds the /api bytes only
when their content changes, and publishes an immutable ``StateView`` that request handlers
read without locks. Waiters (SSE streams, readiness) are woken with ``trio.Event``s.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import trio

from statusd.body.document import ERROR_DOCUMENT, Document, build_result_document
from statusd.body.spill import Body, Part
from statusd.collect.outcome import CollectionOutcome, GoodResult

log = logging.getLogger("statusd.state")

# Documents bigger than this are built in a worker thread so requests keep being served.
THREAD_BUILD_ABOVE = 256 * 1024
EARLIER_ETAGS_KEPT = 64
"""ETags of earlier documents remembered (``StateView.earlier_etags``): a page asking for
one of them (``/api?v=``) is behind, and gets the current document at once."""


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What is known about one source: its last good result and its last attempt."""

    name: str
    good: GoodResult | None = None
    good_at: float | None = None
    """trio time of the good result (in the past, possibly negative, when restored)."""
    last_attempt_wall: float | None = None
    error: str | None = None
    """Error of the last attempt; None when it succeeded or none was made yet."""
    duration: float | None = None
    next_attempt_at: float | None = None

    def is_fresh(self, now: float, stale_after: float) -> bool:
        return self.good_at is not None and now - self.good_at <= stale_after


@dataclass(frozen=True, slots=True)
class StateView:
    """An immutable snapshot for request handlers."""

    document: Document
    sources: Mapping[str, SourceStatus]
    fresh: frozenset[str]
    ready: bool
    document_version: int
    document_changed_wall: float
    earlier_etags: tuple[str, ...] = ()
    """The ETags of the documents before this one, oldest first (``EARLIER_ETAGS_KEPT``)."""

    def knows(self, etag: str) -> bool:
        """Whether ``etag`` names this document or one it replaced (recently)."""
        return etag == self.document.etag or etag in self.earlier_etags

    @property
    def ok(self) -> bool:
        return len(self.fresh) == len(self.sources)

    def seconds_until_next_collection(self, now: float) -> int:
        """For Cache-Control max-age: whole seconds until the next collection, at least 1."""
        upcoming = [s.next_attempt_at for s in self.sources.values() if s.next_attempt_at]
        if not upcoming:
            return 1
        return max(1, math.ceil(min(upcoming) - now))


Observer = Callable[[StateView], None]
"""Called (synchronously, must not block) after every change of the view."""


class StateHolder:
    """Owns the sources' state; ``run`` is its only writer, ``view`` is for readers."""

    def __init__(
        self,
        source_names: Sequence[str],
        stale_after: float,
        *,
        on_outcome: Callable[[CollectionOutcome], None] | None = None,
        observers: Iterable[Observer] = (),
    ) -> None:
        self._names = tuple(source_names)
        self._stale_after = stale_after
        self._on_outcome = on_outcome
        self._observers = list(observers)
        self._statuses = {name: SourceStatus(name) for name in self._names}
        self._fragments: tuple[Body, ...] | None = None
        self._ever_ready = False
        self._document_changed = trio.Event()
        self._closed = False
        self._view = StateView(
            document=ERROR_DOCUMENT,
            sources=dict(self._statuses),
            fresh=frozenset(),
            ready=False,
            document_version=0,
            document_changed_wall=time.time(),
        )

    @property
    def view(self) -> StateView:
        return self._view

    @property
    def stale_after(self) -> float:
        return self._stale_after

    def add_observer(self, observer: Observer) -> None:
        self._observers.append(observer)

    def restore(self, results: Iterable[GoodResult]) -> None:
        """Take saved good results (from the state file) before ``run`` starts.

        Their age is counted from their wall-clock time, so a result saved longer ago than
        ``stale_after`` is kept for /api/sources but does not make /api serve data.
        """
        now, wall_now = trio.current_time(), time.time()
        for result in results:
            if result.source in self._statuses:
                age = max(0.0, wall_now - result.wall_time)
                self._statuses[result.source] = replace(
                    self._statuses[result.source], good=result, good_at=now - age
                )

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """The daemon is stopping: wake every waiter so long streams (SSE) can end."""
        self._closed = True
        self._document_changed.set()

    async def wait_document_changed(self, version: int) -> None:
        """Return once the /api document differs from ``version``, or the holder is closed."""
        while self._view.document_version == version and not self._closed:
            await self._document_changed.wait()

    async def run(
        self,
        outcomes: trio.MemoryReceiveChannel[CollectionOutcome],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Apply outcomes until every collector has closed its channel."""
        await self._refresh()
        task_status.started()
        async with outcomes:
            while True:
                outcome: CollectionOutcome | None = None
                with trio.move_on_at(self._next_expiry()):
                    try:
                        outcome = await outcomes.receive()
                    except trio.EndOfChannel:
                        return
                if outcome is not None:
                    self._apply(outcome)
                await self._refresh()

    def _apply(self, outcome: CollectionOutcome) -> None:
        status = self._statuses[outcome.source]
        status = replace(
            status,
            last_attempt_wall=outcome.wall_time,
            error=outcome.error,
            duration=outcome.duration,
            next_attempt_at=outcome.next_attempt_at,
        )
        if outcome.result is not None:
            status = replace(status, good=outcome.result, good_at=trio.current_time())
        self._statuses[outcome.source] = status
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    def _next_expiry(self) -> float:
        """When the next fresh source turns stale (the view must change then)."""
        now = trio.current_time()
        expiries = [
            s.good_at + self._stale_after
            for s in self._statuses.values()
            if s.good_at is not None and s.is_fresh(now, self._stale_after)
        ]
        # A hair past the limit, so that is_fresh is false when we wake.
        return min(expiries) + 1e-3 if expiries else math.inf

    async def _refresh(self) -> None:
        now = trio.current_time()
        fresh = frozenset(
            name for name, s in self._statuses.items() if s.is_fresh(now, self._stale_after)
        )
        fragments: tuple[Body, ...] | None = None
        if len(fresh) == len(self._names):
            fragments = tuple(self._good(name).prepared_json for name in self._names)
        view = self._view
        if fragments != self._fragments:
            self._fragments = fragments
            segments = None
            if fragments is not None:
                segments = tuple(self._good(name).prepared_deflate for name in self._names)
            document = await self._build(fragments, segments)
            if document.etag != view.document.etag:
                view = replace(
                    view,
                    document=document,
                    document_version=view.document_version + 1,
                    document_changed_wall=time.time(),
                    earlier_etags=(*view.earlier_etags, view.document.etag)[-EARLIER_ETAGS_KEPT:],
                )
        self._ever_ready = self._ever_ready or fragments is not None
        view = replace(view, sources=dict(self._statuses), fresh=fresh, ready=self._ever_ready)
        document_changed = view.document_version != self._view.document_version
        self._view = view
        if document_changed:
            self._document_changed.set()
            self._document_changed = trio.Event()
        for observer in self._observers:
            observer(view)

    def _good(self, name: str) -> GoodResult:
        good = self._statuses[name].good
        assert good is not None, "a fresh source has a good result"
        return good

    async def _build(
        self, fragments: tuple[Body, ...] | None, segments: tuple[Part, ...] | None
    ) -> Document:
        if fragments is None:
            return ERROR_DOCUMENT
        pairs = list(zip(self._names, fragments, strict=True))
        if sum(len(piece) for pieces in fragments for piece in pieces) > THREAD_BUILD_ABOVE:
            return await trio.to_thread.run_sync(
                build_result_document, pairs, segments, abandon_on_cancel=True
            )
        return build_result_document(pairs, segments)
