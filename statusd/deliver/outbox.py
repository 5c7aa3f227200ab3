"""What the senders are given: the outbox (async), a renderer, the relay and the webhook client.

``OutboxStore`` (``subscriptions.model``) is synchronous — sqlite3 today, psycopg's sync API
later — so ``ThreadedOutbox`` calls it through ``trio.to_thread.run_sync`` under a
``CapacityLimiter`` of its own (one database connection per thread). The senders only see
``AsyncOutbox``, which a test fakes in memory.

``Render`` turns an outbox entry into what is sent: an ``EmailMessage`` (notification or
confirmation, with its ``Message-ID`` = the entry's ``message_id``) or a webhook body. It
is pure and fast; the daemon wires one built on ``notify.messages``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from functools import partial
from typing import Protocol, TypeVar

import trio

from statusd.deliver.smtp import SendResult
from statusd.deliver.webhooks import DeliveryResult, WebhookRequest
from statusd.subscriptions.model import Channel, OutboxEntry, OutboxStats, OutboxStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WebhookBody:
    body: bytes
    content_type: str = "application/json"


class Render(Protocol):
    def email(self, entry: OutboxEntry) -> EmailMessage:
        """The email of ``entry`` (To: the subscriber, Message-ID: ``entry.message_id``)."""
        ...

    def webhook(self, entry: OutboxEntry) -> WebhookBody:
        """The body of ``entry`` in its subscription's format (``json`` or ``slack``)."""
        ...


class EmailRelay(Protocol):
    async def send(self, message: EmailMessage) -> SendResult: ...


class WebhookPoster(Protocol):
    async def post(self, request: WebhookRequest) -> DeliveryResult: ...


class AsyncOutbox(Protocol):
    """``OutboxStore``'s methods, awaited."""

    async def claim_due(
        self, now: float, limit: int, claim_seconds: float, channel: Channel | None = None
    ) -> Sequence[OutboxEntry]: ...

    async def release_claims(self, channel: Channel | None = None) -> int: ...

    async def delivered(self, entry: OutboxEntry, now: float) -> None: ...

    async def retry_later(self, entry: OutboxEntry, at: float, error: str, now: float) -> None: ...

    async def give_up(self, entry: OutboxEntry, error: str, now: float) -> None: ...

    async def unsubscribe(self, subscription_id: str) -> None: ...

    async def disable(self, subscription_id: str, now: float) -> None: ...

    async def stats(self, now: float) -> OutboxStats: ...


class OutboxUnavailable(Exception):
    """The outbox could not be read or written (the database is locked, full, gone); the
    senders pause and try again, the daemon goes on."""


class ThreadedOutbox:
    """An ``AsyncOutbox`` over a synchronous ``OutboxStore``: each call in a worker thread
    under ``limiter``. The store bounds each call itself (SQLite's busy
    timeout, PostgreSQL's ``statement_timeout``): a thread cannot be cancelled. Whatever
    the store raises comes out as ``OutboxUnavailable`` (with the store's error as its
    cause), so that a database fault pauses the senders instead of ending the daemon."""

    def __init__(self, store: OutboxStore, *, limiter: trio.CapacityLimiter | None = None) -> None:
        """``limiter``: the one that already guards the store's connection (the routes'
        ``AsyncStore.limiter`` for the one SQLite connection), so that the senders and the
        routes never use it from two threads at once; a new one of 1 without."""
        self.store = store
        self._limiter = limiter or trio.CapacityLimiter(1)

    async def _run(self, call: Callable[[], T]) -> T:
        try:
            return await trio.to_thread.run_sync(call, limiter=self._limiter)
        except Exception as error:
            raise OutboxUnavailable(f"{type(error).__name__}: {error}") from error

    async def claim_due(
        self, now: float, limit: int, claim_seconds: float, channel: Channel | None = None
    ) -> Sequence[OutboxEntry]:
        return await self._run(partial(self.store.claim_due, now, limit, claim_seconds, channel))

    async def release_claims(self, channel: Channel | None = None) -> int:
        return await self._run(partial(self.store.release_claims, channel))

    async def delivered(self, entry: OutboxEntry, now: float) -> None:
        await self._run(partial(self.store.delivered, entry, now))

    async def retry_later(self, entry: OutboxEntry, at: float, error: str, now: float) -> None:
        await self._run(partial(self.store.retry_later, entry, at, error, now))

    async def give_up(self, entry: OutboxEntry, error: str, now: float) -> None:
        await self._run(partial(self.store.give_up, entry, error, now))

    async def unsubscribe(self, subscription_id: str) -> None:
        await self._run(partial(self.store.unsubscribe, subscription_id))

    async def disable(self, subscription_id: str, now: float) -> None:
        await self._run(partial(self.store.disable, subscription_id, now))

    async def stats(self, now: float) -> OutboxStats:
        return await self._run(partial(self.store.stats, now))
