"""The write path of the subscription store and the operators' queries, on a real SQLite
file: pending email + confirmation entry in one transaction, confirm, replace, unsubscribe,
webhooks, limits, expiry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from statusd.history.store import HistoryStore
from statusd.subscriptions.store import (
    MAX_PENDING_PER_ADDRESS,
    PENDING_SECONDS,
    SubscriptionsFull,
    SubscriptionStore,
)
from statusd.subscriptions.tokens import token_digest
from tests.subscriptions.conftest import LIMIT, NOW, active_email, rows, scope


def test_email_signup_is_pending_with_its_confirmation_entry(store: SubscriptionStore) -> None:
    """One transaction stores the pending subscription and the confirmation email to send;
    the token itself is stored only in that entry, as a digest in the subscription."""
    token = store.add_email("a@example.com", scope(("sms",), ("DE",)), "ru", NOW, limit=LIMIT)
    assert token is not None
    [subscription] = store.subscriptions()
    assert subscription.state == "pending"
    assert subscription.lang == "ru"
    assert subscription.expires_at == NOW + PENDING_SECONDS
    assert subscription.scope == scope(("sms",), ("DE",))
    [(confirm_digest,)] = rows(store, "SELECT confirm_digest FROM subscriptions")
    assert confirm_digest == token_digest(token)
    [entry] = store.claim_due(NOW, 10, 60)
    assert entry.event is None
    assert entry.confirm_token == token
    assert entry.subscription.id == subscription.id
    assert entry.manage_token is not None
    assert store.by_token(entry.manage_token) == subscription


def test_tokens_are_stored_only_as_digests(store: SubscriptionStore) -> None:
    """No column of the subscriptions holds a token in clear."""
    store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
    created = store.add_webhook("https://h.example/x", "json", scope(), "en", NOW, limit=LIMIT)
    dump = "\n".join(str(row) for row in rows(store, "SELECT * FROM subscriptions"))
    assert created.token not in dump
    assert created.secret in dump  # needed in clear to sign every delivery
    [(digest,)] = rows(store, f"SELECT token_digest FROM subscriptions WHERE id = '{created.id}'")
    assert digest == token_digest(created.token)


def test_viewing_a_confirmation_changes_nothing_confirming_activates(
    store: SubscriptionStore,
) -> None:
    token = store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
    assert token is not None
    shown = store.pending_by_confirm_token(token, NOW + 10)
    assert shown is not None
    assert shown.state == "pending"
    assert store.subscriptions()[0].state == "pending"
    confirmed = store.confirm(token, NOW + 20)
    assert confirmed is not None
    assert confirmed.state == "active"
    assert confirmed.confirmed_at == NOW + 20
    assert store.claim_due(NOW + 30, 10, 60) == []  # the confirmation email is not sent now
    again = store.confirm(token, NOW + 40)
    assert again is not None
    assert again.confirmed_at == NOW + 20


def test_confirming_replaces_the_older_subscription_of_the_address(
    store: SubscriptionStore,
) -> None:
    """A new scope for the same address replaces the old one (with its entries)."""
    old = active_email(store, "a@example.com", scope(("sms",)))
    token = store.add_email("a@example.com", scope(("voice",)), "en", NOW, limit=LIMIT)
    assert token is not None
    assert {s.state for s in store.subscriptions()} == {"active", "pending"}
    new = store.confirm(token, NOW + 5)
    assert new is not None
    [only] = store.subscriptions()
    assert only.id == new.id != old
    assert only.scope == scope(("voice",))


def test_unknown_and_expired_confirmations_do_nothing(store: SubscriptionStore) -> None:
    token = store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
    assert token is not None
    assert store.confirm("not-a-token", NOW) is None
    assert store.pending_by_confirm_token(token, NOW + PENDING_SECONDS) is None
    assert store.confirm(token, NOW + PENDING_SECONDS) is None
    assert store.subscriptions()[0].state == "pending"


def test_pending_subscriptions_expire_after_48_hours(store: SubscriptionStore) -> None:
    """Expiry deletes the pending subscription and its unsent confirmation; active ones stay."""
    store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
    kept = active_email(store, "b@example.com", now=NOW)
    assert store.expire_pending(NOW + PENDING_SECONDS - 1) == 0
    assert store.expire_pending(NOW + PENDING_SECONDS) == 1
    assert [s.id for s in store.subscriptions()] == [kept]
    assert rows(store, "SELECT COUNT(*) FROM outbox") == [(0,)]


def test_a_new_signup_sweeps_expired_pending_ones(store: SubscriptionStore) -> None:
    store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
    store.add_email("b@example.com", scope(), "en", NOW + PENDING_SECONDS, limit=LIMIT)
    assert [s.address for s in store.subscriptions()] == ["b@example.com"]


def test_repeated_signups_of_one_address_stop_sending(store: SubscriptionStore) -> None:
    """Beyond MAX_PENDING_PER_ADDRESS waiting confirmations nothing more is stored or sent."""
    for _ in range(MAX_PENDING_PER_ADDRESS):
        assert store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT) is not None
    assert store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT) is None
    assert store.count() == MAX_PENDING_PER_ADDRESS
    assert store.add_email("b@example.com", scope(), "en", NOW, limit=LIMIT) is not None


def test_max_subscriptions_is_enforced_for_both_channels(store: SubscriptionStore) -> None:
    store.add_email("a@example.com", scope(), "en", NOW, limit=2)
    store.add_webhook("https://h.example/", "json", scope(), "en", NOW, limit=2)
    with pytest.raises(SubscriptionsFull):
        store.add_email("b@example.com", scope(), "en", NOW, limit=2)
    with pytest.raises(SubscriptionsFull):
        store.add_webhook("https://h.example/", "slack", scope(), "en", NOW, limit=2)
    assert store.count() == 2
    assert rows(store, "SELECT COUNT(*) FROM outbox") == [(1,)]


def test_unsubscribing_by_token_deletes_the_address_and_its_entries(
    store: SubscriptionStore,
) -> None:
    token = store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
    assert token is not None
    [entry] = store.claim_due(NOW, 10, 60)
    assert entry.manage_token is not None
    removed = store.remove_by_token(entry.manage_token)
    assert removed is not None
    assert removed.address == "a@example.com"
    assert store.subscriptions() == []
    assert rows(store, "SELECT COUNT(*) FROM outbox") == [(0,)]
    assert store.remove_by_token(entry.manage_token) is None


def test_a_webhook_is_active_and_deleted_only_with_its_token(store: SubscriptionStore) -> None:
    created = store.add_webhook("https://h.example/x", "slack", scope(), "en", NOW, limit=LIMIT)
    other = store.add_webhook("https://h.example/y", "json", scope(), "en", NOW, limit=LIMIT)
    [webhook] = [s for s in store.subscriptions("webhook") if s.id == created.id]
    assert webhook.state == "active"
    assert webhook.format == "slack"
    assert webhook.secret == created.secret
    assert not store.delete_webhook(created.id, other.token)
    assert not store.delete_webhook("sub_nothing", created.token)
    assert store.delete_webhook(created.id, created.token)
    assert [s.id for s in store.subscriptions()] == [other.id]


def test_delete_webhook_does_not_take_email_subscriptions(store: SubscriptionStore) -> None:
    token = store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
    assert token is not None
    [entry] = store.claim_due(NOW, 1, 60)
    assert entry.manage_token is not None
    assert not store.delete_webhook(entry.subscription.id, entry.manage_token)


def test_operators_remove_by_address_or_id(store: SubscriptionStore) -> None:
    first = active_email(store, "a@example.com")
    hook = store.add_webhook("https://h.example/x", "json", scope(), "en", NOW, limit=LIMIT)
    store.add_email("a@example.com", scope(("sms",)), "en", NOW, limit=LIMIT)
    pending = next(s.id for s in store.subscriptions() if s.state == "pending")
    assert sorted(store.remove("a@example.com")) == sorted([first, pending])
    assert [s.id for s in store.subscriptions()] == [hook.id]
    assert store.remove(hook.id) == [hook.id]
    assert store.subscriptions() == []
    assert store.remove("nobody@example.com") == []


def test_opens_beside_the_history_and_keeps_its_key(tmp_path: Path) -> None:
    """The tables live in the history database; the manage-token key survives reopening,
    so unsubscribe links in emails already sent keep working."""
    path = tmp_path / "history.sqlite3"
    history = HistoryStore.open(path, now=NOW, max_gap=90, rollup_days=400)
    try:
        first = SubscriptionStore.open(path)
        token = first.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
        assert token is not None
        [entry] = first.claim_due(NOW, 1, 60)
        first.close()
        again = SubscriptionStore.open(path)
        assert entry.manage_token == again.token_key.token_for(entry.subscription.id)
        assert again.remove_by_token(entry.manage_token) is not None
        again.close()
    finally:
        history.close()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"subscriptions", "outbox", "notified", "notification_events"} <= tables


def test_an_expired_confirmation_is_not_sent(store: SubscriptionStore) -> None:
    """A relay down for two days: the confirmation would carry a dead link, so it stays."""
    store.add_email("a@example.com", scope(), "en", NOW, limit=LIMIT)
    assert len(store.claim_due(NOW + PENDING_SECONDS - 1, 10, 1)) == 1
    assert store.claim_due(NOW + PENDING_SECONDS, 10, 1) == []
