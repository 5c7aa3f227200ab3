"""Emails are rendered and sent by a worker process, not by the daemon (SPEC §8 "sending
never slows /api").

Building an ``EmailMessage`` and talking smtplib cost about 1.5 ms of CPU per message, all
under the GIL the event loop needs to answer ``/api``: during a 100,000-email fan-out the
daemon answered 0.61 × its usual requests per second (docs/bench.md, "Notifications"). So
the daemon starts ``python -m statusd.deliver._mailer_child`` and keeps nothing of the
email path: the worker runs the same senders (``deliver.senders``, ``channel="email"``) on a
database connection of its own, at ``nice`` + ``MAILER_NICE`` so the kernel prefers the
event loop when both want a core. The outbox stays the truth: the worker claims entries,
sends them and removes each one the relay accepted; the daemon's own senders keep the
webhooks.

The worker belongs to the nursery of ``run_mailer``: cancelled, it is terminated (trio's
``run_process``). If it dies, the entries it had claimed are released by the next worker,
started after ``RESTART_SECONDS`` (doubling to ``RESTART_MAX_SECONDS`` while it keeps
dying): the messages in flight at its death may arrive twice (same ``Message-ID``), no
other. If the daemon dies, the worker reads the end of its standard input and exits.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import trio

from statusd.deliver._mailer_child import LineReader, MailerRequest
from statusd.metrics import NOTIFICATION_RESULTS, Metrics

log = logging.getLogger("statusd.mailer")

MAILER_NICE = 10
"""How much lower the worker's CPU priority is than the daemon's (``os.nice``)."""
RESTART_SECONDS = 1.0
"""Wait before restarting a worker that died; doubled while it keeps dying young."""
RESTART_MAX_SECONDS = 60.0
HEALTHY_SECONDS = 60.0
"""A worker that ran this long before dying is restarted after ``RESTART_SECONDS`` again."""
WAKE_TIMEOUT = 10.0
"""A worker that does not take a wake-up within this long misses it (its idle poll finds
the entries)."""
EXIT_WAIT_SECONDS = 5.0
"""After its output ended, how long the worker is given to exit before it is killed."""


@dataclass
class Mailer:
    """The daemon's handle on the mail worker: ``wake()`` after recording email entries."""

    metrics: Metrics | None = None
    pid: int | None = None
    """The running worker's process id (None between workers)."""
    starts: int = 0
    ready: trio.Event = field(default_factory=trio.Event)
    """Set when the current worker's senders run (a new Event for each worker)."""
    _wakeup: trio.Event = field(default_factory=trio.Event)
    _reported: trio.Event = field(default_factory=trio.Event)

    def wake(self) -> None:
        """New entries are due: the worker claims at once (coalesced; any trio task)."""
        self._wakeup.set()

    async def wait_reported(self, condition: Callable[[], bool]) -> None:
        """Until ``condition()`` holds, looked at after each line of the worker's report."""
        while not condition():
            await self._reported.wait()

    def apply(self, line: bytes) -> None:
        """One line of the worker's report."""
        value = json.loads(line)
        if "ready" in value:
            self.ready.set()
        for channel, result, count in value.get("sent", ()):
            if channel != "email" or result not in NOTIFICATION_RESULTS:
                raise ValueError(f"not a notification result: {channel} {result}")
            if self.metrics is not None:
                self.metrics.notification_sent(channel, result, int(count))
        if "outbox" in value and self.metrics is not None:
            depth, age = value["outbox"]
            self.metrics.outbox_observed(int(depth), float(age))
        self._reported.set()
        self._reported = trio.Event()

    async def feed_wakes(self, stdin: trio.abc.SendStream) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            with trio.move_on_after(WAKE_TIMEOUT) as waited:
                try:
                    await stdin.send_all(b"wake\n")
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return  # the worker is gone; its output ends too
            if waited.cancelled_caught:
                log.warning("the mail worker did not take a wake-up", extra={"pid": self.pid})


async def run_mailer(
    request: MailerRequest,
    *,
    metrics: Metrics | None = None,
    task_status: trio.TaskStatus[Mailer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Keep a mail worker running until cancelled (then it is terminated)."""
    mailer = Mailer(metrics)
    task_status.started(mailer)
    delay = RESTART_SECONDS
    while True:
        started = trio.current_time()
        status = await run_worker(mailer, request)
        if trio.current_time() - started >= HEALTHY_SECONDS:
            delay = RESTART_SECONDS
        log.error(
            "mail worker exited; emails wait for the next one",
            extra={"status": status, "restart_seconds": delay},
        )
        await trio.sleep(delay)
        delay = min(2 * delay, RESTART_MAX_SECONDS)


async def start_worker(nursery: trio.Nursery) -> trio.Process:
    """A worker process with pipes to its standard input and output, owned by ``nursery``
    (cancelled: terminated, trio's ``run_process``); it waits for its ``MailerRequest``."""
    process: trio.Process = await nursery.start(
        partial(
            trio.run_process,
            [sys.executable, "-m", "statusd.deliver._mailer_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            check=False,
        )
    )
    return process


async def run_worker(mailer: Mailer, request: MailerRequest) -> int | None:
    """One worker from start to exit; its exit status (negative: the signal that ended it)."""
    mailer.ready = trio.Event()
    mailer.starts += 1
    async with trio.open_nursery() as nursery:
        process = await start_worker(nursery)
        assert process.stdin is not None  # both are pipes (start_worker)
        assert process.stdout is not None
        mailer.pid = process.pid
        try:
            with trio.move_on_after(WAKE_TIMEOUT):
                await process.stdin.send_all(request.line())
            nursery.start_soon(mailer.feed_wakes, process.stdin)
            reports = LineReader(process.stdout)
            while (line := await reports.next()) is not None:
                mailer.apply(line)
        except (ValueError, TypeError, KeyError, trio.BrokenResourceError) as error:
            log.error("mail worker misbehaved; stopping it", extra={"error": str(error)})
        mailer.pid = None
        with trio.move_on_after(EXIT_WAIT_SECONDS):
            await process.wait()
        nursery.cancel_scope.cancel()  # the wake feeder; the worker, if still there
    return process.returncode
