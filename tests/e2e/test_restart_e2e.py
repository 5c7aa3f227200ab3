"""Nothing lost across restarts: the state file serves the last good document at once."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import run_statusd

pytestmark = pytest.mark.e2e


def saved_sources(state_dir: Path) -> set[str]:
    """The sources the state file holds now (none while there is no file yet)."""
    path = state_dir / "last-good.json"
    return set(json.loads(path.read_bytes())["sources"]) if path.exists() else set()


def test_restart_during_an_outage_serves_the_saved_document(tmp_path: Path) -> None:
    """Sources all down after a restart: /readyz 200 and the same /api from the state file."""
    state_dir = tmp_path / "state"
    with run_simulator(tmp_path / "data", "--seed", "3") as sim:
        args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url)
        with run_statusd(tmp_path, *args, "--state-dir", str(state_dir)) as statusd:
            before = statusd.get("/api").json()
            # The writer's pacing (a write a second at most): wait for the write that holds
            # every source, not just the first one.
            statusd.wait_until(lambda: saved_sources(state_dir) == set(before["data"]))
    assert before["status"] is True
    # simulator gone and data dir gone: every source fails now
    with run_statusd(
        tmp_path,
        "--data-dir",
        str(tmp_path / "gone"),
        "--source-url",
        "http://127.0.0.1:9",
        "--state-dir",
        str(state_dir),
        wait_ready=False,
    ) as statusd:
        assert statusd.get("/readyz").status_code == 200
        assert statusd.get("/api").json() == before
        sources = statusd.get("/api/sources").json()["sources"]
        statusd.wait_until(
            lambda: all(s["error"] for s in statusd.get("/api/sources").json()["sources"].values())
        )
        assert all(s["records"] > 0 for s in sources.values())


def test_sigkill_while_writing_never_breaks_the_next_start(tmp_path: Path) -> None:
    """Killed at arbitrary moments of a large state write, statusd always starts again
    with either the previous or the new state, never a torn one."""
    state_dir = tmp_path / "state"
    with run_simulator(tmp_path / "data", "--seed", "5", "--rows", "30000") as sim:
        args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url)
        for delay in (0.3, 0.6, 0.9, 1.2):
            with run_statusd(
                tmp_path, *args, "--state-dir", str(state_dir), wait_ready=False
            ) as statusd:
                time.sleep(delay)
                statusd.stop(signal.SIGKILL)
            state_file = state_dir / "last-good.json"
            if state_file.exists():
                json.loads(state_file.read_bytes())  # whole, never torn
        with run_statusd(tmp_path, *args, "--state-dir", str(state_dir)) as statusd:
            assert statusd.get("/api").json()["status"] is True
            assert "Traceback" not in statusd.log()
        assert not list(state_dir.glob(".*.tmp"))
