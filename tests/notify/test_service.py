"""``notify.service``: what the mail worker is told about its database, per engine."""

from __future__ import annotations

from pathlib import Path

from statusd.config import build_settings
from statusd.deliver.senders import IDLE_POLL
from statusd.notify.service import SHARED_IDLE_POLL, mailer_request
from statusd.storage.url import DatabaseUrl, sqlite_url
from statusd.subscriptions.facade import AsyncStore
from tests.support.postgres import PostgresServer

SETTINGS = build_settings(
    [("test", {"smtp_url": "smtp://127.0.0.1:2525", "mail_from": "status@example.com"})]
)


async def test_the_worker_gets_the_database_and_the_replicas_claim_owner(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """On SQLite the worker polls as the daemon's senders do; on a shared database it looks
    every 2 s, since a replica that does not lead cannot wake it for a new confirmation."""
    urls = (
        sqlite_url(tmp_path / "history.sqlite3"),
        DatabaseUrl("postgresql", postgres.create_database()),
    )
    polls = []
    for url in urls:
        store = await AsyncStore.open(url, owner="host:/var/lib/statusd")
        try:
            request = mailer_request(SETTINGS, store)
        finally:
            await store.aclose()
        assert (request.database, request.dialect) == (url.target, url.dialect)
        assert request.owner == "host:/var/lib/statusd"
        polls.append(request.idle_poll)
    assert polls == [IDLE_POLL, SHARED_IDLE_POLL]
