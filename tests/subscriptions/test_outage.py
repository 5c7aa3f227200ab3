"""PostgreSQL stopped under the subscriptions (SPEC §11): the routes answer 503 with a reason
and ``Retry-After`` while it is away and work again when it returns; what the planner
decided meanwhile waits in memory and is written when it returns; a store opened while the
server is away prepares its tables once it is back. Nothing crashes, nothing blocks the
event loop (every call is in a worker thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
import trio

from statusd.history.store import Snapshot
from statusd.mailbox import Mailbox
from statusd.metrics import Metrics
from statusd.notify.incidents import incident_key
from statusd.notify.planner import run_notification_planner
from statusd.serve.app import create_app
from statusd.state.holder import StateHolder
from statusd.storage.engine import StorageError, StorageUnavailable
from statusd.storage.url import DatabaseUrl
from statusd.subscriptions.facade import AsyncStore
from statusd.subscriptions.model import NotificationEvent
from statusd.subscriptions.routes import SubscriptionRoutes
from statusd.subscriptions.store import SubscriptionStore
from statusd.verdicts.timeline import Incident
from tests.subscriptions.conftest import LIMIT, NOW, scope
from tests.subscriptions.test_routes import SETTINGS, resolve
from tests.support.postgres import PostgresServer

TIMEOUT = 1.0
"""The stores' wait for a connection here: a call fails within it while the server is away."""
RECOVERY_SECONDS = 30.0
"""How long the pool may take to connect again once the server is back."""
TEST_SECONDS = 180.0
"""A whole test's deadline: stopping and starting the server is slow on a loaded machine."""


@contextmanager
def stopped(postgres: PostgresServer) -> Iterator[None]:
    """The server stopped for the block (``fast``: every client is disconnected), started
    again after it whatever happens."""
    postgres.stop()
    try:
        yield
    finally:
        postgres.start()


@asynccontextmanager
async def away(postgres: PostgresServer) -> AsyncIterator[None]:
    """``stopped`` for trio tests: ``pg_ctl`` runs in a worker thread."""
    await trio.to_thread.run_sync(postgres.stop)
    try:
        yield
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(postgres.start)


@pytest.fixture
def url(postgres: PostgresServer) -> DatabaseUrl:
    return DatabaseUrl("postgresql", postgres.create_database())


async def test_routes_answer_503_while_the_database_is_away(
    postgres: PostgresServer, url: DatabaseUrl, tmp_path: Path
) -> None:
    db = AsyncStore(SubscriptionStore.open(url, timeout=TIMEOUT))
    settings = replace(SETTINGS, web_dir=tmp_path)
    routes = SubscriptionRoutes(db, settings, resolve=resolve)
    app = create_app(StateHolder(("a",), 90), settings, Metrics(["a"]), extra_routes=routes)
    client = app.test_client()
    try:
        assert (
            await client.post("/api/subscriptions", json={"email": "a@x.example"})
        ).status_code == 202
        async with away(postgres):
            signup = await client.post("/api/subscriptions", json={"email": "b@x.example"})
            assert signup.status_code == 503
            assert signup.headers["Retry-After"] == "30"
            assert "subscriptions are unavailable for now" in (await signup.get_json())["error"]
            page = await client.get("/subscriptions/unsubscribe?token=x")
            assert page.status_code == 503
            assert page.headers["Retry-After"] == "30"
            deleted = await client.delete(
                "/api/subscriptions/x", headers={"Authorization": "Bearer y"}
            )
            assert deleted.status_code == 503
        with trio.fail_after(RECOVERY_SECONDS):
            while (
                status := (
                    await client.post("/api/subscriptions", json={"email": "c@x.example"})
                ).status_code
            ) == 503:
                pass  # each try waits for a connection (TIMEOUT): the pool reconnecting
        assert status == 202
        assert await db.run(db.store.count) == 2
    finally:
        await db.aclose()


class WatchedStore(SubscriptionStore):
    """Tells the test (from the worker thread) when recording failed."""

    failed = threading.Event()

    def record_event(
        self, event: NotificationEvent, notified: Mapping[str, str], now: float
    ) -> int:
        try:
            return super().record_event(event, notified, now)
        except StorageError:
            self.failed.set()
            raise


async def test_decisions_made_while_the_database_is_away_are_written_when_it_returns(
    postgres: PostgresServer, url: DatabaseUrl
) -> None:
    """An incident opens while PostgreSQL is stopped: the planner keeps the event in memory,
    retries, and writes it (with its outbox entry) once the server is back."""
    store = WatchedStore.open(url, timeout=TIMEOUT)
    hook = store.add_webhook(
        "https://h.example/", "json", scope(("incidents",)), "en", NOW, limit=LIMIT
    )
    mailbox: Mailbox[Snapshot] = Mailbox(keep=64)
    recorded = trio.Event()
    try:
        with trio.fail_after(TEST_SECONDS):
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    partial(
                        run_notification_planner,
                        mailbox,
                        store,
                        hold=0,
                        batch=0,
                        limiter=trio.CapacityLimiter(1),
                        retry_first=0.05,
                        retry_max=0.5,
                        on_recorded=recorded.set,
                    )
                )
                mailbox.put(Snapshot(time.time(), {}, ()))
                async with away(postgres):
                    opened = Incident("inc1", "SMS delays", "investigating", NOW, NOW)
                    mailbox.put(Snapshot(time.time(), {}, (opened,)))
                    await trio.to_thread.run_sync(store.failed.wait, RECOVERY_SECONDS)
                    assert not recorded.is_set()
                await recorded.wait()
                nursery.cancel_scope.cancel()
        [entry] = store.claim_due(time.time() + 1, 10, 60)
        assert entry.subscription.id == hook.id
        assert entry.event is not None
        assert entry.event.type == "incident.opened"
        assert store.notified() == {incident_key("inc1"): "investigating"}
    finally:
        store.close()


def test_a_store_opened_while_the_server_is_away_prepares_when_it_returns(
    postgres: PostgresServer, url: DatabaseUrl
) -> None:
    with stopped(postgres):
        store = SubscriptionStore.open(url, timeout=TIMEOUT)
        with pytest.raises(StorageUnavailable):
            store.count()
    try:
        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            try:
                assert store.count() == 0
                break
            except StorageUnavailable:
                assert time.monotonic() < deadline
        token = store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
        assert token is not None
        assert store.confirm(token, NOW + 1) is not None
    finally:
        store.close()
