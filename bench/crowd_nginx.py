"""Issue 16 through nginx: ``crowd_nginx_pages`` open pages on the shipped configuration
(``nginx-cache.conf``: micro-cache and nchan fan-out) in front of two replicas.

A change of data (the simulator regenerates) must reach 99 % of the pages, each having
fetched the new ``/api``, within 2 s; then one replica is SIGKILLed and the data changes
again: every page must get the new document within 30 s. The candidate "pages only poll
through the micro-cache" is measured the same way for comparison (docs/production.md says
why nchan is shipped).

Where the time goes is measured stage by stage from the moment the first replica served
the change: the other replica serving it, an idle probe page (a crowd process of its own
with one page) told by nchan and having fetched ``/api``, then the crowd's pages told and
having fetched it. The crowd's CPU and its event loops' lag right after the change say
whether the load generator kept up (a generator that lags measures itself).
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.crowd import same_document
from bench.crowd_procs import Client, Crowd, page_numbers, page_requests
from bench.nginx_bench import UPSTREAM_ARGS, publishing_config, run_nginx
from bench.procs import BenchError, Proc, run_simulator, run_statusd
from bench.report import Section, Target, percentile
from bench.sizes import Sizes

MAX_SPREAD_SECONDS = 2.0
MAX_STALE_SECONDS = 30.0
CHANGE_DEADLINE = 30.0
"""Seconds the first replica is given to serve the change."""
CATCH_UP = 10.0
"""Seconds the other replicas are given after the first (their time is inf beyond)."""
WATCH_SECONDS = 3.0
"""The crowd's CPU and lag are read over this long after the change was served."""
SHARES = (0.5, 0.9, 0.99)


@dataclass(frozen=True, slots=True)
class Change:
    """One change of data, in ``time.monotonic()`` (which every process here shares)."""

    asked: float
    """The simulator was asked to regenerate."""
    served: float
    """The first replica served a new /api."""
    all_served: float
    """Every replica asked about did (inf: not within ``CATCH_UP``)."""


def current_etag(upstream: Proc) -> str | None:
    try:
        response = httpx.get(f"{upstream.url}/api", timeout=2.0)
    except httpx.HTTPError:
        return None
    etag: str | None = response.headers.get("etag")
    return None if etag is None else same_document(etag)


def change_data(sim: Proc, upstreams: Sequence[Proc], known: set[str]) -> Change:
    """Make the simulator write new data, and watch ``upstreams`` until each serves a
    document not in ``known`` (BenchError when none does within ``CHANGE_DEADLINE``)."""
    asked = time.monotonic()
    httpx.post(f"{sim.url}/_control/regenerate", timeout=60).raise_for_status()
    served: dict[int, float] = {}
    deadline = time.monotonic() + CHANGE_DEADLINE
    while len(served) < len(upstreams) and time.monotonic() < deadline:
        for index, upstream in enumerate(upstreams):
            etag = current_etag(upstream) if index not in served else None
            if etag is not None and etag not in known:
                served[index] = time.monotonic()
        if served:
            deadline = min(deadline, min(served.values()) + CATCH_UP)
        time.sleep(0.005)
    if not served:
        raise BenchError(f"no upstream served new data within {CHANGE_DEADLINE:g} s")
    last = max(served.values()) if len(served) == len(upstreams) else math.inf
    return Change(asked, min(served.values()), last)


def reach_times(
    record: dict[str, Any], change: Change, known: set[str], what: str = "documents"
) -> list[float]:
    """Per page, seconds from the moment a replica first served the change until the page
    held a document not in ``known`` (those seen before the change was asked for), or with
    ``what="events"`` was told of one; 0 when it had it before the harness saw a replica
    serve it; inf: never within the run."""
    known = known | etags_before(record, change.asked)
    first: dict[int, float] = {}
    for page, at, etag in record[what]:
        if at >= change.asked and etag not in known and page not in first:
            first[page] = max(0.0, at - change.served)
    return [first.get(page, math.inf) for page in page_numbers(record)]


def etags_before(record: dict[str, Any], until: float) -> set[str]:
    return {etag for _, at, etag in record["documents"] if at < until}


def watched_change(
    sim: Proc, upstreams: Sequence[Proc], running: Crowd, observe: float
) -> tuple[Change, set[str], dict[str, float]]:
    """One change observed for ``observe`` s: the change, the ETags known before it, and the
    crowd's CPU (cores busy) from the change being asked until ``WATCH_SECONDS`` after it was
    served."""
    known = {e for e in (current_etag(upstream) for upstream in upstreams) if e}
    cpu_before, started = running.cpu_seconds(), time.monotonic()
    change = change_data(sim, upstreams, known)
    time.sleep(max(0.0, change.served + WATCH_SECONDS - time.monotonic()))
    cores = (running.cpu_seconds() - cpu_before) / (time.monotonic() - started)
    time.sleep(max(0.0, change.served + observe - time.monotonic()))
    return change, known, {"crowd_cores_busy": cores}


def stages(
    record: dict[str, Any],
    probe: dict[str, Any],
    change: Change,
    known: set[str],
    cpu: dict[str, float],
) -> dict[str, Any]:
    """Where the time of one change went (seconds after the first replica served it)."""
    fetched = reach_times(record, change, known)
    told = reach_times(record, change, known, "events")
    lags = [
        lag
        for at, lag in record["loop_lags"]
        if change.served <= at <= change.served + WATCH_SECONDS
    ]
    return {
        "other_replica_serves": change.all_served - change.served,
        "probe_told": min(reach_times(probe, change, known, "events")),
        "probe_fetched": min(reach_times(probe, change, known)),
        "told": told,
        "fetched": fetched,
        "told_to_fetched": [f - t for f, t in zip(fetched, told, strict=True) if t < math.inf],
        "crowd_loop_lag_max": max(lags, default=0.0),
        "crowd_loop_lags_over_50ms": len(lags),
        **cpu,
    }


def nginx_run(
    workdir: Path, sizes: Sizes, client: Client, *, streams: bool, kill: bool
) -> dict[str, Any]:
    """Pages on nginx over two replicas: one change, then (``kill``) a replica killed and a
    second change. Per change: every page's delay and the stages; the crowd's record."""
    publish_port, publish_toml = publishing_config(workdir)
    args = (*UPSTREAM_ARGS, "--config", str(publish_toml))
    pages = sizes.crowd_nginx_pages
    poll = sizes.crowd_poll_seconds
    observe = sizes.crowd_observe_seconds if streams else poll + 5
    with (
        run_simulator(workdir, "--seed", "1") as sim,
        run_statusd(workdir, sim, *args, name="statusd-a") as first,
        run_statusd(workdir, sim, *args, name="statusd-b") as second,
        run_nginx(workdir / "nginx", (first, second), b"{}", publish_port) as (cache_url, _),
        Crowd(
            workdir,
            cache_url,
            pages,
            poll=poll,
            streams=streams,
            processes=sizes.crowd_processes,
            client=client,
        ) as running,
        Crowd(
            workdir, cache_url, 1, poll=poll, streams=streams, first_page=pages, client=client
        ) as prober,
    ):
        ready_after = max(running.wait_ready(), prober.wait_ready())
        time.sleep(sizes.settle_seconds)
        change, known, cpu = watched_change(sim, (first, second), running, observe)
        if kill:
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(10)
            after_kill = watched_change(sim, (second,), running, observe)
        record, probe = running.finish(), prober.finish()
    result: dict[str, Any] = {
        "pages": pages,
        "ready_after": ready_after,
        "record": record,
        "stages": stages(record, probe, change, known, cpu),
    }
    if kill:
        result["after_kill"] = stages(record, probe, *after_kill)
    return result


def spread(times: Sequence[float]) -> list[float]:
    """p50, p90, p99 and the maximum, rounded for a table."""
    return [round(percentile(times, share), 3) for share in SHARES] + [round(max(times), 3)]


def measure_crowd_nginx(workdir: Path, sizes: Sizes, client: Client) -> list[Section]:
    nchan = nginx_run(workdir / "nchan", sizes, client, streams=True, kill=True)
    polling = nginx_run(workdir / "polling", sizes, client, streams=False, kill=False)
    return [candidates_section(sizes, nchan, polling), stages_section(nchan)]


def candidates_section(sizes: Sizes, nchan: dict[str, Any], polling: dict[str, Any]) -> Section:
    pages = sizes.crowd_nginx_pages
    section = Section(
        title=f"crowd through nginx (nginx-cache.conf) over two statusd: {pages} open pages",
        headers=[
            "candidate",
            "change → 50 %",
            "→ 90 %",
            "→ 99 % (s)",
            "→ 100 % (s)",
            "failed /api",
            "/api requests",
        ],
    )
    for name, run in (
        ("nchan fan-out (shipped)", nchan),
        (f"polling every {sizes.crowd_poll_seconds:g} s via the cache", polling),
    ):
        record = run["record"]
        counts = [record["api_failed"], record["api_requests"]]
        section.rows.append([name, *spread(run["stages"]["fetched"]), *counts])
    after = nchan["after_kill"]["fetched"]
    section.rows.append(["nchan, after one statusd is killed", *spread(after), "", ""])
    record = nchan["record"]
    section.targets += [
        Target(
            "failed requests of the pages (nchan run, kill included)", record["api_failed"], 0, "<="
        ),
        Target(
            "change reaches 99 % of the pages",
            round(percentile(nchan["stages"]["fetched"], 0.99), 3),
            MAX_SPREAD_SECONDS,
            "<=",
            " s",
        ),
        Target(
            "after a kill, the last page gets the change",
            round(max(after), 3),
            MAX_STALE_SECONDS,
            "<=",
            " s",
        ),
    ]
    section.notes += [
        f"pages ready after {nchan['ready_after']:.1f} s (nchan) / {polling['ready_after']:.1f} s "
        f"(polling); streams opened {record['streams_opened']}, stream failures "
        f"{record['stream_failures']} (the kill breaks none: nginx holds the streams); "
        f"failed page requests {record['api_failed_by_request']}; "
        f"the crowd ran in {record['processes']} process(es) of the {record['client']} client",
        f"{page_requests(record)} (nchan); {page_requests(polling['record'])} (polling)",
        "a change is the simulator regenerating its data; its time is the moment the first "
        "replica serves a new /api, and a page has it when it has fetched that /api",
    ]
    section.data = {
        name: {
            "ready_after": run["ready_after"],
            "client": run["record"]["client"],
            "change_seconds_p50_p90_p99_max": spread(run["stages"]["fetched"]),
            "crowd": {k: v for k, v in run["record"].items() if k not in ("documents", "events")},
        }
        for name, run in (("nchan", nchan), ("polling", polling))
    }
    section.data["nchan"]["after_kill_seconds_p50_p90_p99_max"] = spread(after)
    return section


def stages_section(nchan: dict[str, Any]) -> Section:
    """Where the time of the nchan run's changes went."""
    section = Section(
        title="where a change's time goes through nginx (nchan), s after the first replica "
        "served it",
        headers=["stage", "change p50", "p90", "p99", "max", "after the kill p99"],
    )
    first, after = nchan["stages"], nchan["after_kill"]
    for name, key in (
        ("pages told (event read)", "told"),
        ("pages fetched the new /api", "fetched"),
        ("per page: told → fetched", "told_to_fetched"),
    ):
        section.rows.append([name, *spread(first[key]), round(percentile(after[key], 0.99), 3)])
    for name, key in (
        ("the other replica serves it", "other_replica_serves"),
        ("an idle probe page is told (nchan)", "probe_told"),
        ("the idle probe page fetched it", "probe_fetched"),
        ("crowd event loop: longest lag", "crowd_loop_lag_max"),
        ("crowd CPU (cores busy)", "crowd_cores_busy"),
    ):
        section.rows.append([name, round(first[key], 3), "", "", "", round(after[key], 3)])
    section.data = {
        name: {
            key: spread(value) if isinstance(value, list) else value for key, value in stage.items()
        }
        for name, stage in (("change", first), ("after_kill", after))
    }
    return section
