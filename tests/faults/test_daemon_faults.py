"""Faults of the daemon itself: SIGTERM under load and with hanging collectors and open
event streams, and a restart after the saved data has aged past ``stale_after``.

(The port already in use and the restart while every source is down are covered by
``tests/e2e``; docs/reliability.md names those tests.)
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.processes import launch_statusd
from tests.support.simulator_process import SimulatorProcess, run_simulator
from tests.support.statusd_process import StatusdProcess

pytestmark = pytest.mark.e2e

EXIT_WITHIN = 6.0
"""SIGTERM to exit, at most (SPEC §5: in-flight responses get at most 5 s)."""


def statusd_args(sim: SimulatorProcess, state_dir: Path, *extra: str) -> tuple[str, ...]:
    return (
        "--data-dir",
        str(sim.data_dir),
        "--source-url",
        sim.url,
        "--state-dir",
        str(state_dir),
        *extra,
    )


def wait_exit(statusd: StatusdProcess, timeout: float) -> tuple[int, float]:
    """The exit status after SIGTERM, and how long it took."""
    started = time.monotonic()
    statusd.process.send_signal(signal.SIGTERM)
    try:
        code = statusd.process.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no exit within {timeout} s:\n{statusd.log()}") from None
    return code, time.monotonic() - started


def open_request(port: int, target: str, *, receive_buffer: int | None = None) -> socket.socket:
    """A raw connection that has sent ``GET target`` (small receive buffer: a slow reader)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n".encode()
    )
    return sock


def read_head(sock: socket.socket, at_least: int) -> tuple[int, dict[str, str], bytearray]:
    """Status, headers and the first ``at_least`` bytes (or more) of the body."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the response head"
        data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    rest = bytearray(body)
    while len(rest) < at_least:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest


def read_to_end(sock: socket.socket, body: bytearray, length: int) -> bytes:
    while len(body) < length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        body += chunk
    return bytes(body)


@pytest.fixture(scope="module")
def big_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    """A simulator with 4 500 rows per source: /api is over two megabytes, far more than
    the socket buffers of a slow reader hold, so a response stays in flight in statusd."""
    with run_simulator(
        tmp_path_factory.mktemp("big") / "data", "--seed", "5", "--rows", "4500"
    ) as sim:
        yield sim


def test_sigterm_under_load_completes_in_flight_responses(
    big_sim: SimulatorProcess, tmp_path: Path
) -> None:
    """SIGTERM while several large /api responses are half sent to slow readers: every one
    of them still arrives whole, new connections are not served, and the exit status is 0."""
    with launch_statusd(tmp_path, *statusd_args(big_sim, tmp_path / "state")) as statusd:
        statusd.wait_ready(timeout=30)
        port = int(statusd.url.rsplit(":", 1)[1])
        readers = [open_request(port, "/api", receive_buffer=4096) for _ in range(5)]
        heads = [read_head(sock, at_least=65536) for sock in readers]
        lengths = [int(headers["content-length"]) for _, headers, _ in heads]
        assert min(lengths) > 2 * 1024 * 1024, "the document must exceed the socket buffers"
        assert all(status == 200 for status, _, _ in heads)
        assert all(len(body) < length for (_, _, body), length in zip(heads, lengths, strict=True))

        started = time.monotonic()
        statusd.process.send_signal(signal.SIGTERM)
        bodies = [
            read_to_end(sock, head[2], length)
            for sock, head, length in zip(readers, heads, lengths, strict=True)
        ]
        late = new_connection_is_served(port)
        try:
            code = statusd.process.wait(EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit within {EXIT_WITHIN} s:\n{statusd.log()}") from None
        elapsed = time.monotonic() - started
        for sock in readers:
            sock.close()
    assert [len(body) for body in bodies] == lengths
    assert all(json.loads(body)["status"] is True for body in bodies)
    assert not late, "a connection made after SIGTERM was served"
    assert code == 0
    assert elapsed < EXIT_WITHIN
    assert "Traceback" not in statusd.log()


def new_connection_is_served(port: int) -> bool:
    """Whether a brand-new connection gets an HTTP answer (it must not, once stopping)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def test_sigterm_with_hanging_sources_and_open_event_streams(tmp_path: Path) -> None:
    """Every HTTP source hangs and twenty browsers hold /api/events open: SIGTERM ends the
    streams cleanly and statusd exits 0 within 6 s."""
    hanging = ("mms", "support", "accendent")
    faults = [arg for endpoint in hanging for arg in ("--fault", f"{endpoint}=hang")]
    # A deadline as long as the interval: the first collections wait on the sources 30 s.
    with (
        run_simulator(tmp_path / "data", "--seed", "2", *faults) as sim,
        launch_statusd(
            tmp_path, *statusd_args(sim, tmp_path / "state", "--deadline", "30")
        ) as statusd,
    ):
        port = int(statusd.url.rsplit(":", 1)[1])
        streams = [open_request(port, "/api/events") for _ in range(20)]
        for sock in streams:
            status, headers, _first = read_head(sock, at_least=1)
            assert status == 200
            assert headers["content-type"].startswith("text/event-stream")
        sim.wait_hanging(*hanging)  # collections are now waiting on the hanging endpoints
        code, elapsed = wait_exit(statusd, EXIT_WITHIN)
        ends = [read_until_closed(sock) for sock in streams]
    assert code == 0
    assert elapsed < EXIT_WITHIN, elapsed
    assert all(end.endswith(b"0\r\n\r\n") for end in ends), ends[:3]  # chunked end, not a cut
    assert "Traceback" not in statusd.log()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything until the server closes (the socket timeout bounds it)."""
    data = bytearray()
    with sock:
        while chunk := sock.recv(65536):
            data += chunk
    return bytes(data)


def saved_sources(path: Path) -> int:
    """How many sources the state file holds (0 while it does not exist)."""
    try:
        return len(json.loads(path.read_bytes())["sources"])
    except FileNotFoundError:
        return 0


def test_restart_after_a_long_outage_serves_the_error_document(tmp_path: Path) -> None:
    """Saved results older than ``stale_after`` are kept for /api/sources but never served
    as current: after a restart during a long outage /api is the error document at once."""
    state_dir = tmp_path / "state"
    with (
        run_simulator(tmp_path / "data", "--seed", "6") as sim,
        launch_statusd(tmp_path, *statusd_args(sim, state_dir)) as statusd,
    ):
        statusd.wait_ready()
        statusd.wait_until(lambda: saved_sources(state_dir / "last-good.json") == 7)
        assert wait_exit(statusd, EXIT_WITHIN)[0] == 0
    time.sleep(1.5)  # the saved results are now older than the next run's stale_after
    with launch_statusd(
        tmp_path,
        "--data-dir",
        str(tmp_path / "gone"),
        "--source-url",
        "http://127.0.0.1:9",
        "--state-dir",
        str(state_dir),
        "--interval",
        "1",
        "--deadline",
        "0.5",
        "--stale-after",
        "1",
    ) as statusd:
        assert statusd.get("/api").json() == {
            "status": False,
            "data": None,
            "error": "Error on collect data",
        }
        assert statusd.get("/readyz").status_code == 503
        sources = statusd.get("/api/sources").json()["sources"]
        assert all(s["records"] > 0 and s["last_success"] for s in sources.values())
        assert not any(s["fresh"] for s in sources.values())


def test_more_than_twenty_thousand_records_keep_statusd_up(tmp_path: Path) -> None:
    """30 000 rows per source (about 120 000 records, so the public view is built in a worker
    thread): statusd becomes ready and stays up."""
    with (
        run_simulator(tmp_path / "data", "--seed", "5", "--rows", "30000") as sim,
        launch_statusd(tmp_path, *statusd_args(sim, tmp_path / "state")) as statusd,
    ):
        statusd.wait_ready(timeout=30)
        time.sleep(2.0)  # the verdicts, history and public documents are rebuilt meanwhile
        assert statusd.process.poll() is None, statusd.log()
        assert statusd.get("/api").json()["status"] is True
    assert "Traceback" not in statusd.log()


def test_idle_keep_alive_connection_is_closed_by_the_server(tmp_path: Path) -> None:
    """A browser's keep-alive connection left idle after /healthz is closed by statusd after
    its keep-alive timeout (5 s), so idle clients cannot pile up connections."""
    with launch_statusd(
        tmp_path, "--data-dir", str(tmp_path / "none"), "--source-url", "http://127.0.0.1:9"
    ) as statusd:
        port = int(statusd.url.rsplit(":", 1)[1])
        sock = open_request(port, "/healthz")
        status, headers, body = read_head(sock, at_least=0)
        assert status == 200
        read_to_end(sock, body, int(headers["content-length"]))
        sock.settimeout(8.0)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        finally:
            sock.close()
    assert closed, "the idle connection was still open 8 s later"


def test_sigterm_with_a_client_that_stopped_reading(
    big_sim: SimulatorProcess, tmp_path: Path
) -> None:
    """A client that requested the 2 MB /api and never reads: SIGTERM still ends statusd
    once the graceful timeout has passed, instead of waiting for that client forever."""
    with launch_statusd(tmp_path, *statusd_args(big_sim, tmp_path / "state")) as statusd:
        statusd.wait_ready(timeout=30)
        port = int(statusd.url.rsplit(":", 1)[1])
        stalled = open_request(port, "/api", receive_buffer=4096)
        stalled.settimeout(10)
        # The answer has begun to arrive (peeked, never read): statusd is now blocked sending.
        assert stalled.recv(1, socket.MSG_PEEK) == b"H"
        statusd.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = statusd.process.wait(8.0)
        except subprocess.TimeoutExpired:
            code = None
        stalled.close()
    assert code == 0, "statusd still running 8 s after SIGTERM"
