"""Issue 21: ``/api`` req/s through the shipped nginx configuration in front of three statusd
replicas ÷ in front of one, all on one PostgreSQL (the tests' throwaway server).

Each replica collects and serves on its own; nginx's micro-cache answers most requests and
sends one per key upstream at a time, so three replicas are not expected to triple the rate:
the figure says what adding replicas costs or gains at the front (on this 2-core machine,
the replicas, nginx and wrk share the cores). The runs alternate (1, 3, 1, 3, …) so that
the machine's drift spreads over both.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

from bench.nginx_bench import UPSTREAM_ARGS, run_nginx
from bench.procs import Proc, free_port, run_simulator, run_statusd
from bench.report import Section, Target, median
from bench.sizes import Sizes
from bench.wrk import WrkResult, run_wrk
from tests.support.postgres import running_postgres

REPLICAS = (1, 3)


def replica_args(config: Path) -> tuple[str, ...]:
    """A replica's flags: the shared database (in ``config``), collecting every second."""
    return ("--config", str(config), *UPSTREAM_ARGS)


def through_nginx(
    workdir: Path, sim: Proc, config: Path, count: int, round_: int, sizes: Sizes
) -> WrkResult:
    """``count`` replicas behind nginx; wrk on nginx's ``/api``."""
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(
                run_statusd(
                    workdir, sim, *replica_args(config), name=f"replica-{round_}-{count}-{n}"
                )
            )
            for n in range(count)
        ]
        nginx_dir = workdir / f"nginx-{round_}-{count}"
        with run_nginx(nginx_dir, replicas, b"{}", free_port()) as (cache_url, _):
            return run_wrk(
                f"{cache_url}/api", connections=sizes.connections, seconds=sizes.wrk_seconds
            )


def measure_replicas(workdir: Path, sizes: Sizes) -> list[Section]:
    """``sizes.repeats`` alternating rounds of one and three replicas."""
    runs: dict[int, list[WrkResult]] = {count: [] for count in REPLICAS}
    with running_postgres() as postgres, run_simulator(workdir) as sim:
        config = workdir / "replicas.toml"
        config.write_text(f"database_url = {json.dumps(postgres.create_database('bench'))}\n")
        for round_ in range(sizes.repeats):
            for count in REPLICAS:
                runs[count].append(through_nginx(workdir, sim, config, count, round_, sizes))
    section = Section(
        f"/api through nginx: {REPLICAS[-1]} replicas ÷ 1, one PostgreSQL "
        f"(wrk -t1 -c{sizes.connections} -d{sizes.wrk_seconds}s, {sizes.repeats} rounds)",
        ["replicas", "req/s (median)", "p99 ms (median)", "failed"],
    )
    rates = {count: median([r.rps for r in results]) for count, results in runs.items()}
    for count, results in runs.items():
        section.rows.append(
            [
                count,
                rates[count],
                median([r.p99_ms for r in results]),
                sum(r.failed for r in results),
            ]
        )
    ratio = rates[REPLICAS[-1]] / rates[REPLICAS[0]] if rates[REPLICAS[0]] else 0.0
    section.targets.append(
        Target("failed requests", sum(r.failed for rs in runs.values() for r in rs), 0, "<=", "")
    )
    section.notes.append(f"req/s ratio {REPLICAS[-1]} ÷ 1: {ratio:.3f} (no target; reported)")
    section.data["runs"] = {count: [r.as_json() for r in rs] for count, rs in runs.items()}
    section.data["ratio"] = ratio
    return [section]
