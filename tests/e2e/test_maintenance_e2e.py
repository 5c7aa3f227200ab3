"""Planned maintenance with a real statusd and simulator: the file edited while statusd runs
puts the cells in scope under maintenance and takes them out at the end; an invalid file
keeps the windows and shows in /healthz."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from statusd.maintenance.file import add_window
from statusd.maintenance.windows import MaintenanceWindow, parse_window
from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import StatusdProcess, run_statusd

pytestmark = pytest.mark.e2e


def window(window_id: str, country: str, start: float, end: float) -> MaintenanceWindow:
    table = {
        "id": window_id,
        "title": f"SMS to {country}: carrier upgrade",
        "start": datetime.fromtimestamp(start, UTC).isoformat(),
        "end": datetime.fromtimestamp(end, UTC).isoformat(),
        "products": ["sms"],
        "countries": [country],
    }
    return parse_window(table, 1)


def verdict(statusd: StatusdProcess, product: str, key: str) -> str | None:
    cells = statusd.get("/api/verdicts").json()["cells"]
    return next((c["verdict"] for c in cells if (c["product"], c["key"]) == (product, key)), None)


def sms_countries(statusd: StatusdProcess) -> list[str]:
    """The countries with an operational SMS cell, once statusd has them (two at least)."""
    found: list[str] = []

    def operational() -> bool:
        cells = statusd.get("/api/verdicts").json()["cells"]
        found[:] = [
            c["key"] for c in cells if c["product"] == "sms" and c["verdict"] == "operational"
        ]
        return len(found) >= 2

    statusd.wait_until(operational)
    return found


def health(statusd: StatusdProcess) -> Any:
    return statusd.get("/healthz").json()["maintenance"]


def test_a_window_added_while_running_starts_and_ends(tmp_path: Path) -> None:
    """A window written into the file while statusd runs: its cell turns under_maintenance
    (and no other), the history counts the time, the feed and the Statuspage list say so,
    and at the end the cell shows its data again."""
    state = tmp_path / "state"
    maintenance = state / "maintenance.toml"
    with run_simulator(tmp_path / "data", "--seed", "11", "--steady") as sim:
        args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url, "--state-dir", str(state))
        with run_statusd(tmp_path, *args) as statusd:
            here, other = sms_countries(statusd)[:2]
            assert health(statusd) == {
                "file": str(maintenance),
                "windows": 0,
                "active": [],
                "next_transition": None,
                "error": None,
            }
            now = time.time()
            add_window(maintenance, window("sms-here", here, now - 60, now + 6))
            statusd.wait_until(lambda: verdict(statusd, "sms", here) == "under_maintenance")
            assert verdict(statusd, "sms", other) == "operational"
            active = statusd.get("/api/v2/scheduled-maintenances/active.json").json()
            assert [m["statusd"]["id"] for m in active["scheduled_maintenances"]] == ["sms-here"]
            statusd.wait_until(lambda: verdict(statusd, "sms", here) == "operational", 20)
            assert time.time() >= now + 6
            listed = statusd.get("/api/v2/scheduled-maintenances.json").json()
            assert [m["status"] for m in listed["scheduled_maintenances"]] == ["completed"]
            history = statusd.get(f"/api/history?product=sms&country={here}&days=1").json()
            assert history["buckets"][-1]["seconds"]["under_maintenance"] >= 1
            statusd.wait_until(
                lambda: (
                    f"Maintenance completed: SMS to {here}: carrier upgrade"
                    in [
                        e.title for e in feedparser.parse(statusd.get("/feed.atom").content).entries
                    ]
                ),
                10,
            )
            calendar = statusd.get(f"/maintenance.ics?country={here}")
            assert calendar.headers["content-type"] == "text/calendar; charset=utf-8"
            assert f"SUMMARY:SMS to {here}: carrier upgrade".encode() in calendar.content


def test_an_invalid_file_keeps_the_windows_and_shows_in_healthz(tmp_path: Path) -> None:
    """Breaking the file keeps the running window in force and names the problem in
    /healthz and the log; statusd keeps serving; a fixed file clears it."""
    state = tmp_path / "state"
    maintenance = state / "maintenance.toml"
    with run_simulator(tmp_path / "data", "--seed", "11", "--steady") as sim:
        args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url, "--state-dir", str(state))
        with run_statusd(tmp_path, *args) as statusd:
            here = sms_countries(statusd)[0]
            now = time.time()
            add_window(maintenance, window("sms-here", here, now - 60, now + 3600))
            statusd.wait_until(lambda: verdict(statusd, "sms", here) == "under_maintenance")
            good = maintenance.read_text()
            maintenance.write_text(good.replace("end =", "ending ="))
            statusd.wait_until(lambda: health(statusd)["error"] is not None)
            assert "keeping the previous windows" in health(statusd)["error"]
            assert health(statusd)["active"] == ["sms-here"]
            assert verdict(statusd, "sms", here) == "under_maintenance"
            assert "maintenance file invalid" in statusd.log()
            maintenance.write_text(good)
            statusd.wait_until(lambda: health(statusd)["error"] is None)
            assert statusd.process.poll() is None
