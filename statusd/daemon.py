"""The daemon: one nursery owning the collectors, the state holder, the server and the
systemd helpers; SIGTERM/SIGINT shut it down gracefully.

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
from collections.abc import Mapping
from functools import partial

import httpx
import trio
from hypercorn.config import Config as HypercornConfig

from statusd.app import create_app
from statusd.config import Listen, Settings
from statusd.front import FrontApp, serve_front
from statusd.history import HistoryReader
from statusd.history_writer import HistoryInbox, run_history_writer
from statusd.limits import raise_descriptor_limit, serve_limited
from statusd.logs import StateChangeLogger, configure_logging
from statusd.metrics import Metrics
from statusd.notify import SystemdNotifier, run_watchdog, status_line
from statusd.outcome import CollectionOutcome
from statusd.persistence import StateWriter, restore_state
from statusd.public import PublicState
from statusd.public_routes import register_public_routes
from statusd.publish import run_publisher
from statusd.sources import ALL_SOURCES
from statusd.state import StateHolder, StateView
from statusd.statuspage import PageInfo
from statusd.streams import EventStreams, descriptors_needed
from statusd.supervisor import LastInput, WorkerProcesses, run_collectors
from statusd.verdicts import VerdictThresholds

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
    ensure_descriptors(settings)
    sock = bind_listen_socket(settings.listen)
    if not settings.listen.is_loopback:
        log.warning("listening on a non-loopback address", extra={"listen": str(settings.listen)})
    trio.run(partial(serve_daemon, settings, environ, sock))


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
    failures = StateChangeLogger(logging.getLogger("statusd.collector"))

    def on_outcome(outcome: CollectionOutcome) -> None:
        metrics.collection_finished(
            outcome.source,
            ok=outcome.result is not None,
            duration_seconds=outcome.duration,
            finished_at=outcome.wall_time,
            skipped=outcome.result.skipped if outcome.result else {},
        )
        failures.note(outcome.source, outcome.error)

    state = StateHolder(names, settings.stale_after, on_outcome=on_outcome)
    workers = WorkerProcesses.of(settings)
    last_inputs: dict[str, LastInput] = {}
    restored = await restore_state(
        settings.state_file, ALL_SOURCES, settings.limits, workers=workers, last_inputs=last_inputs
    )
    state.restore(restored)
    del restored
    state_writer = StateWriter(settings.state_file)
    state.add_observer(state_writer.observe)
    ready = trio.Event()
    last_status = [""]

    def tell_systemd(view: StateView) -> None:
        summary = status_line(sorted(view.fresh), list(view.sources))
        if view.ready and not ready.is_set():
            ready.set()
            if notifier:
                notifier.ready(summary)
            log.info("ready", extra={"sources": summary})
            # Everything built so far (modules, pycountry's tables, restored state) lives as
            # long as the process: out of the cyclic GC's sight, a full collection no longer
            # walks it and stalls requests (/api/history p99 at wrk -c4: ~20 → ~7 ms).
            gc.freeze()
        elif notifier and summary != last_status[0]:
            notifier.status(summary)
        last_status[0] = summary

    state.add_observer(tell_systemd)
    stop = trio.Event()
    outcomes_send, outcomes_receive = trio.open_memory_channel[CollectionOutcome](0)
    thresholds = VerdictThresholds.from_mapping(settings.verdicts)
    inbox = HistoryInbox()
    config = hypercorn_config(settings, sock.detach())

    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with (
            httpx.AsyncClient(
                follow_redirects=False,
                limits=httpx.Limits(max_connections=10, max_keepalive_connections=3),
                headers={"User-Agent": "statusd"},
            ) as client,
            trio.open_nursery() as nursery,
        ):

            async def watch_signals() -> None:
                async for signum in signals:
                    log.info("shutting down", extra={"signal": signal.Signals(signum).name})
                    stop.set()
                    return

            async def serve_then_cancel(*, task_status: trio.TaskStatus[list[str]]) -> None:
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
                nursery.cancel_scope.cancel()

            watchdog_scope = trio.CancelScope()

            async def watchdog() -> None:
                with watchdog_scope:
                    await run_watchdog(notifier)

            async def on_stop() -> None:
                await stop.wait()
                watchdog_scope.cancel()  # no pings once systemd has been told we stop
                if notifier:
                    notifier.stopping()
                state.close()

            nursery.start_soon(watch_signals)
            nursery.start_soon(on_stop)
            nursery.start_soon(state_writer.run)
            timeline = await nursery.start(
                partial(
                    run_history_writer,
                    settings.history_db,
                    inbox,
                    raw_days=settings.history_raw_days,
                    rollup_days=settings.history_rollup_days,
                )
            )
            public = PublicState(
                PageInfo(name=settings.page_name, url=settings.base_url),
                thresholds,
                inbox,
                timeline,
            )
            state.add_observer(public.observe)
            await nursery.start(public.run)
            public_routes = partial(
                register_public_routes,
                public=public,
                reader=HistoryReader(settings.history_db),
                base_url=settings.base_url,
            )
            streams = EventStreams(settings.max_event_streams, metrics=metrics)
            app = FrontApp(
                state,
                create_app(state, settings, metrics, extra_routes=public_routes, streams=streams),
                metrics,
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
            binds: list[str] = await nursery.start(serve_then_cancel)
            log.info("listening", extra={"url": binds[0] if binds else str(settings.listen)})
            if notifier:
                nursery.start_soon(watchdog)
            task_status.started(binds)
    log.info("stopped")
