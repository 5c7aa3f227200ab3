"""Small stand-ins for the delivery tests: an in-memory outbox store (the synchronous
``OutboxStore`` protocol, as the SQLite store implements it), an async adapter that calls
it directly (no threads, for the autojump clock), a renderer, and message builders."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from functools import partial

import trio

from statusd.deliver.outbox import EmailRelay, OutboxUnavailable, WebhookBody, WebhookPoster
from statusd.deliver.senders import Outbox, run_outbox
from statusd.metrics import Metrics
from statusd.subscriptions.model import (
    Channel,
    NotificationEvent,
    OutboxEntry,
    OutboxStats,
    Scope,
    Subscription,
)

BASE = 1_800_000_000.0
"""UNIX time at trio time 0 in these tests."""
MAIL_FROM = "status@example.com"


def wall() -> float:
    """The senders' clock on trio's (mock) clock."""
    return BASE + trio.current_time()


def email_subscription(n: int, address: str | None = None) -> Subscription:
    return Subscription(
        f"sub_e{n}", "email", address or f"user{n}@example.org", Scope(), state="active"
    )


def webhook_subscription(n: int, url: str, *, failing_since: float | None = None) -> Subscription:
    return Subscription(
        f"sub_w{n}",
        "webhook",
        url,
        Scope(),
        format="json",
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        state="active",
        failing_since=failing_since,
    )


EVENT = NotificationEvent("evt_1", "status.changed", BASE)


@dataclass
class MemoryOutboxStore:
    """The ``OutboxStore`` protocol in memory; records every call for the assertions."""

    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    rows: dict[int, OutboxEntry] = field(default_factory=dict)
    claimed_until: dict[int, float] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    given_up: list[tuple[int, str]] = field(default_factory=list)
    delivered_ids: list[int] = field(default_factory=list)
    claims: int = 0
    releases: int = 0
    max_claimed: int = 0
    on_change: Callable[[], None] = lambda: None

    def add(self, subscription: Subscription, *, at: float = BASE, due: float | None = None) -> int:
        """An entry created ``at``, due then (or at ``due``)."""
        self.subscriptions.setdefault(subscription.id, subscription)
        entry_id = len(self.rows) + len(self.delivered_ids) + len(self.given_up) + 1
        self.rows[entry_id] = OutboxEntry(
            entry_id,
            f"msg_{entry_id}",
            subscription,
            EVENT,
            None,
            0,
            at,
            at if due is None else due,
        )
        return entry_id

    # -- OutboxStore --------------------------------------------------------------------

    def claim_due(
        self, now: float, limit: int, claim_seconds: float, channel: Channel | None = None
    ) -> Sequence[OutboxEntry]:
        self.claims += 1
        due = sorted(
            (
                e
                for e in self.rows.values()
                if e.next_attempt_at <= now
                and not self._claimed(e, now)
                and channel in (None, e.subscription.channel)
            ),
            key=lambda e: (e.next_attempt_at, e.id),
        )[:limit]
        for entry in due:
            self.claimed_until[entry.id] = now + claim_seconds
        self.max_claimed = max(
            self.max_claimed, sum(self._claimed(e, now) for e in self.rows.values())
        )
        return [replace(e, subscription=self.subscriptions[e.subscription.id]) for e in due]

    def release_claims(self, channel: Channel | None = None) -> int:
        self.releases += 1
        released = [
            entry_id
            for entry_id in self.claimed_until
            if channel is None
            or (entry_id in self.rows and self.rows[entry_id].subscription.channel == channel)
        ]
        for entry_id in released:
            del self.claimed_until[entry_id]
        return len(released)

    def _claimed(self, entry: OutboxEntry, now: float) -> bool:
        return self.claimed_until.get(entry.id, -1.0) > now

    def delivered(self, entry: OutboxEntry, now: float) -> None:
        if self.rows.pop(entry.id, None) is not None:
            self.delivered_ids.append(entry.id)
        self._set_failing(entry.subscription.id, None)
        self._changed()

    def retry_later(self, entry: OutboxEntry, at: float, error: str, now: float) -> None:
        row = self.rows.get(entry.id)
        if row is not None:
            self.rows[entry.id] = replace(row, attempts=row.attempts + 1, next_attempt_at=at)
            self.claimed_until.pop(entry.id, None)
            self.errors[entry.id] = error
        self._note_failure(entry.subscription.id, now)
        self._changed()

    def give_up(self, entry: OutboxEntry, error: str, now: float) -> None:
        if self.rows.pop(entry.id, None) is not None:
            self.given_up.append((entry.id, error))
        self._note_failure(entry.subscription.id, now)
        self._changed()

    def unsubscribe(self, subscription_id: str) -> None:
        self.subscriptions.pop(subscription_id, None)
        self._drop_entries(subscription_id)
        self._changed()

    def disable(self, subscription_id: str, now: float) -> None:
        self.subscriptions[subscription_id] = replace(
            self.subscriptions[subscription_id], state="disabled"
        )
        self._drop_entries(subscription_id)
        self._changed()

    def stats(self, now: float) -> OutboxStats:
        oldest = min((e.created_at for e in self.rows.values()), default=None)
        return OutboxStats(len(self.rows), oldest)

    # -- helpers ------------------------------------------------------------------------

    def _drop_entries(self, subscription_id: str) -> None:
        for entry_id in [i for i, e in self.rows.items() if e.subscription.id == subscription_id]:
            del self.rows[entry_id]

    def _note_failure(self, subscription_id: str, now: float) -> None:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is not None and subscription.failing_since is None:
            self._set_failing(subscription_id, now)

    def _set_failing(self, subscription_id: str, at: float | None) -> None:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is not None and subscription.channel == "webhook":
            self.subscriptions[subscription_id] = replace(subscription, failing_since=at)

    def _changed(self) -> None:
        self.on_change()


class DirectOutbox:
    """``AsyncOutbox`` over ``MemoryOutboxStore`` without threads; ``wait_until`` waits for
    a condition on the store (no sleeps)."""

    def __init__(self, store: MemoryOutboxStore) -> None:
        self.store = store
        self._event = trio.Event()
        store.on_change = self._changed
        self.failures: dict[str, int] = {}
        """Method name → how many of its next calls raise ``OutboxUnavailable``."""

    async def _call(self, name: str) -> None:
        await trio.lowlevel.checkpoint()
        if self.failures.get(name, 0) > 0:
            self.failures[name] -= 1
            raise OutboxUnavailable("database is locked")

    def _changed(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait_until(self, condition: Callable[[MemoryOutboxStore], bool]) -> None:
        while not condition(self.store):
            await self._event.wait()

    async def claim_due(
        self, now: float, limit: int, claim_seconds: float, channel: Channel | None = None
    ) -> Sequence[OutboxEntry]:
        await self._call("claim_due")
        return self.store.claim_due(now, limit, claim_seconds, channel)

    async def release_claims(self, channel: Channel | None = None) -> int:
        await self._call("release_claims")
        return self.store.release_claims(channel)

    async def delivered(self, entry: OutboxEntry, now: float) -> None:
        await self._call("delivered")
        self.store.delivered(entry, now)

    async def retry_later(self, entry: OutboxEntry, at: float, error: str, now: float) -> None:
        await self._call("retry_later")
        self.store.retry_later(entry, at, error, now)

    async def give_up(self, entry: OutboxEntry, error: str, now: float) -> None:
        await self._call("give_up")
        self.store.give_up(entry, error, now)

    async def unsubscribe(self, subscription_id: str) -> None:
        await self._call("unsubscribe")
        self.store.unsubscribe(subscription_id)

    async def disable(self, subscription_id: str, now: float) -> None:
        await self._call("disable")
        self.store.disable(subscription_id, now)

    async def stats(self, now: float) -> OutboxStats:
        await self._call("stats")
        return self.store.stats(now)


class FakeRender:
    """Emails To the subscriber with Message-ID from the entry; webhooks as small JSON."""

    def __init__(self, broken: frozenset[str] = frozenset()) -> None:
        self.broken = broken
        """Subscription ids whose messages cannot be built (``ValueError``)."""

    def email(self, entry: OutboxEntry) -> EmailMessage:
        if entry.subscription.id in self.broken:
            raise ValueError("no template")
        message = EmailMessage()
        message["From"] = MAIL_FROM
        message["To"] = entry.subscription.address
        message["Subject"] = "Status changed"
        message["Message-ID"] = f"<{entry.message_id}@status.example.com>"
        message.set_content(f"Entry {entry.id}\n")
        return message

    def webhook(self, entry: OutboxEntry) -> WebhookBody:
        if entry.subscription.id in self.broken:
            raise ValueError("no template")
        return WebhookBody(json.dumps({"id": entry.message_id, "entry": entry.id}).encode())


@asynccontextmanager
async def running_senders(
    store: MemoryOutboxStore,
    relay: EmailRelay | None,
    webhooks: WebhookPoster,
    *,
    metrics: Metrics | None = None,
    render: FakeRender | None = None,
    idle_poll: float = 30.0,
    workers: tuple[int, int] = (2, 2),
    channel: Channel | None = None,
) -> AsyncIterator[tuple[Outbox, DirectOutbox]]:
    """``run_outbox`` over ``store`` in a nursery of its own, on the ``wall`` clock; yields
    the running ``Outbox`` and the store's async adapter (to wait on)."""
    outbox_store = DirectOutbox(store)
    async with trio.open_nursery() as nursery:
        outbox: Outbox = await nursery.start(
            partial(
                run_outbox,
                outbox_store,
                render or FakeRender(),
                relay,
                webhooks,
                webhook_concurrency=workers[0],
                smtp_connections=workers[1],
                channel=channel,
                clock=wall,
                metrics=metrics,
                rng=random.Random(5),
                idle_poll=idle_poll,
            )
        )
        yield outbox, outbox_store
        nursery.cancel_scope.cancel()
