"""The local SMTP sink of the notification benchmark, in a process of its own, and the plain
smtplib client that measures the sink's own rate.

    python -m bench.notify_sink --listen 127.0.0.1:PORT --status FILE [--sample FILE]

An ``aiosmtpd`` server on asyncio in the main thread (no controller thread): it accepts
every recipient and every message, keeps nothing but counts (accepted messages, distinct
``Message-ID``s, ``Message-ID``s seen twice, the wall time of the first and the last
acceptance) and writes them as JSON to ``--status`` (atomically, at most every
``STATUS_EVERY`` seconds and once more at exit). It runs apart from statusd so that the two
do not share a GIL; SIGSTOP / SIGCONT pause and resume it.

``blast`` is the comparison: the same sink fed by ``smtplib`` from ``connections`` threads,
each over kept connections of ``MAX_PER_CONNECTION`` messages, as statusd's relay keeps them;
its messages carry no ``Message-ID`` (they are counted, not checked for duplicates).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import smtplib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from statusd.deliver.smtp import MAX_PER_CONNECTION

STATUS_EVERY = 0.05
"""Seconds between two writes of the status file while messages arrive."""
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace ``path`` with ``status`` as JSON (readers never see half a file)."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(status))
    os.replace(partial, path)


def read_status(path: Path) -> dict[str, Any]:
    """The last status a peer wrote (empty before its first write)."""
    try:
        status: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return status


class CountingSink:
    """The aiosmtpd handler: counts, stores no message."""

    def __init__(self) -> None:
        self.accepted = 0
        self.seen: set[str] = set()
        self.duplicates = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.connections = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        now = time.time()
        header = MESSAGE_ID.search(envelope.original_content or b"")
        if header is not None:
            message_id = header.group(1).decode("ascii", "replace")
            if message_id in self.seen:
                self.duplicates += 1
            self.seen.add(message_id)
        self.accepted += 1
        self.first_at = self.first_at or now
        self.last_at = now
        return "250 2.0.0 Message accepted"

    def status(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "distinct": len(self.seen),
            "duplicates": self.duplicates,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "connections": self.connections,
            "written_at": time.time(),
        }


async def serve(host: str, port: int, status_path: Path) -> None:
    sink = CountingSink()

    def protocol() -> SMTP:
        sink.connections += 1
        return SMTP(sink, hostname="sink.bench", ident="bench-sink")

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, host, port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    written = -1
    async with server:
        write_status(status_path, sink.status())
        while not stop.is_set():
            if sink.accepted != written:
                written = sink.accepted
                write_status(status_path, sink.status())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATUS_EVERY)
    write_status(status_path, sink.status())


def blast(port: int, message: bytes, count: int, connections: int, timeout: float = 30.0) -> float:
    """Send ``count`` copies of ``message`` (distinct recipients) to the sink on ``port`` from
    ``connections`` threads with smtplib; the wall seconds taken."""

    def worker(first: int) -> None:
        numbers = range(first, count, connections)
        for start in range(0, len(numbers), MAX_PER_CONNECTION):
            with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
                for number in numbers[start : start + MAX_PER_CONNECTION]:
                    client.sendmail("bench@statusd.example", f"u{number}@blast.example", message)

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        for done in [pool.submit(worker, first) for first in range(connections)]:
            done.result()
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--status", type=Path, required=True, help="JSON counts, rewritten")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    asyncio.run(serve(host, int(port), args.status))


if __name__ == "__main__":
    main()
