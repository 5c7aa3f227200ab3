"""A crowd of open status pages in one trio process, for the benchmarks of issue 16.

    python -m bench.crowd --url http://127.0.0.1:8080 --pages 5000 --seconds 60 --out r.json

Each page behaves as ``web/js/api.js`` and ``web/app.js`` do: it loads ``/api`` on a
keep-alive connection of its own, opens ``/api/events``; on an event whose ETag it does not
hold, it fetches ``/api?v=<that ETag>`` with ``If-None-Match`` (a 404, no replica has made
that version yet: ``/api``, and it looks again after 0.5–1 s, at most 3 times), and
while the stream is up asks ``/api/sources`` every ``--poll`` seconds and revalidates ``/api``
every third time instead. Each of these document fetches that
got an answer is followed, on the same connection, by what the page's ``refreshAll`` asks
next: ``/api/verdicts`` with ``If-None-Match`` when the document changed (or the verdicts are
still pending, or unavailable for 5 min), then ``/api/sources``; when the stream is
refused (503), fails or ends, it polls ``/api`` every ``--poll`` seconds and opens the stream
again after the page's ``retryDelay`` (Retry-After, else 5 s, doubled per failure in a row,
at most 5 min, times [1, 2)). ``--no-stream`` pages only poll. Several processes can share
a crowd (``--first-page`` numbers their pages apart; ``bench.crowd_procs``); each records
its event loop's lag, so a generator too slow to keep up shows it.

Small HTTP/1.1 over raw sockets (no client library: 10,000 pages are 20,000 connections),
the descriptor limit raised with ``resource.setrlimit``. The process prints ``ready`` on
stdout once every page holds a document, runs ``--seconds`` in all (or until its stdin
closes: that is how the benchmark ends it), and writes its record:
every new document each page got (``time.monotonic()``, which other processes on the same
machine share), request counts and failures.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import resource
import socket
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import trio

RECV = 65536
REQUEST_DEADLINE = 8.0
"""The page's deadline for one request (web/js/api.js REQUEST_TIMEOUT_MS)."""
STREAM_OPEN_DEADLINE = 10.0
STREAM_SILENCE = 40.0
RETRY_BASE = 5.0
RETRY_MAX = 300.0
RECHECK = 0.5
RECHECKS = 3
LIVE_REVALIDATE_TICKS = 3
VERDICTS_RETRY = 300.0
"""Seconds before unavailable verdicts are asked for again (web/app.js VERDICTS_RETRY_MS)."""
RAMP_PER_SECOND = 250
"""New pages opened per second at the start, unless ``--ramp`` says otherwise (a crowd
arrives over seconds; faster than statusd can accept on a shared 2-core machine, the
kernel's accept queue overflows and the pages' first requests time out)."""
LAG_TICK = 0.01
LAG_KEPT = 0.05
"""The event loop's lag is sampled every ``LAG_TICK`` s; lags of ``LAG_KEPT`` s or more are
kept: a crowd whose own loop lags is measuring itself, not the servers."""
SOURCE_ADDRESSES = 50
"""Client sockets are spread over 127.0.0.2…: 20,000 connections to one port need more
ephemeral ports than one source address has."""


def same_document(etag: str) -> str:
    """The document an ETag names, whatever the encoding (statusd's gzip ETag ends in -gz,
    events carry the plain one): the page's ``sameTag``."""
    return etag.removeprefix("W/").replace('"', "").removesuffix("-gz")


def failed_request(target: str, held: str, *, connecting: bool, reason: str) -> str:
    """A failed request's name in the record: which one (the page's first ``/api``, a later
    ``/api``, an event's ``/api?v=``, ``/api/verdicts``, ``/api/sources``), whether it failed
    connecting or on the connection, and why (bench/crowd_go failedRequest)."""
    if target.startswith("/api?v="):
        which = "/api?v="
    elif target == "/api" and not held:
        which = "first /api"
    else:
        which = target
    return f"{which} {'connect' if connecting else 'exchange'}: {reason}"


class HttpError(Exception):
    """A request got no complete HTTP answer."""


def retry_delay(retry_after: float, failures: int, draw: float) -> float:
    """The page's wait before the next stream attempt (web/js/api.js ``retryDelay``)."""
    base = retry_after if retry_after > 0 else RETRY_BASE
    backoff: float = min(RETRY_MAX, base * 2 ** max(0, failures - 1))
    return backoff * (1 + draw)


@dataclass
class Record:
    """What the crowd saw, for the JSON report."""

    started: float = field(default_factory=time.monotonic)
    documents: list[tuple[int, float, str]] = field(default_factory=list)
    """(page, monotonic time, ETag) each time a page got a document it did not hold."""
    events: list[tuple[int, float, str]] = field(default_factory=list)
    """(page, monotonic time, ETag) of every event naming a document the page did not hold."""
    api_requests: int = 0
    """Requests of the document: ``/api`` and ``/api?v=``."""
    verdicts_requests: int = 0
    sources_requests: int = 0
    api_failed: Counter[str] = field(default_factory=Counter)
    """Failed requests of every kind (the document, verdicts, sources) by reason."""
    failed_requests: Counter[str] = field(default_factory=Counter)
    """Failed requests by :func:`failed_request`: which one, at which stage, why."""
    streams_opened: int = 0
    streams_refused: int = 0
    stream_failures: Counter[str] = field(default_factory=Counter)
    loop_lags: list[tuple[float, float]] = field(default_factory=list)
    """(monotonic time, seconds late) of every tick of the lag watch that was late."""
    ready_pages: int = 0
    failed_on_arrival: int = 0
    """Failed /api requests until every page had arrived (the rest: while they were open)."""

    def as_json(self, pages: int, first_page: int) -> dict[str, object]:
        return {
            "pages": pages,
            "first_page": first_page,
            "started": self.started,
            "api_requests": self.api_requests,
            "verdicts_requests": self.verdicts_requests,
            "sources_requests": self.sources_requests,
            "api_failed": sum(self.api_failed.values()),
            "api_failed_by_reason": dict(self.api_failed),
            "api_failed_by_request": dict(self.failed_requests),
            "api_failed_on_arrival": self.failed_on_arrival,
            "api_failed_while_open": sum(self.api_failed.values()) - self.failed_on_arrival,
            "streams_opened": self.streams_opened,
            "streams_refused": self.streams_refused,
            "stream_failures": dict(self.stream_failures),
            "documents": self.documents,
            "events": self.events,
            "loop_lags": self.loop_lags,
        }


class Connection:
    """One HTTP/1.1 connection with a read buffer, on a non-blocking stdlib socket driven by
    trio's ``wait_readable``/``wait_writable``: without a ``trio.SocketStream``'s checkpoints
    around every send and receive, one process keeps up with more pages."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.used = False

    @classmethod
    async def open(cls, host: str, port: int, local: str) -> Connection:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.bind((local, 0))
            error = sock.connect_ex((host, port))
            if error == errno.EINPROGRESS:
                await trio.lowlevel.wait_writable(sock)
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, os.strerror(error))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def close(self) -> None:
        """Close at once (also mid-exchange: the connection is unusable then)."""
        if self.sock.fileno() >= 0:
            trio.lowlevel.notify_closing(self.sock)
            self.sock.close()

    async def receive(self) -> bytes:
        """What the peer sent next (b"" when it closed)."""
        while True:
            try:
                return self.sock.recv(RECV)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self.sock)

    async def send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self.sock)

    async def read_until(self, marker: bytes) -> int:
        """Read until ``marker`` is buffered; its offset."""
        while marker not in self.buffer:
            chunk = await self.receive()
            if not chunk:
                raise HttpError(f"closed before {marker!r}")
            self.buffer += chunk
        return self.buffer.index(marker)

    async def read_head(self) -> tuple[int, dict[bytes, bytes]]:
        end = await self.read_until(b"\r\n\r\n")
        lines = bytes(self.buffer[:end]).split(b"\r\n")
        del self.buffer[: end + 4]
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"bad status line {lines[0]!r}") from None
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    async def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = await self.receive()
            if not chunk:
                raise HttpError("closed inside a body")
            self.buffer += chunk
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def read_line(self) -> bytes:
        end = await self.read_until(b"\r\n")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    async def read_chunk(self) -> bytes:
        """The next chunk of a chunked body (b"" at its end)."""
        size = int(((await self.read_line()).split(b";")[0]).strip() or b"0", 16)
        data = await self.read_exactly(size) if size else b""
        await self.read_line()
        return data

    async def read_body(self, status: int, headers: dict[bytes, bytes]) -> bytes:
        if status == 304 or status < 200:
            return b""
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while part := await self.read_chunk():
                parts.append(part)
            return b"".join(parts)
        return await self.read_exactly(int(headers.get(b"content-length", b"0")))


class Page:
    """One open page."""

    def __init__(self, index: int, crowd: Crowd) -> None:
        self.index = index
        self.crowd = crowd
        self.etag = ""
        """The document held (``same_document`` of the ETag it came with)."""
        self.validator = ""
        """That ETag as received, for If-None-Match."""
        self.api: Connection | None = None
        self.failures = 0
        self.lock = trio.Lock()
        self.queued = False
        """A fetch waits for the one in flight: later asks join it (web/js/api.js Client)."""
        self.announced = ""
        """The ETag the newest event named."""
        self.wanted = ""
        """The version the next fetch asks for (set by an event and by its rechecks)."""
        self.rechecking = False
        self.revalidate = False
        """The next fetch revalidates /api even when it holds the version wanted."""
        self.verdicts = "pending"
        """The page's ``verdictsState``: "pending", "available" or "unavailable"."""
        self.verdicts_validator = ""
        """The ETag of the verdicts held (available), for If-None-Match."""
        self.verdicts_tried = 0.0
        """When /api/verdicts was last asked for (trio's clock)."""

    async def connect(self) -> Connection:
        local = f"127.0.0.{2 + self.index % SOURCE_ADDRESSES}"
        return await Connection.open(self.crowd.host, self.crowd.port, local)

    async def fetch_api(self, *, revalidate: bool = True) -> None:
        """``GET /api`` with If-None-Match (``revalidate``), or the version an event named;
        a reused connection the server closed meanwhile is retried once on a new one, as
        browsers do. Asks made while one fetch waits for the one in flight are coalesced
        into it, as the page's request queue does."""
        self.revalidate = self.revalidate or revalidate
        if self.queued:
            return
        self.queued = True
        try:
            await self.lock.acquire()
        finally:
            self.queued = False  # also when cancelled while waiting
        await self._holding_lock(self._refresh)

    async def refresh_sources(self) -> None:
        """``/api/sources`` alone (the page's ``refreshSources``), queued behind the fetch in
        flight as the page's request queue does."""
        await self.lock.acquire()
        await self._holding_lock(self._fetch_sources)

    async def _holding_lock(self, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` and release the lock taken for it."""
        try:
            await job()
        except trio.Cancelled:
            if self.api is not None:  # cut mid-exchange: the connection is unusable
                self.api.close()
                self.api = None
            raise
        finally:
            self.lock.release()

    async def _refresh(self) -> None:
        """The page's ``refreshAll``: the document, then (when it answered) the verdicts and
        the sources; a request with no answer ends the refresh, as the page's Unreachable
        does."""
        answer = await self._fetch_document()
        if answer is not None and await self._fetch_verdicts(changed=self._take(answer)):
            await self._fetch_sources()

    async def _fetch_sources(self) -> None:
        self.crowd.record.sources_requests += 1
        sources = await self._exchange("/api/sources", "")
        if sources is not None:
            self._good_status(sources[0])

    async def _fetch_document(self) -> tuple[int, str] | None:
        """The page's ``fetchDocument``: ``/api?v=<ETag>`` when an event (or its recheck)
        named a document this page does not hold (a 404, no replica has made it yet: plain
        /api); nothing (None) when it holds it by now and no revalidation was asked for."""
        record = self.crowd.record
        version, self.wanted = self.wanted, ""
        revalidate, self.revalidate = self.revalidate, False
        if version and version != self.etag:
            record.api_requests += 1
            answer = await self._exchange(f"/api?v={version}", self.validator)
            if answer is None or answer[0] != 404:
                return answer
        elif not revalidate:
            return None  # the event's document came with the answer before (the other replica's)
        record.api_requests += 1
        return await self._exchange("/api", self.validator)

    async def _fetch_verdicts(self, *, changed: bool) -> bool:
        """The page's ``fetchVerdicts``: ``/api/verdicts``, conditional on the verdicts held,
        when they are pending, available and the document ``changed``, or unavailable for
        ``VERDICTS_RETRY`` s; False when it was asked and got no answer."""
        now = trio.current_time()
        due = (
            self.verdicts == "pending"
            or (self.verdicts == "available" and changed)
            or (self.verdicts == "unavailable" and now - self.verdicts_tried >= VERDICTS_RETRY)
        )
        if not due:
            return True
        self.verdicts_tried = now
        self.crowd.record.verdicts_requests += 1
        answer = await self._exchange("/api/verdicts", self.verdicts_validator)
        if answer is None:
            return False
        status, validator = answer
        if status != 304:
            available = self._good_status(status)  # 200: the page reads them
            self.verdicts = "available" if available else "unavailable"
            self.verdicts_validator = validator if available else ""
        return True

    async def _exchange(self, target: str, validator: str) -> tuple[int, str] | None:
        """One GET (status and ETag), with If-None-Match ``validator`` unless empty; None when
        it failed (counted in the record)."""
        for attempt in (1, 2):
            reused = self.api is not None and self.api.used
            connecting = self.api is None
            try:
                with trio.fail_after(REQUEST_DEADLINE):
                    if self.api is None:
                        self.api = await self.connect()
                    connecting = False
                    return await self._get(self.api, target, validator)
            except (OSError, trio.BrokenResourceError, HttpError, trio.TooSlowError) as error:
                if self.api is not None:
                    self.api.close()
                    self.api = None
                if reused and attempt == 1 and not isinstance(error, trio.TooSlowError):
                    continue
                reason = type(error).__name__
                self.crowd.record.api_failed[reason] += 1
                request = failed_request(target, self.etag, connecting=connecting, reason=reason)
                self.crowd.record.failed_requests[request] += 1
        return None

    def _good_status(self, status: int) -> bool:
        """Whether an answer's status is 200 or 304; another is counted as failed."""
        if status in (200, 304):
            return True
        self.crowd.record.api_failed[f"status {status}"] += 1
        return False

    def _take(self, answer: tuple[int, str]) -> bool:
        """Hold the document an answer brought, if it is a new one (True: it changed)."""
        status, validator = answer
        if not self._good_status(status):
            return False
        etag = same_document(validator)
        if status != 200 or etag == self.etag:
            return False
        self.etag, self.validator = etag, validator
        self.crowd.record.documents.append((self.index, time.monotonic(), etag))
        return True

    async def _get(self, conn: Connection, target: str, validator: str) -> tuple[int, str]:
        head = f"GET {target} HTTP/1.1\r\nHost: {self.crowd.host_header}\r\n"
        head += "Accept: application/json\r\nAccept-Encoding: gzip\r\n"
        if validator:
            head += f"If-None-Match: {validator}\r\n"
        await conn.send_all((head + "\r\n").encode())
        conn.used = True
        status, headers = await conn.read_head()
        await conn.read_body(status, headers)
        if headers.get(b"connection", b"").lower() == b"close":
            conn.close()
            self.api = None
        return status, headers.get(b"etag", b"").decode()

    async def on_event(self, etag: str, nursery: trio.Nursery) -> None:
        if etag == self.etag:
            return
        self.announced = self.wanted = etag
        await self.fetch_api(revalidate=False)
        if etag != self.etag and not self.rechecking:
            self.rechecking = True
            nursery.start_soon(self.recheck)

    async def recheck(self) -> None:
        """Ask again while the page does not hold the version the newest event named (one
        chain per page; a newer event takes it over, as the page's rechecks do)."""
        try:
            for _ in range(RECHECKS):
                await trio.sleep(RECHECK * (1 + random.random()))
                if self.announced == self.etag:
                    break
                self.wanted = self.announced
                await self.fetch_api(revalidate=False)
        finally:
            self.rechecking = False

    async def stream(self, nursery: trio.Nursery) -> float:
        """Hold the event stream until it ends; the server's Retry-After (0 if none)."""
        conn: Connection | None = None
        try:
            with trio.fail_after(STREAM_OPEN_DEADLINE):
                conn = await self.connect()
                request = f"GET /api/events HTTP/1.1\r\nHost: {self.crowd.host_header}\r\n"
                await conn.send_all(f"{request}Accept: text/event-stream\r\n\r\n".encode())
                status, headers = await conn.read_head()
        except (OSError, trio.BrokenResourceError, HttpError, trio.TooSlowError) as error:
            if conn is not None:
                conn.close()
            self.crowd.record.stream_failures[f"open {type(error).__name__}"] += 1
            return 0.0
        try:
            if status != 200:
                if status == 503:
                    self.crowd.record.streams_refused += 1
                else:
                    self.crowd.record.stream_failures[f"status {status}"] += 1
                return float(headers.get(b"retry-after", b"0") or 0)
            self.crowd.record.streams_opened += 1
            self.failures = 0
            nursery.start_soon(self.fetch_api)  # the page refreshes when the stream opens
            chunked = headers.get(b"transfer-encoding", b"").lower() == b"chunked"
            pending = b""
            try:
                while True:
                    with trio.fail_after(STREAM_SILENCE):
                        if chunked:
                            data = await conn.read_chunk()
                        else:
                            data = bytes(conn.buffer) or await conn.receive()
                            conn.buffer.clear()
                    if not data:
                        self.crowd.record.stream_failures["ended"] += 1
                        return 0.0
                    *events, pending = (pending + data).replace(b"\r\n", b"\n").split(b"\n\n")
                    for event in events:
                        for line in event.split(b"\n"):
                            if line.startswith(b"data:"):
                                etag = same_document(line[5:].strip().decode())
                                if etag != self.etag:  # else old news: no task for it
                                    self.crowd.record.events.append(
                                        (self.index, time.monotonic(), etag)
                                    )
                                    nursery.start_soon(self.on_event, etag, nursery)
            except (OSError, trio.BrokenResourceError, HttpError, trio.TooSlowError) as error:
                self.crowd.record.stream_failures[type(error).__name__] += 1
                return 0.0
        finally:
            conn.close()

    async def while_live(self) -> None:
        """The page's ``onTick`` while the stream is up: every ``--poll`` seconds
        ``/api/sources``, and every third tick the full refresh instead, which revalidates
        ``/api`` (the page's safety net against a missed event). The page also asks for the
        verdicts when a source changed state; the bench reads no body, so it leaves that
        rare request out."""
        tick = 0
        while True:
            await trio.sleep(self.crowd.poll)
            tick += 1
            if tick % LIVE_REVALIDATE_TICKS == 0:
                await self.fetch_api()
            else:
                await self.refresh_sources()

    async def run(self, ready: trio.Event) -> None:
        async with trio.open_nursery() as nursery:
            await self.fetch_api()
            self.crowd.page_ready(ready)
            while True:
                if self.crowd.use_streams:
                    async with trio.open_nursery() as live:
                        live.start_soon(self.while_live)
                        retry_after = await self.stream(nursery)
                        live.cancel_scope.cancel()
                    self.failures += 1
                    wait = retry_delay(retry_after, self.failures, random.random())
                else:
                    wait = self.crowd.seconds
                with trio.move_on_after(wait):
                    while True:
                        await trio.sleep(self.crowd.poll)
                        await self.fetch_api()


class Crowd:
    def __init__(
        self,
        url: str,
        pages: int,
        seconds: float,
        poll: float,
        streams: bool,
        ramp: int,
        first_page: int = 0,
    ) -> None:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise SystemExit(f"--url needs a host and a port: {url}")
        self.host, self.port = parts.hostname, parts.port
        self.host_header = parts.netloc
        self.pages = pages
        self.seconds = seconds
        self.poll = poll
        self.use_streams = streams
        self.ramp = ramp
        self.first_page = first_page
        self.record = Record()

    def page_ready(self, ready: trio.Event) -> None:
        self.record.ready_pages += 1
        if self.record.ready_pages == self.pages:
            self.record.failed_on_arrival = sum(self.record.api_failed.values())
            ready.set()

    async def run(self) -> None:
        ready = trio.Event()
        with trio.move_on_after(self.seconds):
            async with trio.open_nursery() as nursery:

                async def until_stdin_closes() -> None:
                    async with trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())) as stdin:
                        while await stdin.receive_some():
                            pass
                    nursery.cancel_scope.cancel()

                async def announce() -> None:
                    await ready.wait()
                    print("ready", flush=True)

                nursery.start_soon(announce)
                nursery.start_soon(until_stdin_closes)
                nursery.start_soon(self.watch_loop)
                for index in range(self.pages):
                    nursery.start_soon(Page(self.first_page + index, self).run, ready)
                    if index % 50 == 49:
                        await trio.sleep(50 / self.ramp)

    async def watch_loop(self) -> None:
        """Record how late this process's own event loop wakes up (``Record.loop_lags``)."""
        while True:
            asked = time.monotonic()
            await trio.sleep(LAG_TICK)
            woke = time.monotonic()
            if woke - asked - LAG_TICK >= LAG_KEPT:
                self.record.loop_lags.append((woke, woke - asked - LAG_TICK))


def raise_file_limit(needed: int) -> None:
    """Enough descriptors for every page's two connections (root may raise the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, max(hard, needed)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crowd", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pages", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--poll", type=float, default=10.0, help="the page's ?poll= (s)")
    parser.add_argument("--no-stream", action="store_true", help="pages only poll")
    parser.add_argument("--ramp", type=int, default=RAMP_PER_SECOND, help="pages per second")
    parser.add_argument(
        "--first-page", type=int, default=0, help="number of the first page (several processes)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    raise_file_limit(2 * args.pages + 256)
    crowd = Crowd(
        args.url,
        args.pages,
        args.seconds,
        args.poll,
        not args.no_stream,
        args.ramp,
        args.first_page,
    )
    trio.run(crowd.run)
    args.out.write_text(json.dumps(crowd.record.as_json(args.pages, args.first_page)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
