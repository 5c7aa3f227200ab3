"""The planner's and the senders' side of the store: record_event (one transaction,
idempotent, scope filtering), claims, acknowledgements, retries, 410 and disabling."""

from __future__ import annotations

import pytest

from statusd.subscriptions.model import Change, NotificationEvent, OutboxEntry
from statusd.subscriptions.store import SubscriptionStore
from tests.subscriptions.conftest import LIMIT, NOW, active_email, execute, rows, scope


def change(product: str, country: str | None, before: str = "operational") -> Change:
    key = country or "payout"
    return Change(product, country, key, f"{product}-{key}", before, "major_outage")


def status_event(event_id: str, *changes: Change) -> NotificationEvent:
    return NotificationEvent(event_id, "status.changed", NOW, changes)


def entries_of(store: SubscriptionStore, now: float = NOW + 10) -> list[OutboxEntry]:
    return list(store.claim_due(now, 1000, 60))


def drain_confirmations(store: SubscriptionStore) -> None:
    """Confirm-email entries of the fixtures are acknowledged (active_email deletes them)."""
    execute(store, "DELETE FROM outbox WHERE event_id IS NULL")


def test_record_event_tells_only_subscribers_in_scope(store: SubscriptionStore) -> None:
    """One entry per active subscriber the event concerns; each gets its part of it."""
    de_sms = active_email(store, "de@example.com", scope(("sms",), ("DE",)))
    fr_all = active_email(store, "fr@example.com", scope((), ("FR",)))
    everything = store.add_webhook("https://h.example/", "json", scope(), "en", NOW, limit=LIMIT)
    billing = active_email(store, "bill@example.com", scope(("billing",), ("US",)))
    store.add_email("pending@example.com", scope(), "en", NOW, limit=LIMIT)
    drain_confirmations(store)
    event = status_event("e1", change("sms", "DE"), change("voice", "FR"), change("billing", None))
    added = store.record_event(event, {"sms:DE": "major_outage"}, NOW)
    assert added == 4
    told = {entry.subscription.id: entry.event for entry in entries_of(store)}
    products = {sid: [c.product for c in e.changes] if e else [] for sid, e in told.items()}
    assert products == {
        de_sms: ["sms"],
        fr_all: ["voice", "billing"],
        everything.id: ["sms", "voice", "billing"],
        billing: ["billing"],
    }
    assert told[everything.id] == event
    assert store.notified() == {"sms:DE": "major_outage"}


def test_record_event_is_idempotent(store: SubscriptionStore) -> None:
    """An event id already recorded adds nothing and changes no notified verdict."""
    active_email(store, "a@example.com")
    drain_confirmations(store)
    event = status_event("e1", change("sms", "DE"))
    assert store.record_event(event, {"sms:DE": "major_outage"}, NOW) == 1
    assert store.record_event(event, {"sms:DE": "operational"}, NOW + 1) == 0
    assert len(entries_of(store)) == 1
    assert store.notified() == {"sms:DE": "major_outage"}


def test_record_event_with_nobody_in_scope_still_moves_notified(
    store: SubscriptionStore,
) -> None:
    active_email(store, "a@example.com", scope(("voice",)))
    drain_confirmations(store)
    assert store.record_event(status_event("e1", change("sms", "DE")), {"sms:DE": "x"}, NOW) == 0
    assert entries_of(store) == []
    assert store.notified() == {"sms:DE": "x"}
    store.record_event(status_event("e2", change("sms", "DE")), {"sms:DE": "y"}, NOW)
    assert store.notified() == {"sms:DE": "y"}


def test_incident_and_maintenance_events_follow_products_and_countries(
    store: SubscriptionStore,
) -> None:
    incidents = active_email(store, "i@example.com", scope(("incidents",)))
    active_email(store, "s@example.com", scope(("sms",)))
    de_voice = active_email(store, "v@example.com", scope(("voice",), ("DE",)))
    drain_confirmations(store)
    opened = NotificationEvent(
        "i1", "incident.opened", NOW, incident={"id": "x"}, products=frozenset({"incidents"})
    )
    window = NotificationEvent(
        "m1",
        "maintenance.started",
        NOW,
        maintenance={"id": "w"},
        products=frozenset({"voice"}),
        countries=frozenset({"DE", "AT"}),
    )
    store.record_event(opened, {}, NOW)
    store.record_event(window, {}, NOW)
    told = sorted((e.subscription.id, e.event.id if e.event else "") for e in entries_of(store))
    assert told == sorted([(incidents, "i1"), (de_voice, "m1")])
    [maintenance] = [
        e.event for e in entries_of(store, NOW + 100) if e.event and e.event.id == "m1"
    ]
    assert maintenance.maintenance == {"id": "w"}


def told_of_one_change(store: SubscriptionStore, subscribers: int) -> None:
    """``subscribers`` active email subscribers, each with one entry due at ``NOW``."""
    for number in range(subscribers):
        active_email(store, f"a{number}@example.com")
    drain_confirmations(store)
    store.record_event(status_event("e1", change("sms", "DE")), {}, NOW)


def test_two_claims_are_disjoint_until_the_claim_runs_out(store: SubscriptionStore) -> None:
    told_of_one_change(store, 5)
    first = store.claim_due(NOW + 1, 3, 30)
    second = store.claim_due(NOW + 1, 3, 30)
    assert len(first) == 3
    assert len(second) == 2
    assert not {e.id for e in first} & {e.id for e in second}
    assert store.claim_due(NOW + 2, 10, 30) == []
    again = store.claim_due(NOW + 31, 10, 30)  # a sender died: its claims run out
    assert {e.id for e in again} == {e.id for e in first} | {e.id for e in second}
    assert {e.message_id for e in again} == {e.message_id for e in [*first, *second]}


def test_release_claims_makes_claimed_entries_due_again(store: SubscriptionStore) -> None:
    told_of_one_change(store, 3)
    claimed = store.claim_due(NOW + 1, 2, 120)
    assert store.release_claims() == 2
    again = store.claim_due(NOW + 2, 10, 120)
    assert {e.id for e in claimed} < {e.id for e in again}
    assert len(again) == 3
    assert store.release_claims() == 3
    assert store.release_claims() == 0


def test_claims_and_releases_of_one_channel_leave_the_other_alone(
    store: SubscriptionStore,
) -> None:
    """The mail worker claims and releases email entries only, the daemon's senders webhook
    entries only: neither takes nor frees the other's."""
    told_of_one_change(store, 2)
    hook = store.add_webhook("https://h.example/", "json", scope(), "en", NOW, limit=LIMIT)
    store.record_event(status_event("e2", change("sms", "DE")), {}, NOW)
    emails = store.claim_due(NOW + 1, 10, 120, "email")
    assert len(emails) == 4  # two subscribers told of e1 and e2
    assert {e.subscription.channel for e in emails} == {"email"}
    [webhook] = store.claim_due(NOW + 1, 10, 120, "webhook")
    assert webhook.subscription.id == hook.id
    assert store.release_claims("webhook") == 1
    assert store.claim_due(NOW + 2, 10, 120, "email") == []  # still claimed
    [again] = store.claim_due(NOW + 2, 10, 120)
    assert again.id == webhook.id
    assert store.release_claims("email") == 4
    assert {e.id for e in store.claim_due(NOW + 3, 10, 120, "email")} == {e.id for e in emails}


def test_message_ids_are_stable_and_unique(store: SubscriptionStore) -> None:
    for number in range(3):
        active_email(store, f"a{number}@example.com")
    drain_confirmations(store)
    store.record_event(status_event("e1", change("sms", "DE")), {}, NOW)
    ids = [e.message_id for e in entries_of(store)]
    assert len(set(ids)) == 3
    assert all(i.startswith("msg_") and i.replace("_", "").replace("-", "").isalnum() for i in ids)


def test_delivered_removes_the_entry_and_clears_failing(store: SubscriptionStore) -> None:
    hook = store.add_webhook("https://h.example/", "json", scope(), "en", NOW, limit=LIMIT)
    store.record_event(status_event("e1", change("sms", "DE")), {}, NOW)
    store.record_event(status_event("e2", change("sms", "FR")), {}, NOW)
    first, second = entries_of(store)
    store.retry_later(first, NOW + 100, "500 Internal Server Error", NOW + 10)
    assert store.subscriptions()[0].failing_since == NOW + 10
    store.retry_later(second, NOW + 100, "timeout", NOW + 20)
    assert store.subscriptions()[0].failing_since == NOW + 10  # the first failure counts
    assert store.stats(NOW).depth == 2
    [retried, _] = store.claim_due(NOW + 100, 10, 60)
    assert retried.attempts == 1
    store.delivered(retried, NOW + 101)
    assert store.stats(NOW).depth == 1
    assert store.subscriptions()[0].failing_since is None
    assert store.subscriptions()[0].id == hook.id


def test_retry_later_is_not_due_before_its_time(store: SubscriptionStore) -> None:
    store.add_webhook("https://h.example/", "json", scope(), "en", NOW, limit=LIMIT)
    store.record_event(status_event("e1", change("sms", "DE")), {}, NOW)
    [entry] = entries_of(store)
    store.retry_later(entry, NOW + 600, "refused", NOW + 10)
    assert store.claim_due(NOW + 599, 10, 60) == []
    [due] = store.claim_due(NOW + 600, 10, 60)
    assert due.id == entry.id


def test_give_up_drops_the_entry(
    store: SubscriptionStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.add_webhook("https://h.example/", "json", scope(), "en", NOW, limit=LIMIT)
    store.record_event(status_event("e1", change("sms", "DE")), {}, NOW)
    [entry] = entries_of(store)
    store.give_up(entry, "retries exhausted", NOW + 86400)
    assert store.stats(NOW).depth == 0
    assert "notification given up" in caplog.text


def test_410_unsubscribes_and_removes_every_entry(store: SubscriptionStore) -> None:
    gone = store.add_webhook("https://gone.example/", "json", scope(), "en", NOW, limit=LIMIT)
    kept = store.add_webhook("https://kept.example/", "json", scope(), "en", NOW, limit=LIMIT)
    store.record_event(status_event("e1", change("sms", "DE")), {}, NOW)
    store.record_event(status_event("e2", change("sms", "FR")), {}, NOW)
    store.unsubscribe(gone.id)
    assert [s.id for s in store.subscriptions()] == [kept.id]
    assert {e.subscription.id for e in entries_of(store)} == {kept.id}


def test_disabled_webhooks_get_nothing_more(store: SubscriptionStore) -> None:
    hook = store.add_webhook("https://h.example/", "json", scope(), "en", NOW, limit=LIMIT)
    store.record_event(status_event("e1", change("sms", "DE")), {}, NOW)
    store.disable(hook.id, NOW + 3 * 86400)
    assert store.subscriptions()[0].state == "disabled"
    assert store.stats(NOW).depth == 0
    assert store.record_event(status_event("e2", change("sms", "DE")), {}, NOW) == 0


def test_stats_counts_entries_and_the_oldest(store: SubscriptionStore) -> None:
    assert store.stats(NOW).depth == 0
    assert store.stats(NOW).oldest_created_at is None
    store.add_email("a@example.com", scope(), "en", NOW - 50, limit=LIMIT)
    store.add_email("b@example.com", scope(), "en", NOW, limit=LIMIT)
    stats = store.stats(NOW)
    assert stats.depth == 2
    assert stats.oldest_created_at == NOW - 50


def test_old_events_without_entries_are_pruned_later(store: SubscriptionStore) -> None:
    """An event is kept a week after its entries are gone (so a replay is recognised), then
    pruned when another event is recorded."""
    store.record_event(status_event("e1", change("sms", "DE")), {}, NOW)
    assert store.record_event(status_event("e1", change("sms", "DE")), {}, NOW + 86400) == 0
    store.record_event(status_event("e2", change("sms", "FR")), {}, NOW + 8 * 86400)
    kept = [row[0] for row in rows(store, "SELECT id FROM notification_events")]
    assert kept == ["e2"]


def test_record_notified_sets_verdicts_without_an_event(store: SubscriptionStore) -> None:
    """Silent first records: kept at once (a restart or another replica starts from them),
    nobody told, no event stored."""
    active_email(store, "a@example.com")
    drain_confirmations(store)
    store.record_notified({"sms:DE": "operational", "sms:FR": "major_outage"}, NOW)
    store.record_notified({}, NOW + 1)
    assert store.notified() == {"sms:DE": "operational", "sms:FR": "major_outage"}
    store.record_notified({"sms:FR": "operational"}, NOW + 2)
    assert store.notified() == {"sms:DE": "operational", "sms:FR": "operational"}
    assert entries_of(store) == []
    assert rows(store, "SELECT COUNT(*) FROM notification_events") == [(0,)]
