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
from dataclasses import dataclass
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
        empty = self.build(PublicInputs({}, frozenset(), {}, False, time.time()))
        self.verdicts: VerdictSet = empty.verdicts
        self.documents: dict[str, Document] = empty.documents
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
            inputs = inputs_of(view)
            records = sum(len(rows) for rows in inputs.records.values() if rows)
            if records > THREAD_ABOVE_RECORDS:
                built = await trio.to_thread.run_sync(self.build, inputs)
            else:
                built = self.build(inputs)
            self.publish(built)

    def update(
        self,
        records_by_source: Mapping[str, Sequence[Any] | None],
        *,
        stale: frozenset[str],
        source_times: Mapping[str, float],
        document_ok: bool,
        now: float,
    ) -> None:
        """Recompute and publish at once (for callers on the event loop, and tests)."""
        inputs = PublicInputs(records_by_source, stale, source_times, document_ok, now)
        self.publish(self.build(inputs))

    def build(self, inputs: PublicInputs) -> Built:
        """Verdicts, the advanced timeline and the documents; pure, so it may run in a thread."""
        verdicts = compute_verdicts(
            inputs.records, self.thresholds, stale=inputs.stale, document_ok=inputs.document_ok
        )
        timeline = advance_timeline(self.timeline, verdicts, inputs.now)
        built = public_documents(
            self.page, self.thresholds, verdicts, timeline, inputs.source_times, inputs.now
        )
        documents = {path: Document.of(encode_json(doc)) for path, doc in built.items()}
        return Built(inputs.now, verdicts, timeline, documents)

    def publish(self, built: Built) -> None:
        """Make a build current and offer its verdicts to the history (on the event loop)."""
        self.timeline = built.timeline
        self.verdicts = built.verdicts
        self.documents = built.documents
        self.inbox.offer(built.now, built.verdicts.verdict_map(), built.timeline.incidents)


@dataclass(frozen=True, slots=True)
class PublicInputs:
    """What the public view is computed from."""

    records: Mapping[str, Sequence[Any] | None]
    stale: frozenset[str]
    source_times: Mapping[str, float]
    document_ok: bool
    now: float


@dataclass(frozen=True, slots=True)
class Built:
    """One computed public view, ready to publish."""

    now: float
    verdicts: VerdictSet
    timeline: Timeline
    documents: dict[str, Document]


def inputs_of(view: StateView) -> PublicInputs:
    """The inputs of the public view from one view of the state holder."""
    sources = view.sources
    return PublicInputs(
        records={name: s.good.records if s.good else None for name, s in sources.items()},
        stale=frozenset(sources) - view.fresh,
        source_times={name: s.good.wall_time for name, s in sources.items() if s.good},
        document_ok=view.ok,
        now=time.time(),
    )
