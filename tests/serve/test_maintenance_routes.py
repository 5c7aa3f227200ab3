"""The SPEC §9 routes wired as the daemon wires them: scheduled maintenances, the calendar,
the incident history, and under_maintenance in /api/verdicts, components and badges."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from ical.calendar_stream import IcsCalendarStream
from quart_trio import QuartTrio

from statusd.history.reader import HistoryReader
from statusd.history.store import HistoryStore
from statusd.maintenance.calendar import event_uid
from statusd.maintenance.overlay import MaintenanceView
from statusd.maintenance.revisions import advance_revisions
from statusd.maintenance.windows import MaintenanceWindow, parse_window
from statusd.serve.maintenance_routes import register_maintenance_routes
from statusd.serve.status_routes import register_public_routes
from statusd.verdicts.live import PublicState
from statusd.verdicts.statuspage import iso_utc
from statusd.verdicts.timeline import Incident
from tests.support.public_state import open_public_state

NOW = time.time()


def window(window_id: str, start: float, end: float, **scope: list[str]) -> MaintenanceWindow:
    table: dict[str, Any] = {
        "id": window_id,
        "title": f"Work {window_id}",
        "start": iso_utc(start),
        "end": iso_utc(end),
        "products": scope.get("products", []),
        "countries": scope.get("countries", []),
    }
    return parse_window(table, 1)


WINDOWS = (
    window("sms-de", NOW - 600, NOW + 3600, products=["sms"], countries=["DE"]),
    window("payout", NOW + 7200, NOW + 9000, products=["billing"]),
    window("old", NOW - 9000, NOW - 7200, products=["support"]),
    window("voice-fr", NOW + 600, NOW + 1200, products=["voice"], countries=["FR"]),
)


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[QuartTrio, PublicState, HistoryStore]]:
    path = tmp_path / "history.sqlite3"
    store, public, _ = open_public_state(path, NOW)
    view = MaintenanceView(WINDOWS, advance_revisions({}, WINDOWS, NOW - 86400), NOW)
    await public.set_maintenance(view)
    app = QuartTrio(__name__)
    reader = HistoryReader(path)
    register_public_routes(app, public, reader, "http://127.0.0.1:8080")
    register_maintenance_routes(app, public, reader, "http://127.0.0.1:8080")
    yield app, public, store
    store.close()


async def get_json(app: QuartTrio, url: str, status: int = 200) -> Any:
    response = await app.test_client().get(url)
    assert response.status_code == status, await response.get_data()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return await response.get_json()


async def test_scheduled_maintenance_documents(
    wired: tuple[QuartTrio, PublicState, HistoryStore],
) -> None:
    """The three Statuspage lists and summary.json's scheduled_maintenances, with ETag/304."""
    app, _, _ = wired
    with trio.fail_after(10):
        active = await get_json(app, "/api/v2/scheduled-maintenances/active.json")
        assert [(m["statusd"]["id"], m["status"]) for m in active["scheduled_maintenances"]] == [
            ("sms-de", "in_progress")
        ]
        [sms] = active["scheduled_maintenances"]
        assert sms["impact"] == "maintenance"
        assert [c["name"] for c in sms["components"]] == ["SMS — Germany"]
        assert sms["statusd"]["countries"] == ["DE"]
        upcoming = await get_json(app, "/api/v2/scheduled-maintenances/upcoming.json")
        ids = [m["statusd"]["id"] for m in upcoming["scheduled_maintenances"]]
        assert ids == ["voice-fr", "payout"]  # soonest first
        everything = await get_json(app, "/api/v2/scheduled-maintenances.json")
        assert [m["status"] for m in everything["scheduled_maintenances"]] == [
            "scheduled",
            "scheduled",
            "in_progress",
            "completed",
        ]
        summary = await get_json(app, "/api/v2/summary.json")
        assert [m["statusd"]["id"] for m in summary["scheduled_maintenances"]] == [
            "sms-de",
            "voice-fr",
            "payout",
        ]
        client = app.test_client()
        first = await client.get("/api/v2/scheduled-maintenances.json")
        again = await client.get(
            "/api/v2/scheduled-maintenances.json",
            headers={"If-None-Match": first.headers["ETag"]},
        )
        assert again.status_code == 304


async def test_cells_in_a_running_window_are_under_maintenance_everywhere(
    wired: tuple[QuartTrio, PublicState, HistoryStore],
) -> None:
    """sms:DE is under_maintenance in /api/verdicts (with what its data says), components
    and its badge; sms:RU is not; no cell is invented for a window over cells without data."""
    app, public, _ = wired
    with trio.fail_after(10):
        verdicts = await get_json(app, "/api/verdicts")
        cells = {(c["product"], c["key"]): c for c in verdicts["cells"]}
        assert cells["sms", "DE"]["verdict"] == "under_maintenance"
        assert cells["sms", "DE"]["data_verdict"] == "operational"
        assert "data_verdict" not in cells["sms", "RU"]
        assert cells["sms", "RU"]["verdict"] != "under_maintenance"
        assert ("voice", "FR") not in cells
        components = await get_json(app, "/api/v2/components.json")
        [germany] = [c for c in components["components"] if c["name"] == "SMS — Germany"]
        assert germany["status"] == "under_maintenance"
        badge = await app.test_client().get("/badge/sms/DE.svg")
        assert b"under maintenance" in await badge.get_data()
        assert public.verdicts.indicator == verdicts["indicator"]


async def test_the_calendar_and_its_filters(
    wired: tuple[QuartTrio, PublicState, HistoryStore],
) -> None:
    """text/calendar read back by an independent parser; country keeps its own and the
    billing/support windows; bad values 400, unknown ones 404."""
    app, _, _ = wired
    client = app.test_client()
    with trio.fail_after(10):
        response = await client.get("/maintenance.ics?country=de")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        calendar = IcsCalendarStream.calendar_from_ics(await response.get_data(as_text=True))
        assert {e.uid for e in calendar.events} == {
            event_uid(w, "statusd") for w in ("sms-de", "payout", "old")
        }
        again = await client.get(
            "/maintenance.ics?country=de", headers={"If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304
        voice = await client.get("/maintenance.ics?product=voice")
        parsed = IcsCalendarStream.calendar_from_ics(await voice.get_data(as_text=True))
        assert [e.summary for e in parsed.events] == ["Work voice-fr"]
        for query, status in [("country=D1", 400), ("country=XX", 404), ("product=fax", 404)]:
            bad = await client.get(f"/maintenance.ics?{query}")
            assert bad.status_code == status
            assert "error" in await bad.get_json()


async def test_incident_history_route(
    wired: tuple[QuartTrio, PublicState, HistoryStore],
) -> None:
    """/api/incidents: open and recently closed incidents, newest first, with start, end and
    duration; older ones and bad days left out."""
    app, _, store = wired
    store.record_incidents(
        [
            Incident(
                "gone", "old", "resolved", NOW - 100 * 86400, NOW - 99 * 86400, NOW - 95 * 86400
            ),
            Incident("past", "dns", "resolved", NOW - 7200, NOW - 3600, NOW - 3600),
            Incident("again", "dns", "investigating", NOW - 60, NOW - 60, None, reopens="past"),
        ]
    )
    with trio.fail_after(10):
        body = await get_json(app, "/api/incidents?days=90")
        listed = [(i["id"], i["name"], i["reopens"]) for i in body["incidents"]]
        # the incident source's "db", opened ten minutes ago, is in between
        assert [item for item in listed if item[1] != "db"] == [
            ("again", "dns", "past"),
            ("past", "dns", None),
        ]
        assert "gone" not in [i["id"] for i in body["incidents"]]
        past = body["incidents"][2]
        assert past["duration_seconds"] == 3600
        assert past["resolved_at"] == iso_utc(NOW - 3600)
        assert body["incidents"][0]["resolved_at"] is None
        await get_json(app, "/api/incidents?days=0", 400)
        await get_json(app, "/api/incidents?days=401", 400)
