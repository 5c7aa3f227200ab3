"""The senders with the real relay and webhook client: aiosmtpd going down and coming
back, refusing recipients; a hypercorn receiver failing in each way. The outbox is in
memory; the clock autojumps after 20 ms of real idleness (retries in virtual time)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from statusd.deliver.outbox import EmailRelay, OutboxUnavailable, ThreadedOutbox, WebhookPoster
from statusd.deliver.smtp import SmtpRelay
from statusd.deliver.webhooks import WebhookClient
from statusd.subscriptions.model import Channel, OutboxStats
from tests.deliver.fakes import (
    BASE,
    DirectOutbox,
    MemoryOutboxStore,
    email_subscription,
    running_senders,
    webhook_subscription,
)
from tests.support.certs import Certificates
from tests.support.ports import free_port
from tests.support.smtp_sink import Sink, smtp_server
from tests.support.webhook_receiver import Receiver, receiving


@asynccontextmanager
async def senders(
    store: MemoryOutboxStore, relay: EmailRelay | None, webhooks: WebhookPoster
) -> AsyncIterator[DirectOutbox]:
    async with running_senders(store, relay, webhooks, workers=(4, 2)) as (_, outbox_store):
        yield outbox_store


async def test_relay_down_then_back_everything_arrives_once(
    thread_friendly_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    for n in range(6):
        store.add(email_subscription(n))
    port = free_port()
    relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}", connections=2)
    sink = Sink()
    async with senders(store, relay, WebhookClient()) as outbox_store:
        await outbox_store.wait_until(lambda s: all(e.attempts >= 2 for e in s.rows.values()))
        assert all("ConnectionRefusedError" in error for error in store.errors.values())
        with smtp_server(sink, port=port):
            await outbox_store.wait_until(lambda s: not s.rows)
        relay.close()
    recipients = sorted(r.recipients[0] for r in sink.messages())
    assert recipients == sorted(f"user{n}@example.org" for n in range(6))
    assert sorted(store.delivered_ids) == [1, 2, 3, 4, 5, 6]
    ids = [r.message["Message-ID"] for r in sink.messages()]
    assert len(set(ids)) == 6


async def test_refused_recipients_do_not_hold_back_the_others(
    thread_friendly_clock: trio.testing.MockClock,
) -> None:
    store = MemoryOutboxStore()
    for n in range(5):
        store.add(email_subscription(n))
    sink = Sink(
        refuse={
            "user1@example.org": "550 5.1.1 No such user",
            "user3@example.org": "451 4.3.0 Try again later",
        }
    )
    with smtp_server(sink) as port:
        relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{port}", connections=2)
        async with senders(store, relay, WebhookClient()) as outbox_store:
            await outbox_store.wait_until(lambda s: len(s.delivered_ids) == 3)
            assert store.given_up == [(2, "RCPT TO refused: 550 5.1.1 No such user")]
            assert store.rows[4].attempts >= 1  # user3: retried
            assert store.errors[4] == "RCPT TO refused: 451 4.3.0 Try again later"
            del sink.refuse["user3@example.org"]
            await outbox_store.wait_until(lambda s: not s.rows)
            relay.close()
    delivered = sorted(r.recipients[0] for r in sink.messages())
    assert delivered == [f"user{n}@example.org" for n in (0, 2, 3, 4)]


async def resolve_loopback(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


async def test_webhook_faults_through_the_pool(
    certificates: Certificates, thread_friendly_clock: trio.testing.MockClock
) -> None:
    store = MemoryOutboxStore()
    receiver = Receiver()
    client = WebhookClient(
        allow_private=True,
        ssl_context=certificates.client_context(),
        resolve=resolve_loopback,
        timeout=5.0,
    )
    async with receiving(receiver, certificates) as port:
        base = f"https://hooks.example.test:{port}"
        paths = ["/hook", "/status/500", "/status/410", "/status/302", "/hang", "/drip/502"]
        for n, path in enumerate(paths):
            store.add(webhook_subscription(n, base + path))
        async with senders(store, None, client) as outbox_store:
            await outbox_store.wait_until(
                lambda s: (
                    s.delivered_ids == [1] and 3 not in s.rows and {2, 4, 5, 6} <= set(s.errors)
                )
            )
    assert [d.payload for d in receiver.deliveries] == [{"id": "msg_1", "entry": 1}]
    assert "sub_w2" not in store.subscriptions  # 410: unsubscribed, its entry gone
    assert store.errors[2] == "500: receiver says 500"
    assert store.errors[4].startswith("302")
    assert "not followed" in store.errors[4]
    assert store.errors[5] == "timed out"
    assert store.errors[6].startswith("502: x")
    assert all(store.rows[n].attempts >= 1 for n in (2, 4, 5, 6))
    assert "/hook" in receiver.hits
    assert receiver.hits.count("/hook") == 1


async def test_threaded_outbox_calls_the_store_in_worker_threads() -> None:
    store = MemoryOutboxStore()
    store.add(email_subscription(1))
    threads: set[int] = set()
    claim = store.claim_due

    def claim_due_noting_thread(  # type: ignore[no-untyped-def]
        now: float, limit: int, claim_seconds: float, channel: Channel | None = None
    ):
        threads.add(threading.get_ident())
        return claim(now, limit, claim_seconds, channel)

    store.claim_due = claim_due_noting_thread  # type: ignore[method-assign]
    outbox = ThreadedOutbox(store)
    [entry] = await outbox.claim_due(BASE, 10, 60)
    assert await outbox.claim_due(BASE, 10, 60) == []  # claimed meanwhile
    await outbox.retry_later(entry, BASE + 10, "451", BASE)
    assert (await outbox.stats(BASE)).depth == 1
    [again] = await outbox.claim_due(BASE + 10, 10, 60)
    assert again.attempts == 1
    await outbox.delivered(again, BASE + 10)
    assert (await outbox.stats(BASE)).depth == 0
    assert threads
    assert threading.get_ident() not in threads


async def test_threaded_outbox_turns_store_errors_into_unavailable() -> None:
    store = MemoryOutboxStore()

    def locked(now: float) -> OutboxStats:
        raise sqlite3.OperationalError("database is locked")

    store.stats = locked  # type: ignore[method-assign]
    with pytest.raises(OutboxUnavailable, match="OperationalError: database is locked") as info:
        await ThreadedOutbox(store).stats(BASE)
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
