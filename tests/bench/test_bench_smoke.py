"""The benchmark harness (``bench/``) at tiny sizes: every measurement runs and reports.

Figures are not asserted (the machine is shared and noisy; they belong to ``make bench``);
what is asserted is that each measurement was taken, that its figures are there and sane, and
that no request failed where the harness demands zero failures (nginx with a statusd killed).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.procs import ROOT
from bench.sizes import SMOKE

SMOKE_TIMEOUT = 300
TOOLS = ("wrk", "nginx")


NCHAN = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")


def _missing_tools() -> list[str]:
    missing = [t for t in TOOLS if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]
    return missing + ([] if NCHAN.exists() else ["libnginx-mod-nchan"])


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One smoke run of every measurement, its JSON results."""
    missing = _missing_tools()
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed "
            "(apt-get install -y wrk nginx libnginx-mod-nchan)"
        )
    results = tmp_path_factory.mktemp("bench-results")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (path,) = results.glob("*-smoke.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _section(results: dict[str, Any], title_start: str) -> dict[str, Any]:
    matches = [s for s in results["sections"] if s["title"].startswith(title_start)]
    assert len(matches) == 1, [s["title"] for s in results["sections"]]
    section: dict[str, Any] = matches[0]
    return section


def _target(section: dict[str, Any], what: str) -> dict[str, Any]:
    (target,) = [t for t in section["targets"] if t["what"] == what]
    assert isinstance(target["value"], int | float)
    result: dict[str, Any] = target
    return result


def test_every_measurement_is_reported(smoke_results: dict[str, Any]) -> None:
    """The smoke run reports every section, on a described machine, with no failed one."""
    titles = [s["title"] for s in smoke_results["sections"]]
    assert smoke_results["smoke"] is True
    assert smoke_results["machine"]["cores"] >= 1
    assert not [t for t in titles if "FAILED" in t]
    for start in (
        "start and stop",
        "/api throughput",
        "nginx micro-cache",
        "parsers",
        "big inputs",
        "crowd, one statusd",
        "crowd through nginx",
        "notifications: /api during an email fan-out",
    ):
        _section(smoke_results, start)


def test_api_comparison_has_all_variants(smoke_results: dict[str, Any]) -> None:
    """statusd and the ceiling are both measured for plain, gzip and 304, without failures."""
    section = _section(smoke_results, "/api throughput")
    for variant in ("plain", "gzip", "304"):
        for server in ("statusd", "ceiling"):
            (run,) = section["data"][f"{variant}/{server}"]
            assert run["requests"] > 0
            assert run["failed"] == 0
    plain = section["data"]["plain/statusd"][0]["bytes_per_response"]
    gzipped = section["data"]["gzip/statusd"][0]["bytes_per_response"]
    not_modified = section["data"]["304/statusd"][0]["bytes_per_response"]
    assert plain > gzipped > not_modified
    assert section["data"]["body_bytes"]["plain"] > 10_000


def test_nginx_survives_a_killed_upstream(smoke_results: dict[str, Any]) -> None:
    """With one statusd killed mid-run, nginx still answers every request."""
    section = _section(smoke_results, "nginx micro-cache")
    assert _target(section, "failed requests while a statusd is killed")["met"]
    assert section["data"]["kill"]["wrk"]["requests"] > 0
    assert section["data"]["ratio"] > 0


def test_big_inputs_and_parsers_are_measured(smoke_results: dict[str, Any]) -> None:
    """Every parser has a rate; the end-to-end collection publishes a new document."""
    parsers = _section(smoke_results, "parsers")
    for source in ("sms", "mms", "voice_call", "email"):
        assert parsers["data"][source]["rows"] > 0
    comparison = _section(smoke_results, "sms + voice_call + email")
    assert set(comparison["data"]) == {
        "threads, all at once",
        "threads, one at a time, GC paused",
        "processes x2",
    }
    big = _section(smoke_results, "big inputs")
    assert big["data"]["collection_s"] > 0
    assert big["data"]["peak_rss_mib"] >= big["data"]["rss_first_mib"] > 0
    assert big["data"]["wrk"]["failed"] == 0


def test_start_and_stop_are_measured(smoke_results: dict[str, Any]) -> None:
    """Start-to-ready, stop under load and idle RSS are reported; SIGTERM exits 0."""
    section = _section(smoke_results, "start and stop")
    assert _target(section, "exit status after SIGTERM")["met"]
    assert section["data"]["ready_s"]
    assert section["data"]["stop_s"]
    assert all(rss > 0 for rss in section["data"]["idle_rss_mib"])


def test_crowd_pages_never_fail_and_get_changes(smoke_results: dict[str, Any]) -> None:
    """Issue 16 at tiny size: no page request fails, directly or through nginx with a
    replica killed; every page gets the change after the kill; the figures are there."""
    direct = _section(smoke_results, "crowd, one statusd")
    assert _target(direct, "failed /api requests (wrk, and pages once arrived)")["met"]
    assert direct["data"]["streams_open"] > 0
    assert direct["data"]["loaded"]["requests"] > 0
    assert direct["data"]["healthz_p99_ms"] > 0
    served = direct["data"]["served_per_second"]  # statusd's own count of what it answered
    assert served["loaded"] >= direct["data"]["loaded"]["rps"] * 0.9
    assert served["alone"] > 0
    crowd = _section(smoke_results, "crowd through nginx")
    assert _target(crowd, "failed requests of the pages (nchan run, kill included)")["met"]
    assert _target(crowd, "after a kill, the last page gets the change")["met"]
    nchan = crowd["data"]["nchan"]["crowd"]
    assert nchan["streams_opened"] >= nchan["pages"]
    assert nchan["processes"] == SMOKE.crowd_processes
    assert crowd["data"]["polling"]["crowd"]["streams_opened"] == 0
    for record in (direct["data"]["crowd"], nchan):  # the page's requests after each /api
        assert record["verdicts_requests"] >= record["pages"]
        assert record["sources_requests"] > 0
    for section in (direct, crowd):
        assert any("page requests: /api " in note for note in section["notes"]), section["notes"]
    stages = _section(smoke_results, "where a change's time goes")["data"]["change"]
    assert stages["told"][-1] < math.inf, "a page was never told of the change"  # the max
    assert stages["fetched"][-1] < math.inf, "a page never fetched the change"
    assert stages["probe_told"] < math.inf
    assert stages["crowd_cores_busy"] > 0


def test_notifications_are_measured(smoke_results: dict[str, Any]) -> None:
    """Every email and webhook of the fan-outs arrives once, /api is measured during one,
    the sink's own rate is beside it and the database grows with the outbox."""
    emails = _section(smoke_results, f"notifications: {SMOKE.notify_emails:,} emails")
    assert _target(emails, "emails accepted twice")["met"]
    assert emails["data"]["seconds"] > emails["data"]["settled_to_recorded_s"] > 0
    assert len(emails["data"]["sink_rates"]) == 2
    assert all(rate > 0 for rate in emails["data"]["sink_rates"])
    webhooks = _section(smoke_results, f"notifications: {SMOKE.notify_webhooks:,} webhooks")
    assert webhooks["data"]["delivered"] == webhooks["data"]["distinct"] == SMOKE.notify_webhooks
    assert _target(webhooks, "webhooks delivered twice")["met"]
    assert _target(webhooks, "webhook requests refused")["met"]
    api = _section(smoke_results, "notifications: /api during an email fan-out")
    assert api["data"]["fan-out"][0]["requests"] > 0
    assert api["data"]["ratio"] > 0
    assert _target(api, "failed requests")["met"]
    size = _section(smoke_results, "notifications: database size")
    assert size["data"]["outbox_entries"] == SMOKE.notify_emails
    assert size["data"]["with_outbox_bytes"] > size["data"]["subscriptions_bytes"] > 0
