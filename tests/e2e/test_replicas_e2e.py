"""Replicas on one PostgreSQL (SPEC §11): exactly one real statusd leads, another takes over
after kill -9; alone on SQLite, statusd always leads. Leadership shows in /healthz and
/metrics."""

from __future__ import annotations

import re
import signal
import sqlite3
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import PostgresServer
from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import StatusdProcess, run_statusd

pytestmark = pytest.mark.e2e

INTERVAL = 1.0
GENEROUS = 30.0
"""Bound of the waits (the goal, takeover within 2 × INTERVAL, is measured in bench/)."""


def leader_field(statusd: StatusdProcess) -> bool | None:
    """``leader`` in /healthz (None when the process does not answer)."""
    try:
        return bool(statusd.get("/healthz").json()["leader"])
    except httpx.HTTPError:
        return None


def leader_metrics(statusd: StatusdProcess) -> tuple[float, float]:
    """``statusd_leader`` and ``statusd_leader_terms_total`` from /metrics."""
    text = statusd.get("/metrics").text
    gauge = re.search(r"^statusd_leader ([0-9.]+)$", text, re.MULTILINE)
    terms = re.search(r"^statusd_leader_terms_total ([0-9.]+)$", text, re.MULTILINE)
    assert gauge, text
    assert terms, text
    return float(gauge[1]), float(terms[1])


def history_intervals(state_dir: Path) -> int:
    """Verdict intervals in a replica's history file (its stores stay on SQLite for now)."""
    uri = f"file:{state_dir / 'history.sqlite3'}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT count(*) FROM intervals").fetchone()[0])


def test_alone_on_sqlite_statusd_leads(tmp_path: Path) -> None:
    with (
        run_simulator(tmp_path / "data", "--seed", "4") as sim,
        run_statusd(tmp_path, "--data-dir", str(sim.data_dir), "--source-url", sim.url) as statusd,
    ):
        health = statusd.get("/healthz").json()
        assert health["leader"] is True
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", health["leader_since"])
        assert leader_metrics(statusd) == (1.0, 1.0)


def test_kill_9_of_the_leader_hands_leadership_to_the_other(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """Two statusd on one database: exactly one leads; kill -9 it, the other leads."""
    database_url = postgres.create_database()
    state_dirs = [tmp_path / f"state-{n}" for n in range(2)]
    with run_simulator(tmp_path / "data", "--seed", "4") as sim, ExitStack() as stack:
        replicas = [
            stack.enter_context(
                run_statusd(
                    tmp_path,
                    "--data-dir",
                    str(sim.data_dir),
                    "--source-url",
                    sim.url,
                    "--interval",
                    str(INTERVAL),
                    "--state-dir",
                    str(state_dirs[n]),
                    env={"STATUSD_DATABASE_URL": database_url},
                )
            )
            for n in range(2)
        ]
        first = replicas[0]
        first.wait_until(lambda: [leader_field(r) for r in replicas].count(True) == 1, GENEROUS)
        [leader] = [r for r in replicas if leader_field(r)]
        [other] = [r for r in replicas if r is not leader]
        assert leader_field(other) is False
        assert leader_metrics(other)[0] == 0.0
        assert leader_metrics(leader)[0] == 1.0
        assert leader_metrics(leader)[1] >= 1.0
        leader_dir, other_dir = (state_dirs[replicas.index(r)] for r in (leader, other))
        leader.wait_until(lambda: history_intervals(leader_dir) > 0, GENEROUS)
        assert history_intervals(other_dir) == 0  # only the leader writes the history

        leader.stop(signal.SIGKILL)
        other.wait_until(lambda: leader_field(other) is True, GENEROUS)
        assert leader_metrics(other)[0] == 1.0
        other.wait_until(lambda: history_intervals(other_dir) > 0, GENEROUS)
        assert "Traceback" not in other.log()
