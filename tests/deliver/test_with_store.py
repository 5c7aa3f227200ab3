"""The senders over the real subscription store (SQLite and PostgreSQL, through
``ThreadedOutbox``), the real relay (aiosmtpd) and a real receiver verifying with the secret
the store issued: a confirmation email and a status change to a webhook, each delivered
once, the outbox empty after. Real clock: the entries are due at once."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import pytest
import trio

from statusd.deliver.outbox import ThreadedOutbox
from statusd.deliver.senders import run_outbox
from statusd.deliver.smtp import SmtpRelay
from statusd.deliver.webhooks import WebhookClient
from statusd.subscriptions.model import Change, NotificationEvent, OutboxEntry, OutboxStore, Scope
from statusd.subscriptions.store import SubscriptionStore
from tests.deliver.fakes import FakeRender
from tests.support.certs import Certificates
from tests.support.engines import ENGINES, engine_url
from tests.support.smtp_sink import Sink, smtp_server
from tests.support.webhook_receiver import Receiver, receiving


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SubscriptionStore]:
    opened = SubscriptionStore.open(engine_url(request.param, request, tmp_path))
    yield opened
    opened.close()


class WatchedOutbox(ThreadedOutbox):
    """Tells the test when the outbox is empty after a delivery."""

    def __init__(self, store: OutboxStore) -> None:
        super().__init__(store)
        self.empty = trio.Event()

    async def delivered(self, entry: OutboxEntry, now: float) -> None:
        await super().delivered(entry, now)
        if (await self.stats(now)).depth == 0:
            self.empty.set()


async def resolve_loopback(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


async def test_store_relay_and_receiver(
    store: SubscriptionStore, certificates: Certificates
) -> None:
    typed: OutboxStore = store  # the store implements the protocol (checked by mypy)
    now = time.time()
    assert store.add_email("ana@example.org", Scope(), "en", now, limit=10) is not None
    sink, receiver = Sink(), Receiver()
    async with receiving(receiver, certificates) as port:
        hook = store.add_webhook(
            f"https://hooks.example.test:{port}/hook", "json", Scope(), "en", now, limit=10
        )
        receiver.secret = hook.secret
        change = Change("sms", "DE", "DE", "sms-DE", "operational", "major_outage")
        event = NotificationEvent("evt_de", "status.changed", now, (change,))
        assert store.record_event(event, {"sms:DE": "major_outage"}, now) == 1
        with smtp_server(sink) as smtp_port:
            relay = SmtpRelay.from_url(f"smtp://127.0.0.1:{smtp_port}")
            client = WebhookClient(
                allow_private=True,
                ssl_context=certificates.client_context(),
                resolve=resolve_loopback,
            )
            outbox = WatchedOutbox(typed)
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    partial(
                        run_outbox,
                        outbox,
                        FakeRender(),
                        relay,
                        client,
                        webhook_concurrency=2,
                        smtp_connections=1,
                    )
                )
                with trio.fail_after(30):
                    await outbox.empty.wait()
                nursery.cancel_scope.cancel()
            relay.close()
    assert [r.recipients for r in sink.messages()] == [("ana@example.org",)]
    [delivery] = receiver.deliveries
    assert delivery.payload["id"] == delivery.headers["webhook-id"]  # the entry's message id
    assert store.stats(time.time()).depth == 0
