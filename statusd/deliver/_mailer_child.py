"""The program the mail worker runs: ``python -m statusd.deliver._mailer_child``.

It sends the outbox's email entries with the daemon's own senders (``deliver.senders``,
``channel="email"``), relay (``deliver.smtp``) and renderer (``notify.render``) on a
database connection of its own, at a lower CPU priority, so that rendering and smtplib
never hold the daemon's GIL (``deliver.mailer`` starts and watches it).

Standard input: one JSON line, the ``MailerRequest`` (the relay's URL may hold a password:
never on the command line), then ``wake`` lines (new entries were recorded). End of input
means the daemon is gone (killed, even with SIGKILL): the worker exits at once, so a
restarted daemon's worker never sends beside it. Standard output: JSON lines, ``{"ready":
pid}`` once the senders run, then ``{"sent": [[channel, result, n], …]}`` and ``{"outbox":
[depth, oldest_age_seconds]}`` at most every ``REPORT_SECONDS``. Standard error: the log.

Only one worker sends a database's emails: on SQLite it holds an exclusive ``flock`` on
``<database>.mail-lock`` (the kernel drops it when the process dies) before it releases the
claims of the worker before it. On PostgreSQL only the leading replica runs a worker, and
claims skip rows another replica's worker holds (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import trio

from statusd.deliver.outbox import ThreadedOutbox
from statusd.deliver.senders import SEND_TIMEOUT, Outbox, run_outbox
from statusd.deliver.smtp import SmtpRelay
from statusd.logs import LogFormat, configure_logging
from statusd.notify.render import MessageRender
from statusd.storage.url import DatabaseUrl, Dialect
from statusd.subscriptions.store import SubscriptionStore

log = logging.getLogger("statusd.mailer")

MAX_LINE_BYTES = 64 * 1024
"""The longest line either side writes (a request, a report); longer is a broken peer."""
REPORT_SECONDS = 1.0
"""Counts and gauges go to the daemon at most this often."""
LOCK_WAIT_SECONDS = 60.0
"""How long a new worker waits for the one before it to be gone before giving up."""


@dataclass(frozen=True, slots=True)
class MailerRequest:
    """What the worker needs from the daemon's settings."""

    database: str
    """``DatabaseUrl.target``: the SQLite file or the PostgreSQL URL."""
    dialect: Dialect
    owner: str
    """The name the daemon's store puts on its claims (``subscriptions.database``): the
    worker's are the same replica's, so a new worker releases what a killed one claimed."""
    smtp_url: str
    mail_from: str
    page_name: str
    base_url: str
    smtp_connections: int
    nice: int
    log_level: str
    log_format: LogFormat
    send_timeout: float = SEND_TIMEOUT
    idle_poll: float = 30.0

    def line(self) -> bytes:
        return json.dumps(asdict(self)).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> MailerRequest:
        return cls(**json.loads(line))


class LineReader:
    """Lines of a trio ``ReceiveStream`` (without their ``\\n``); each at most
    ``MAX_LINE_BYTES``."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self._buffer = bytearray()

    async def next(self) -> bytes | None:
        """The next line; None at the end of the stream (a last unterminated part is lost:
        the writer died in the middle of it). ValueError for an overlong line."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ValueError(f"a line longer than {MAX_LINE_BYTES} bytes")
            data = await self.stream.receive_some(MAX_LINE_BYTES)
            if not data:
                return None
            self._buffer += data


class Tally:
    """The senders' ``SendMetrics``, kept until the next report."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()
        self.outbox: tuple[int, float] | None = None
        self.changed = trio.Event()

    def notification_sent(self, channel: str, result: str) -> None:
        self.sent[channel, result] += 1
        self.changed.set()

    def outbox_observed(self, depth: int, oldest_age_seconds: float) -> None:
        self.outbox = (depth, oldest_age_seconds)
        self.changed.set()

    def take(self) -> list[dict[str, Any]]:
        """The reports since the last ``take``."""
        reports: list[dict[str, Any]] = []
        if self.sent:
            reports.append({"sent": [[c, r, n] for (c, r), n in sorted(self.sent.items())]})
        if self.outbox is not None:
            reports.append({"outbox": list(self.outbox)})
        self.sent, self.outbox, self.changed = Counter(), None, trio.Event()
        return reports


async def write_json(stream: trio.abc.SendStream, value: Mapping[str, Any]) -> None:
    await stream.send_all(json.dumps(value, separators=(",", ":")).encode() + b"\n")


async def report(tally: Tally, stdout: trio.abc.SendStream) -> None:
    """Until the daemon stops reading (it is gone: standard input ends too)."""
    while True:
        await tally.changed.wait()
        try:
            for value in tally.take():
                await write_json(stdout, value)
        except trio.BrokenResourceError:
            return
        await trio.sleep(REPORT_SECONDS)  # a rate limit, not a synchronisation


def lower_priority(increment: int) -> bool:
    """``os.nice(increment)``; False (logged) where a seccomp filter forbids it — the shipped
    systemd unit's ``SystemCallFilter=~@resources`` does (docs/production.md)."""
    try:
        os.nice(increment)
    except PermissionError:
        log.warning(
            "the mail worker runs at the daemon's CPU priority: setpriority is not allowed",
            extra={"nice": increment},
        )
        return False
    return True


def lock_database(database: str) -> int:
    """Block until this process alone holds ``<database>.mail-lock``; its descriptor."""
    fd = os.open(f"{database}.mail-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


async def serve(stdin: trio.abc.ReceiveStream, stdout: trio.abc.SendStream) -> None:
    """Read the request, send emails, and exit the process when ``stdin`` ends."""
    lines = LineReader(stdin)
    first = await lines.next()
    if first is None:
        return
    request = MailerRequest.from_line(first)
    configure_logging(request.log_level, request.log_format, os.environ)
    lower_priority(request.nice)
    url = DatabaseUrl(request.dialect, request.database)
    if url.dialect == "sqlite":
        with trio.fail_after(LOCK_WAIT_SECONDS):
            await trio.to_thread.run_sync(lock_database, request.database, abandon_on_cancel=True)
    store = await trio.to_thread.run_sync(partial(SubscriptionStore.open, url, owner=request.owner))
    relay = SmtpRelay.from_url(request.smtp_url, connections=request.smtp_connections)
    render = MessageRender(request.page_name, request.base_url, request.mail_from)
    tally = Tally()
    async with trio.open_nursery() as nursery:
        outbox: Outbox = await nursery.start(
            partial(
                run_outbox,
                ThreadedOutbox(store),
                render,
                relay,
                None,
                webhook_concurrency=0,
                smtp_connections=request.smtp_connections,
                channel="email",
                metrics=tally,
                send_timeout=request.send_timeout,
                idle_poll=request.idle_poll,
            )
        )
        await write_json(stdout, {"ready": os.getpid()})
        nursery.start_soon(report, tally, stdout)
        while (line := await lines.next()) is not None:
            if line == b"wake":
                outbox.wake()
        # The daemon is gone. Threads in a send cannot be cancelled; leave at once, so that
        # a restarted daemon's worker is the only one sending (what is in flight now is sent
        # again by it: at least once).
        log.info("the daemon is gone; the mail worker stops")
        logging.shutdown()
        os._exit(0)


def main() -> int:
    trio.run(serve, trio.lowlevel.FdStream(os.dup(0)), trio.lowlevel.FdStream(os.dup(1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
