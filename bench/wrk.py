"""``wrk`` as a library: run it bounded in time over loopback and read its exact figures.

wrk prints rounded numbers for people; ``wrk_report.lua`` makes it print one JSON line with
the raw counts and latency percentiles, which ``parse_report`` reads.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.procs import BenchError, require_tool

SCRIPT = Path(__file__).with_name("wrk_report.lua")
MARKER = "BENCH-JSON "
EXTRA_WAIT = 15.0
"""wrk ends by itself after its ``-d``; this much more is allowed before it is killed."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and every kind of error."""

    requests: int
    seconds: float
    rps: float
    bytes_per_response: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: Mapping[str, int]

    @property
    def failed(self) -> int:
        """Requests that did not get a good answer (socket errors, timeouts, 4xx/5xx)."""
        return sum(self.errors.values())

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = self.failed
        return data


def parse_report(output: str) -> WrkResult:
    """The ``WrkResult`` in wrk's output (the line ``wrk_report.lua`` printed)."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            break
    else:
        raise BenchError(f"no report in wrk's output:\n{output[-2000:]}")
    requests = int(raw["requests"])
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    return WrkResult(
        requests=requests,
        seconds=round(seconds, 3),
        rps=round(requests / seconds, 1) if seconds else 0.0,
        bytes_per_response=round(raw["bytes"] / requests, 1) if requests else 0.0,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        errors={name: int(count) for name, count in raw["errors"].items()},
    )


def wrk_command(
    url: str, *, connections: int, seconds: int, threads: int = 1, headers: Sequence[str] = ()
) -> list[str]:
    """The wrk command line (``--latency`` percentiles, our report script)."""
    command = [require_tool("wrk"), f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    command += ["--timeout", "5s", "-s", str(SCRIPT)]
    for header in headers:
        command += ["-H", header]
    return [*command, url]


def run_wrk(
    url: str, *, connections: int, seconds: int, threads: int = 1, headers: Sequence[str] = ()
) -> WrkResult:
    """Drive ``url`` for ``seconds`` and return the figures; bounded by a timeout."""
    command = wrk_command(
        url, connections=connections, seconds=seconds, threads=threads, headers=headers
    )
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + EXTRA_WAIT, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {seconds + EXTRA_WAIT:g} s") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_report(done.stdout)


class WrkRun:
    """wrk started in the background, for measurements taken while it runs.

    ``stop()`` ends it early with SIGINT (wrk then prints its report as usual) and returns
    the figures; the context manager always ends the process.
    """

    def __init__(
        self, url: str, *, connections: int, seconds: int, headers: Sequence[str] = ()
    ) -> None:
        self._seconds = seconds
        self._process = subprocess.Popen(
            wrk_command(url, connections=connections, seconds=seconds, headers=headers),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> WrkRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate(timeout=EXTRA_WAIT)

    def result(self, *, interrupt: bool = False) -> WrkResult:
        """Wait for wrk's report (after SIGINT when ``interrupt``), bounded in time."""
        if interrupt and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
        try:
            out, err = self._process.communicate(timeout=self._seconds + EXTRA_WAIT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            raise BenchError("wrk did not finish in time") from None
        if self._process.returncode not in (0, -signal.SIGINT):
            raise BenchError(f"wrk failed ({self._process.returncode}): {err.strip()}")
        return parse_report(out)
