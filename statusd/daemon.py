"""The daemon: one nursery owning the collectors, the state holder, the server and the
systemd helpers; SIGTERM/SIGINT shut it down gracefully. The history writer and the
notifications run only while this replica leads (``statusd.replica``); nothing else waits
for leadership.

Shutdown order: a signal sets ``stop``; systemd hears ``STOPPING=1``; the state holder is
closed so SSE streams end; hypercorn stops accepting and lets in-flight responses finish (at
most ``shutdown_timeout``); when it returns, the nursery is cancelled, which stops the
collectors and the rest.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from functools import partial

import trio
from hypercorn.config import Config as HypercornConfig
from quart_trio import QuartTrio

from statusd.collect.fetch import source_client
from statusd.collect.outcome import CollectionOutcome
from statusd.collect.parse import LastInput, WorkerProcesses
from statusd.collect.supervisor import run_collectors
from statusd.config import Listen, Settings
from statusd.environ import warn_unknown_environ
from statusd.history.planned import MaintenanceRecord
from statusd.history.reader import HistoryReader
from statusd.history.schema import HistoryError
from statusd.history.writer import HistoryInbox
from statusd.logs import StateChangeLogger, configure_logging
from statusd.long_lived import LongLivedObjects
from statusd.maintenance.watch import MaintenanceTask
from statusd.metrics import Metrics
from statusd.notify.service import Notifications, serve_notifications
from statusd.replica import stored_timeline, write_history
from statusd.serve.app import create_app
from statusd.serve.connections import raise_descriptor_limit
from statusd.serve.fastpath import FrontApp
from statusd.serve.maintenance_routes import register_maintenance_routes
from statusd.serve.publish import run_publisher
from statusd.serve.server import serve_front, serve_limited
from statusd.serve.source_status import SourcesBody, rfc3339
from statusd.serve.status_routes import register_public_routes
from statusd.serve.streams import descriptors_needed
from statusd.sources import ALL_SOURCES
from statusd.state.holder import StateHolder, StateView
from statusd.state.persistence import StateWriter, restore_state
from statusd.storage.leader import Leadership, run_leadership, while_leader
from statusd.subscriptions.database import replica_owner
from statusd.subscriptions.facade import AsyncStore, open_store_or_none
from statusd.subscriptions.routes import SubscriptionRoutes
from statusd.systemd import SystemdNotifier, run_watchdog, status_line
from statusd.verdicts.live import PublicState
from statusd.verdicts.rules import VerdictThresholds
from statusd.verdicts.statuspage import PageInfo

log = logging.getLogger("statusd.daemon")


class StartupError(Exception):
    """statusd cannot start (e.g. the address is in use); the message says what to change."""


def bind_listen_socket(listen: Listen) -> socket.socket:
    """A bound TCP socket for ``listen``, so a bad address fails before anything starts."""
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise StartupError(f"listen {listen}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise StartupError(
            f"listen {listen}: {error.strerror} (change --listen or stop what uses the port)"
        ) from None
    return sock


def hypercorn_config(settings: Settings, fd: int) -> HypercornConfig:
    """hypercorn's settings, built explicitly from ours."""
    config = HypercornConfig()
    config.bind = [f"fd://{fd}"]
    config.graceful_timeout = settings.shutdown_timeout
    config.h11_max_incomplete_size = settings.max_header_bytes
    config.h2_max_header_list_size = settings.max_header_bytes
    config.keep_alive_timeout = 5
    config.backlog = 1024
    config.accesslog = None
    config.errorlog = logging.getLogger("statusd.http")
    config.include_server_header = False
    return config


def ensure_descriptors(settings: Settings) -> None:
    """Enough file descriptors for every connection and stream the limits allow, or
    StartupError naming what to change (before anything is started)."""
    needed = descriptors_needed(settings.max_connections, settings.max_event_streams)
    have = raise_descriptor_limit(needed)
    if have < needed:
        raise StartupError(
            f"max_connections ({settings.max_connections}) + max_event_streams "
            f"({settings.max_event_streams}) need {needed} file descriptors, the limit is "
            f"{have}: raise LimitNOFILE (ulimit -n) or lower the settings"
        )


def run_daemon(settings: Settings, environ: Mapping[str, str]) -> None:
    """Run until SIGTERM/SIGINT; raises StartupError when it cannot start."""
    configure_logging(settings.log_level, settings.log_format, environ)
    warn_unknown_environ(environ)
    ensure_descriptors(settings)
    sock = listen_socket(settings)
    trio.run(partial(serve_daemon, settings, environ, sock))


def listen_socket(settings: Settings) -> socket.socket:
    """The bound listening socket; binding another address than loopback is warned about."""
    sock = bind_listen_socket(settings.listen)
    if not settings.listen.is_loopback:
        log.warning("listening on a non-loopback address", extra={"listen": str(settings.listen)})
    return sock


async def serve_daemon(
    settings: Settings,
    environ: Mapping[str, str],
    sock: socket.socket,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Everything statusd does, in one nursery; returns after a graceful shutdown."""
    names = [spec.name for spec in ALL_SOURCES]
    metrics = Metrics(names)
    notifier = SystemdNotifier.from_environ(environ)
    state = StateHolder(names, settings.stale_after, on_outcome=CollectionReport(metrics))
    workers = WorkerProcesses.of(settings)
    last_inputs: dict[str, LastInput] = {}
    state.restore(
        await restore_state(
            settings.state_file,
            ALL_SOURCES,
            settings.limits,
            workers=workers,
            last_inputs=last_inputs,
        )
    )
    state_writer = StateWriter(settings.state_file)
    state.add_observer(state_writer.observe)
    state.add_observer(Readiness(notifier).observe)
    stop = trio.Event()
    watchdog = trio.CancelScope()
    outcomes_send, outcomes_receive = trio.open_memory_channel[CollectionOutcome](0)
    inbox = HistoryInbox()
    leadership = Leadership(on_change=metrics.leadership_changed)
    config = hypercorn_config(settings, sock.detach())

    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with (
            source_client() as client,
            AsyncExitStack() as closing,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(stop_on_signal, signals, stop)
            nursery.start_soon(begin_shutdown, stop, watchdog, notifier, state)
            nursery.start_soon(state_writer.run)
            await nursery.start(LongLivedObjects(on_full_collection=metrics.full_collection).run)
            await nursery.start(
                partial(
                    run_leadership,
                    settings.database,
                    interval=settings.interval,
                    leadership=leadership,
                )
            )
            public = PublicState(
                PageInfo(name=settings.page_name, url=settings.base_url),
                VerdictThresholds.from_mapping(settings.verdicts),
                inbox,
                await stored_timeline(settings),
            )
            # After the history writer: it may move a damaged database aside and start anew.
            subscriptions = await open_store_or_none(
                settings.database, owner=replica_owner(settings.state_dir)
            )
            if subscriptions is not None:
                closing.push_async_callback(subscriptions.aclose)
            nursery.start_soon(while_leader, leadership, partial(write_history, settings, inbox))
            state.add_observer(public.observe)
            await nursery.start(public.run)
            maintenance = MaintenanceTask(
                settings.maintenance_file, public, previous=await last_maintenance(settings)
            )
            notifications: Notifications | None = None
            if subscriptions is not None:
                notifications = Notifications()
                notify = partial(
                    serve_notifications, settings, subscriptions, metrics, notifications
                )
                nursery.start_soon(while_leader, leadership, notify)
                public.notify = notifications.inbox
                maintenance.add_observer(notifications.maintenance)
            await nursery.start(maintenance.run)
            reader = HistoryReader(settings.database)
            closing.push_async_callback(trio.to_thread.run_sync, reader.close)
            app = build_app(
                settings,
                state,
                metrics,
                public,
                maintenance,
                leadership,
                subscriptions,
                notifications,
                reader,
            )
            await nursery.start(state.run, outcomes_receive)
            if settings.nchan_publish_url:
                await nursery.start(run_publisher, state, client, settings.nchan_publish_url)
            await nursery.start(
                partial(run_collectors, workers=workers, last_inputs=last_inputs),
                ALL_SOURCES,
                settings,
                client,
                outcomes_send,
            )
            binds: list[str] = await nursery.start(
                serve_then_cancel, app, config, settings, stop, nursery.cancel_scope
            )
            log.info("listening", extra={"url": binds[0] if binds else str(settings.listen)})
            if notifier:
                nursery.start_soon(watch_in, watchdog, notifier)
            task_status.started(binds)
    log.info("stopped")


async def last_maintenance(settings: Settings) -> MaintenanceRecord | None:
    """What the maintenance task decided before the last stop (None if unreadable)."""
    reader = HistoryReader(settings.database)
    try:
        return await trio.to_thread.run_sync(reader.maintenance)
    except HistoryError as error:
        log.warning("maintenance record unreadable", extra={"error": str(error)})
        return None
    finally:
        await trio.to_thread.run_sync(reader.close)


def build_app(
    settings: Settings,
    state: StateHolder,
    metrics: Metrics,
    public: PublicState,
    maintenance: MaintenanceTask,
    leadership: Leadership,
    subscriptions: AsyncStore | None,
    notifications: Notifications | None,
    reader: HistoryReader,
) -> FrontApp:
    """/api answered in front; the routes of SPEC §4, §7, §8 and §9 behind it, in Quart."""

    def routes(app: QuartTrio) -> None:
        register_public_routes(app, public, reader, settings.base_url)
        register_maintenance_routes(app, public, reader, settings.base_url)

    signups = SubscriptionRoutes(subscriptions, settings)
    if notifications is not None:
        signups.on_enqueued = notifications.wake
    sources = SourcesBody(state, settings.stale_after)
    app = create_app(
        state,
        settings,
        metrics,
        sources=sources,
        extra_routes=[routes, signups],
        health={
            "maintenance": maintenance.health,
            "leader": lambda: leadership.is_leader,
            "leader_since": lambda: rfc3339(leadership.since),
        },
    )
    return FrontApp(state, app, metrics, sources)


async def serve_then_cancel(
    app: FrontApp,
    config: HypercornConfig,
    settings: Settings,
    stop: trio.Event,
    everything: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[list[str]],
) -> None:
    """Serve until ``stop`` and the requests in flight are answered, then end ``everything``
    (the collectors and the other tasks of the daemon's nursery)."""
    await serve_front(
        app,
        config,
        shutdown_trigger=stop.wait,
        grace=settings.shutdown_timeout,
        server=partial(
            serve_limited,
            max_connections=settings.max_connections,
            max_header_bytes=settings.max_header_bytes,
        ),
        task_status=task_status,
    )
    everything.cancel()


async def stop_on_signal(signals: AsyncIterator[int], stop: trio.Event) -> None:
    """Set ``stop`` at the first SIGTERM or SIGINT."""
    async for signum in signals:
        log.info("shutting down", extra={"signal": signal.Signals(signum).name})
        stop.set()
        return


async def begin_shutdown(
    stop: trio.Event,
    watchdog: trio.CancelScope,
    notifier: SystemdNotifier | None,
    state: StateHolder,
) -> None:
    """Once ``stop`` is set: no more watchdog pings, STOPPING=1, long streams (SSE) end."""
    await stop.wait()
    watchdog.cancel()  # no pings once systemd has been told we stop
    if notifier:
        notifier.stopping()
    state.close()


async def watch_in(scope: trio.CancelScope, notifier: SystemdNotifier) -> None:
    """``run_watchdog`` until ``scope`` is cancelled."""
    with scope:
        await run_watchdog(notifier)


class CollectionReport:
    """The state holder's ``on_outcome``: metrics for every collection, and a log line when a
    source starts failing or recovers."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.failures = StateChangeLogger(logging.getLogger("statusd.collector"))

    def __call__(self, outcome: CollectionOutcome) -> None:
        self.metrics.collection_finished(
            outcome.source,
            ok=outcome.result is not None,
            duration_seconds=outcome.duration,
            finished_at=outcome.wall_time,
            skipped=outcome.result.skipped if outcome.result else {},
        )
        self.failures.note(outcome.source, outcome.error)


class Readiness:
    """A state-holder observer: READY=1 to systemd once every source is fresh, then STATUS=
    whenever the summary of fresh sources changes."""

    def __init__(self, notifier: SystemdNotifier | None) -> None:
        self.notifier = notifier
        self.ready = False
        self.last_status = ""

    def observe(self, view: StateView) -> None:
        summary = status_line(sorted(view.fresh), list(view.sources))
        if view.ready and not self.ready:
            self.ready = True
            if self.notifier:
                self.notifier.ready(summary)
            log.info("ready", extra={"sources": summary})
            # What start-up built lives as long as the process: out of the cyclic GC's sight,
            # full collections stop walking it (docs/bench.md, "figures behind the code").
            gc.freeze()
        elif self.notifier and summary != self.last_status:
            self.notifier.status(summary)
        self.last_status = summary
