"""``statusd.deliver.senders``: the poller and the pool of senders over an in-memory outbox,
on trio's autojump clock (retry timing in virtual time); the relay and the webhook client
are scripted fakes here (``test_senders_real`` uses the real ones)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families

from statusd.deliver.schedule import BACKOFF, DISABLE_AFTER, GIVE_UP_AFTER
from statusd.deliver.senders import SEND_TIMEOUT, Outbox
from statusd.deliver.smtp import SendResult
from statusd.deliver.webhooks import DeliveryResult, WebhookRequest
from statusd.metrics import Metrics
from tests.deliver.fakes import (
    BASE,
    DirectOutbox,
    FakeRender,
    MemoryOutboxStore,
    email_subscription,
    running_senders,
    wall,
    webhook_subscription,
)

HOOK = "https://hooks.example.com/statusd"


@dataclass
class ScriptedRelay:
    """Answers per recipient from a script (the last answer repeats), else accepted."""

    script: dict[str, list[SendResult]] = field(default_factory=dict)
    sent: list[tuple[str, float]] = field(default_factory=list)
    hang: bool = False

    async def send(self, message: EmailMessage) -> SendResult:
        to = str(message["To"])
        self.sent.append((to, trio.current_time()))
        if self.hang:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        answers = self.script.get(to)
        if not answers:
            return SendResult("accepted", "250 ok")
        return answers.pop(0) if len(answers) > 1 else answers[0]


@dataclass
class ScriptedHooks:
    """Answers per URL from a script (the last repeats), else delivered; ``gate`` holds
    every post until set (to see how many run at once)."""

    script: dict[str, list[DeliveryResult]] = field(default_factory=dict)
    posts: list[WebhookRequest] = field(default_factory=list)
    gate: trio.Event | None = None
    running: int = 0
    most: int = 0

    async def post(self, request: WebhookRequest) -> DeliveryResult:
        self.posts.append(request)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            await trio.lowlevel.checkpoint()
        finally:
            self.running -= 1
        answers = self.script.get(request.url)
        if not answers:
            return DeliveryResult("delivered", "200", 200)
        return answers.pop(0) if len(answers) > 1 else answers[0]


TEMPORARY = SendResult("temporary", "451 try later")


@asynccontextmanager
async def running(
    store: MemoryOutboxStore,
    relay: ScriptedRelay | None = None,
    hooks: ScriptedHooks | None = None,
    **options: Any,
) -> AsyncIterator[tuple[Outbox, DirectOutbox]]:
    async with running_senders(store, relay, hooks or ScriptedHooks(), **options) as running:
        yield running


def empty(store: MemoryOutboxStore) -> bool:
    return not store.rows


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, _ = metrics.render()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


async def test_emails_and_webhooks_are_delivered_and_removed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    for n in range(5):
        store.add(email_subscription(n))
    hook = webhook_subscription(1, HOOK)
    store.add(hook)
    relay, hooks, metrics = ScriptedRelay(), ScriptedHooks(), Metrics(())
    async with running(store, relay, hooks, metrics=metrics) as (_, outbox_store):
        await outbox_store.wait_until(empty)
    assert sorted(to for to, _ in relay.sent) == sorted(f"user{n}@example.org" for n in range(5))
    [post] = hooks.posts
    assert post.url == HOOK
    assert post.secret == hook.secret
    assert post.message_id == "msg_6"
    assert post.body == b'{"id": "msg_6", "entry": 6}'
    assert post.content_type == "application/json"
    assert sorted(store.delivered_ids) == [1, 2, 3, 4, 5, 6]
    scraped = samples(metrics)
    sent = "statusd_notifications_total"
    assert scraped[(sent, frozenset({("channel", "email"), ("result", "delivered")}))] == 5
    assert scraped[(sent, frozenset({("channel", "webhook"), ("result", "delivered")}))] == 1
    assert scraped[(sent, frozenset({("channel", "email"), ("result", "retried")}))] == 0


async def test_failures_are_retried_on_the_backoff_schedule(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    store.add(email_subscription(1))
    relay = ScriptedRelay({"user1@example.org": [TEMPORARY] * 4 + [SendResult("accepted", "250")]})
    async with running(store, relay) as (_, outbox_store):
        await outbox_store.wait_until(empty)
    times = [at for _, at in relay.sent]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(gaps) == 4
    for gap, base in zip(gaps, BACKOFF, strict=False):
        assert 0.8 * base <= gap <= 1.2 * base + 0.01
    # Woken by its own retry times, the poller looked only a handful of times in ~13 min
    # of virtual time (idle polls every 30 s included): no busy loop.
    assert store.claims <= len(times) + sum(gaps) / 30 + 3
    assert store.errors[1] == "451 try later"


async def test_an_entry_is_given_up_24_hours_after_its_creation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    store.add(email_subscription(1))
    metrics = Metrics(())
    relay = ScriptedRelay({"user1@example.org": [TEMPORARY]})
    async with running(store, relay, metrics=metrics) as (_, outbox_store):
        await outbox_store.wait_until(empty)
        assert trio.current_time() == pytest.approx(GIVE_UP_AFTER, abs=1)
    assert store.given_up == [(1, "451 try later")]
    assert 24 <= len(relay.sent) <= 32
    retried = (("channel", "email"), ("result", "retried"))
    given_up = (("channel", "email"), ("result", "given_up"))
    scraped = samples(metrics)
    assert scraped[("statusd_notifications_total", frozenset(retried))] == len(relay.sent) - 1
    assert scraped[("statusd_notifications_total", frozenset(given_up))] == 1


async def test_a_refused_recipient_is_given_up_and_the_others_delivered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    for n in range(4):
        store.add(email_subscription(n))
    refused = SendResult("permanent", "RCPT TO refused: 550 no such user")
    relay = ScriptedRelay({"user2@example.org": [refused]})
    async with running(store, relay) as (_, outbox_store):
        await outbox_store.wait_until(empty)
    assert store.given_up == [(3, "RCPT TO refused: 550 no such user")]
    assert sorted(store.delivered_ids) == [1, 2, 4]
    assert len(relay.sent) == 4  # the refused one was tried once


async def test_410_unsubscribes_the_webhook(autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryOutboxStore()
    hook = webhook_subscription(1, HOOK)
    store.add(hook)
    store.add(hook, at=BASE + 3600)  # a later entry of the same subscription
    hooks = ScriptedHooks({HOOK: [DeliveryResult("gone", "410 Gone", 410)]})
    async with running(store, None, hooks) as (_, outbox_store):
        await outbox_store.wait_until(empty)
    assert hook.id not in store.subscriptions
    assert len(hooks.posts) == 1


async def test_a_webhook_failing_for_three_days_is_disabled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    hook = webhook_subscription(1, HOOK, failing_since=BASE - DISABLE_AFTER + 20)
    store.add(hook)
    metrics = Metrics(())
    hooks = ScriptedHooks({HOOK: [DeliveryResult("retry", "500 Internal Server Error", 500)]})
    async with running(store, None, hooks, metrics=metrics) as (_, outbox_store):
        await outbox_store.wait_until(empty)
    # 1st failure at 0 s (2 days 23:59:40 failing): retried ~10 s later, then ~30 s later
    # the 3 days are over: disabled, its entries dropped.
    assert store.subscriptions[hook.id].state == "disabled"
    assert len(hooks.posts) == 3
    disabled = frozenset({("channel", "webhook"), ("result", "disabled")})
    assert samples(metrics)[("statusd_notifications_total", disabled)] == 1


async def test_a_success_resets_the_failing_webhook(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    hook = webhook_subscription(1, HOOK, failing_since=BASE - DISABLE_AFTER + 20)
    store.add(hook)
    store.add(hook, at=BASE + 600)
    failure = DeliveryResult("retry", "503", 503)
    hooks = ScriptedHooks({HOOK: [failure, DeliveryResult("delivered", "200", 200), failure]})
    async with running(store, None, hooks) as (_, outbox_store):
        await outbox_store.wait_until(lambda s: len(hooks.posts) >= 4)
    # The success in between started the 3 days over: the later failures only retry.
    assert store.subscriptions[hook.id].state == "active"
    assert store.subscriptions[hook.id].failing_since is not None


async def test_wake_claims_at_once(autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryOutboxStore()
    async with running(store, ScriptedRelay(), idle_poll=3600) as (outbox, outbox_store):
        await trio.sleep(100)
        store.add(email_subscription(1), at=wall())
        outbox.wake()
        await outbox_store.wait_until(empty)
        assert trio.current_time() == pytest.approx(100)


async def test_claims_of_a_previous_run_are_sent_at_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Entries a killed daemon had claimed do not wait for their claim to run out: the
    senders release every claim when they start (the only sender on the database)."""
    store = MemoryOutboxStore()
    for n in range(3):
        entry_id = store.add(email_subscription(n))
        store.claimed_until[entry_id] = BASE + 4 * SEND_TIMEOUT  # claimed, never recorded
    relay = ScriptedRelay()
    async with running(store, relay, idle_poll=3600) as (_, outbox_store):
        await outbox_store.wait_until(empty)
    assert [at for _, at in relay.sent] == [0.0] * 3
    assert store.releases == 1


async def test_senders_of_one_channel_send_only_its_entries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Given ``channel``, the senders claim, release and send that channel's entries only,
    with that channel's number of senders (the daemon's webhooks beside the mail worker)."""
    store = MemoryOutboxStore()
    for n in range(2):
        store.add(email_subscription(n))
    hook = store.add(webhook_subscription(9, HOOK))
    store.claimed_until[hook] = BASE + 4 * SEND_TIMEOUT  # the other channel's claim
    relay = ScriptedRelay()
    async with running(store, relay, channel="email", idle_poll=60) as (_, outbox_store):
        await outbox_store.wait_until(lambda s: len(s.rows) == 1)
        await trio.sleep(4 * SEND_TIMEOUT + 60)  # the webhook claim ran out: still not sent
    assert sorted(to for to, _ in relay.sent) == ["user0@example.org", "user1@example.org"]
    assert list(store.rows) == [hook]
    assert store.claimed_until[hook] == BASE + 4 * SEND_TIMEOUT  # not released by email


async def test_entries_recorded_without_wake_are_found_by_the_idle_poll(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    async with running(store, ScriptedRelay(), idle_poll=60) as (_, outbox_store):
        await trio.sleep(1)
        store.add(email_subscription(1), at=wall())
        await outbox_store.wait_until(empty)
        assert trio.current_time() == pytest.approx(60)
        assert store.claims == 2


async def test_the_pool_bounds_concurrency_and_claims(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    for n in range(100):
        store.add(webhook_subscription(n, f"{HOOK}/{n}"))
    gate = trio.Event()
    hooks = ScriptedHooks(gate=gate)
    async with running(store, None, hooks, workers=(3, 1)) as (_, outbox_store):
        await trio.sleep(1)
        assert hooks.running == 4  # webhook_concurrency + smtp_connections sender tasks
        assert store.max_claimed <= 8  # the batch being sent and one waiting: backpressure
        gate.set()
        await outbox_store.wait_until(empty)
    assert hooks.most == 4
    assert len(hooks.posts) == 100


async def test_each_send_has_a_deadline(autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryOutboxStore()
    store.add(email_subscription(1))
    relay = ScriptedRelay(hang=True)
    async with running(store, relay) as (_, outbox_store):
        await outbox_store.wait_until(lambda s: 1 in s.errors)
        assert trio.current_time() == pytest.approx(SEND_TIMEOUT)
    assert store.errors[1] == "timed out"
    assert store.rows[1].attempts == 1


async def test_a_message_that_cannot_be_built_is_given_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    store.add(email_subscription(1))
    store.add(email_subscription(2))
    store.add(webhook_subscription(3, HOOK))
    render = FakeRender(broken=frozenset({"sub_e1", "sub_w3"}))
    async with running(store, ScriptedRelay(), render=render) as (_, outbox_store):
        await outbox_store.wait_until(empty)
    assert sorted(store.given_up) == [
        (1, "not rendered: ValueError: no template"),
        (3, "not rendered: ValueError: no template"),
    ]
    assert store.delivered_ids == [2]


async def test_without_a_relay_emails_wait(autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryOutboxStore()
    store.add(email_subscription(1))
    async with running(store, None) as (_, outbox_store):
        await outbox_store.wait_until(lambda s: 1 in s.errors)
    assert store.errors[1] == "email is off (no smtp_url)"
    assert store.rows[1].attempts == 1


async def test_outbox_gauges(autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryOutboxStore()
    store.add(email_subscription(1), at=BASE - 50)
    store.add(email_subscription(2), at=BASE - 20, due=BASE + 10_000)  # a retry, later
    metrics = Metrics(())
    async with running(store, ScriptedRelay(), metrics=metrics) as (_, outbox_store):
        await outbox_store.wait_until(lambda s: s.delivered_ids == [1])
        await trio.sleep(31)  # the next idle poll refreshes the gauges
        scraped = samples(metrics)
    assert scraped[("statusd_outbox_depth", frozenset())] == 1
    age = scraped[("statusd_outbox_oldest_entry_age_seconds", frozenset())]
    assert age == pytest.approx(20 + 30, abs=1.5)


async def test_an_unavailable_outbox_pauses_the_senders(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    store.add(email_subscription(1))
    store.add(email_subscription(2))
    relay = ScriptedRelay()
    async with running(store, relay) as (_, outbox_store):
        outbox_store.failures = {"claim_due": 2, "delivered": 1}
        await outbox_store.wait_until(empty)
        # Failed claims waited STORE_RETRY each; the send whose recording failed stayed
        # claimed until its claim lapsed (4 x SEND_TIMEOUT), then was sent again.
        assert outbox_store.failures == {"claim_due": 0, "delivered": 0}
        assert trio.current_time() >= 4 * SEND_TIMEOUT
    sent = [to for to, _ in relay.sent]
    assert len(sent) == 3
    assert set(sent) == {"user1@example.org", "user2@example.org"}
    assert sorted(store.delivered_ids) == [1, 2]
