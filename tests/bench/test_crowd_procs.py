"""The crowd client the harness runs (``bench.crowd_procs``): the Python one, or the Go one
(``bench/crowd_go``) when asked for and ``go`` is on PATH; both speak the same protocol and
write the same record, in the clock the harness reads (``time.monotonic()``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from bench import crowd
from bench.crowd import failed_request
from bench.crowd_procs import PYTHON_CLIENT, Client, Crowd, crowd_client
from bench.procs import ROOT, run_simulator, run_statusd

PAGES = 3
RECORD_KEYS = {
    "pages",
    "first_page",
    "started",
    "processes",
    "client",
    "api_requests",
    "verdicts_requests",
    "sources_requests",
    "api_failed",
    "api_failed_by_reason",
    "api_failed_by_request",
    "api_failed_on_arrival",
    "api_failed_while_open",
    "streams_opened",
    "streams_refused",
    "stream_failures",
    "documents",
    "events",
    "loop_lags",
}
CLIENTS = ["python"] + (["go"] if shutil.which("go") else [])
"""The Go client is exercised where Go is installed (``make bench-tools``); ``make test``
itself needs no Go."""


def test_a_failed_request_is_named_by_which_stage_and_reason() -> None:
    assert failed_request("/api", "", connecting=True, reason="TooSlowError") == (
        "first /api connect: TooSlowError"
    )
    assert failed_request("/api", "abc", connecting=False, reason="HttpError") == (
        "/api exchange: HttpError"
    )
    assert failed_request("/api?v=abc", "", connecting=False, reason="OSError") == (
        "/api?v= exchange: OSError"
    )
    assert failed_request("/api/sources", "", connecting=False, reason="TooSlowError") == (
        "/api/sources exchange: TooSlowError"
    )
    assert failed_request("/api/verdicts", "abc", connecting=True, reason="OSError") == (
        "/api/verdicts connect: OSError"
    )


def test_python_client_unless_go_is_asked_for(tmp_path: Path) -> None:
    assert crowd_client(tmp_path, go=False) == PYTHON_CLIENT
    assert not (tmp_path / "crowd-go").exists()


def test_python_client_when_go_is_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert crowd_client(tmp_path, go=True) == PYTHON_CLIENT


def _client(name: str, workdir: Path) -> Client:
    client = crowd_client(workdir, go=name == "go")
    assert client.name.startswith(name)
    return client


@pytest.mark.parametrize("name", CLIENTS)
def test_client_pages_hold_documents_and_streams(name: str, tmp_path: Path) -> None:
    client = _client(name, tmp_path)
    launched = time.monotonic()
    with (
        run_simulator(tmp_path, "--seed", "1") as sim,
        run_statusd(tmp_path, sim) as statusd,
        Crowd(tmp_path, statusd.url, PAGES, poll=2.0, first_page=7, client=client) as crowd,
    ):
        crowd.wait_ready()
        record = crowd.finish()
    assert set(record) == RECORD_KEYS
    assert record["client"] == client.name
    assert launched <= record["started"] <= time.monotonic()
    assert {page for page, _, _ in record["documents"]} == {7, 8, 9}
    assert all(launched <= at <= time.monotonic() for _, at, _ in record["documents"])
    assert record["api_failed"] == 0
    assert record["api_requests"] >= PAGES
    assert record["verdicts_requests"] >= PAGES  # each page's first refresh asks for them
    assert record["sources_requests"] >= PAGES


@pytest.mark.parametrize("name", CLIENTS)
def test_a_live_page_asks_the_sources_each_tick_and_the_document_every_third(
    name: str, tmp_path: Path
) -> None:
    """web/app.js onTick while the stream is up: /api/sources every tick, and every third
    tick the full refresh (/api, then /api/sources) instead."""
    client = _client(name, tmp_path)
    with (
        run_simulator(tmp_path, "--seed", "1") as sim,
        run_statusd(tmp_path, sim) as statusd,
        Crowd(tmp_path, statusd.url, 1, poll=0.1, client=client) as crowd,
    ):
        crowd.wait_ready()
        time.sleep(2.0)  # about 20 ticks; the assertions hold for any number of them
        record = crowd.finish()
    assert record["streams_opened"] == 1
    # Before the ticks: the first refresh and the one when the stream opened.
    ticks = record["sources_requests"] - 2
    full_refreshes = record["api_requests"] - 2
    assert ticks >= 3
    assert full_refreshes in (ticks // 3, ticks // 3 + 1)  # the last may not have reached sources
    assert record["api_failed"] == 0


@dataclass(frozen=True, slots=True)
class Step:
    """One request a page is expected to make, and the scripted server's answer."""

    target: str
    validator: str
    """The If-None-Match expected ("": none)."""
    status: int
    """The answer's status; 0: the connection is closed without one."""
    etag: str = ""


class ScriptedServer:
    """Answers a page's requests by ``steps`` in order and logs each (connection number,
    target, If-None-Match); the request after the last step is held unanswered and sets
    ``done``."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.seen: list[tuple[int, str, str]] = []
        self.connections = 0
        self.done = trio.Event()

    async def handle(self, stream: trio.SocketStream) -> None:
        number, self.connections = self.connections, self.connections + 1
        buffer = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = await stream.receive_some()
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                request, *lines = head.decode().split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines)
                }
                self.seen.append((number, request.split(" ")[1], headers.get("if-none-match", "")))
                if len(self.seen) > len(self.steps):
                    self.done.set()
                    await trio.sleep_forever()
                step = self.steps[len(self.seen) - 1]
                if step.status == 0:
                    return
                etag = f"ETag: {step.etag}\r\n" if step.etag else ""
                body = "" if step.status == 304 else "Content-Length: 2\r\n\r\n{}"
                answer = f"HTTP/1.1 {step.status} X\r\n{etag}{body or chr(13) + chr(10)}"
                await stream.send_all(answer.encode())


async def serve_script(nursery: trio.Nursery, server: ScriptedServer) -> str:
    """Start ``server`` on a free loopback port; its URL."""
    listeners = await nursery.start(partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1"))
    return f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"


D1, D2, D3, D4, D5, V1 = '"d1"', '"d2"', '"d3"', '"d4"', '"d5"', '"v1"'
AFTER_EACH_DOCUMENT = [
    Step("/api", "", 200, D1),  # the first refresh: the document,
    Step("/api/verdicts", "", 200, V1),  # the verdicts (pending: no validator),
    Step("/api/sources", "", 200),  # then the sources, all on one connection
    Step("/api", D1, 304),  # unchanged: no verdicts, the sources
    Step("/api/sources", "", 200),
    Step("/api", D1, 200, D2),  # changed: the verdicts, conditional
    Step("/api/verdicts", V1, 304),
    Step("/api/sources", "", 0),  # closed: retried once on a new connection, closed again
    Step("/api/sources", "", 0),
    Step("/api", D2, 200, D3),  # the next poll, on a new connection
    Step("/api/verdicts", V1, 0),
    Step("/api/verdicts", V1, 0),  # no answer: the refresh ends, no /api/sources
    Step("/api", D3, 304),  # the verdicts held are still good: only the sources
    Step("/api/sources", "", 200),
    Step("/api", D3, 200, D4),
    Step("/api/verdicts", V1, 503),  # unavailable (a failure); the refresh goes on
    Step("/api/sources", "", 200),
    Step("/api", D4, 200, D5),  # changed, but unavailable verdicts wait 5 min
    Step("/api/sources", "", 200),
]
"""What web/app.js refreshAll asks after each /api, step by step."""


@pytest.mark.parametrize("name", CLIENTS)
async def test_client_asks_verdicts_and_sources_after_each_document(
    name: str, tmp_path: Path
) -> None:
    """After every /api that answered, the page asks /api/verdicts (when the document
    changed, conditional on the verdicts it holds) and then /api/sources, on the same
    keep-alive connection; a request with no answer ends that refresh and is counted by
    name; the record counts each kind of request."""
    client = _client(name, tmp_path)
    server = ScriptedServer(AFTER_EACH_DOCUMENT)
    out = tmp_path / "record.json"
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            url = await serve_script(nursery, server)
            command = [*client.command, "--url", url, "--pages", "1", "--seconds", "60"]
            command += ["--poll", "0.05", "--no-stream", "--out", str(out)]
            process = await trio.lowlevel.open_process(
                command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
            )
            with trio.move_on_after(30):
                await server.done.wait()
            assert process.stdin is not None
            await process.stdin.aclose()
            assert await process.wait() == 0
            nursery.cancel_scope.cancel()
    steps = AFTER_EACH_DOCUMENT
    assert [(target, inm) for _, target, inm in server.seen] == [
        *((step.target, step.validator) for step in steps),
        ("/api", D5),  # held unanswered until the crowd ended
    ]
    assert [number for number, _, _ in server.seen[: len(steps)]] == [0] * 8 + [1, 2, 2, 3] + [
        4
    ] * 7
    record = json.loads(await trio.Path(out).read_text())
    assert [etag for _, _, etag in record["documents"]] == ["d1", "d2", "d3", "d4", "d5"]
    assert (record["api_requests"], record["verdicts_requests"], record["sources_requests"]) == (
        8,
        4,
        6,
    )
    assert record["api_failed_by_request"] == {
        "/api/sources exchange: HttpError": 1,
        "/api/verdicts exchange: HttpError": 1,
    }
    assert record["api_failed_by_reason"] == {"HttpError": 2, "status 503": 1}


async def test_unavailable_verdicts_are_asked_again_after_five_minutes(
    mock_clock: trio.testing.MockClock,
) -> None:
    """Verdicts that came with an error are not asked for again before VERDICTS_RETRY s,
    changed document or not; then without a validator (the Python page, on trio's clock)."""
    steps = [
        Step("/api", "", 200, D1),
        Step("/api/verdicts", "", 503),
        Step("/api/sources", "", 200),
        Step("/api", D1, 200, D2),
        Step("/api/sources", "", 200),
        Step("/api", D2, 304),
        Step("/api/verdicts", "", 200, V1),
        Step("/api/sources", "", 200),
    ]
    server = ScriptedServer(steps)
    async with trio.open_nursery() as nursery:
        url = await serve_script(nursery, server)
        page = crowd.Page(0, crowd.Crowd(url, 1, 60.0, 10.0, False, 1))
        await page.fetch_api()
        mock_clock.jump(crowd.VERDICTS_RETRY - 1)
        await page.fetch_api()
        mock_clock.jump(1)
        await page.fetch_api()
        if page.api is not None:
            page.api.close()
        nursery.cancel_scope.cancel()
    assert [(target, inm) for _, target, inm in server.seen] == [
        (step.target, step.validator) for step in steps
    ]
    assert page.crowd.record.verdicts_requests == 2
