"""Notifications in the daemon: the planner (decide, record) and the senders (act), wired.

The daemon makes one ``Notifications`` once the subscription store is open: the public view
feeds its ``inbox``, the maintenance task calls its ``maintenance`` with each event, and the
write routes call its ``wake`` after queueing a confirmation. ``serve_notifications`` plans
and sends for as long as this replica leads (``storage.leader.while_leader``); while it does
not, the mailboxes keep what arrives (bounded) for the next term and ``wake`` does nothing.

With ``smtp_url`` the emails are sent by the mail worker process (``deliver.mailer``), started
for each term, and the daemon's own senders keep the webhooks; without it the daemon's
senders hold every entry (emails wait, then are given up: there is no relay).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial

import trio

from statusd.config import Settings
from statusd.deliver._mailer_child import MailerRequest
from statusd.deliver.mailer import MAILER_NICE, Mailer, run_mailer
from statusd.deliver.outbox import ThreadedOutbox
from statusd.deliver.senders import IDLE_POLL, Outbox, run_outbox
from statusd.deliver.webhooks import WebhookClient
from statusd.history.writer import HistoryInbox
from statusd.mailbox import Mailbox
from statusd.maintenance.events import MaintenanceEvent
from statusd.metrics import Metrics
from statusd.notify.incidents import maintenance_notification
from statusd.notify.planner import run_notification_planner
from statusd.notify.render import MessageRender
from statusd.storage.engine import StorageError
from statusd.subscriptions.facade import AsyncStore
from statusd.subscriptions.model import Channel

log = logging.getLogger("statusd.notifications")

MAINTENANCE_RETRY_SECONDS = 5.0
SHARED_IDLE_POLL = 2.0
"""How often the senders look at a shared outbox with nothing known to be due: replicas that
do not lead record confirmations there, and their ``wake`` cannot reach the leader's
senders (one cheap query every 2 s instead of up to ``IDLE_POLL`` seconds of waiting)."""


def idle_poll(store: AsyncStore) -> float:
    """The senders' idle poll for ``store``'s database (shorter when replicas share it)."""
    return SHARED_IDLE_POLL if store.store.url.shared else IDLE_POLL


def _maintenance_mailbox() -> Mailbox[MaintenanceEvent]:
    return Mailbox(keep=256)


@dataclass
class Notifications:
    """The handles other parts of the daemon use; they outlive the terms of leadership."""

    inbox: HistoryInbox = field(default_factory=HistoryInbox)
    maintenance_events: Mailbox[MaintenanceEvent] = field(default_factory=_maintenance_mailbox)
    outbox: Outbox | None = None
    """The senders of the current term (None while ``serve_notifications`` does not run)."""
    mailer: Mailer | None = None
    """The mail worker of the current term (with ``smtp_url``)."""

    def wake(self) -> None:
        """New outbox entries exist: send them now rather than at the next poll."""
        if self.outbox is not None:
            self.outbox.wake()
        if self.mailer is not None:
            self.mailer.wake()

    def maintenance(self, event: MaintenanceEvent) -> None:
        """A maintenance task observer: announced, started and completed windows."""
        self.maintenance_events.put(event)


async def serve_notifications(
    settings: Settings,
    store: AsyncStore,
    metrics: Metrics,
    handles: Notifications,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Plan and send notifications from ``handles`` until cancelled."""
    render = MessageRender(settings.page_name, settings.base_url, settings.mail_from)
    webhooks = WebhookClient(
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private,
        concurrency=settings.webhook_concurrency,
    )
    try:
        async with trio.open_nursery() as nursery:
            if settings.smtp_url:
                handles.mailer = await nursery.start(
                    partial(run_mailer, mailer_request(settings, store), metrics=metrics)
                )
            handles.outbox = await nursery.start(
                _run_outbox,
                ThreadedOutbox(store.store, limiter=store.limiter),
                render,
                webhooks,
                settings,
                metrics,
                "webhook" if handles.mailer is not None else None,
                idle_poll(store),
            )
            await nursery.start(_run_planner, handles, store, settings)
            nursery.start_soon(_record_maintenance, handles, store)
            task_status.started()
    finally:
        handles.outbox = None
        handles.mailer = None


def mailer_request(settings: Settings, store: AsyncStore) -> MailerRequest:
    """What the mail worker is told: the database and the claims' owner, the relay, the
    page and the log."""
    return MailerRequest(
        database=store.store.url.target,
        dialect=store.store.url.dialect,
        owner=store.store.owner,
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        page_name=settings.page_name,
        base_url=settings.base_url,
        smtp_connections=settings.smtp_connections,
        nice=MAILER_NICE,
        log_level=settings.log_level,
        log_format=settings.log_format,
        idle_poll=idle_poll(store),
    )


async def _run_outbox(
    store: ThreadedOutbox,
    render: MessageRender,
    webhooks: WebhookClient,
    settings: Settings,
    metrics: Metrics,
    channel: Channel | None,
    poll: float,
    *,
    task_status: trio.TaskStatus[Outbox],
) -> None:
    """The daemon's senders: webhooks (``channel``), or every entry without a relay."""
    await run_outbox(
        store,
        render,
        None,
        webhooks,
        webhook_concurrency=settings.webhook_concurrency,
        smtp_connections=settings.smtp_connections,
        channel=channel,
        metrics=metrics,
        idle_poll=poll,
        task_status=task_status,
    )


async def _run_planner(
    handles: Notifications,
    store: AsyncStore,
    settings: Settings,
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    await run_notification_planner(
        handles.inbox,
        store.store,
        hold=settings.notify_hold,
        batch=settings.notify_batch,
        limiter=store.limiter,
        on_recorded=handles.wake,
        task_status=task_status,
    )


async def _record_maintenance(handles: Notifications, store: AsyncStore) -> None:
    """Record each maintenance event (its id makes a repeat a no-op), retrying while the
    database is unavailable; the mailbox keeps the newest 256 meanwhile."""
    while True:
        await handles.maintenance_events.wait()
        for event in handles.maintenance_events.take():
            notification = maintenance_notification(event)
            while True:
                try:
                    added = await store.run(store.store.record_event, notification, {}, time.time())
                except StorageError as error:
                    log.warning(
                        "recording a maintenance event failed, retrying",
                        extra={"event": notification.id, "error": str(error)},
                    )
                    await trio.sleep(MAINTENANCE_RETRY_SECONDS)
                    continue
                if added:
                    handles.wake()
                break
