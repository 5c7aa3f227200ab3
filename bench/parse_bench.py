"""Issue 7, item 4 (in process): rows per second of every parser, and the two ways of running
a collection off the event loop (a worker thread or a worker process), each measured with a
probe of the event loop's lag while the three big files are collected at once.

The data is the simulator's (``--rows N``); file sources are read from its data directory,
HTTP sources fetched once from it.
"""

from __future__ import annotations

import concurrent.futures
import gc
import multiprocessing
import resource
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio

from bench.report import Section, median, percentile
from statusd.collect.outcome import GoodResult
from statusd.collect.parse import cyclic_gc_paused, parse_and_encode, parse_big_input
from statusd.sources import ALL_SOURCES
from statusd.sources.base import Limits, SourceSpec

BIG_SOURCES = ("sms", "voice_call", "email")
LAG_TICK = 0.001


def cpu_now() -> float:
    """CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raw_inputs(data_dir: Path, source_url: str) -> dict[str, bytes]:
    """The raw bytes of every source as statusd would fetch them."""
    inputs: dict[str, bytes] = {}
    for spec in ALL_SOURCES:
        if spec.kind == "file":
            inputs[spec.name] = (data_dir / spec.location).read_bytes()
        else:
            inputs[spec.name] = httpx.get(
                f"{source_url}/{spec.location.lstrip('/')}", timeout=30
            ).content
    return inputs


def parser_rates(inputs: dict[str, bytes], limits: Limits) -> Section:
    """Each stage of each source timed on its own, in CPU seconds (noise from other
    processes on the machine changes wall time much more than CPU time), the way statusd
    runs it: the cyclic GC paused (``collect.parse.cyclic_gc_paused``), the value encoded by
    ``SourceSpec.prepared_json`` (the direct encoders where a source has one)."""
    section = Section(
        title="parsers: CPU seconds per stage, rows per second (GC paused, as in statusd)",
        headers=[
            "source",
            "bytes",
            "rows",
            "parse s",
            "rows/s parse",
            "prepare+encode s",
            "rows/s all",
        ],
    )
    for spec in ALL_SOURCES:
        raw = inputs[spec.name]
        with cyclic_gc_paused():
            start = cpu_now()
            parsed = spec.parse(raw, limits)
            parsed_at = cpu_now()
            encoded = spec.prepared_json(parsed.records)
            done = cpu_now()
        rows = len(parsed.records) + sum(parsed.skipped.values())
        parse_s, encode_s = parsed_at - start, done - parsed_at
        section.rows.append(
            [
                spec.name,
                len(raw),
                rows,
                round(parse_s, 3),
                round(rows / parse_s) if parse_s > 0 else "-",
                round(encode_s, 3),
                round(rows / (done - start)) if done > start else "-",
            ]
        )
        section.data[spec.name] = {
            "bytes": len(raw),
            "rows": rows,
            "records": len(parsed.records),
            "json_bytes": sum(map(len, encoded)),
            "parse_cpu_s": parse_s,
            "prepare_encode_cpu_s": encode_s,
        }
        del parsed, encoded
    return section


async def probe_lag(lags: list[float], stop: trio.Event) -> None:
    """Sleep ``LAG_TICK`` over and over; record how late each wake-up is (the loop's lag)."""
    while not stop.is_set():
        before = trio.current_time()
        await trio.sleep(LAG_TICK)
        lags.append(trio.current_time() - before - LAG_TICK)


Runner = Callable[[SourceSpec[Any], bytes], Awaitable[GoodResult]]


async def collect_all(
    run: Runner, specs: list[SourceSpec[Any]], inputs: dict[str, bytes]
) -> tuple[float, list[float]]:
    """Collect ``specs`` at once through ``run`` with the lag probe going; wall s and lags."""
    lags: list[float] = []
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(probe_lag, lags, stop)
        start = trio.current_time()
        async with trio.open_nursery() as collections:
            for spec in specs:
                collections.start_soon(run, spec, inputs[spec.name])
        wall = trio.current_time() - start
        stop.set()
    return wall, lags


async def compare_thread_process(inputs: dict[str, bytes], limits: Limits, workers: int) -> Section:
    """The three big sources collected at once: in worker threads all at once (statusd
    before issue 7), in worker processes (records pickled back), and in worker threads one
    at a time with the cyclic GC paused (statusd's way now), with the event loop's lag."""
    specs = [spec for spec in ALL_SOURCES if spec.name in BIG_SOURCES]

    async def in_thread(spec: SourceSpec[Any], raw: bytes) -> GoodResult:
        return await trio.to_thread.run_sync(parse_and_encode, spec, raw, limits, time.time())

    one_at_a_time = trio.CapacityLimiter(1)

    async def in_one_thread(spec: SourceSpec[Any], raw: bytes) -> GoodResult:
        return await trio.to_thread.run_sync(
            parse_big_input, spec, raw, limits, time.time(), limiter=one_at_a_time
        )

    section = Section(
        title="sms + voice_call + email collected at once: thread vs process",
        headers=["runner", "wall s", "CPU s (this process)", "loop lag p99 ms", "loop lag max ms"],
    )
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["statusd.collect.supervisor", "statusd.sources"])
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(abs, range(workers * 2)))  # start the workers before timing

        async def in_process(spec: SourceSpec[Any], raw: bytes) -> GoodResult:
            future = pool.submit(parse_and_encode, spec, raw, limits, time.time())
            return await trio.to_thread.run_sync(future.result)

        # statusd's way last: its gc.freeze() would spare the runs after it some GC work.
        runners: dict[str, Runner] = {
            "threads, all at once": in_thread,
            f"processes x{workers}": in_process,
            "threads, one at a time, GC paused": in_one_thread,
        }
        for name, runner in runners.items():
            gc.collect()
            cpu_before = cpu_now()
            wall, lags = await collect_all(runner, specs, inputs)
            cpu = cpu_now() - cpu_before
            p99, worst = percentile(lags, 0.99) * 1000, max(lags, default=0.0) * 1000
            section.rows.append(
                [name, round(wall, 3), round(cpu, 3), round(p99, 1), round(worst, 1)]
            )
            section.data[name] = {
                "wall_s": wall,
                "cpu_s": cpu,
                "lag_p99_ms": p99,
                "lag_max_ms": worst,
                "lag_ticks": len(lags),
            }
    return section


def measure_parsers(data_dir: Path, source_url: str, workers: int = 2) -> list[Section]:
    """Both sections, on the simulator's data at ``data_dir`` / ``source_url``."""
    limits = Limits()
    inputs = raw_inputs(data_dir, source_url)
    rates = parser_rates(inputs, limits)
    comparison = trio.run(partial(compare_thread_process, inputs, limits, workers))
    return [rates, comparison]


__all__ = ["measure_parsers", "median"]
