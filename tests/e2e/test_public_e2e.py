"""The public status API over real HTTP, and history kept across a restart."""

from __future__ import annotations

import time
from pathlib import Path

import feedparser
import pytest

from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import run_statusd

pytestmark = pytest.mark.e2e


def test_statuspage_feed_history_survive_a_restart(tmp_path: Path) -> None:
    """Summary, feed and history answer; after a restart the feed ids are the same and the
    time statusd was down counts as unknown, never as up."""
    state = tmp_path / "state"
    with run_simulator(tmp_path / "data", "--seed", "11") as sim:
        args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url, "--state-dir", str(state))
        with run_statusd(tmp_path, *args) as statusd:
            statusd.wait_until(
                lambda: statusd.get("/api/v2/summary.json").json()["components"] != []
            )
            summary = statusd.get("/api/v2/summary.json").json()
            feed_before = feedparser.parse(statusd.get("/feed.atom").content)
            verdicts = statusd.get("/api/verdicts").json()
        time.sleep(1.5)  # statusd is down for a while
        with run_statusd(tmp_path, *args) as statusd:
            feed_after = feedparser.parse(statusd.get("/feed.atom").content)
            cell = next(c for c in verdicts["cells"] if c["product"] == "sms")
            history = statusd.get(f"/api/history?product=sms&country={cell['key']}&days=1").json()
            badge = statusd.get(f"/badge/sms/{cell['key']}.svg")
            missing = statusd.get("/badge/sms/ZZ.svg")
            bad = statusd.get("/api/history?product=sms&country=RU&days=401")
    assert summary["status"]["indicator"] in {"none", "minor", "major"}
    assert {g["name"] for g in summary["components"] if g.get("group")} >= {"SMS", "Billing"}
    assert all(c["status"] != "unknown" for c in summary["components"])
    assert not feed_before.bozo
    assert not feed_after.bozo
    before_ids = {e.id for e in feed_before.entries}
    assert before_ids <= {e.id for e in feed_after.entries}
    seconds = history["buckets"][-1]["seconds"]
    assert seconds["unknown"] >= 1  # the downtime between the two runs
    assert badge.headers["content-type"].startswith("image/svg+xml")
    assert missing.status_code == 404
    assert bad.status_code == 400
    assert "error" in bad.json()
