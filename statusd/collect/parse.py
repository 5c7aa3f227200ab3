"""Parsing a source's bytes where it costs the event loop least: on the loop when small, in
a thread when big, in a worker process (``bigparse``) when bigger; and the digest that lets
an unchanged input skip parsing altogether."""

from __future__ import annotations

import gc
import hashlib
import logging
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import trio

from statusd.body.document import deflate_segment
from statusd.collect.bigparse import SpillUnavailable, parse_in_worker
from statusd.collect.outcome import GoodResult
from statusd.config import Settings
from statusd.sources.base import Limits, SourceSpec
from statusd.verdicts.rules import VerdictThresholds

log = logging.getLogger("statusd.supervisor")


# Inputs up to this size are parsed on the event loop (a few milliseconds); bigger ones in a
# worker thread, so a big file never stalls the requests being served; from
# ``Settings.worker_process_bytes`` on, in a worker process that sends back no records
# (``bigparse``): pickling them back would cost more than parsing them (docs/bench.md).
INLINE_PARSE_BELOW = 128 * 1024


# Worker processes at once: as many as sources that can be big (SMS, MMS, voice, email), so
# the biggest input never waits behind smaller ones (docs/bench.md, "figures behind the code").
WORKER_PROCESSES = 4


# A value this big is compressed by its collector (see ``GoodResult.prepared_deflate``).
DEFLATE_ABOVE = 1024 * 1024


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a big input is parsed; freeze what it made.

    Records hold only strings and numbers, so the collector can free none of them; yet each
    full collection walks every live object while holding the GIL and stalls the event loop
    (docs/bench.md, "figures behind the code"). ``gc.freeze`` then moves the new objects
    out of the collector's sight for good: reference counting still frees them when a newer
    result replaces them. Big inputs are parsed one at a time (see ``run_collectors``), so
    pauses never overlap.
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


@dataclass
class LastInput:
    """What a collector remembers of its last good collection: a digest of the bytes read
    and the result made of them. Most collections read the very bytes of the one before;
    their result is then the previous one with a new time, not parsed again, and the same
    records object lets the verdicts' cache (``verdicts.rules.CountryCellCache``) skip work too."""

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
