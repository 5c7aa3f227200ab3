"""Issue 16: the crowd during an outage. Open pages (``bench.crowd``, one process) against
one statusd with its default settings, and through the shipped nginx configuration
(``nginx-cache.conf``: micro-cache and nchan fan-out) in front of two replicas.

- ``direct``: wrk on ``/api`` with no page open, then the same wrk load with
  ``crowd_direct_pages`` pages open (each holds a stream up to ``max_event_streams``, the rest
  poll); ``/healthz`` probed all along; statusd's RSS and the memory per open stream.
- ``nginx``: ``crowd_nginx_pages`` pages on nginx; a change of data (the simulator
  regenerates) must reach 99 % of them, each having fetched the new ``/api``, within 2 s;
  then one replica is SIGKILLed and the data changes again: every page must get the new
  document within 30 s. The candidate "pages only poll through the micro-cache" is measured
  the same way for comparison (docs/production.md says why nchan is shipped).
"""

from __future__ import annotations

import json
import math
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.crowd import same_document
from bench.nginx_bench import UPSTREAM_ARGS, publishing_config, run_nginx
from bench.procs import ROOT, BenchError, Proc, rss_mb, run_simulator, run_statusd
from bench.report import Section, Target
from bench.sizes import Sizes
from bench.wrk import WrkResult, WrkRun, run_wrk

READY_TIMEOUT = 120.0
END_TIMEOUT = 60.0
PROBE_PAUSE = 0.02
MAX_SPREAD_SECONDS = 2.0
MAX_STALE_SECONDS = 30.0
MIN_RPS_RATIO = 0.8
MAX_HEALTHZ_P99_MS = 500.0


class Crowd:
    """``python -m bench.crowd`` running; ``finish()`` ends it and returns its record."""

    def __init__(
        self, workdir: Path, url: str, pages: int, *, poll: float, streams: bool = True
    ) -> None:
        self.out = workdir / f"crowd-{time.monotonic_ns()}.json"
        command = [sys.executable, "-m", "bench.crowd", "--url", url, "--pages", str(pages)]
        command += ["--seconds", "3600", "--poll", str(poll), "--out", str(self.out)]
        if not streams:
            command.append("--no-stream")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(workdir / "crowd.log").open("ab"),
        )

    def wait_ready(self) -> float:
        """Seconds until every page holds a document (BenchError after READY_TIMEOUT)."""
        started = time.monotonic()
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], READY_TIMEOUT)
        line = self.process.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            raise BenchError(f"the crowd did not get ready within {READY_TIMEOUT:g} s")
        return time.monotonic() - started

    def finish(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(END_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise BenchError("the crowd did not end in time") from None
        if self.process.returncode != 0:
            raise BenchError(f"the crowd failed with {self.process.returncode}")
        record: dict[str, Any] = json.loads(self.out.read_text())
        return record

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(END_TIMEOUT)


@contextmanager
def crowd(
    workdir: Path, url: str, pages: int, *, poll: float, streams: bool = True
) -> Iterator[Crowd]:
    running = Crowd(workdir, url, pages, poll=poll, streams=streams)
    try:
        yield running
    finally:
        running.kill()


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank; inf counts)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def probe_healthz(url: str, until: float) -> list[float]:
    """``GET /healthz`` one after another until ``until``; latencies in ms (inf: failed)."""
    latencies: list[float] = []
    with httpx.Client(timeout=5.0) as client:
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


def measure_crowd_direct(workdir: Path, sizes: Sizes) -> Section:
    """One statusd, default settings: wrk alone, then wrk with the pages open."""
    pages = sizes.crowd_direct_pages
    with run_simulator(workdir, "--seed", "1") as sim, run_statusd(workdir, sim) as statusd:
        url = f"{statusd.url}/api"
        idle_rss = rss_mb(statusd.pid)
        alone = run_wrk(url, connections=sizes.connections, seconds=sizes.wrk_seconds)
        with crowd(workdir, statusd.url, pages, poll=sizes.crowd_poll_seconds) as running:
            ready_after = running.wait_ready()
            streams = wait_streams_settled(statusd, sizes.settle_seconds)
            crowd_rss = rss_mb(statusd.pid)
            with WrkRun(url, connections=sizes.connections, seconds=sizes.wrk_seconds) as run:
                healthz = probe_healthz(statusd.url, time.monotonic() + sizes.wrk_seconds)
                loaded = run.result()
            peak_rss = rss_mb(statusd.pid, "VmHWM")
            record = running.finish()
    return direct_section(
        sizes, alone, loaded, healthz, record, streams, idle_rss, crowd_rss, peak_rss, ready_after
    )


def direct_section(
    sizes: Sizes,
    alone: WrkResult,
    loaded: WrkResult,
    healthz: list[float],
    record: dict[str, Any],
    streams: int,
    idle_rss: float,
    crowd_rss: float,
    peak_rss: float,
    ready_after: float,
) -> Section:
    pages = record["pages"]
    section = Section(
        title=f"crowd, one statusd (defaults): {pages} open pages + wrk -c{sizes.connections} "
        f"-d{sizes.wrk_seconds}s on /api",
        headers=["load", "/api req/s", "p50 ms", "p99 ms", "failed"],
    )
    section.rows.append(["wrk alone", alone.rps, alone.p50_ms, alone.p99_ms, alone.failed])
    section.rows.append(
        [f"wrk + {pages} pages", loaded.rps, loaded.p50_ms, loaded.p99_ms, loaded.failed]
    )
    failed = loaded.failed + alone.failed + int(record["api_failed_while_open"])
    ratio = loaded.rps / alone.rps if alone.rps else 0.0
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
        Target("/api req/s with pages / without", round(ratio, 3), MIN_RPS_RATIO, ">="),
    ]
    section.notes += [
        f"streams open {streams} (the rest poll /api every {sizes.crowd_poll_seconds:g} s), "
        f"refused {record['streams_refused']}; pages ready after {ready_after:.1f} s",
        f"statusd RSS {idle_rss:.1f} MiB idle, {crowd_rss:.1f} MiB with the pages, peak "
        f"{peak_rss:.1f} MiB: {per_stream_kb:.1f} KiB per open stream",
        f"/healthz probes {len(healthz)}, failed {sum(1 for v in healthz if v == math.inf)}; "
        f"page /api requests {record['api_requests']}, failures {record['api_failed_by_reason']} "
        f"({record['api_failed_on_arrival']} while the crowd arrived)",
    ]
    section.data = {
        "alone": alone.as_json(),
        "loaded": loaded.as_json(),
        "healthz_p99_ms": healthz_p99,
        "ratio": ratio,
        "streams_open": streams,
        "rss_mib": {"idle": idle_rss, "crowd": crowd_rss, "peak": peak_rss},
        "kib_per_stream": per_stream_kb,
        "crowd": {k: v for k, v in record.items() if k != "documents"},
    }
    return section


def current_etag(upstream: Proc) -> str | None:
    try:
        response = httpx.get(f"{upstream.url}/api", timeout=2.0)
    except httpx.HTTPError:
        return None
    etag: str | None = response.headers.get("etag")
    return None if etag is None else same_document(etag)


def change_data(sim: Proc, upstreams: Sequence[Proc], known: set[str]) -> tuple[float, float]:
    """Make the simulator write new data: when (``time.monotonic()``) it was asked to, and
    when an upstream first served a document not in ``known`` (BenchError after 30 s)."""
    asked = time.monotonic()
    httpx.post(f"{sim.url}/_control/regenerate", timeout=60).raise_for_status()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for upstream in upstreams:
            etag = current_etag(upstream)
            if etag is not None and etag not in known:
                return asked, time.monotonic()
        time.sleep(0.005)
    raise BenchError("no upstream served new data within 30 s of the regeneration")


def reach_times(
    record: dict[str, Any], change: tuple[float, float], known: set[str], what: str = "documents"
) -> list[float]:
    """Per page, seconds from the moment a replica first served the change until the page
    held a document not in ``known`` (those seen before the change was asked for), or with
    ``what="events"`` was told of one; 0 when it had it before the harness saw a replica
    serve it; inf: never within the run."""
    asked, served = change
    known = known | etags_before(record, asked)
    first: dict[int, float] = {}
    for page, at, etag in record[what]:
        if at >= asked and etag not in known and page not in first:
            first[page] = max(0.0, at - served)
    return [first.get(page, math.inf) for page in range(record["pages"])]


def etags_before(record: dict[str, Any], until: float) -> set[str]:
    return {etag for _, at, etag in record["documents"] if at < until}


def nginx_run(workdir: Path, sizes: Sizes, *, streams: bool, kill: bool) -> dict[str, Any]:
    """Pages on nginx over two replicas: one change, then (``kill``) a replica killed and a
    second change. Per change: every page's delay, and the crowd's record."""
    publish_port, publish_toml = publishing_config(workdir)
    args = (*UPSTREAM_ARGS, "--config", str(publish_toml))
    pages = sizes.crowd_nginx_pages
    with (
        run_simulator(workdir, "--seed", "1") as sim,
        run_statusd(workdir, sim, *args, name="statusd-a") as first,
        run_statusd(workdir, sim, *args, name="statusd-b") as second,
        run_nginx(workdir / "nginx", (first, second), b"{}", publish_port) as (cache_url, _),
        crowd(workdir, cache_url, pages, poll=sizes.crowd_poll_seconds, streams=streams) as running,
    ):
        ready_after = running.wait_ready()
        time.sleep(sizes.settle_seconds)
        observe = sizes.crowd_observe_seconds if streams else sizes.crowd_poll_seconds + 5
        known = {e for e in (current_etag(first), current_etag(second)) if e}
        change = change_data(sim, (first, second), known)
        time.sleep(observe)
        killed_at = math.nan
        if kill:
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(10)
            killed_at = time.monotonic()
            known_after = {e for e in (current_etag(second),) if e}
            change_after_kill = change_data(sim, (second,), known_after)
            time.sleep(observe)
        record = running.finish()
    result: dict[str, Any] = {
        "pages": pages,
        "ready_after": ready_after,
        "record": record,
        "change": reach_times(record, change, known),
        "told": reach_times(record, change, known, "events"),
    }
    if kill:
        result["after_kill"] = reach_times(record, change_after_kill, known_after)
        result["killed_at"] = killed_at
    return result


def measure_crowd_nginx(workdir: Path, sizes: Sizes) -> Section:
    nchan = nginx_run(workdir / "nchan", sizes, streams=True, kill=True)
    polling = nginx_run(workdir / "polling", sizes, streams=False, kill=False)
    pages = sizes.crowd_nginx_pages
    section = Section(
        title=f"crowd through nginx (nginx-cache.conf) over two statusd: {pages} open pages",
        headers=[
            "candidate",
            "change → 50 %",
            "→ 99 % (s)",
            "→ 100 % (s)",
            "failed /api",
            "/api requests",
        ],
    )
    for name, run in (
        ("nchan fan-out (shipped)", nchan),
        (f"polling every {sizes.crowd_poll_seconds:g} s via the cache", polling),
    ):
        times = run["change"]
        section.rows.append(
            [
                name,
                round(percentile(times, 0.5), 3),
                round(percentile(times, 0.99), 3),
                round(max(times), 3),
                run["record"]["api_failed"],
                run["record"]["api_requests"],
            ]
        )
    after = nchan["after_kill"]
    section.rows.append(
        [
            "nchan, after one statusd is killed",
            round(percentile(after, 0.5), 3),
            round(percentile(after, 0.99), 3),
            round(max(after), 3),
            "",
            "",
        ]
    )
    record = nchan["record"]
    section.targets += [
        Target(
            "failed requests of the pages (nchan run, kill included)", record["api_failed"], 0, "<="
        ),
        Target(
            "change reaches 99 % of the pages",
            round(percentile(nchan["change"], 0.99), 3),
            MAX_SPREAD_SECONDS,
            "<=",
            " s",
        ),
        Target(
            "after a kill, the last page gets the change",
            round(max(after), 3),
            MAX_STALE_SECONDS,
            "<=",
            " s",
        ),
    ]
    section.notes += [
        f"nchan: the change was announced to 99 % of the pages "
        f"{percentile(nchan['told'], 0.99):.3f} s after the first replica served it (the rest "
        "of the delay is the cache and the other replica catching up)",
        f"pages ready after {nchan['ready_after']:.1f} s (nchan) / {polling['ready_after']:.1f} s "
        f"(polling); streams opened {record['streams_opened']}, stream failures "
        f"{record['stream_failures']} (the kill breaks none: nginx holds the streams)",
        "a change is the simulator regenerating its data; its time is the moment the first "
        "replica serves a new /api, and a page has it when it has fetched that /api",
    ]
    section.data = {
        name: {
            "ready_after": run["ready_after"],
            "change_seconds_p50_p99_max": [
                percentile(run["change"], 0.5),
                percentile(run["change"], 0.99),
                max(run["change"]),
            ],
            "crowd": {k: v for k, v in run["record"].items() if k != "documents"},
        }
        for name, run in (("nchan", nchan), ("polling", polling))
    }
    section.data["nchan"]["after_kill_seconds_p50_p99_max"] = [
        percentile(after, 0.5),
        percentile(after, 0.99),
        max(after),
    ]
    return section


def measure_crowd(workdir: Path, sizes: Sizes) -> list[Section]:
    """Both crowd measurements of issue 16."""
    workdir.chmod(0o755)  # nginx's workers (another user) read their files below it
    (workdir / "direct").mkdir()
    (workdir / "nchan").mkdir()
    (workdir / "polling").mkdir()
    return [measure_crowd_direct(workdir / "direct", sizes), measure_crowd_nginx(workdir, sizes)]
