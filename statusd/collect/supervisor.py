"""The collectors: one task per source, each on its own interval and under its own deadline.

``run_collectors`` owns a nursery with one ``run_collector`` loop per source. A collection
fetches the raw bytes (file or HTTP, retried briefly), then parses, prepares and encodes them
in a worker thread, all inside ``trio.move_on_after(deadline)``. Every outcome, good or
failed, goes to the state holder over the channel; a failure never ends the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

import httpx
import trio

from statusd.collect.fetch import fetch_body, read_source_file
from statusd.collect.outcome import CollectionOutcome, GoodResult
from statusd.collect.parse import LastInput, WorkerProcesses, digest_of, parse_input
from statusd.config import Settings
from statusd.sources.base import Limits, SourceError, SourceSpec

log = logging.getLogger("statusd.supervisor")

Fetch = Callable[[], Awaitable[bytes]]

# Pauses between fetch attempts inside one deadline: a refused connection or a 500 often
# clears within a second, and three attempts are enough to ride over a blip.
RETRY_PAUSES = (0.2, 0.5)


def make_fetch(spec: SourceSpec[Any], settings: Settings, client: httpx.AsyncClient) -> Fetch:
    """The I/O of one source: its file in the data directory, or its URL."""
    if spec.kind == "file":
        return partial(read_source_file, settings.data_dir / spec.location, settings.max_body_bytes)
    url = settings.source_url + settings.source_path(spec.name, spec.location)
    return partial(fetch_body, client, url, settings.max_body_bytes)


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
    time: parsing holds the GIL, so parsing several at once finishes none sooner and only
    lags the event loop more (docs/bench.md, "figures behind the code"). Worker processes
    share no GIL with the loop and run at once (``WORKER_PROCESSES``).
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
