"""The crowd of ``bench.crowd`` as processes: the pages split over several of them, their
records merged into one, and what the harness needs to check that the load generator is not
the bottleneck (its CPU time, its event loops' lag). The client is the Python one
(``bench/crowd.py``) or the same pages in Go (``bench/crowd_go``, same command line, protocol
and record), built by ``crowd_client``."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import ROOT, BenchError, cpu_seconds

READY_TIMEOUT = 120.0
END_TIMEOUT = 60.0
BUILD_TIMEOUT = 300.0
GO_SOURCE = ROOT / "bench" / "crowd_go"
SUMMED = (
    "api_requests",
    "verdicts_requests",
    "sources_requests",
    "api_failed",
    "api_failed_on_arrival",
    "api_failed_while_open",
    "streams_opened",
    "streams_refused",
)
COUNTED = ("api_failed_by_reason", "api_failed_by_request", "stream_failures")
LISTED = ("documents", "events", "loop_lags")


@dataclass(frozen=True, slots=True)
class Client:
    """A crowd client: its name for the report and the command that runs it."""

    name: str
    command: tuple[str, ...]


PYTHON_CLIENT = Client("python (bench/crowd.py)", (sys.executable, "-m", "bench.crowd"))


def crowd_client(workdir: Path, *, go: bool) -> Client:
    """The Go client built into ``workdir`` when ``go`` is asked for and on PATH, else the
    Python one (BenchError when the build fails)."""
    tool = shutil.which("go")
    if not go or tool is None:
        return PYTHON_CLIENT
    binary = workdir / "crowd-go"
    env = {**os.environ, "GOCACHE": str(workdir / "go-cache"), "GOPATH": str(workdir / "go")}
    built = subprocess.run(
        [tool, "build", "-o", str(binary), "."],
        cwd=GO_SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if built.returncode != 0:
        raise BenchError(f"go build of {GO_SOURCE} failed: {built.stderr.strip()}")
    return Client("go (bench/crowd_go)", (str(binary),))


class Crowd:
    """``python -m bench.crowd`` in ``processes`` processes sharing ``pages`` (numbered from
    ``first_page``); ``finish()`` ends them and returns their merged record. As a context
    manager it kills whatever is still running when the block is left."""

    def __init__(
        self,
        workdir: Path,
        url: str,
        pages: int,
        *,
        poll: float,
        streams: bool = True,
        processes: int = 1,
        first_page: int = 0,
        client: Client = PYTHON_CLIENT,
    ) -> None:
        self.client = client
        self.outs: list[Path] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        start = first_page
        for share in split(pages, processes):
            out = workdir / f"crowd-{time.monotonic_ns()}.json"
            command = [*client.command, "--url", url, "--pages", str(share)]
            command += ["--seconds", "3600", "--poll", str(poll), "--out", str(out)]
            command += ["--first-page", str(start)]
            if not streams:
                command.append("--no-stream")
            self.outs.append(out)
            with (workdir / "crowd.log").open("ab") as log:  # the child keeps its own copy
                self.processes.append(
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=log,
                    )
                )
            start += share

    def wait_ready(self) -> float:
        """Seconds until every page holds a document (BenchError after READY_TIMEOUT)."""
        started = time.monotonic()
        waiting = {p.stdout: p for p in self.processes if p.stdout is not None}
        while waiting:
            left = READY_TIMEOUT - (time.monotonic() - started)
            ready, _, _ = select.select(list(waiting), [], [], max(0.0, left))
            if not ready:
                raise BenchError(f"the crowd did not get ready within {READY_TIMEOUT:g} s")
            for stdout in ready:
                if stdout.readline().strip() != b"ready":
                    raise BenchError("a crowd process ended before it was ready")
                del waiting[stdout]
        return time.monotonic() - started

    def cpu_seconds(self) -> float:
        """CPU seconds the crowd's processes have used so far."""
        return sum(cpu_seconds(p.pid) for p in self.processes if p.poll() is None)

    def finish(self) -> dict[str, Any]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self.processes:
            try:
                process.wait(END_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                raise BenchError("the crowd did not end in time") from None
            if process.returncode != 0:
                raise BenchError(f"the crowd failed with {process.returncode}")
        return {
            **merge([json.loads(out.read_text()) for out in self.outs]),
            "client": self.client.name,
        }

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(END_TIMEOUT)

    def __enter__(self) -> Crowd:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
        for process in self.processes:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()


def split(pages: int, processes: int) -> list[int]:
    """``pages`` shared as evenly as can be over at most ``processes`` processes."""
    count = max(1, min(processes, pages))
    return [pages // count + (1 if index < pages % count else 0) for index in range(count)]


def merge(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One record for the pages of several processes (each numbered its own pages)."""
    merged: dict[str, Any] = {
        "pages": sum(r["pages"] for r in records),
        "first_page": min(r["first_page"] for r in records),
        "started": min(r["started"] for r in records),
        "processes": len(records),
    }
    for name in SUMMED:
        merged[name] = sum(r[name] for r in records)
    for name in COUNTED:
        merged[name] = dict(sum((Counter(r[name]) for r in records), Counter()))
    for name in LISTED:
        merged[name] = [item for r in records for item in r[name]]
    return merged


def page_requests(record: dict[str, Any]) -> str:
    """The requests the pages made, for a report's notes."""
    return (
        f"page requests: /api {record['api_requests']}, /api/verdicts "
        f"{record['verdicts_requests']}, /api/sources {record['sources_requests']}"
    )


def page_numbers(record: dict[str, Any]) -> range:
    """The numbers of the pages a record covers."""
    first: int = record["first_page"]
    return range(first, first + record["pages"])
