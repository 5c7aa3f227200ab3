"""Issue 16: the crowd during an outage. Open pages (``bench.crowd``) against one statusd
with its default settings, and through the shipped nginx configuration (``nginx-cache.conf``:
micro-cache and nchan fan-out) in front of two replicas (``bench.crowd_nginx``).

- ``direct``: wrk on ``/api`` with no page open, then the same wrk load with
  ``crowd_direct_pages`` pages open (each holds a stream up to ``max_event_streams``, the rest
  poll); ``/healthz`` probed all along; statusd's RSS and the memory per open stream.
- ``nginx``: ``crowd_nginx_pages`` pages on nginx, a change of data, a replica killed and
  another change (``bench.crowd_nginx``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.crowd_nginx import measure_crowd_nginx
from bench.crowd_procs import READY_TIMEOUT, Client, Crowd, crowd_client, page_requests
from bench.procs import BenchError, Proc, rss_mb, run_simulator, run_statusd
from bench.report import Section, Target, percentile
from bench.sizes import Sizes
from bench.wrk import WrkResult, WrkRun, run_wrk

T = TypeVar("T")

PROBE_PAUSE = 0.02
MIN_CAPACITY_RATIO = 0.8
"""Open pages must not cost statusd more than a fifth of what it answers. Their own requests
count as answered: a live page asks /api/sources every 10 s and revalidates /api every 30 s
(web/app.js), 670 requests/s for 5,000 pages, which wrk's share alone would count as lost."""
MAX_HEALTHZ_P99_MS = 500.0


def probe_healthz(url: str, until: float) -> list[float]:
    """``GET /healthz`` one after another until ``until``, each on a new connection as a load
    balancer's checks are (so each also waits for a free connection slot when statusd is at
    ``max_connections``); latencies in ms (inf: failed)."""
    latencies: list[float] = []
    with httpx.Client(timeout=5.0, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                ok = client.get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000 if ok else math.inf)
            time.sleep(PROBE_PAUSE)
    return latencies


def open_streams(statusd: Proc) -> int:
    """/api/events streams being answered (statusd's in-flight requests, minus this one)."""
    text = httpx.get(f"{statusd.url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("statusd_event_streams_open "):
            return int(float(line.split()[1]))
    raise BenchError("statusd's /metrics has no statusd_event_streams_open")


def requests_served(statusd: Proc) -> float:
    """Every response statusd has counted (``statusd_http_requests_total``, all routes)."""
    text = httpx.get(f"{statusd.url}/metrics", timeout=10).text
    prefix = "statusd_http_requests_total{"
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def served_per_second(statusd: Proc, work: Callable[[], T]) -> tuple[T, float]:
    """``work()``'s result and the requests statusd answered per second meanwhile (wrk's, the
    pages' own and the probes')."""
    before, started = requests_served(statusd), time.monotonic()
    result = work()
    return result, (requests_served(statusd) - before) / (time.monotonic() - started)


def wait_streams_settled(statusd: Proc, settle: float) -> int:
    """The open streams, once their count has not grown for ``settle`` seconds (the crowd
    has arrived; at most READY_TIMEOUT)."""
    deadline = time.monotonic() + READY_TIMEOUT
    count = open_streams(statusd)
    while time.monotonic() < deadline:
        time.sleep(settle)
        now = open_streams(statusd)
        if now <= count:
            return now
        count = now
    raise BenchError(f"event streams still opening after {READY_TIMEOUT:g} s")


def measure_crowd_direct(workdir: Path, sizes: Sizes, client: Client) -> Section:
    """One statusd, default settings: wrk alone, then wrk with the pages open."""
    pages = sizes.crowd_direct_pages
    with run_simulator(workdir, "--seed", "1") as sim, run_statusd(workdir, sim) as statusd:
        url = f"{statusd.url}/api"
        idle_rss = rss_mb(statusd.pid)
        alone, served_alone = served_per_second(
            statusd, lambda: run_wrk(url, connections=sizes.connections, seconds=sizes.wrk_seconds)
        )
        with Crowd(
            workdir, statusd.url, pages, poll=sizes.crowd_poll_seconds, client=client
        ) as running:
            ready_after = running.wait_ready()
            streams = wait_streams_settled(statusd, sizes.settle_seconds)
            crowd_rss = rss_mb(statusd.pid)
            (loaded, healthz), served_loaded = served_per_second(
                statusd, lambda: wrk_and_probes(url, statusd.url, sizes)
            )
            peak_rss = rss_mb(statusd.pid, "VmHWM")
            record = running.finish()
    return direct_section(
        sizes,
        alone,
        loaded,
        (served_alone, served_loaded),
        healthz,
        record,
        streams,
        (idle_rss, crowd_rss, peak_rss),
        ready_after,
    )


def wrk_and_probes(url: str, base_url: str, sizes: Sizes) -> tuple[WrkResult, list[float]]:
    """wrk on ``url`` with ``/healthz`` probed meanwhile: wrk's result, the probes' latencies."""
    with WrkRun(url, connections=sizes.connections, seconds=sizes.wrk_seconds) as run:
        healthz = probe_healthz(base_url, time.monotonic() + sizes.wrk_seconds)
        return run.result(), healthz


def direct_section(
    sizes: Sizes,
    alone: WrkResult,
    loaded: WrkResult,
    served: tuple[float, float],
    healthz: list[float],
    record: dict[str, Any],
    streams: int,
    rss: tuple[float, float, float],
    ready_after: float,
) -> Section:
    """``served``: requests statusd answered per second, wrk alone and with the pages;
    ``rss``: statusd's RSS idle, with the pages, and its peak."""
    pages = record["pages"]
    idle_rss, crowd_rss, peak_rss = rss
    section = Section(
        title=f"crowd, one statusd (defaults): {pages} open pages + wrk -c{sizes.connections} "
        f"-d{sizes.wrk_seconds}s on /api",
        headers=["load", "wrk /api req/s", "p50 ms", "p99 ms", "failed", "statusd answered/s"],
    )
    for name, result, rate in (
        ("wrk alone", alone, served[0]),
        (f"wrk + {pages} pages", loaded, served[1]),
    ):
        section.rows.append(
            [name, result.rps, result.p50_ms, result.p99_ms, result.failed, round(rate, 1)]
        )
    failed = loaded.failed + alone.failed + int(record["api_failed_while_open"])
    ratio = loaded.rps / alone.rps if alone.rps else 0.0
    capacity = served[1] / served[0] if served[0] else 0.0
    healthz_p99 = percentile(healthz, 0.99)
    per_stream_kb = (crowd_rss - idle_rss) * 1024 / streams if streams else 0.0
    section.targets += [
        Target("failed /api requests (wrk, and pages once arrived)", failed, 0, "<="),
        Target(
            "/healthz p99 with the pages open",
            round(healthz_p99, 2),
            MAX_HEALTHZ_P99_MS,
            "<=",
            " ms",
        ),
        Target(
            "requests statusd answers per second with the pages open (wrk's and the pages' "
            "own) / wrk alone",
            round(capacity, 3),
            MIN_CAPACITY_RATIO,
            ">=",
        ),
    ]
    section.notes += [
        f"streams open {streams} (the rest poll /api every {sizes.crowd_poll_seconds:g} s), "
        f"refused {record['streams_refused']}; pages ready after {ready_after:.1f} s",
        f"statusd RSS {idle_rss:.1f} MiB idle, {crowd_rss:.1f} MiB with the pages, peak "
        f"{peak_rss:.1f} MiB: {per_stream_kb:.1f} KiB per open stream",
        f"wrk's /api req/s with the pages ÷ alone: {ratio:.3f} (the rest of statusd's time "
        f"answered the pages: {served[1] - loaded.rps:.0f} other requests/s)",
        f"/healthz probes {len(healthz)}, failed {sum(1 for v in healthz if v == math.inf)}; "
        f"{page_requests(record)}; failures {record['api_failed_by_reason']} "
        f"({record['api_failed_on_arrival']} while the crowd arrived); the crowd client: "
        f"{record['client']}",
    ]
    section.data = {
        "alone": alone.as_json(),
        "loaded": loaded.as_json(),
        "healthz_p99_ms": healthz_p99,
        "ratio": ratio,
        "served_per_second": {"alone": served[0], "loaded": served[1]},
        "capacity_ratio": capacity,
        "streams_open": streams,
        "rss_mib": {"idle": idle_rss, "crowd": crowd_rss, "peak": peak_rss},
        "kib_per_stream": per_stream_kb,
        "crowd": {k: v for k, v in record.items() if k != "documents"},
    }
    return section


def measure_crowd(workdir: Path, sizes: Sizes) -> list[Section]:
    """Both crowd measurements of issue 16, with the crowd client built once for both."""
    workdir.chmod(0o755)  # nginx's workers (another user) read their files below it
    (workdir / "direct").mkdir()
    (workdir / "nchan").mkdir()
    (workdir / "polling").mkdir()
    client = crowd_client(workdir, go=sizes.crowd_go)
    return [
        measure_crowd_direct(workdir / "direct", sizes, client),
        *measure_crowd_nginx(workdir, sizes, client),
    ]
