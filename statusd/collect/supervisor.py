"""The collectors: one task per source, each on its own interval and under its own deadline.

``run_collectors`` owns a nursery with one ``run_collector`` loop per source. A collection
fetches the raw bytes (file or HTTP, retried briefly), then parses, prepares and encodes them
in a worker thread, all inside ``trio.move_on_after(deadline)``. Every outcome, good or
failed, goes to the state holder over the channel; a failure never ends the loop.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import resource
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio

from statusd.body.document import deflate_segment
from statusd.collect.bigparse import SpillUnavailable, parse_in_worker
from statusd.collect.fetch import fetch_body, read_source_file
from statusd.collect.outcome import CollectionOutcome, GoodResult
from statusd.config import Settings
from statusd.sources.base import Limits, SourceError, SourceSpec
from statusd.verdicts.rules import VerdictThresholds

log = logging.getLogger("statusd.supervisor")

Fetch = Callable[[], Awaitable[bytes]]

# Pauses between fetch attempts inside one deadline: a refused connection or a 500 often
# clears within a second, and three attempts are enough to ride over a blip.
RETRY_PAUSES = (0.2, 0.5)

# Inputs up to this size are parsed on the event loop (a few milliseconds); bigger ones in a
# worker thread, so a million-line file never stalls the requests being served; from
# ``Settings.worker_process_bytes`` on, in a worker process that sends back no records at
# all (``statusd.collect.bigparse``): sending records back (pickling) would cost more than parsing
# them (bench/README.md, "thread vs process").
INLINE_PARSE_BELOW = 128 * 1024

# Worker processes at once: as many as sources that can be big (SMS, MMS, voice, email). Two
# at a time (one per core here) left the biggest input waiting behind smaller ones: the
# first collection of three million-row files took 6.7 s instead of 4.6-5.2 s; the price is
# up to four workers' memory at once (each at most ~330 MiB for a million rows).
WORKER_PROCESSES = 4

# A value this big is compressed by its collector (see ``GoodResult.prepared_deflate``).
DEFLATE_ABOVE = 1024 * 1024


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a big input is parsed; freeze what it made.

    Records hold only strings and numbers, so the collector can free none of them; yet each
    full collection walks every live object while holding the GIL. A million-row input set
    off 13 of them (up to 0.4 s each, 15 % of the CPU time), each one stalling the event
    loop. ``gc.freeze`` then moves the new objects out of the collector's sight for good:
    reference counting still frees them when a newer result replaces them. Big inputs are
    parsed one at a time (see ``run_collectors``), so pauses never overlap.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def parse_big_input(spec: SourceSpec[Any], raw: bytes, limits: Limits, wall: float) -> GoodResult:
    """``parse_and_encode`` for an input too big for the event loop: run in a worker thread."""
    with cyclic_gc_paused():
        return parse_and_encode(spec, raw, limits, wall)


def make_fetch(spec: SourceSpec[Any], settings: Settings, client: httpx.AsyncClient) -> Fetch:
    """The I/O of one source: its file in the data directory, or its URL."""
    if spec.kind == "file":
        return partial(read_source_file, settings.data_dir / spec.location, settings.max_body_bytes)
    url = settings.source_url + settings.source_path(spec.name, spec.location)
    return partial(fetch_body, client, url, settings.max_body_bytes)


def parse_and_encode(spec: SourceSpec[Any], raw: bytes, limits: Limits, wall: float) -> GoodResult:
    """Parse, prepare and encode one source's bytes; CPU only, run in a worker thread."""
    parsed = spec.parse(raw, limits)
    prepared = spec.prepared_json(parsed.records)
    return GoodResult(
        source=spec.name,
        records=parsed.records,
        prepared_json=prepared,
        skipped=dict(parsed.skipped),
        wall_time=wall,
        raw=raw,
        prepared_deflate=(
            deflate_segment(prepared) if sum(map(len, prepared)) > DEFLATE_ABOVE else b""
        ),
    )


@dataclass(frozen=True)
class WorkerProcesses:
    """Where and how big inputs go to worker processes (``statusd.collect.bigparse``)."""

    min_bytes: int
    """Inputs at least this big are parsed in a worker process (0: never)."""
    spill_dir: Path
    thresholds: VerdictThresholds
    limiter: trio.CapacityLimiter

    @classmethod
    def of(cls, settings: Settings) -> WorkerProcesses:
        return cls(
            settings.worker_process_bytes,
            settings.state_dir,
            VerdictThresholds.from_mapping(settings.verdicts),
            trio.CapacityLimiter(WORKER_PROCESSES),
        )

    def takes(self, raw: bytes) -> bool:
        return 0 < self.min_bytes <= len(raw)


async def parse_input(
    spec: SourceSpec[Any],
    raw: bytes,
    limits: Limits,
    wall: float,
    *,
    big_inputs: trio.CapacityLimiter | None = None,
    workers: WorkerProcesses | None = None,
) -> GoodResult:
    """The good result of ``raw``: parsed on the loop, in a thread or in a worker process,
    by its size. A big input with no spill file to be had is parsed in a thread instead."""
    if len(raw) < INLINE_PARSE_BELOW:
        return parse_and_encode(spec, raw, limits, wall)
    if workers is not None and workers.takes(raw):
        try:
            async with workers.limiter:
                started = trio.current_time()
                result = await parse_in_worker(
                    spec,
                    raw,
                    limits,
                    wall,
                    spill_dir=workers.spill_dir,
                    thresholds=workers.thresholds,
                )
            log.info(
                "parsed in a worker process",
                extra={
                    "source": spec.name,
                    "records": result.record_count,
                    "seconds": round(trio.current_time() - started, 3),
                    # the largest peak of any worker so far (the kernel keeps no other)
                    "workers_max_rss_mib": children_max_rss_mib(),
                },
            )
            return result
        except SpillUnavailable as failure:
            log.warning(
                "big input parsed in a thread", extra={"source": spec.name, "error": str(failure)}
            )
    return await trio.to_thread.run_sync(
        parse_big_input, spec, raw, limits, wall, abandon_on_cancel=True, limiter=big_inputs
    )


def children_max_rss_mib() -> float:
    """The largest peak resident memory of the worker processes that have ended, in MiB."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


async def fetch_with_retries(fetch: Fetch, failures: list[str] | None = None) -> bytes:
    """``fetch()``, tried again after short pauses; the caller's deadline bounds it all.

    The reason of every failed attempt is appended to ``failures``, so a deadline that
    passes during a pause can still name the cause.
    """
    for pause in RETRY_PAUSES:
        try:
            return await fetch()
        except SourceError as failure:
            if failures is not None:
                failures.append(str(failure))
            await trio.sleep(pause)
    return await fetch()


@dataclass
class LastInput:
    """What a collector remembers of its last good collection: a digest of the bytes read
    and the result made of them. Most collections read the very bytes of the one before;
    their result is then the previous one with a new time, not parsed again, and the same
    records object lets the verdicts' cache (``verdicts.CountryCellCache``) skip work too."""

    digest: bytes = b""
    result: GoodResult | None = None

    def reuse(self, digest: bytes) -> GoodResult | None:
        if self.result is None or digest != self.digest:
            return None
        return replace(self.result, wall_time=time.time())


def input_digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16).digest()


async def digest_of(raw: bytes) -> bytes:
    """``input_digest``; for a big input in a thread (tens of MB hash for tens of ms, which
    would stall the loop)."""
    if len(raw) < INLINE_PARSE_BELOW:
        return input_digest(raw)
    return await trio.to_thread.run_sync(input_digest, raw)


async def collect_once(
    spec: SourceSpec[Any],
    fetch: Fetch,
    limits: Limits,
    deadline: float,
    *,
    big_inputs: trio.CapacityLimiter | None = None,
    last: LastInput | None = None,
    workers: WorkerProcesses | None = None,
) -> tuple[GoodResult | None, str | None]:
    """One collection under ``deadline``: the good result, or the reason it failed.

    A big input is parsed in a worker thread holding a token of ``big_inputs`` (when given),
    or with ``workers`` in a worker process (see ``parse_input``). With ``last``, input
    identical to the last good collection's is not parsed again.
    """
    error: str | None = None
    failures: list[str] = []
    with trio.move_on_after(deadline) as scope:
        try:
            raw = await fetch_with_retries(fetch, failures)
            digest = await digest_of(raw)
            reused = last.reuse(digest) if last is not None else None
            if reused is not None:
                result = reused
            else:
                result = await parse_input(
                    spec, raw, limits, time.time(), big_inputs=big_inputs, workers=workers
                )
        except SourceError as failure:
            error = str(failure)
        except Exception as failure:
            # A bug in a parser must cost one collection of one source, never the daemon.
            log.exception("unexpected error in a collection", extra={"source": spec.name})
            error = f"internal error while reading the source ({type(failure).__name__})"
        else:
            if last is not None:
                last.digest, last.result = digest, result
            return result, None
    if scope.cancelled_caught:
        error = f"no result within the {deadline:g} s deadline"
        if failures:  # the deadline passed while retrying: the last failure is the cause
            error = f"{failures[-1]} (no success within the {deadline:g} s deadline)"
    return None, error


async def run_collector(
    spec: SourceSpec[Any],
    fetch: Fetch,
    settings: Settings,
    outcomes: trio.MemorySendChannel[CollectionOutcome],
    *,
    big_inputs: trio.CapacityLimiter | None = None,
    workers: WorkerProcesses | None = None,
    last: LastInput | None = None,
) -> None:
    """Collect one source every ``interval`` seconds, forever, sending every outcome.

    ``last`` may hold the input restored from the state file: an unchanged source is then
    not parsed again by the first collection after a restart."""
    last = last or LastInput()
    async with outcomes:
        next_start = trio.current_time()
        while True:
            await trio.sleep_until(next_start)
            started = trio.current_time()
            result, error = await collect_once(
                spec,
                fetch,
                settings.limits,
                settings.deadline,
                big_inputs=big_inputs,
                last=last,
                workers=workers,
            )
            finished = trio.current_time()
            next_start = started + settings.interval
            await outcomes.send(
                CollectionOutcome(
                    source=spec.name,
                    result=result,
                    error=error,
                    wall_time=time.time(),
                    duration=finished - started,
                    next_attempt_at=next_start,
                )
            )


async def run_collectors(
    specs: Sequence[SourceSpec[Any]],
    settings: Settings,
    client: httpx.AsyncClient,
    outcomes: trio.MemorySendChannel[CollectionOutcome],
    *,
    workers: WorkerProcesses | None = None,
    last_inputs: Mapping[str, LastInput] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """One collector task per source in a nursery owned here; runs until cancelled.

    Inputs parsed in threads (big, but below ``worker_process_bytes``) are parsed one at a
    time: parsing is Python code holding the GIL, so parsing three at once finishes none
    sooner, holds all their intermediate objects at once and gives the event loop more
    threads to compete with (measured: loop lag p99 54 ms one at a time against 133 ms all
    at once, for 300,000 rows per file). Worker processes share no GIL with the loop and
    run at once (``WORKER_PROCESSES``).
    """
    big_inputs = trio.CapacityLimiter(1)
    workers = workers or WorkerProcesses.of(settings)
    async with outcomes, trio.open_nursery() as nursery:
        for spec in specs:
            nursery.start_soon(
                partial(
                    run_collector,
                    spec,
                    make_fetch(spec, settings, client),
                    settings,
                    outcomes.clone(),
                    big_inputs=big_inputs,
                    workers=workers,
                    last=(last_inputs or {}).get(spec.name),
                )
            )
        task_status.started()
