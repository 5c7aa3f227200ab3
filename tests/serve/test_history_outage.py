"""PostgreSQL away (SPEC §11): the history routes answer 503 with the reason, the documents
kept in memory are still served, and the history routes answer again once it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import trio
from quart_trio import QuartTrio

from statusd.history.reader import HistoryReader
from statusd.history.unavailable import UNAVAILABLE_HOLD
from statusd.serve.maintenance_routes import register_maintenance_routes
from statusd.serve.status_routes import register_public_routes
from statusd.storage.url import DatabaseUrl
from tests.support.postgres import PostgresServer
from tests.support.public_state import open_public_state

BASE = "http://127.0.0.1:8080"
HISTORY_ROUTES = (
    "/api/history?product=sms&country=DE&days=2",
    "/api/history.csv?month=2025-11",
    "/feed.atom",
    "/api/incidents?days=30",
)
KEPT_IN_MEMORY = ("/api/v2/summary.json", "/api/v2/incidents.json", "/api/verdicts")


class Ticks:
    """The reader's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stopped_later(postgres: PostgresServer) -> Iterator[PostgresServer]:
    """The session's server, started again after the test whatever happened."""
    yield postgres
    if not postgres.is_running():
        postgres.start()


async def test_history_routes_answer_503_while_postgresql_is_away(
    stopped_later: PostgresServer,
) -> None:
    """503 with the reason on every history route while the server is stopped (the public
    documents still 200), 200 again once it runs."""
    postgres = stopped_later
    url = DatabaseUrl("postgresql", postgres.create_database())
    store, public, _ = open_public_state(url, time.time())
    store.close()
    ticks = Ticks()
    reader = HistoryReader(url, timeout=1.0, clock=ticks)
    app = QuartTrio(__name__)
    register_public_routes(app, public, reader, BASE)
    register_maintenance_routes(app, public, reader, BASE)
    client = app.test_client()
    try:
        with trio.fail_after(60):
            before = await client.get("/api/history?product=sms&country=DE&days=1")
            assert before.status_code == 200
            await trio.to_thread.run_sync(postgres.stop)
            for path in HISTORY_ROUTES:
                response = await client.get(path)
                assert response.status_code == 503, path
                body = await response.get_json()
                assert body["error"].startswith("history unavailable: "), body
            for path in KEPT_IN_MEMORY:
                assert (await client.get(path)).status_code == 200, path
            await trio.to_thread.run_sync(postgres.start)
            status = 503
            for attempt in range(10):  # until the pool has connected again
                ticks.now += UNAVAILABLE_HOLD
                response = await client.get(
                    f"/api/history?product=sms&country=DE&days={3 + attempt}"
                )
                status = response.status_code
                if status == 200:
                    break
            assert status == 200
            for path in ("/api/history.csv?month=2025-12", "/feed.atom?product=sms"):
                assert (await client.get(path)).status_code == 200, path
            assert (await client.get("/api/incidents?days=31")).status_code == 200
    finally:
        await trio.to_thread.run_sync(reader.close)
