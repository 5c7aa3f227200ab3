"""The public view of the state (SPEC §7): verdicts, the incident timeline and the encoded
Statuspage-compatible documents.

``PublicState.observe`` is a state-holder observer: it only hands over the latest view and
never blocks. ``PublicState.run`` recomputes the verdicts from the latest view (the state
changes up to seven times per collection round; changes that arrive within
``SETTLE_SECONDS`` are taken together), advances the timeline and offers the new verdicts
to the history writer. The documents are encoded only when someone asks for one, at most
once per published view: encoding documents nobody reads costs /api throughput
(docs/bench.md, "figures behind the code").

Planned maintenance (SPEC §9) enters through ``set_maintenance``: the maintenance task hands
over the windows whenever the file changes or a window starts or ends, and every build puts
the cells of the windows running at its instant ``under_maintenance``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import trio

from statusd.body.document import Document
from statusd.body.jsonpieces import encode_json
from statusd.history.writer import HistoryInbox
from statusd.mailbox import Mailbox
from statusd.maintenance.overlay import (
    MaintenanceView,
    add_maintenance_documents,
    apply_maintenance,
)
from statusd.state.holder import StateView
from statusd.verdicts.cells import VerdictSet
from statusd.verdicts.rules import (
    CountryCellCache,
    CountrySummary,
    VerdictThresholds,
    compute_verdicts,
)
from statusd.verdicts.statuspage import PageInfo, public_documents
from statusd.verdicts.timeline import Timeline, advance_timeline

# Above this many records in all, verdicts are computed in a worker thread.
THREAD_ABOVE_RECORDS = 20_000
# Above this many cells, the documents are encoded in a worker thread.
THREAD_ABOVE_CELLS = 300
# Changes of the state this close together make one rebuild.
SETTLE_SECONDS = 0.05


class PublicState:
    """Verdicts, timeline and (on demand) encoded public documents of the latest state."""

    def __init__(
        self,
        page: PageInfo,
        thresholds: VerdictThresholds,
        inbox: HistoryInbox,
        timeline: Timeline,
        *,
        notify: HistoryInbox | None = None,
    ) -> None:
        self.page = page
        self.thresholds = thresholds
        self.inbox = inbox
        self.notify = notify
        """The notification planner's inbox (None without subscriptions): same snapshots."""
        self.timeline = timeline
        self._cells = CountryCellCache()
        self.maintenance = MaintenanceView()
        self._inputs = PublicInputs({}, frozenset(), {}, False, time.time())
        self.verdicts: VerdictSet = self.build(self._inputs).verdicts
        self._documents: dict[str, Document] | None = None
        self._lock = trio.Lock()  # one build or encoding at a time
        self._views: Mailbox[StateView] = Mailbox()

    def observe(self, view: StateView) -> None:
        """Take the newest view of the state holder; the run task picks it up."""
        self._views.put(view)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Rebuild on every change of the state, until cancelled."""
        task_status.started()
        while True:
            await self._views.wait()
            await trio.sleep(SETTLE_SECONDS)
            await self.catch_up()

    async def catch_up(self) -> VerdictSet:
        """The verdicts of the newest view observed, rebuilt first if one is pending.

        Readers call it too: a page that saw /api change asks for the verdicts at once, and
        must not get those of the view before (the run task may still be settling).
        """
        async with self._lock:
            view = self._views.take_latest()
            if view is not None:
                self.publish(await self._build(inputs_of(view)))
        return self.verdicts

    async def set_maintenance(self, view: MaintenanceView) -> VerdictSet:
        """Take the maintenance task's new view and publish the verdicts at its instant
        (the latest state's inputs, ``now`` = ``view.at``)."""
        async with self._lock:
            self.maintenance = view
            self.publish(await self._build(replace(self._inputs, now=view.at)))
        return self.verdicts

    async def _build(self, inputs: PublicInputs) -> Built:
        """``build``, in a worker thread when the records are many (caller holds the lock)."""
        records = sum(map(_row_count, inputs.records.values()))
        if records > THREAD_ABOVE_RECORDS:
            return await trio.to_thread.run_sync(self.build, inputs)
        return self.build(inputs)

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
        """Verdicts and the advanced timeline; may run in a thread (``catch_up`` awaits it
        under its lock, so the cell cache is never used by two builds at once)."""
        verdicts = compute_verdicts(
            inputs.records,
            self.thresholds,
            stale=inputs.stale,
            document_ok=inputs.document_ok,
            cache=self._cells,
        )
        verdicts = apply_maintenance(verdicts, self.maintenance.windows, inputs.now)
        timeline = advance_timeline(self.timeline, verdicts, inputs.now)
        return Built(inputs, verdicts, timeline)

    def publish(self, built: Built) -> None:
        """Make a build current and offer its verdicts to the history (on the event loop)."""
        self._inputs = built.inputs
        self.timeline = built.timeline
        self.verdicts = built.verdicts
        self._documents = None
        verdicts = built.verdicts.verdict_map()
        self.inbox.offer(
            built.inputs.now, verdicts, built.timeline.incidents, self.maintenance.record
        )
        if self.notify is not None:
            self.notify.offer(built.inputs.now, verdicts, built.timeline.incidents)

    @property
    def documents(self) -> dict[str, Document]:
        """The documents of the current view, keyed by path (encoded now if not yet)."""
        if self._documents is None:
            self._documents = self._encode()
        return self._documents

    async def document(self, path: str) -> Document | None:
        """The document served at ``path`` for the current view, or None if there is none.

        Encoded at most once per view, in a worker thread when the cells are many; requests
        that arrive meanwhile wait for that one encoding.
        """
        await self.catch_up()
        async with self._lock:
            if self._documents is None:
                if len(self.verdicts.cells) > THREAD_ABOVE_CELLS:
                    encode = self._encoder()
                    self._documents = await trio.to_thread.run_sync(encode)
                else:
                    self._documents = self._encode()
            return self._documents.get(path)

    def _encode(self) -> dict[str, Document]:
        return self._encoder()()

    def _encoder(self) -> Callable[[], dict[str, Document]]:
        """Encoding of the current view as a pure call (its inputs taken now, on the loop)."""
        page, thresholds, maintenance = self.page, self.thresholds, self.maintenance
        verdicts, timeline, inputs = self.verdicts, self.timeline, self._inputs

        def encode() -> dict[str, Document]:
            built = public_documents(
                page, thresholds, verdicts, timeline, inputs.source_times, inputs.now
            )
            add_maintenance_documents(built, maintenance, page, inputs.now)
            return {path: Document.of(encode_json(doc)) for path, doc in built.items()}

        return encode


@dataclass(frozen=True, slots=True)
class PublicInputs:
    """What the public view is computed from."""

    records: Mapping[str, Sequence[Any] | CountrySummary | None]
    stale: frozenset[str]
    source_times: Mapping[str, float]
    document_ok: bool
    now: float


@dataclass(frozen=True, slots=True)
class Built:
    """One computed public view, ready to publish."""

    inputs: PublicInputs
    verdicts: VerdictSet
    timeline: Timeline


def _row_count(rows: Sequence[Any] | CountrySummary | None) -> int:
    """How many rows the verdicts walk (a summary's countries, not the rows it stands for)."""
    if rows is None:
        return 0
    return len(rows.countries) if isinstance(rows, CountrySummary) else len(rows)


def inputs_of(view: StateView) -> PublicInputs:
    """The inputs of the public view from one view of the state holder."""
    sources = view.sources
    return PublicInputs(
        records={name: s.good.verdict_rows if s.good else None for name, s in sources.items()},
        stale=frozenset(sources) - view.fresh,
        source_times={name: s.good.wall_time for name, s in sources.items() if s.good},
        document_ok=view.ok,
        now=time.time(),
    )
