"""Notifications in the daemon: the planner (decide, record) and the senders (act), wired.

``serve_notifications`` is started with ``nursery.start`` once the subscription store is
open; it hands back a ``Notifications`` whose ``inbox`` the public view feeds, whose
``maintenance`` the maintenance task calls with each event, and whose ``wake`` the write
routes call after queueing a confirmation. Everything runs in the caller's nursery.

With ``smtp_url`` the emails are sent by the mail worker process (``deliver.mailer``) and
the daemon's own senders keep the webhooks; without it the daemon's senders hold every
entry (emails wait, then are given up: there is no relay).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial

import trio

from statusd.config import Settings
from statusd.deliver._mailer_child import MailerRequest
from statusd.deliver.mailer import MAILER_NICE, Mailer, run_mailer
from statusd.deliver.outbox import ThreadedOutbox
from statusd.deliver.senders import Outbox, run_outbox
from statusd.deliver.webhooks import WebhookClient
from statusd.history.writer import HistoryInbox
from statusd.mailbox import Mailbox
from statusd.maintenance.events import MaintenanceEvent
from statusd.metrics import Metrics
from statusd.notify.incidents import maintenance_notification
from statusd.notify.planner import run_notification_planner
from statusd.notify.render import MessageRender
from statusd.subscriptions.database import StoreError
from statusd.subscriptions.facade import AsyncStore
from statusd.subscriptions.model import Channel

log = logging.getLogger("statusd.notifications")

MAINTENANCE_RETRY_SECONDS = 5.0


@dataclass
class Notifications:
    """The handles other parts of the daemon use."""

    inbox: HistoryInbox
    outbox: Outbox
    maintenance_events: Mailbox[MaintenanceEvent]
    mailer: Mailer | None = None
    """The mail worker (with ``smtp_url``)."""

    def wake(self) -> None:
        """New outbox entries exist: send them now rather than at the next poll."""
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
    *,
    task_status: trio.TaskStatus[Notifications] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Plan and send notifications until cancelled."""
    render = MessageRender(settings.page_name, settings.base_url, settings.mail_from)
    webhooks = WebhookClient(
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private,
        concurrency=settings.webhook_concurrency,
    )
    async with trio.open_nursery() as nursery:
        mailer: Mailer | None = None
        if settings.smtp_url:
            mailer = await nursery.start(
                partial(run_mailer, mailer_request(settings, store), metrics=metrics)
            )
        outbox: Outbox = await nursery.start(
            _run_outbox,
            ThreadedOutbox(store.store, limiter=store.limiter),
            render,
            webhooks,
            settings,
            metrics,
            "webhook" if mailer is not None else None,
        )
        handles = Notifications(HistoryInbox(), outbox, Mailbox(keep=256), mailer)
        await nursery.start(_run_planner, handles, store, settings)
        nursery.start_soon(_record_maintenance, handles, store)
        task_status.started(handles)


def mailer_request(settings: Settings, store: AsyncStore) -> MailerRequest:
    """What the mail worker is told: the database, the relay, the page and the log."""
    return MailerRequest(
        database=str(store.store.path),
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        page_name=settings.page_name,
        base_url=settings.base_url,
        smtp_connections=settings.smtp_connections,
        nice=MAILER_NICE,
        log_level=settings.log_level,
        log_format=settings.log_format,
    )


async def _run_outbox(
    store: ThreadedOutbox,
    render: MessageRender,
    webhooks: WebhookClient,
    settings: Settings,
    metrics: Metrics,
    channel: Channel | None,
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
                except StoreError as error:
                    log.warning(
                        "recording a maintenance event failed, retrying",
                        extra={"event": notification.id, "error": str(error)},
                    )
                    await trio.sleep(MAINTENANCE_RETRY_SECONDS)
                    continue
                if added:
                    handles.wake()
                break
