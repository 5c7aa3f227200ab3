"""Issue 21: seconds from kill -9 of the leading replica to another replica's ``/healthz``
saying ``leader: true`` (SPEC §11: within ``2 × interval``), two statusd on one PostgreSQL
(the tests' throwaway server: ``initdb`` + ``pg_ctl`` from Debian's package)."""

from __future__ import annotations

import json
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.procs import Proc, run_simulator, run_statusd, wait_for
from bench.report import Section, Target, median
from bench.sizes import Sizes
from tests.support.postgres import running_postgres

INTERVAL = 2.0
"""statusd's ``--interval`` in this run (the default is 30 s: the bound scales with it)."""


def leads(proc: Proc) -> bool:
    """Whether ``proc``'s /healthz says ``leader: true`` (False if it does not answer)."""
    try:
        return bool(httpx.get(f"{proc.url}/healthz", timeout=2.0).json()["leader"])
    except (httpx.HTTPError, ValueError, KeyError):
        return False


def one_takeover(workdir: Path, sim: Proc, config: Path, round_: int) -> float:
    """Two replicas; kill -9 the leader; seconds until the other leads."""
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(
                run_statusd(
                    workdir,
                    sim,
                    "--config",
                    str(config),
                    "--interval",
                    str(INTERVAL),
                    name=f"replica-{round_}-{n}",
                )
            )
            for n in range(2)
        ]
        wait_for(replicas[0], lambda: sum(map(leads, replicas)) == 1, 60, "one leader")
        [leader] = [r for r in replicas if leads(r)]
        [other] = [r for r in replicas if r is not leader]
        killed = time.monotonic()
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(10)
        wait_for(other, lambda: leads(other), 10 * INTERVAL, "takeover")
        return time.monotonic() - killed


def measure_takeover(workdir: Path, sizes: Sizes) -> list[Section]:
    """``sizes.repeats`` takeovers (each a fresh pair of replicas on the same database)."""
    with running_postgres() as postgres, run_simulator(workdir) as sim:
        config = workdir / "replicas.toml"
        url = postgres.create_database("bench")
        config.write_text(f"database_url = {json.dumps(url)}\n")
        rounds = max(3, sizes.repeats * 2)
        seconds = [one_takeover(workdir, sim, config, n) for n in range(rounds)]
    section = Section(
        "replica takeover after kill -9 of the leader (2 statusd, one PostgreSQL)",
        ["interval", "rounds", "median s", "max s"],
    )
    section.rows.append([INTERVAL, rounds, median(seconds), round(max(seconds), 3)])
    section.targets.append(Target("slowest takeover", max(seconds), 2 * INTERVAL, "<=", " s"))
    section.data["seconds"] = seconds
    return [section]
