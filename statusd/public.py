"""The public view of the state (SPEC §7): verdicts, the incident timeline and the encoded
Statuspage-compatible documents, rebuilt by one task whenever the state changes.

``PublicState.observe`` is a state-holder observer: it only hands over the latest view and
never blocks. ``PublicState.run`` recomputes verdicts and documents from the latest view
(in a worker thread when the records are many), advances the timeline and offers the new
verdicts to the history writer. Request handlers read the finished attributes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import trio

from statusd.document import Document, encode_json
from statusd.history_writer import HistoryInbox
from statusd.state import StateView
from statusd.statuspage import PageInfo, public_documents
from statusd.verdicts import (
    Timeline,
    VerdictSet,
    VerdictThresholds,
    advance_timeline,
    compute_verdicts,
)

# Above this many records in all, verdicts and documents are computed in a worker thread.
THREAD_ABOVE_RECORDS = 20_000


class PublicState:
    """Verdicts, timeline and encoded public documents of the latest state."""

    def __init__(
        self,
        page: PageInfo,
        thresholds: VerdictThresholds,
        inbox: HistoryInbox,
        timeline: Timeline,
    ) -> None:
        self.page = page
        self.thresholds = thresholds
        self.inbox = inbox
        self.timeline = timeline
        self.verdicts: VerdictSet = compute_verdicts({}, thresholds, document_ok=False)
        self.documents: dict[str, Document] = self._encode(self.verdicts, {}, time.time())
        self._latest: StateView | None = None
        self._wakeup = trio.Event()

    def observe(self, view: StateView) -> None:
        """Take the newest view of the state holder; the run task picks it up."""
        self._latest = view
        self._wakeup.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Rebuild on every change of the state, until cancelled."""
        task_status.started()
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            view, self._latest = self._latest, None
            if view is None:
                continue
            if sum(len(s.good.records) for s in view.sources.values() if s.good) > (
                THREAD_ABOVE_RECORDS
            ):
                await trio.to_thread.run_sync(self.update_from, view)
            else:
                self.update_from(view)

    def update_from(self, view: StateView) -> None:
        """Recompute everything from one view of the state holder."""
        records: dict[str, Sequence[Any] | None] = {
            name: status.good.records if status.good else None
            for name, status in view.sources.items()
        }
        source_times = {
            name: status.good.wall_time for name, status in view.sources.items() if status.good
        }
        self.update(
            records,
            stale=frozenset(view.sources) - view.fresh,
            source_times=source_times,
            document_ok=view.ok,
            now=time.time(),
        )

    def update(
        self,
        records_by_source: Mapping[str, Sequence[Any] | None],
        *,
        stale: frozenset[str],
        source_times: Mapping[str, float],
        document_ok: bool,
        now: float,
    ) -> None:
        """Recompute verdicts, timeline and documents; offer the verdicts to the history."""
        verdicts = compute_verdicts(
            records_by_source, self.thresholds, stale=stale, document_ok=document_ok
        )
        self.timeline = advance_timeline(self.timeline, verdicts, now)
        self.inbox.offer(now, verdicts.verdict_map(), self.timeline.incidents)
        documents = self._encode(verdicts, source_times, now)
        # Readers see either the old pair or the new one: documents last, after verdicts.
        self.verdicts = verdicts
        self.documents = documents

    def _encode(
        self, verdicts: VerdictSet, source_times: Mapping[str, float], now: float
    ) -> dict[str, Document]:
        built = public_documents(
            self.page, self.thresholds, verdicts, self.timeline, source_times, now
        )
        return {path: Document.of(encode_json(doc)) for path, doc in built.items()}
