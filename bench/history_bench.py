"""Benchmark of the verdict history: a simulated year for ~2,500 cells (not run by the tests).

Writes the history the way the writer task does (a snapshot of every cell each tick, only
changes stored, daily pruning), then times what request handlers and a restart do on the
year-old database: /api/history (90 and 400 days), the month CSV, the feed, opening the file
(integrity check included), loading the timeline, and pruning.

    .venv/bin/python bench/history_bench.py                 # full year, 2,500 cells
    .venv/bin/python bench/history_bench.py --days 30 --cells 500 --json bench/results/h.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from statusd.history.reader import HistoryReader
from statusd.history.schema import DAY
from statusd.history.store import HistoryStore
from statusd.serve.history_bodies import history_csv, history_json
from statusd.verdicts.cells import (
    BILLING_FUNCTIONS,
    COUNTRY_PRODUCTS,
    DEGRADED,
    MAJOR,
    OPERATIONAL,
    PARTIAL,
    UNKNOWN,
)

START = 1_735_689_600.0  # 2025-01-01T00:00:00Z
WEIGHTS = {OPERATIONAL: 0.85, DEGRADED: 0.08, PARTIAL: 0.03, MAJOR: 0.02, UNKNOWN: 0.02}


def cell_ids(count: int) -> list[str]:
    """``count`` cells: billing and support, countries × the four country products, then
    synthetic ones (every ISO country in every product makes only ~1,000)."""
    import pycountry

    codes = sorted(c.alpha_2 for c in pycountry.countries)
    fixed = [f"billing:{key}" for key in BILLING_FUNCTIONS] + ["support:support"]
    cells = [f"{p}:{code}" for code in codes for p in COUNTRY_PRODUCTS]
    # Beyond the ~1,000 real (country, product) cells, synthetic keys stand in for more.
    extra = [f"{COUNTRY_PRODUCTS[n % 4]}:Z{n:05d}" for n in range(max(0, count - len(cells)))]
    return (fixed + cells + extra)[:count]


def timed(action: Callable[[], Any], repeat: int = 5) -> dict[str, float]:
    """Median and max milliseconds of ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "max_ms": round(max(samples), 2)}


def simulate(
    path: Path, cells: list[str], days: int, tick: float, changes: float
) -> dict[str, Any]:
    """Write ``days`` of history; each cell changes ``changes`` times a day on average."""
    rng = random.Random(1)
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    current = dict.fromkeys(cells, OPERATIONAL)
    chance = changes * tick / DAY
    store = HistoryStore.open(path, now=START, max_gap=3 * tick)
    batch_ms: list[float] = []
    prune_ms: list[float] = []
    written = 0
    began = time.perf_counter()
    at = START
    end = START + days * DAY
    next_prune = START + DAY
    while at < end:
        for cell in cells:
            if rng.random() < chance:
                current[cell] = rng.choices(names, weights)[0]
        t0 = time.perf_counter()
        written += store.record_verdicts(at, current)
        batch_ms.append((time.perf_counter() - t0) * 1000)
        if at >= next_prune:
            t0 = time.perf_counter()
            store.prune(at)
            prune_ms.append((time.perf_counter() - t0) * 1000)
            next_prune += DAY
        at += tick
    total = time.perf_counter() - began
    store.mark_stopped(at)
    store.close()
    batch_ms.sort()
    return {
        "simulated_days": days,
        "cells": len(cells),
        "tick_seconds": tick,
        "changes_per_cell_per_day": changes,
        "intervals_written": written,
        "write_seconds_total": round(total, 1),
        "batch_ms_p50": round(batch_ms[len(batch_ms) // 2], 2),
        "batch_ms_p99": round(batch_ms[int(len(batch_ms) * 0.99)], 2),
        "batch_ms_max": round(batch_ms[-1], 2),
        "daily_prune_ms_median": round(statistics.median(prune_ms), 1) if prune_ms else None,
        "end": at,
    }


def measure_reads(path: Path, cells: list[str], now: float) -> dict[str, Any]:
    """Latency of the reads request handlers make, on the finished database."""
    reader = HistoryReader(path)
    cell = cells[-1]
    product, _, key = cell.partition(":")
    month = time.strftime("%Y-%m", time.gmtime(now - 15 * DAY))
    rows = reader.month_rows(month, now)
    return {
        "history_90_days": timed(
            lambda: history_json(product, key, reader.daily(cell, 90, now)), repeat=20
        ),
        "history_400_days": timed(
            lambda: history_json(product, key, reader.daily(cell, 400, now)), repeat=20
        ),
        "month_csv": timed(lambda: history_csv(reader.month_rows(month, now)), repeat=3),
        "month_csv_rows": len(rows),
        "month_csv_bytes": len(history_csv(rows)),
        "feed_unfiltered": timed(lambda: reader.feed_entries(), repeat=20),
        "feed_country": timed(lambda: reader.feed_entries(country=key), repeat=20),
        "feed_product": timed(lambda: reader.feed_entries(product="billing"), repeat=20),
    }


def measure_restart(path: Path, now: float) -> dict[str, Any]:
    """Opening the year-old file (quick_check included), the timeline, one prune, and the
    file's biggest tables and indexes (SQLite's ``dbstat``)."""
    result: dict[str, Any] = {}
    began = time.perf_counter()
    store = HistoryStore.open(path, now=now)
    result["open_ms"] = round((time.perf_counter() - began) * 1000, 1)
    try:
        result["load_timeline"] = timed(store.load_timeline, repeat=3)
        began = time.perf_counter()
        store.prune(now)
        result["prune_ms"] = round((time.perf_counter() - began) * 1000, 1)
        conn = store.connection
        for table in ("cells", "intervals", "daily", "incidents"):
            (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            result[f"rows_{table}"] = count
        result["mib_by_table"] = {
            name: round(size / 2**20, 1)
            for name, size in conn.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8"
            )
        }
    finally:
        store.close()
    result["file_mib"] = round(path.stat().st_size / 2**20, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--cells", type=int, default=2500)
    parser.add_argument("--tick", type=float, default=600.0, help="seconds between snapshots")
    parser.add_argument("--changes", type=float, default=2.0, help="changes per cell per day")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the database")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "history.sqlite3"
        cells = cell_ids(args.cells)
        figures: dict[str, Any] = {"python": sys.version.split()[0]}
        figures["write"] = simulate(path, cells, args.days, args.tick, args.changes)
        now = figures["write"].pop("end")
        figures["reads"] = measure_reads(path, cells, now)
        figures["restart"] = measure_restart(path, now + 60)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
