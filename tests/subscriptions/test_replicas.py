"""Several replicas on one database (SPEC §11): two stores on the same database are two
replicas. Each entry is claimed by one of them; a replica releases only its own claims; a
subscription made through one is confirmed and removed through the other. On both engines
(two SQLite stores on one file stand for two processes on one host)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from statusd.storage.url import DatabaseUrl, sqlite_url
from statusd.subscriptions.schema import SUBSCRIPTION_TABLES
from statusd.subscriptions.store import SubscriptionStore
from tests.subscriptions.conftest import LIMIT, NOW, rows, scope
from tests.subscriptions.test_outbox import change, status_event


@pytest.fixture
def replicas(database_url: DatabaseUrl) -> Iterator[tuple[SubscriptionStore, SubscriptionStore]]:
    first = SubscriptionStore.open(database_url, owner="replica-a")
    second = SubscriptionStore.open(database_url, owner="replica-b")
    yield first, second
    first.close()
    second.close()


def told(store: SubscriptionStore, webhooks: int) -> None:
    """``webhooks`` active webhooks, each with one entry of one event."""
    for number in range(webhooks):
        store.add_webhook(f"https://h{number}.example/", "json", scope(), "en", NOW, limit=LIMIT)
    assert store.record_event(status_event("e1", change("sms", "DE")), {}, NOW) == webhooks


def test_concurrent_claims_take_every_entry_exactly_once(
    replicas: tuple[SubscriptionStore, SubscriptionStore],
) -> None:
    """Three sender threads in each replica claim small batches at the same instant until
    nothing is due: every entry is claimed once, by one replica."""
    entries = 240
    told(replicas[0], entries)
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def sender(store: SubscriptionStore) -> None:
        try:
            start.wait(timeout=30)
            while batch := store.claim_due(NOW + 1, 5, 600):
                with lock:
                    claimed.extend((store.owner, entry.id) for entry in batch)
        except BaseException as error:  # reported below, with the thread's error
            failures.append(error)

    threads = [threading.Thread(target=sender, args=(s,)) for s in replicas for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    counts = Counter(entry_id for _, entry_id in claimed)
    assert len(counts) == entries
    assert set(counts.values()) == {1}
    owners = {row[0]: row[1] for row in rows(replicas[0], "SELECT id, claimed_by FROM outbox")}
    assert all(owners[entry_id] == owner for owner, entry_id in claimed)


def test_release_claims_releases_only_this_replicas_claims(
    replicas: tuple[SubscriptionStore, SubscriptionStore],
) -> None:
    """A restarted replica releases what its killed run claimed, never what a live replica
    is sending."""
    first, second = replicas
    told(first, 5)
    mine = {e.id for e in first.claim_due(NOW + 1, 2, 600)}
    theirs = {e.id for e in second.claim_due(NOW + 1, 2, 600)}
    [(unclaimed,)] = rows(first, "SELECT id FROM outbox WHERE claimed_until IS NULL")
    assert first.release_claims() == 2
    assert {e.id for e in first.claim_due(NOW + 2, 10, 600)} == mine | {unclaimed}
    assert not mine & theirs
    assert second.release_claims() == 2
    assert first.release_claims() == 3


def test_a_subscription_made_through_one_replica_is_managed_through_another(
    replicas: tuple[SubscriptionStore, SubscriptionStore],
) -> None:
    """Sign-up on A; confirmation link and unsubscribe link on B; a webhook made on B is
    deleted on A. Both derive the same manage tokens (the key is in the database)."""
    first, second = replicas
    confirm = first.add_email("a@example.com", scope(("sms",), ()), "en", NOW, limit=LIMIT)
    assert confirm is not None
    confirmed = second.confirm(confirm, NOW + 5)
    assert confirmed is not None
    assert confirmed.state == "active"
    assert [s.state for s in first.subscriptions()] == ["active"]
    token = first.token_key.token_for(confirmed.id)
    assert token == second.token_key.token_for(confirmed.id)
    assert second.remove_by_token(token) == confirmed
    assert first.subscriptions() == []
    hook = second.add_webhook("https://h.example/", "json", scope(), "en", NOW, limit=LIMIT)
    assert first.delete_webhook(hook.id, hook.token)
    assert second.subscriptions() == []


OLD_OUTBOX = re.sub(
    r"\s*claimed_by TEXT,",
    "",
    next(t for t in SUBSCRIPTION_TABLES if t.startswith("CREATE TABLE IF NOT EXISTS outbox")),
)
"""The outbox of the version before ``claimed_by``."""


def test_an_older_sqlite_outbox_gains_claimed_by(tmp_path: Path) -> None:
    """A database of the version before ``claimed_by``: the column is added in place, and
    the claims that version made (no owner) are released at start like our own."""
    path = tmp_path / "history.sqlite3"
    assert "claimed_by" not in OLD_OUTBOX
    with sqlite3.connect(path) as conn:
        conn.execute(OLD_OUTBOX)
    store = SubscriptionStore.open(sqlite_url(path))
    try:
        told(store, 2)
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE outbox SET claimed_until = ?", (NOW + 600,))
        assert store.claim_due(NOW + 1, 10, 60) == []
        assert store.release_claims() == 2
        assert len(store.claim_due(NOW + 1, 10, 60)) == 2
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(outbox)")]
    assert "claimed_by" in columns
