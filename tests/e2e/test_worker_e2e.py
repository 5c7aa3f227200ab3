"""Big inputs parsed in worker processes (``statusd.collect.bigparse``): statusd as a real process.

The same simulator data is served twice, once parsed inside statusd and once in worker
processes (``STATUSD_WORKER_PROCESS_BYTES=1``: every input past the inline limit), and
every answer that depends on the data must be the same.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import reference
from tests.support.simulator_process import SimulatorProcess, run_simulator
from tests.support.statusd_process import StatusdProcess, run_statusd

pytestmark = pytest.mark.e2e

FAST = ("--interval", "1", "--deadline", "0.9", "--stale-after", "5")
# Enough rows that the SMS, voice and email files pass the 128 KiB parsed on the loop.
ROWS = "12000"
BIG_SOURCES = ("sms", "voice_call", "email")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorProcess]:
    with run_simulator(tmp_path / "data", "--seed", "11", "--rows", ROWS) as simulator:
        yield simulator


def answers(statusd: StatusdProcess) -> dict[str, Any]:
    """What the data decides: /api (plain and gzip), record counts and the verdicts."""
    plain = statusd.get("/api", headers={"Accept-Encoding": "identity"})
    zipped = statusd.get("/api", headers={"Accept-Encoding": "gzip"})
    sources = statusd.get("/api/sources").json()["sources"]
    verdicts = statusd.get("/api/verdicts").json()
    return {
        "api": plain.content,
        "gzip_inflated": zipped.content,  # httpx inflates it: a broken stream would raise
        "gzip_encoding": zipped.headers.get("content-encoding"),
        "records": {name: sources[name]["records"] for name in sources},
        "skipped": {name: sources[name]["skipped"] for name in sources},
        "errors": {name: sources[name]["error"] for name in sources},
        # age_seconds depends on when each run asked, not on the data
        "cells": [{k: v for k, v in c.items() if k != "age_seconds"} for c in verdicts["cells"]],
    }


def run_once(sim: SimulatorProcess, workdir: Path, worker_bytes: str) -> dict[str, Any]:
    workdir.mkdir()
    args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url)
    env = {"STATUSD_WORKER_PROCESS_BYTES": worker_bytes, "STATUSD_STATE_DIR": str(workdir)}
    with run_statusd(workdir, *args, env=env) as statusd:
        found = answers(statusd)
        found["worker_logs"] = sorted(
            name
            for name in BIG_SOURCES
            if any(
                "parsed in a worker process" in line and f"source={name} " in line + " "
                for line in statusd.log().splitlines()
            )
        )
        return found


def test_worker_processes_serve_what_statusd_would(sim: SimulatorProcess, tmp_path: Path) -> None:
    for name in ("sms.data", "voice.data", "email.data"):
        assert (sim.data_dir / name).stat().st_size > 128 * 1024, name
    inside = run_once(sim, tmp_path / "inside", "0")
    workers = run_once(sim, tmp_path / "workers", "1")
    assert inside["worker_logs"] == []
    assert workers["worker_logs"] == sorted(BIG_SOURCES)
    assert workers["errors"] == dict.fromkeys(workers["errors"])
    assert workers["api"] == inside["api"]
    assert workers["gzip_encoding"] == "gzip"
    assert workers["gzip_inflated"] == workers["api"]
    assert workers["records"] == inside["records"]
    assert workers["skipped"] == inside["skipped"]
    assert workers["cells"] == inside["cells"]
    assert workers["records"]["voice_call"] > 10_000
    # and the value is the contract's, not just the same as the other path's
    data = json.loads(workers["api"])["data"]
    assert data["sms"] == reference.expected_sms(sim.data_dir)
    assert data["voice_call"] == reference.expected_voice(sim.data_dir)
    assert data["email"] == reference.expected_email(sim.data_dir)
    # nothing is left behind in the state directory: spill files have no name
    leftovers = [p.name for p in (tmp_path / "workers").iterdir() if "spill" in p.name]
    assert leftovers == []


def spill_files_open(pid: int) -> int:
    """Unnamed spill files the process holds open (``/proc/PID/fd`` links to deleted files)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    count = 0
    for link in fd_dir.iterdir():
        try:
            target = os.readlink(link)
        except OSError:  # closed meanwhile
            continue
        count += target.endswith("(deleted)")
    return count


def test_spill_files_are_released_as_data_changes(tmp_path: Path) -> None:
    """New data every second, every input through a worker: the spill files of replaced
    results are closed (their space freed), so open ones stay few however long it runs."""
    refreshing = ("--seed", "5", "--rows", ROWS, "--refresh", "1")
    with run_simulator(tmp_path / "data", *refreshing) as sim:
        args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url, *FAST)
        env = {"STATUSD_WORKER_PROCESS_BYTES": "1", "STATUSD_STATE_DIR": str(tmp_path / "s")}
        with run_statusd(tmp_path, *args, env=env) as statusd:
            counts = []
            for _ in range(8):
                time.sleep(1)
                counts.append(spill_files_open(statusd.process.pid))
            log = statusd.log()
            sources = statusd.get("/api/sources").json()["sources"]
    for name in BIG_SOURCES:  # inputs kept changing, so workers kept running
        assert log.count(f'parsed in a worker process" source={name} ') >= 3, name
    assert all(source["ok"] for source in sources.values()), sources
    # at most: the current result of each of the 4 big-capable sources, the one being
    # made, and the previous ones still held by a state-file write or a request
    assert max(counts) <= 12, counts
