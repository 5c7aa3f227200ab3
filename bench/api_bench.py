"""Issue 7, items 1 and 2: statusd's /api against the ceiling of its stack, for plain, gzip
and 304 answers, measured alternately in the same run.

The ceiling is ``bench.bare_app``: hypercorn's trio worker with statusd's own settings and an
ASGI app that returns the very bytes statusd returned a moment before.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from bench.procs import BenchError, Proc, run_ceiling, run_simulator, run_statusd
from bench.report import Section, Target, median
from bench.sizes import Sizes
from bench.wrk import WrkResult, run_wrk

VARIANTS: dict[str, tuple[str, ...]] = {
    "plain": (),
    "gzip": ("Accept-Encoding: gzip",),
    "304": (),  # If-None-Match with the current ETag, added once it is known
}
MIN_RPS_RATIO = 0.9
MAX_P99_RATIO = 1.5


def fetch_representations(statusd: Proc, workdir: Path) -> tuple[Path, Path, str]:
    """Save statusd's current plain and gzip /api bytes; return their paths and the ETag."""
    plain = httpx.get(f"{statusd.url}/api", headers={"Accept-Encoding": "identity"}, timeout=10)
    plain.raise_for_status()
    with httpx.stream(
        "GET", f"{statusd.url}/api", headers={"Accept-Encoding": "gzip"}, timeout=10
    ) as response:
        gzipped = b"".join(response.iter_raw())
    if response.headers.get("content-encoding") != "gzip":
        raise BenchError("statusd did not answer gzip to Accept-Encoding: gzip")
    plain_path, gzip_path = workdir / "api.json", workdir / "api.json.gz"
    plain_path.write_bytes(plain.content)
    gzip_path.write_bytes(gzipped)
    return plain_path, gzip_path, plain.headers["etag"]


def measure_api(workdir: Path, sizes: Sizes) -> list[Section]:
    """Throughput and latency of /api (plain, gzip, 304): statusd vs the ceiling."""
    runs: dict[tuple[str, str], list[WrkResult]] = {}
    with run_simulator(workdir, "--seed", "1") as sim, run_statusd(workdir, sim) as statusd:
        plain_path, gzip_path, etag = fetch_representations(statusd, workdir)
        headers = {**VARIANTS, "304": (f"If-None-Match: {etag}",)}
        with run_ceiling(workdir, plain_path, gzip_path, etag) as ceiling:
            targets = {"ceiling": ceiling, "statusd": statusd}
            for repeat in range(sizes.repeats):
                order = ["ceiling", "statusd"] if repeat % 2 == 0 else ["statusd", "ceiling"]
                for variant, extra in headers.items():
                    for name in order:
                        result = run_wrk(
                            f"{targets[name].url}/api",
                            connections=sizes.connections,
                            seconds=sizes.wrk_seconds,
                            headers=extra,
                        )
                        runs.setdefault((variant, name), []).append(result)
    body_size = plain_path.stat().st_size
    gzip_size = gzip_path.stat().st_size
    return [throughput_section(runs, sizes, body_size, gzip_size)]


def throughput_section(
    runs: dict[tuple[str, str], list[WrkResult]], sizes: Sizes, body_size: int, gzip_size: int
) -> Section:
    """The table of items 1 and 2 and the targets of item 1 (from the plain runs)."""
    section = Section(
        title=f"/api throughput: wrk -t1 -c{sizes.connections} -d{sizes.wrk_seconds}s, "
        f"median of {sizes.repeats} alternating runs",
        headers=["variant", "server", "req/s", "p50 ms", "p99 ms", "bytes/response", "failed"],
    )
    medians: dict[tuple[str, str], tuple[float, float]] = {}
    for (variant, name), results in runs.items():
        rps = median([r.rps for r in results])
        p99 = median([r.p99_ms for r in results])
        medians[(variant, name)] = (rps, p99)
        section.rows.append(
            [
                variant,
                name,
                rps,
                median([r.p50_ms for r in results]),
                p99,
                median([r.bytes_per_response for r in results]),
                sum(r.failed for r in results),
            ]
        )
        section.data[f"{variant}/{name}"] = [r.as_json() for r in results]
    for variant in VARIANTS:
        rps_ratio = medians[(variant, "statusd")][0] / medians[(variant, "ceiling")][0]
        p99_ratio = medians[(variant, "statusd")][1] / max(medians[(variant, "ceiling")][1], 1e-3)
        section.data[f"{variant}/ratios"] = {"rps": rps_ratio, "p99": p99_ratio}
        section.notes.append(
            f"{variant}: statusd/ceiling req/s {rps_ratio:.3f}, p99 {p99_ratio:.3f}"
        )
        if variant == "plain":
            section.targets.append(
                Target("statusd/ceiling req/s (plain)", round(rps_ratio, 3), MIN_RPS_RATIO, ">=")
            )
            section.targets.append(
                Target("statusd/ceiling p99 (plain)", round(p99_ratio, 3), MAX_P99_RATIO, "<=")
            )
    failed = sum(r.failed for results in runs.values() for r in results)
    section.targets.append(Target("failed requests", failed, 0, "<="))
    section.notes.append(f"/api body {body_size} bytes plain, {gzip_size} bytes gzip")
    section.data["body_bytes"] = {"plain": body_size, "gzip": gzip_size}
    return section
