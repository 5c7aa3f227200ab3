"""Issue 7, item 5: time from process start to ``/readyz`` 200 (simulator up), time from
SIGTERM to exit while wrk is loading /api, and resident memory when idle."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from bench.procs import BenchError, Proc, cpu_seconds, rss_mb, run_simulator, run_statusd
from bench.report import Section, Target, median
from bench.sizes import Sizes
from bench.wrk import WrkRun

MAX_READY_SECONDS = 1.5
MAX_STOP_SECONDS = 1.0
MAX_IDLE_RSS_MB = 60.0


def stop_under_load(statusd: Proc, sizes: Sizes) -> tuple[float, int, dict[str, int]]:
    """SIGTERM while wrk loads /api: seconds until exit, exit status, wrk's errors."""
    with WrkRun(f"{statusd.url}/api", connections=sizes.connections, seconds=30) as run:
        time.sleep(sizes.settle_seconds)
        sent = time.monotonic()
        statusd.process.send_signal(signal.SIGTERM)
        try:
            code = statusd.process.wait(15)
        except subprocess.TimeoutExpired:
            raise BenchError("statusd did not exit within 15 s of SIGTERM") from None
        elapsed = time.monotonic() - sent
        result = run.result(interrupt=True)
    return elapsed, code, dict(result.errors)


def measure_lifecycle(workdir: Path, sizes: Sizes) -> list[Section]:
    """Cold starts (fresh state directory each), idle RSS, and a stop under load."""
    ready: list[float] = []
    ready_cpu: list[float] = []
    idle_rss: list[float] = []
    stops: list[float] = []
    codes: list[int] = []
    wrk_errors: dict[str, int] = {}
    with run_simulator(workdir, "--seed", "1") as sim:
        for _ in range(sizes.start_repeats):
            with run_statusd(workdir, sim) as statusd:
                ready.append(time.monotonic() - statusd.started_at)
                ready_cpu.append(cpu_seconds(statusd.pid))
                time.sleep(sizes.settle_seconds)
                idle_rss.append(rss_mb(statusd.pid))
        with run_statusd(workdir, sim) as statusd:
            elapsed, code, wrk_errors = stop_under_load(statusd, sizes)
            stops.append(elapsed)
            codes.append(code)
    section = Section(
        title="start and stop",
        headers=["figure", "median", "max", "runs"],
        rows=[
            ["process start -> /readyz 200 (s)", median(ready), round(max(ready), 3), len(ready)],
            ["  CPU seconds used by then", median(ready_cpu), max(ready_cpu), len(ready_cpu)],
            ["SIGTERM -> exit under wrk load (s)", median(stops), round(max(stops), 3), len(stops)],
            ["idle RSS (MiB)", median(idle_rss), round(max(idle_rss), 1), len(idle_rss)],
        ],
    )
    section.targets += [
        Target("start to ready", round(max(ready), 3), MAX_READY_SECONDS, "<=", " s"),
        Target("SIGTERM to exit under load", round(max(stops), 3), MAX_STOP_SECONDS, "<=", " s"),
        Target("idle RSS", round(max(idle_rss), 1), MAX_IDLE_RSS_MB, "<=", " MiB"),
        Target("exit status after SIGTERM", max(codes), 0, "<="),
    ]
    section.notes.append(
        f"wrk errors around the stop (expected once statusd is gone): {wrk_errors}"
    )
    section.data = {
        "ready_s": ready,
        "ready_cpu_s": ready_cpu,
        "stop_s": stops,
        "idle_rss_mib": idle_rss,
        "exit": codes,
    }
    return [section]
