"""Issue 7, item 4 (end to end): statusd collecting the simulator's ``--rows N`` files.

Timeline: statusd starts and makes its first collection (ready); the simulator writes a new
generation of data; statusd's second collection starts ``interval`` seconds after its first,
and wrk loads /api from just before it until the new document is published. The full
collection is timed from the second collection's start to the new ETag; peak RSS is VmHWM.

wrk sends ``If-None-Match: *`` so every answer is a 304: what is measured is whether the
event loop keeps answering while the collection runs, not how long 300 MB take to copy.
"""

from __future__ import annotations

import calendar
import re
import time
from pathlib import Path
from typing import Any

import httpx

from bench.parse_bench import measure_parsers
from bench.procs import BenchError, Proc, cpu_seconds, rss_mb, run_simulator, run_statusd
from bench.report import Section, Target
from bench.sizes import Sizes
from bench.wrk import WrkRun

BIG_SOURCES = ("sms", "voice_call", "email")
MAX_COLLECTION_SECONDS = 5.0
MAX_PEAK_RSS_MB = 500.0
MAX_P99_MS = 250.0
POLL = 0.05
SETTLE = 3.0


def interval_for(rows: int) -> int:
    """Seconds between collections: long enough for a collection and a regeneration."""
    return 60 if rows >= 200_000 else 3


def sources(statusd: Proc) -> dict[str, Any]:
    response = httpx.get(f"{statusd.url}/api/sources", timeout=30)
    response.raise_for_status()
    result: dict[str, Any] = response.json()["sources"]
    return result


def current_etag(statusd: Proc) -> str:
    return httpx.head(f"{statusd.url}/api", timeout=30).headers["etag"]


def wall_of(rfc3339: str) -> float:
    return float(calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ")))


def second_start(first: dict[str, Any], interval: int) -> float:
    """UNIX time when the second collection of the big sources starts (first start + interval)."""
    starts = [
        wall_of(first[name]["last_attempt"]) - float(first[name]["duration_ms"]) / 1000
        for name in BIG_SOURCES
    ]
    return min(starts) + interval


def measure_big(workdir: Path, sizes: Sizes) -> list[Section]:
    """The parsers in process, then statusd end to end, on one simulator's ``--rows`` data."""
    with run_simulator(workdir, "--seed", "1", "--rows", str(sizes.big_rows)) as sim:
        sections = measure_parsers(workdir / "data", sim.url)
        sections += measure_collection(workdir, sizes, sim)
    return sections


def measure_collection(workdir: Path, sizes: Sizes, sim: Proc) -> list[Section]:
    """Collection time, peak RSS and /api latency during a collection of ``sizes.big_rows``."""
    rows = sizes.big_rows
    interval = interval_for(rows)
    args = (
        "--interval",
        str(interval),
        "--deadline",
        str(interval),
        "--stale-after",
        str(10 * interval),
        "--log-level",  # the worker processes' peak memory is in statusd's info lines
        "info",
    )
    with run_statusd(workdir, sim, *args, ready_timeout=3 * interval) as statusd:
        ready_s = time.monotonic() - statusd.started_at
        first = sources(statusd)
        etag = current_etag(statusd)
        rss_first = rss_mb(statusd.pid)
        regenerated = httpx.post(f"{sim.url}/_control/regenerate", timeout=10 * interval)
        regenerated.raise_for_status()
        start_at = second_start(first, interval)
        late = time.time() > start_at - 1
        time.sleep(max(0.0, start_at - 1 - time.time()))
        cpu_before = cpu_seconds(statusd.pid)
        workers_cpu_before = cpu_seconds(statusd.pid, children=True)
        with WrkRun(
            f"{statusd.url}/api",
            connections=sizes.big_connections,
            seconds=4 * interval,
            headers=("If-None-Match: *",),
        ) as run:
            second, changes = watch_second_collection(statusd, first, etag, start_at + 3 * interval)
            cpu_used = cpu_seconds(statusd.pid) - cpu_before
            workers_cpu = cpu_seconds(statusd.pid, children=True) - workers_cpu_before
            result = run.result(interrupt=True)
        peak = rss_mb(statusd.pid, "VmHWM")
        rss_end = rss_mb(statusd.pid)
        body = httpx.head(
            f"{statusd.url}/api", headers={"Accept-Encoding": "identity"}, timeout=30
        ).headers
        workers_peak = worker_peak_rss(statusd.log_path.read_text(errors="replace"))
    if not changes:
        raise BenchError(f"the second collection published no new document:\n{statusd.log()}")
    collection_s = changes[-1] - start_at
    idle_collection_s = max(float(first[name]["duration_ms"]) for name in BIG_SOURCES) / 1000
    errors = {name: second[name]["error"] for name in BIG_SOURCES if second[name]["error"]}
    section = Section(
        title=f"big inputs: --rows {rows} (sms, voice, email files), interval {interval} s",
        headers=["figure", "value"],
        rows=[
            ["process start -> ready (first collection) s", round(ready_s, 2)],
            ["first collection, no load: its slowest big source s", round(idle_collection_s, 2)],
            ["second collection start -> last new /api ETag s", round(collection_s, 2)],
            ["statusd CPU s during it", round(cpu_used, 2)],
            ["worker processes' CPU s during it", round(workers_cpu, 2)],
            ["peak RSS MiB (VmHWM)", round(peak, 1)],
            ["largest worker process peak RSS MiB", workers_peak],
            ["RSS after first collection / at end MiB", f"{rss_first:.0f} / {rss_end:.0f}"],
            ["/api body bytes", body.get("content-length", "?")],
            [
                f"wrk -c{sizes.big_connections} 304s during the collection: requests",
                result.requests,
            ],
            [
                "  req/s, p50 / p99 / max ms",
                f"{result.rps:.0f}, {result.p50_ms} / {result.p99_ms} / {result.max_ms}",
            ],
            ["  failed", result.failed],
        ],
    )
    for name in BIG_SOURCES:
        section.rows.append(
            [
                f"{name} collection ms (first / second)",
                f"{first[name]['duration_ms']} / {second[name]['duration_ms']}",
            ]
        )
    section.targets += [
        Target(
            "full collection, no load (first)",
            round(idle_collection_s, 2),
            MAX_COLLECTION_SECONDS,
            "<=",
            " s",
        ),
        Target(
            f"full collection under wrk -c{sizes.big_connections} (second)",
            round(collection_s, 2) if not errors else float("inf"),
            MAX_COLLECTION_SECONDS,
            "<=",
            " s",
        ),
        Target("peak RSS", round(peak, 1), MAX_PEAK_RSS_MB, "<=", " MiB"),
        Target("/api p99 during the collection", result.p99_ms, MAX_P99_MS, "<=", " ms"),
        Target("failed requests", result.failed, 0, "<="),
    ]
    if late:
        section.notes.append("the regeneration outlasted the interval: wrk started late")
    if errors:
        section.notes.append(f"second collection failed for {errors}")
    section.data = {
        "rows": rows,
        "interval_s": interval,
        "ready_s": ready_s,
        "collection_s": collection_s,
        "cpu_s": cpu_used,
        "workers_cpu_s": workers_cpu,
        "workers_peak_rss_mib": workers_peak,
        "idle_collection_s": idle_collection_s,
        "peak_rss_mib": peak,
        "rss_first_mib": rss_first,
        "rss_end_mib": rss_end,
        "wrk": result.as_json(),
        "first": {name: first[name] for name in BIG_SOURCES},
        "second": {name: second[name] for name in BIG_SOURCES},
    }
    return [section]


def worker_peak_rss(log: str) -> float | None:
    """The largest peak RSS of statusd's worker processes, from its log (None: no worker)."""
    found = [float(value) for value in re.findall(r"workers_max_rss_mib=([0-9.]+)", log)]
    return max(found, default=None)


def watch_second_collection(
    statusd: Proc, first: dict[str, Any], etag: str, deadline: float
) -> tuple[dict[str, Any], list[float]]:
    """Poll until every big source has finished its second collection and the /api ETag has
    then been stable for ``SETTLE`` seconds; the final /api/sources and the UNIX times at
    which the ETag changed."""
    changes: list[float] = []
    done: dict[str, Any] | None = None
    next_sources = 0.0
    while time.time() < deadline:
        try:
            now_etag = current_etag(statusd)
        except httpx.HTTPError:
            now_etag = etag
        if now_etag != etag:
            etag = now_etag
            changes.append(time.time())
        if done is None and time.time() >= next_sources:
            next_sources = time.time() + 4 * POLL
            now = sources(statusd)
            if all(now[n]["last_attempt"] != first[n]["last_attempt"] for n in BIG_SOURCES):
                done = now
                settled_from = time.time()
        if done is not None and time.time() - max([settled_from, *changes]) > SETTLE:
            return done, changes
        time.sleep(POLL)
    raise BenchError(f"the second collection did not finish in time:\n{statusd.log()}")
