"""Issue 9: the history's figures over real HTTP, against a real ``python -m statusd``.

1. ``/api/history?product=sms&country=DE&days=90`` latency (wrk, one fixed URL) and
   ``/api/history.csv?month=<last full month>`` time (httpx, one download at a time) on a
   history database holding a simulated year that ends now: every cell of
   ``--countries all`` (1,003: 249 countries x sms/mms/voice/email, six billing functions,
   support) changing verdict every 2 h on average. statusd reads it as its ``history_db``
   (TOML ``--config``) while collecting from a simulator with ``--countries all``.
2. ``/api`` throughput (wrk) while the history is written every second (statusd
   ``--interval 1``, simulator ``--refresh 1``) as a ratio to the same load with the history
   off (the target: what the history itself costs), and to the same pair without
   ``--refresh`` (no new data, no verdict changes: heartbeats only). New data every second
   costs statusd its collections (parse, prepare, encode 1,003 cells' sources: about 6 % of
   the GIL by py-spy) with or without a history; only the first ratio isolates the history.
   Alternating runs; every run starts its own simulator and statusd.

The year is written with the writer's own code (``HistoryStore.apply``, ``prune``,
``mark_stopped``) and the cells of ``bench.history_bench``. Not its ``simulate``: that draws
every cell each tick and commits every snapshot, about 3x slower per change, and 12 changes
per cell per day over a year would take it most of 10 minutes here. Instead a fixed share of
the cells changes each tick (to a different verdict, so every draw is a change) and a day of
snapshots is one transaction, as the writer batches what piled up.

    .venv/bin/python -m bench.history_http_bench              # both parts: about 4 minutes
    .venv/bin/python -m bench.history_http_bench --smoke      # tiny sizes: under a minute
    .venv/bin/python -m bench.history_http_bench --only writes,profile --repeats 5
    .venv/bin/python -m bench.history_http_bench --only reads --engine sqlite,postgresql
    .venv/bin/python -m bench.run --only history              # both parts, tables in its JSON

``--engine`` (part 1): ``sqlite`` (the default), ``postgresql`` or both, comma-separated. The
year is written once, in SQLite; for ``postgresql`` the bench starts a throwaway server of
its own (``tests.support.postgres.running_postgres``: Debian's binaries, a temporary data
directory, a free loopback port), copies the year's tables into a new database there (COPY)
and statusd reads it through ``database_url``.

``--only control`` is part 2 (kept as a name; part 2 always runs its three modes) and
``--only profile`` samples statusd with py-spy in each mode; ``--cells 2500`` writes the
year for ``bench.history_bench``'s 2,500 cells (1,497 of them synthetic) instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from bench.history_bench import WEIGHTS, cell_ids, timed
from bench.procs import BenchError, Proc, cpu_seconds, run_simulator, run_statusd
from bench.report import RESULTS_DIR, Section, Target, machine, median
from bench.sizes import SMOKE, Sizes
from bench.wrk import WrkResult, run_wrk
from simulator.countries import all_countries
from statusd.history.reader import HistoryReader
from statusd.history.schema import DAY, TABLES
from statusd.history.store import HistoryStore, Snapshot
from statusd.serve.history_bodies import history_json
from statusd.storage.url import DatabaseUrl, sqlite_url
from statusd.verdicts.cells import BILLING_FUNCTIONS, COUNTRY_PRODUCTS, OPERATIONAL

LIVE_CELLS = len(BILLING_FUNCTIONS) + 1 + len(COUNTRY_PRODUCTS) * len(all_countries())
"""The cells statusd shows for ``--countries all``; ``cell_ids`` lists exactly these first."""
HISTORY_CELL = ("sms", "DE")
MAX_HISTORY_P99_MS = 20.0
MAX_CSV_SECONDS = 2.0
MIN_WRITE_RATIO = 0.95
BUILD_CACHE_KIB = 512 * 1024
"""SQLite page cache of the writer's connection while the year is built (speed only)."""
READY_TIMEOUT = 120.0
"""statusd checks the whole year-old file (``PRAGMA quick_check``) before it is ready."""
WARMUP_SECONDS = 3.0
"""After /readyz: a few collections and history writes before wrk starts."""


@dataclass(frozen=True, slots=True)
class HistorySizes:
    """Every knob of this benchmark."""

    days: int
    cells: int
    tick: float
    """Seconds between two snapshots of the simulated year."""
    change_every: float
    """Mean seconds between two verdict changes of one cell."""
    history_seconds: int
    history_connections: int
    csv_repeats: int
    api_seconds: int
    api_connections: int
    repeats: int


FULL_HISTORY = HistorySizes(
    days=365,
    cells=LIVE_CELLS,
    tick=900.0,
    change_every=7200.0,
    history_seconds=10,
    history_connections=4,
    csv_repeats=5,
    api_seconds=10,
    api_connections=32,
    repeats=3,
)
SMOKE_HISTORY = replace(
    FULL_HISTORY,
    days=2,
    history_seconds=1,
    history_connections=2,
    csv_repeats=1,
    api_seconds=1,
    api_connections=4,
    repeats=1,
)


# --- the simulated year ---------------------------------------------------------------------


def build_year(path: Path, cells: Sequence[str], sizes: HistorySizes) -> dict[str, Any]:
    """Write ``sizes.days`` of history ending now: each tick ``tick / change_every`` of the
    cells change to another verdict (``bench.history_bench.WEIGHTS``); daily prune."""
    rng = random.Random(1)
    others = {v: [u for u in WEIGHTS if u != v] for v in WEIGHTS}
    other_weights = {v: [WEIGHTS[u] for u in others[v]] for v in WEIGHTS}
    per_tick = max(1, round(len(cells) * sizes.tick / sizes.change_every))
    current = dict.fromkeys(cells, OPERATIONAL)
    began = time.perf_counter()
    start = time.time() - sizes.days * DAY
    store = HistoryStore.open(path, now=start, max_gap=3 * sizes.tick)
    changes = 0
    try:
        store.connection.execute(f"PRAGMA cache_size=-{BUILD_CACHE_KIB}")  # the kept writer's
        at, next_day, batch = start, start + DAY, []
        while at < time.time():  # the clock moves on while the year is written: catch up
            for cell in rng.sample(cells, per_tick):
                verdict = current[cell]
                current[cell] = rng.choices(others[verdict], other_weights[verdict])[0]
            changes += per_tick
            batch.append(Snapshot(at, dict(current)))
            at += sizes.tick
            if at >= next_day:
                store.apply(batch)
                batch = []
                store.prune(at)
                next_day += DAY
        now = time.time()
        store.apply([*batch, Snapshot(now, dict(current))])
        store.prune(now)
        store.mark_stopped(now)
        conn = store.connection
        rows = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("cells", "intervals", "daily")
        }
    finally:
        store.close()
    return {
        "days": sizes.days,
        "cells": len(cells),
        "changes": changes,
        "changes_per_cell_per_day": round(changes / len(cells) / sizes.days, 2),
        "tick_seconds": sizes.tick,
        "build_seconds": round(time.perf_counter() - began, 1),
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "rows": rows,
        "ended": now,
    }


# --- helpers --------------------------------------------------------------------------------


def write_config(workdir: Path, history_db: Path, database: DatabaseUrl | None = None) -> Path:
    """A statusd TOML settings file naming ``history_db`` (and ``database_url`` if given)."""
    path = workdir / "statusd.toml"
    text = f"history_db = {json.dumps(str(history_db))}\n"
    if database is not None:
        text += f"database_url = {json.dumps(database.target)}\n"
    path.write_text(text)
    return path


ENGINES = ("sqlite", "postgresql")
ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def history_tables() -> list[str]:
    """The history's tables, parents first (``schema.TABLES`` order)."""
    return [create.split("EXISTS ", 1)[1].split(" ", 1)[0] for create in TABLES]


def copy_year(source: Path, url: DatabaseUrl, now: float) -> dict[str, Any]:
    """The history in the SQLite file ``source``, copied into the PostgreSQL database ``url``
    (schema made by ``HistoryStore.open``; rows by COPY; identity sequences moved on)."""
    import psycopg

    began = time.perf_counter()
    HistoryStore.open(url, now=now).close()
    tables = history_tables()
    with closing(sqlite3.connect(source)) as lite, psycopg.connect(url.target) as pg:
        pg.execute(f"TRUNCATE {', '.join(tables)}")
        for table in tables:
            columns = ", ".join(
                f'"{row[1]}"' for row in lite.execute(f"PRAGMA table_info({table})")
            )
            with pg.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in lite.execute(f"SELECT {columns} FROM {table}"):
                    copy.write_row(row)
        for table in ("cells", "intervals"):
            pg.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        pg.commit()
        pg.autocommit = True
        pg.execute("VACUUM ANALYZE")
        row = pg.execute("SELECT pg_database_size(current_database())").fetchone()
        size = 0 if row is None else int(row[0])
    return {"copy_seconds": round(time.perf_counter() - began, 1), "mib": round(size / 2**20, 1)}


@contextmanager
def year_database(
    workdir: Path, year: Path, engine: str, now: float
) -> Iterator[tuple[DatabaseUrl, dict[str, Any]]]:
    """Where statusd reads the year: the SQLite file itself, or a copy in a throwaway
    PostgreSQL server started for the block."""
    if engine == "sqlite":
        yield sqlite_url(year), {"mib": round(year.stat().st_size / 2**20, 1)}
        return
    from tests.support.postgres import running_postgres

    with running_postgres() as server:
        url = DatabaseUrl("postgresql", server.create_database("bench"))
        yield url, copy_year(year, url, now)


def count_intervals(history_db: Path) -> int:
    """Intervals in the database now (read-only, beside statusd's writer: WAL); 0 if none."""
    if not history_db.is_file():
        return 0
    with closing(sqlite3.connect(f"file:{history_db}?mode=ro", uri=True, timeout=5)) as conn:
        count: int = conn.execute("SELECT count(*) FROM intervals").fetchone()[0]
        return count


def csv_month(now: float, days: int) -> str:
    """The last complete UTC month before ``now`` if the history covers it, else this month."""
    first = dt.datetime.fromtimestamp(now, dt.UTC).date().replace(day=1)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    covered = dt.datetime.fromtimestamp(now - days * DAY, dt.UTC).date() <= previous
    return (previous if covered else first).strftime("%Y-%m")


def history_path(days: int) -> str:
    product, country = HISTORY_CELL
    return f"/api/history?product={product}&country={country}&days={days}"


def check_history(statusd: Proc, days: int) -> dict[str, Any]:
    """One /api/history answer: 200 with ``days`` buckets, and how many hold known time."""
    response = httpx.get(statusd.url + history_path(days), timeout=10)
    if response.status_code != 200:
        raise BenchError(f"/api/history answered {response.status_code}: {response.text[:200]}")
    buckets = response.json()["buckets"]
    if len(buckets) != days:
        raise BenchError(f"/api/history: {len(buckets)} buckets, expected {days}")
    known = sum(1 for b in buckets if sum(n for v, n in b["seconds"].items() if v != "unknown"))
    return {"bytes": len(response.content), "buckets": len(buckets), "days_with_known": known}


def time_csv(statusd: Proc, month: str, repeats: int) -> list[dict[str, Any]]:
    """Download the month's CSV ``repeats`` times, one at a time (as curl would)."""
    url = f"{statusd.url}/api/history.csv?month={month}"
    downloads = []
    with httpx.Client(timeout=60, headers={"Accept-Encoding": "identity"}) as client:
        for _ in range(repeats):
            began = time.perf_counter()
            response = client.get(url)
            seconds = time.perf_counter() - began
            if response.status_code != 200:
                raise BenchError(f"history.csv answered {response.status_code}")
            downloads.append(
                {
                    "seconds": round(seconds, 3),
                    "bytes": len(response.content),
                    "rows": response.content.count(b"\n") - 1,
                }
            )
    return downloads


# --- 1. reads on a year -----------------------------------------------------------------------


def measure_reads(
    workdir: Path, sizes: HistorySizes, engines: Sequence[str] = ("sqlite",)
) -> list[Section]:
    """Build the year, then for each engine start statusd on it and time /api/history and
    /api/history.csv."""
    year = workdir / "year" / "history.sqlite3"
    year.parent.mkdir(parents=True)
    build = build_year(year, cell_ids(sizes.cells), sizes)
    ended = build.pop("ended")
    sections = [
        Section(
            title=f"history: {build['days']} simulated days ending now, {build['cells']} cells,"
            f" a change per cell every ~{sizes.change_every / 3600:g} h",
            headers=["what", "value"],
            rows=[
                ["verdict changes written", build["changes"]],
                ["changes per cell per day", build["changes_per_cell_per_day"]],
                [
                    "build in SQLite (HistoryStore.apply, daily prune)",
                    f"{build['build_seconds']} s",
                ],
                ["SQLite file", f"{build['file_mib']} MiB"],
                ["rows: intervals (35 days) / daily (400 days)", _rows(build["rows"])],
            ],
            data=build,
        )
    ]
    for engine in engines:
        with year_database(workdir, year, engine, ended) as (url, stored):
            sections += measure_engine_reads(workdir / engine, url, stored, sizes, ended)
    return sections


def measure_engine_reads(
    workdir: Path, url: DatabaseUrl, stored: dict[str, Any], sizes: HistorySizes, ended: float
) -> list[Section]:
    """statusd reading the year in ``url``: /api/history latency and the month's CSV."""
    engine = ENGINE_NAMES[url.dialect]
    workdir.mkdir(parents=True)
    product, key = HISTORY_CELL
    reader = HistoryReader(url)
    try:
        in_process = timed(
            lambda: history_json(product, key, reader.daily(f"{product}:{key}", 90, time.time())),
            repeat=50,
        )
    finally:
        reader.close()
    history_db = url.path if url.dialect == "sqlite" else workdir / "state" / "history.sqlite3"
    config = write_config(workdir, history_db, None if url.dialect == "sqlite" else url)
    month = csv_month(time.time(), sizes.days)
    with (
        run_simulator(workdir, "--seed", "1", "--countries", "all") as sim,
        run_statusd(workdir, sim, "--config", str(config), ready_timeout=READY_TIMEOUT) as statusd,
    ):
        ready_s = round(time.monotonic() - statusd.started_at, 2)
        gap_s = round(time.time() - ended, 1)
        time.sleep(WARMUP_SECONDS)
        check = check_history(statusd, 90)
        address = statusd.url + history_path(90)
        history = {
            connections: run_wrk(address, connections=connections, seconds=seconds)
            for connections, seconds in (
                (sizes.history_connections, sizes.history_seconds),
                (1, max(1, sizes.history_seconds // 2)),
            )
        }
        csv = time_csv(statusd, month, sizes.csv_repeats)
    db_section = Section(
        title=f"the year in {engine}",
        headers=["what", "value"],
        rows=[
            ["database size", f"{stored['mib']} MiB"],
            *(
                [["copied from SQLite (COPY)", f"{stored['copy_seconds']} s"]]
                if "copy_seconds" in stored
                else []
            ),
            ["statusd spawn to /readyz on it", f"{ready_s} s"],
            ["unknown gap at statusd start (build end to ready)", f"{gap_s} s"],
        ],
        data={**stored, "engine": url.dialect, "ready_s": ready_s, "gap_s": gap_s},
    )
    main_run = history[sizes.history_connections]
    hist_section = Section(
        title=f"{engine}: /api/history 90 days, one cell ({product}/{key}): "
        f"wrk -t1 -c{sizes.history_connections} -d{sizes.history_seconds}s (and -c1)",
        headers=[
            "connections",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "bytes/response",
            "failed",
        ],
        rows=[
            [
                connections,
                run.rps,
                run.p50_ms,
                run.p90_ms,
                run.p99_ms,
                run.max_ms,
                run.bytes_per_response,
                run.failed,
            ]
            for connections, run in history.items()
        ],
        targets=[
            Target(
                f"{engine}: /api/history p99 (-c{sizes.history_connections})",
                main_run.p99_ms,
                MAX_HISTORY_P99_MS,
                "<=",
                " ms",
            ),
            Target("failed requests", sum(run.failed for run in history.values()), 0, "<="),
        ],
        notes=[
            f"{check['days_with_known']} of 90 days hold known time; {check['bytes']} bytes",
            f"in process, no HTTP (HistoryReader.daily + history_json, 50 calls): median "
            f"{in_process['median_ms']} ms, max {in_process['max_ms']} ms",
        ],
        data={
            "wrk": {str(c): run.as_json() for c, run in history.items()},
            "check": check,
            "url": history_path(90),
            "in_process": in_process,
        },
    )
    seconds = [d["seconds"] for d in csv]
    csv_section = Section(
        title=f"{engine}: /api/history.csv?month={month}: {len(csv)} downloads one after "
        "another (httpx)",
        headers=["download", "seconds", "bytes", "rows"],
        rows=[[i + 1, d["seconds"], d["bytes"], d["rows"]] for i, d in enumerate(csv)],
        targets=[
            Target(
                f"{engine}: history.csv of a month, median",
                median(seconds),
                MAX_CSV_SECONDS,
                "<=",
                " s",
            )
        ],
        notes=[f"slowest {max(seconds):.3f} s"],
        data={"downloads": csv, "month": month},
    )
    return [db_section, hist_section, csv_section]


def _rows(rows: dict[str, int]) -> str:
    return f"{rows['intervals']:,} / {rows['daily']:,}"


# --- 2. /api while the history is written -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mode:
    """How one /api run is set up."""

    simulator_args: tuple[str, ...]
    history: bool
    """False: ``history_db`` cannot be created (the writer stays paused, nothing is written)."""
    text: str


MODES = {
    "quiet": Mode((), True, "no --refresh: same data, same verdicts, heartbeats only"),
    "writing": Mode(("--refresh", "1"), True, "--refresh 1: new data and verdicts every second"),
    "no-history": Mode(
        ("--refresh", "1"), False, "--refresh 1 with the history off (history_db unusable)"
    ),
}
STATUSD_ARGS = ("--interval", "1", "--deadline", "1")
"""Collect every second; a collection may take the whole second (deadline <= interval)."""


@dataclass(frozen=True, slots=True)
class ApiRun:
    """One wrk run on /api and what the processes did meanwhile."""

    repeat: int
    mode: str
    wrk: WrkResult
    intervals_written: int
    statusd_cpu_s: float
    simulator_cpu_s: float


def history_db_for(workdir: Path, mode: Mode) -> Path:
    """The ``history_db`` of a run: a usable path, or one below a plain file."""
    if mode.history:
        return workdir / "state" / "history.sqlite3"
    blocker = workdir / "no-history"
    blocker.write_text("a file, so the history directory cannot be made\n")
    return blocker / "history.sqlite3"


@contextmanager
def api_pair(workdir: Path, mode: Mode) -> Iterator[tuple[Proc, Proc, Path]]:
    """A new simulator (``--countries all``) and statusd (``--interval 1``), warmed up."""
    workdir.mkdir(parents=True)
    history_db = history_db_for(workdir, mode)
    config = write_config(workdir, history_db)
    with (
        run_simulator(workdir, "--seed", "1", "--countries", "all", *mode.simulator_args) as sim,
        run_statusd(workdir, sim, "--config", str(config), *STATUSD_ARGS) as statusd,
    ):
        time.sleep(WARMUP_SECONDS)
        yield sim, statusd, history_db


def api_run(workdir: Path, sizes: HistorySizes, repeat: int, mode: str) -> ApiRun:
    """wrk on /api of a fresh pair; CPU seconds and intervals written meanwhile."""
    with api_pair(workdir, MODES[mode]) as (sim, statusd, history_db):
        intervals = count_intervals(history_db)
        cpu = cpu_seconds(statusd.pid), cpu_seconds(sim.pid)
        result = run_wrk(
            f"{statusd.url}/api", connections=sizes.api_connections, seconds=sizes.api_seconds
        )
        statusd_cpu = cpu_seconds(statusd.pid) - cpu[0]
        sim_cpu = cpu_seconds(sim.pid) - cpu[1]
        written = count_intervals(history_db) - intervals
    return ApiRun(repeat, mode, result, written, round(statusd_cpu, 2), round(sim_cpu, 2))


def measure_write_load(workdir: Path, sizes: HistorySizes) -> list[Section]:
    """Alternating runs of /api: history written (new data every second), the same new data
    with the history off, and no new data at all; the ratios of their req/s."""
    modes = ["quiet", "writing", "no-history"]
    runs: list[ApiRun] = []
    for repeat in range(sizes.repeats):
        order = modes if repeat % 2 == 0 else modes[::-1]
        for mode in order:
            runs.append(api_run(workdir / f"api-{repeat}-{mode}", sizes, repeat, mode))
    rps = {(r.repeat, r.mode): r.wrk.rps for r in runs}

    def ratios(base: str) -> list[float]:
        return [
            round(rps[(i, "writing")] / rps[(i, base)], 3) if rps[(i, base)] else 0.0
            for i in range(sizes.repeats)
        ]

    history_ratios = ratios("no-history")
    ratio = round(statistics.median(history_ratios), 3)
    quiet_ratios = ratios("quiet")
    quiet_ratio = round(statistics.median(quiet_ratios), 3)
    section = Section(
        title=f"/api while the history is written every second: wrk -t1 "
        f"-c{sizes.api_connections} -d{sizes.api_seconds}s, {sizes.repeats} alternating rounds",
        headers=[
            "round",
            "mode",
            "req/s",
            "p50 ms",
            "p99 ms",
            "bytes/response",
            "failed",
            "intervals written",
            "statusd CPU s",
            "simulator CPU s",
        ],
        rows=[
            [
                r.repeat + 1,
                r.mode,
                r.wrk.rps,
                r.wrk.p50_ms,
                r.wrk.p99_ms,
                r.wrk.bytes_per_response,
                r.wrk.failed,
                r.intervals_written,
                r.statusd_cpu_s,
                r.simulator_cpu_s,
            ]
            for r in runs
        ],
        targets=[
            Target(
                "writing/no-history /api req/s (the history's own cost), median of rounds",
                ratio,
                MIN_WRITE_RATIO,
                ">=",
            ),
            Target("failed requests", sum(r.wrk.failed for r in runs), 0, "<="),
        ],
        notes=[
            "writing/no-history per round: " + ", ".join(f"{x:.3f}" for x in history_ratios),
            "writing/quiet per round (the history and new data every second): "
            + ", ".join(f"{x:.3f}" for x in quiet_ratios)
            + f"; median {quiet_ratio:.3f}",
            *(f"{name}: {mode.text}" for name, mode in MODES.items() if name in modes),
            f"statusd {' '.join(STATUSD_ARGS)} in every mode",
        ],
        data={
            "ratios": history_ratios,
            "median_ratio": ratio,
            "quiet_ratios": quiet_ratios,
            "quiet_median_ratio": quiet_ratio,
            "runs": [{**asdict(r), "wrk": r.wrk.as_json()} for r in runs],
        },
    )
    return [section]


# --- where the time goes ------------------------------------------------------------------------

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("history writer (SQLite)", ("statusd/history", "history_writer")),
    ("public documents: verdicts, Statuspage JSON", ("PublicState.",)),
    ("collections: fetch, parse, encode", ("statusd/supervisor", "statusd/sources/")),
    ("/api document build", ("build_result_document", "(statusd/state.py")),
    (
        "serving HTTP: hypercorn, quart, sockets",
        ("hypercorn/", "quart", "statusd/front.py", "statusd/limits.py", "h11/", "trio/_socket"),
    ),
)
OTHER = "other: trio scheduler, threads"


def categorise(raw: str) -> dict[str, float]:
    """Shares of py-spy's samples (``--format raw``: ``frame;frame;… count``) by category;
    a stack counts for the first category any of its frames matches."""
    counts = dict.fromkeys([name for name, _ in CATEGORIES] + [OTHER], 0)
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        name = next((n for n, keys in CATEGORIES if any(k in stack for k in keys)), OTHER)
        counts[name] += int(count)
    total = sum(counts.values()) or 1
    return {name: round(count / total, 3) for name, count in counts.items()}


def profile_run(workdir: Path, sizes: HistorySizes, mode: str) -> dict[str, Any]:
    """py-spy (``--gil``: the thread holding the GIL, which is what stalls the event loop)
    on statusd during a wrk run on /api; the shares by category."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        raise BenchError(f"{py_spy} not found: pip install py-spy")
    out = workdir / "py-spy.txt"
    with api_pair(workdir, MODES[mode]) as (_, statusd, _):
        command = [str(py_spy), "record", "--pid", str(statusd.pid), "--gil", "--nonblocking"]
        command += ["--format", "raw", "-r", "100", "-d", str(sizes.api_seconds), "-o", str(out)]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            result = run_wrk(
                f"{statusd.url}/api", connections=sizes.api_connections, seconds=sizes.api_seconds
            )
            _, err = spy.communicate(timeout=sizes.api_seconds + 15)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
    if spy.returncode != 0 or not out.exists():
        raise BenchError(f"py-spy failed ({spy.returncode}): {err.decode(errors='replace')}")
    raw = out.read_text()
    samples = sum(int(line.rpartition(" ")[2]) for line in raw.splitlines() if line.strip())
    return {"rps": result.rps, "samples": samples, "shares": categorise(raw)}


def measure_profile(workdir: Path, sizes: HistorySizes) -> list[Section]:
    """Where statusd's GIL time goes during /api load, quiet and writing."""
    profiles = {mode: profile_run(workdir / f"profile-{mode}", sizes, mode) for mode in MODES}
    section = Section(
        title=f"where statusd's time goes under wrk -c{sizes.api_connections} on /api "
        f"(py-spy record --gil, 100 Hz, {sizes.api_seconds} s; share of samples)",
        headers=["category", *profiles],
        rows=[
            [name, *(f"{p['shares'][name]:.1%}" for p in profiles.values())]
            for name in [*(n for n, _ in CATEGORIES), OTHER]
        ],
        notes=[
            "samples (GIL held) / req/s: "
            + ", ".join(f"{m} {p['samples']} / {p['rps']:.0f}" for m, p in profiles.items()),
            "req/s under py-spy are lower than without it; only the shares matter here",
        ],
        data=profiles,
    )
    return [section]


# --- entry points ---------------------------------------------------------------------------

PARTS = ("reads", "writes", "control", "profile")
DEFAULT_PARTS = ("reads", "writes")


def measure_history(workdir: Path, sizes: Sizes) -> list[Section]:
    """``bench.run --only history``: reads and writes at full or smoke size."""
    return measure_parts(workdir, SMOKE_HISTORY if sizes == SMOKE else FULL_HISTORY)


def measure_parts(
    workdir: Path,
    sizes: HistorySizes,
    parts: Sequence[str] = DEFAULT_PARTS,
    show: Callable[[Section], None] | None = None,
    engines: Sequence[str] = ("sqlite",),
) -> list[Section]:
    """The parts asked for; each section is passed to ``show`` as soon as it is taken."""
    sections: list[Section] = []
    steps: list[Callable[[], list[Section]]] = []
    if "reads" in parts:
        steps.append(lambda: measure_reads(workdir / "reads", sizes, engines))
    if "writes" in parts or "control" in parts:
        steps.append(lambda: measure_write_load(workdir / "writes", sizes))
    if "profile" in parts:
        steps.append(lambda: measure_profile(workdir / "profile", sizes))
    for step in steps:
        for section in step():
            if show is not None:
                show(section)
            sections.append(section)
    return sections


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the harness")
    parser.add_argument("--days", type=int, help="simulated days (default 365)")
    parser.add_argument("--cells", type=int, help=f"cells (default {LIVE_CELLS})")
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_PARTS),
        help=f"comma-separated subset of {','.join(PARTS)} (default {','.join(DEFAULT_PARTS)}); "
        "control is the same as writes (its three modes); profile runs py-spy on statusd "
        "in each mode",
    )
    parser.add_argument("--repeats", type=int, help="alternating /api rounds (default 3)")
    parser.add_argument(
        "--engine",
        default="sqlite",
        help=f"part 1 (reads): comma-separated subset of {','.join(ENGINES)} (default sqlite); "
        "postgresql starts a throwaway server (Debian's postgresql package) and copies the "
        "year into it",
    )
    parser.add_argument("--json", type=Path, help="where the JSON goes (default bench/results/)")
    args = parser.parse_args(argv)
    parts = args.only.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    engines = args.engine.split(",")
    if set(engines) - set(ENGINES):
        parser.error(f"unknown engine(s): {', '.join(sorted(set(engines) - set(ENGINES)))}")
    sizes = SMOKE_HISTORY if args.smoke else FULL_HISTORY
    if args.days is not None:
        sizes = replace(sizes, days=args.days)
    if args.cells is not None:
        sizes = replace(sizes, cells=args.cells)
    if args.repeats is not None:
        sizes = replace(sizes, repeats=args.repeats)
    about = machine()
    print(
        f"statusd history over HTTP, {about['date']}, {about['cpu']} x{about['cores']}, "
        f"load {about['load_average_at_start'][0]:.2f}",
        flush=True,
    )
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="statusd-bench-history-") as scratch:
        sections = measure_parts(
            Path(scratch),
            sizes,
            parts,
            show=lambda s: print(s.render(), flush=True),
            engines=engines,
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = args.json or RESULTS_DIR / f"history-http-{stamp}{'-smoke' if args.smoke else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": about,
        "smoke": args.smoke,
        "parts": parts,
        "engines": engines,
        "sizes": asdict(sizes),
        "seconds": round(time.monotonic() - began, 1),
        "sections": [section.as_json() for section in sections],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"took {payload['seconds']} s; results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
