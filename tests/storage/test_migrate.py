"""``statusd db migrate``: a single-node SQLite database filled through the stores is copied
into PostgreSQL and read back the same through the stores; a second run copies nothing; a
target that holds other data under the same keys is refused, naming the table."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from statusd.cli import main as statusd_main
from statusd.history.store import HistoryStore
from statusd.storage.migrate import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, main, quote_columns, schema
from statusd.storage.url import DatabaseUrl, sqlite_url
from statusd.subscriptions.model import Change, NotificationEvent
from statusd.subscriptions.store import SubscriptionStore
from statusd.verdicts.timeline import Incident
from tests.subscriptions.conftest import LIMIT, NOW, active_email, scope
from tests.support.postgres import PostgresServer


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def filled(path: Path) -> None:
    """History (verdict changes, an incident) and subscriptions (pending, active, webhook,
    an event with its outbox entries, a claim, silent notified verdicts) in one file."""
    history = HistoryStore.open(path, now=NOW, max_gap=90, rollup_days=400)
    try:
        history.record_verdicts(NOW, {"sms:DE": "operational", "sms:FR": "operational"})
        history.record_verdicts(NOW + 60, {"sms:DE": "major_outage", "sms:FR": "operational"})
        history.record_incidents([Incident("inc1", "SMS delays", "investigating", NOW, NOW)])
        history.heartbeat(NOW + 90)
    finally:
        history.close()
    store = SubscriptionStore.open(path, owner="single-node")
    try:
        active_email(store, "a@example.com", scope(("sms",), ("DE",)))
        store.add_email("pending@example.com", scope(), "ru", NOW, limit=LIMIT)
        store.add_webhook("https://h.example/", "slack", scope(), "en", NOW, limit=LIMIT)
        change = Change("sms", "DE", "DE", "sms-DE", "operational", "major_outage")
        event = NotificationEvent("e1", "status.changed", NOW + 60, (change,))
        assert store.record_event(event, {"sms:DE": "major_outage"}, NOW + 61) == 2
        store.record_notified({"sms:FR": "operational"}, NOW + 62)
        assert len(store.claim_due(NOW + 63, 1, 600)) == 1
    finally:
        store.close()


def test_schema_is_read_from_the_schema_modules() -> None:
    tables, _ = schema()
    names = [table.name for table in tables]
    assert names.index("cells") < names.index("intervals")
    assert names.index("notification_events") < names.index("outbox")
    assert {"daily", "incidents", "subscriptions", "subscription_keys"} <= set(names)
    outbox = next(table for table in tables if table.name == "outbox")
    assert outbox.identity == "id"
    assert outbox.columns[:2] == ("id", "event_id")
    assert "claimed_by" in outbox.columns
    assert quote_columns('CREATE TABLE t (window TEXT, "end" REAL)') == (
        'CREATE TABLE t ("window" TEXT, "end" REAL)'
    )


def migrate_again(path: Path, target: str) -> tuple[int, str, str]:
    return run("migrate", "--from", f"sqlite:///{path}", "--to", target)


@pytest.fixture
def migrated(tmp_path: Path, postgres: PostgresServer) -> tuple[Path, str, str]:
    """A filled SQLite file, the PostgreSQL database it was migrated to, the output."""
    path = tmp_path / "history.sqlite3"
    filled(path)
    target = postgres.create_database()
    status, out, err = migrate_again(path, target)
    assert status == EXIT_OK, err
    return path, target, out


def test_migrate_copies_and_the_stores_read_back_the_same(migrated: tuple[Path, str, str]) -> None:
    path, target, out = migrated
    copied = {line.split(":")[0]: line for line in out.splitlines()}
    assert "intervals" in copied
    assert "maintenance_events" in copied
    assert copied["subscriptions"].startswith("subscriptions: 3 copied, 3 rows")
    assert copied["outbox"].startswith("outbox: 3 copied, 3 rows")

    before = SubscriptionStore.open(sqlite_url(path), owner="single-node")
    after = SubscriptionStore.open(DatabaseUrl("postgresql", target), owner="single-node")
    try:
        assert after.subscriptions() == before.subscriptions()
        assert after.notified() == before.notified()
        assert after.stats(NOW) == before.stats(NOW)
        [subscription] = [s for s in after.subscriptions() if s.address == "a@example.com"]
        # the same key: unsubscribe links sent before the migration keep working
        token = before.token_key.token_for(subscription.id)
        assert after.token_key.token_for(subscription.id) == token
        # the claim of the single node is released by the same replica after the move
        assert after.release_claims() == 1
        claimed = after.claim_due(NOW + 64, 10, 600)
        assert sorted(e.message_id for e in claimed) == sorted(
            e.message_id for e in before.claim_due(NOW + 10_000, 10, 600)
        )
        # new rows get ids past the copied ones (the identity sequence was moved)
        after.add_email("new@example.com", scope(), "en", NOW + 70, limit=LIMIT)
        assert after.remove_by_token(token) == subscription
    finally:
        before.close()
        after.close()

    # the target moved on (a subscription added there): a new run refuses, naming the table
    status, _, err = migrate_again(path, target)
    assert status == EXIT_REFUSED
    assert "table subscriptions: the target holds 1 row(s) that differ" in err


def test_a_second_run_copies_nothing_and_a_tampered_row_is_named(
    migrated: tuple[Path, str, str], postgres: PostgresServer
) -> None:
    path, target, _ = migrated
    status, out, _ = migrate_again(path, target)
    assert status == EXIT_OK
    assert all(" 0 copied, " in line for line in out.splitlines())
    name = target.rsplit("/", 1)[1]
    postgres.psql("UPDATE subscriptions SET lang = 'de' WHERE channel = 'webhook'", name)
    status, out, err = migrate_again(path, target)
    assert status == EXIT_REFUSED
    assert "table subscriptions: the target holds 1 row(s) that differ" in err
    assert "subscriptions:" not in out


def test_usage_errors(tmp_path: Path) -> None:
    assert run("migrate", "--from", "mysql://x", "--to", "postgresql://h/d")[0] == EXIT_USAGE
    status, _, err = run(
        "migrate", "--from", f"sqlite:///{tmp_path}/none.sqlite3", "--to", "postgresql://h/d"
    )
    assert status == EXIT_REFUSED
    assert "no database at" in err
    assert not (tmp_path / "none.sqlite3").exists()


def test_statusd_hands_db_over(capsys: pytest.CaptureFixture[str]) -> None:
    assert statusd_main(["db", "migrate", "--from", "sqlite:///", "--to", "x"]) == EXIT_USAGE
    assert "statusd db" in capsys.readouterr().err
