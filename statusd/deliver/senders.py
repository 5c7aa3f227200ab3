"""The outbox senders: one poller, one channel, a pool of sender tasks (SPEC §8, STYLE.md
"fan-out is a pool of workers reading a channel").

The poller claims due entries (``claim_due``: another replica or a restarted daemon skips
them while the claim lasts) and hands them one by one over an unbuffered memory channel to
``webhook_concurrency + smtp_connections`` sender tasks; a full pool makes the poller wait
(backpressure), so at most one claimed batch waits beside the entries being sent. When a
claim comes back short the poller sleeps until ``wake()`` (new entries were recorded), the
earliest retry this process scheduled, or ``idle_poll`` seconds (entries it cannot know
of: retries scheduled before a restart, claims of a replica that died) — never a busy loop.
At start it releases every claim (``release_claims``): the senders run in one process per
database (SQLite's one daemon; with replicas, SPEC §11, the one holding the lock), so a
claim found then belongs to a run that is gone, and its entries are sent again at once
rather than after the claim (``4 × send_timeout``) runs out — the entries in flight at a
kill are the only ones a receiver may get twice.

Each sender sends one entry under its own deadline (``send_timeout``; the relay and the
webhook client bound their blocking parts by it) and then records what the other side said,
outside that deadline so that an accepted message is never left unrecorded by a timeout:

=====================  =================================================  ==============
answer                 outbox                                             result label
=====================  =================================================  ==============
accepted (250 / 2xx)   ``delivered``: entry removed                       delivered
410 (webhook)          ``unsubscribe``: subscription and entries deleted  unsubscribed
permanent (5xx email)  ``give_up``                                        given_up
temporary / timeout    ``retry_later(schedule.next_attempt)``             retried
  … past 24 h          ``give_up``                                        given_up
  … webhook, 3 days    ``disable``                                        disabled
=====================  =================================================  ==============

When the outbox itself fails (``OutboxUnavailable``: the database is locked or gone) the
poller waits ``STORE_RETRY`` seconds and tries again; a send whose result could not be
recorded stays claimed until the claim lapses and is then sent again (at least once).

The senders can be given one ``channel``: they then claim and release only the entries of
that channel's subscriptions. The daemon sends webhooks itself and emails from a worker
process (``deliver.mailer``) that runs this same code on its own database connection.

Everything runs in the caller's nursery (``nursery.start(run_outbox, …)`` returns the
``Outbox`` handle); nothing is left running when it is cancelled.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import trio

from statusd.deliver.outbox import (
    AsyncOutbox,
    EmailRelay,
    OutboxUnavailable,
    Render,
    WebhookPoster,
)
from statusd.deliver.schedule import next_attempt, should_disable
from statusd.deliver.webhooks import WebhookRequest
from statusd.subscriptions.model import Channel, OutboxEntry

log = logging.getLogger("statusd.deliver")

SEND_TIMEOUT = 30.0
"""Deadline of one send (the relay's and the webhook client's own bounds are within it)."""
IDLE_POLL = 30.0
"""With nothing known to be due, look at the outbox again after this long."""
STORE_RETRY = 30.0
"""After the outbox failed to answer, wait this long before using it again."""
STATS_INTERVAL = 5.0
"""While busy, refresh the outbox gauges at most this often (always when idle)."""

Answer = Literal["accepted", "gone", "permanent", "temporary"]


class SendMetrics(Protocol):
    """What the senders report (``statusd.metrics.Metrics``; the mail worker's tally)."""

    def notification_sent(self, channel: str, result: str) -> None: ...

    def outbox_observed(self, depth: int, oldest_age_seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    answer: Answer
    detail: str


async def run_outbox(
    store: AsyncOutbox,
    render: Render,
    relay: EmailRelay | None,
    webhooks: WebhookPoster | None,
    *,
    webhook_concurrency: int,
    smtp_connections: int,
    channel: Channel | None = None,
    clock: Callable[[], float] = time.time,
    metrics: SendMetrics | None = None,
    rng: random.Random | None = None,
    send_timeout: float = SEND_TIMEOUT,
    idle_poll: float = IDLE_POLL,
    task_status: trio.TaskStatus[Outbox] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Send the outbox until cancelled. ``clock`` gives UNIX seconds (stored instants);
    sleeps are trio durations of the same length. ``relay`` None: email entries wait
    (retried, then given up) — there is no ``smtp_url``. ``channel``: only that channel's
    entries, with its own number of senders (``smtp_connections`` for email)."""
    workers = {"email": smtp_connections, "webhook": webhook_concurrency}.get(
        channel or "", webhook_concurrency + smtp_connections
    )
    outbox = Outbox(
        store,
        channel=channel,
        clock=clock,
        metrics=metrics,
        batch=workers,
        claim_seconds=4 * send_timeout,
        idle_poll=idle_poll,
    )
    senders = _Senders(
        store,
        render,
        relay,
        webhooks,
        outbox,
        clock=clock,
        metrics=metrics,
        rng=rng or random.Random(),
        send_timeout=send_timeout,
    )
    send_channel, receive_channel = trio.open_memory_channel[OutboxEntry](0)
    async with trio.open_nursery() as nursery:
        for _ in range(workers):
            nursery.start_soon(senders.work, receive_channel.clone())
        receive_channel.close()
        task_status.started(outbox)
        async with send_channel:
            await outbox.poll(send_channel)


class Outbox:
    """The running senders' poller; ``wake()`` after recording new entries."""

    def __init__(
        self,
        store: AsyncOutbox,
        *,
        channel: Channel | None = None,
        clock: Callable[[], float],
        metrics: SendMetrics | None,
        batch: int,
        claim_seconds: float,
        idle_poll: float,
    ) -> None:
        self.store = store
        self.channel = channel
        self.clock = clock
        self.metrics = metrics
        self.batch = batch
        self.claim_seconds = claim_seconds
        self.idle_poll = idle_poll
        self._changed = trio.Event()
        self._woken = False
        self._due: list[float] = []
        self._sleeping_until = math.inf

    def wake(self) -> None:
        """New entries are due now: claim at once (call it from any trio task)."""
        self._woken = True
        self._changed.set()

    def scheduled(self, at: float) -> None:
        """An entry was rescheduled for ``at`` (UNIX seconds): sleep no longer than that."""
        heapq.heappush(self._due, at)
        if at < self._sleeping_until:
            self._changed.set()

    async def poll(self, send_channel: trio.MemorySendChannel[OutboxEntry]) -> None:
        await self._release_claims()
        stats_at = -math.inf
        while True:
            now = self.clock()
            self._woken = False
            while self._due and self._due[0] <= now:
                heapq.heappop(self._due)
            try:
                entries = await self.store.claim_due(
                    now, self.batch, self.claim_seconds, self.channel
                )
            except OutboxUnavailable as error:
                _store_failed("claiming", error)
                await trio.sleep(STORE_RETRY)
                continue
            for entry in entries:
                await send_channel.send(entry)
            busy = len(entries) >= self.batch
            if self.metrics is not None and (not busy or now - stats_at >= STATS_INTERVAL):
                stats_at = now
                with contextlib.suppress(OutboxUnavailable):  # the next claim will tell
                    stats = await self.store.stats(now)
                    oldest = stats.oldest_created_at
                    age = 0.0 if oldest is None else now - oldest
                    self.metrics.outbox_observed(stats.depth, age)
            if not busy:
                await self._sleep()

    async def _release_claims(self) -> None:
        """The claims of an earlier run (killed mid-send) are released at once instead of
        running out; if the outbox cannot say, they run out on their own."""
        try:
            released = await self.store.release_claims(self.channel)
        except OutboxUnavailable as error:
            _store_failed("releasing the claims of an earlier run", error)
            return
        if released:
            log.info(
                "claims of an earlier run released; those entries are sent again",
                extra={"entries": released, "channel": self.channel or "all"},
            )

    async def _sleep(self) -> None:
        """Until woken, until the earliest retry scheduled here, or ``idle_poll``."""
        while not self._woken:
            now = self.clock()
            target = min(self._due[0] if self._due else math.inf, now + self.idle_poll)
            if target <= now:
                return
            self._sleeping_until = target
            self._changed = trio.Event()
            with trio.move_on_after(target - now) as sleep:
                await self._changed.wait()
            self._sleeping_until = math.inf
            if sleep.cancelled_caught:
                return


def _store_failed(what: str, error: OutboxUnavailable) -> None:
    log.warning(
        "outbox unavailable, notifications paused; /api is not affected",
        extra={"failed": what, "error": str(error), "retry_seconds": STORE_RETRY},
    )


@dataclass(slots=True)
class _Senders:
    store: AsyncOutbox
    render: Render
    relay: EmailRelay | None
    webhooks: WebhookPoster | None
    outbox: Outbox
    clock: Callable[[], float]
    metrics: SendMetrics | None
    rng: random.Random
    send_timeout: float

    async def work(self, receive_channel: trio.MemoryReceiveChannel[OutboxEntry]) -> None:
        async with receive_channel:
            async for entry in receive_channel:
                attempt: Attempt | None = None
                with trio.move_on_after(self.send_timeout):
                    attempt = await self.attempt(entry)
                try:
                    await self.record(entry, attempt or Attempt("temporary", "timed out"))
                except OutboxUnavailable as error:
                    # The entry stays claimed; once the claim lapses it is sent again
                    # (at least once: the receiver drops a duplicate by its message id).
                    _store_failed("recording a send", error)

    async def attempt(self, entry: OutboxEntry) -> Attempt:
        subscription = entry.subscription
        if subscription.channel == "email":
            if self.relay is None:
                return Attempt("temporary", "email is off (no smtp_url)")
            try:
                message = self.render.email(entry)
            except (ValueError, LookupError, TypeError) as error:
                return self.not_rendered(entry, error)
            sent = await self.relay.send(message)
            return Attempt(sent.outcome, sent.detail)
        if self.webhooks is None:
            return Attempt("temporary", "webhooks are not sent by these senders")
        if not subscription.secret:
            return Attempt("permanent", "webhook subscription has no secret")
        try:
            rendered = self.render.webhook(entry)
        except (ValueError, LookupError, TypeError) as error:
            return self.not_rendered(entry, error)
        request = WebhookRequest(
            subscription.address,
            subscription.secret,
            entry.message_id,
            rendered.body,
            rendered.content_type,
        )
        posted = await self.webhooks.post(request)
        answers: dict[str, Answer] = {"delivered": "accepted", "gone": "gone"}
        return Attempt(answers.get(posted.outcome, "temporary"), posted.detail)

    @staticmethod
    def not_rendered(entry: OutboxEntry, error: Exception) -> Attempt:
        """A message that cannot be built will not build on the next attempt either."""
        log.warning(
            "notification could not be rendered",
            extra={"entry": entry.id, "subscription": entry.subscription.id},
            exc_info=error,
        )
        return Attempt("permanent", f"not rendered: {type(error).__name__}: {error}")

    async def record(self, entry: OutboxEntry, attempt: Attempt) -> None:
        subscription = entry.subscription
        now = self.clock()
        result: str
        if attempt.answer == "accepted":
            await self.store.delivered(entry, now)
            result = "delivered"
        elif attempt.answer == "gone":
            await self.store.unsubscribe(subscription.id)
            result = "unsubscribed"
        elif attempt.answer == "temporary" and (
            subscription.channel == "webhook" and should_disable(subscription.failing_since, now)
        ):
            await self.store.disable(subscription.id, now)
            result = "disabled"
        else:
            at = None
            if attempt.answer == "temporary":
                at = next_attempt(entry.attempts + 1, entry.created_at, now, self.rng)
            if at is None:
                await self.store.give_up(entry, attempt.detail, now)
                result = "given_up"
            else:
                await self.store.retry_later(entry, at, attempt.detail, now)
                self.outbox.scheduled(at)
                result = "retried"
        if result != "delivered":
            log.log(
                logging.DEBUG if result == "retried" else logging.INFO,
                "notification not delivered",
                extra={
                    "channel": subscription.channel,
                    "subscription": subscription.id,
                    "result": result,
                    "attempts": entry.attempts + 1,
                    "error": attempt.detail,
                },
            )
        if self.metrics is not None:
            self.metrics.notification_sent(subscription.channel, result)
