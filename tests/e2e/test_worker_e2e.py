"""Big inputs parsed in worker processes (``statusd.worker``): statusd as a real process.

The same simulator data is served twice, once parsed inside statusd and once in worker
processes (``STATUSD_WORKER_PROCESS_BYTES=1``: every input past the inline limit), and
every answer that depends on the data must be the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import reference
from tests.support.simulator_process import SimulatorProcess, run_simulator
from tests.support.statusd_process import StatusdProcess, run_statusd

pytestmark = pytest.mark.e2e

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
        "cells": verdicts["cells"],
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
