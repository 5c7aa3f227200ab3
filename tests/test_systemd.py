"""sd_notify: datagrams on a real AF_UNIX socket standing in for systemd."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from statusd.systemd import SystemdNotifier, one_line, run_watchdog, status_line


@pytest.fixture
def systemd_socket() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket bound to a short file path (AF_UNIX paths are capped at 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="sdn-", dir="/tmp") as directory:
        path = str(Path(directory) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(5)
            yield sock, path


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket on an abstract name, as ``@name`` in NOTIFY_SOCKET."""
    name = f"statusd-test-{os.getpid()}-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        yield sock, "@" + name


def received(sock: socket.socket) -> list[str]:
    """Every datagram waiting on the socket, decoded."""
    messages = []
    sock.setblocking(False)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(5)
    return messages


def test_no_notify_socket_means_no_notifier() -> None:
    """Outside systemd (no or empty NOTIFY_SOCKET) there is nothing to notify."""
    assert SystemdNotifier.from_environ({}) is None
    assert SystemdNotifier.from_environ({"NOTIFY_SOCKET": ""}) is None


def test_unsupported_address_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A NOTIFY_SOCKET that is neither a path nor @abstract (e.g. vsock) disables notify."""
    with caplog.at_level(logging.WARNING, logger="statusd.notify"):
        assert SystemdNotifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234"}) is None
    assert [r.getMessage() for r in caplog.records] == [
        "unsupported NOTIFY_SOCKET, not notifying systemd"
    ]


def test_ready_sends_one_datagram_to_a_path_socket(
    systemd_socket: tuple[socket.socket, str],
) -> None:
    """READY=1 and the status line travel together, in one datagram."""
    sock, path = systemd_socket
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": path})
    assert notifier is not None
    notifier.ready("7/7 sources fresh")
    assert sock.recv(4096) == b"READY=1\nSTATUS=7/7 sources fresh"


def test_abstract_socket_name(abstract_socket: tuple[socket.socket, str]) -> None:
    """``@name`` addresses the abstract socket ``\\0name``."""
    sock, address = abstract_socket
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": address})
    assert notifier is not None
    assert notifier.address == b"\0" + address[1:].encode()
    notifier.status("5/7 sources fresh")
    assert sock.recv(4096) == b"STATUS=5/7 sources fresh"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda n: n.status("a\nb"), ["STATUS=a b"]),
        (lambda n: n.stopping(), ["STOPPING=1\nSTATUS=stopping"]),
        (lambda n: n.watchdog(), ["WATCHDOG=1"]),
        (lambda n: n.send("A=1", "B=2"), ["A=1\nB=2"]),
    ],
)
def test_messages(
    systemd_socket: tuple[socket.socket, str],
    call: Callable[[SystemdNotifier], None],
    expected: list[str],
) -> None:
    """Each helper sends exactly the protocol lines systemd expects, status on one line."""
    sock, path = systemd_socket
    notifier = SystemdNotifier(os.fsencode(path))
    call(notifier)
    assert received(sock) == expected


def test_missing_socket_never_raises_and_logs_once(
    systemd_socket: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A vanished systemd socket is logged once per run of failures, never raised."""
    sock, path = systemd_socket
    broken = SystemdNotifier(os.fsencode(path + ".missing"))
    with caplog.at_level(logging.INFO, logger="statusd.notify"):
        broken.watchdog()
        broken.status("x")
        broken.ready("y")
    assert [r.getMessage() for r in caplog.records] == ["cannot notify systemd"]
    assert caplog.records[0].__dict__["error"].startswith("ENOENT")
    assert received(sock) == []


def test_logging_resumes_after_recovery(
    systemd_socket: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    """After a success, the next failure is logged again (a new run of failures)."""
    sock, path = systemd_socket
    notifier = SystemdNotifier(os.fsencode(path))
    sock.close()
    os.unlink(path)
    with caplog.at_level(logging.INFO, logger="statusd.notify"):
        notifier.watchdog()
        notifier.watchdog()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as again:
            again.bind(path)
            notifier.watchdog()
            assert again.recv(4096) == b"WATCHDOG=1"
        os.unlink(path)
        notifier.watchdog()
    assert [r.getMessage() for r in caplog.records] == [
        "cannot notify systemd",
        "notifying systemd works again",
        "cannot notify systemd",
    ]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "{pid}"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "²"}, None),
        ({"WATCHDOG_USEC": " 4000000\n"}, 2.0),
    ],
)
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    """Half of WATCHDOG_USEC, only for the process WATCHDOG_PID names (when set)."""
    env = {key: value.format(pid=os.getpid()) for key, value in environ.items()}
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "/run/none", **env})
    assert notifier is not None
    assert notifier.watchdog_interval() == expected


async def test_watchdog_pings_at_half_the_timeout(
    autojump_clock: trio.testing.MockClock,
    systemd_socket: tuple[socket.socket, str],
) -> None:
    """WATCHDOG=1 leaves at once and then every WATCHDOG_USEC / 2, from the event loop."""
    sock, path = systemd_socket
    notifier = SystemdNotifier.from_environ(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}
    )
    assert notifier is not None
    receiver = trio.socket.from_stdlib_socket(sock)
    arrivals: list[tuple[float, bytes]] = []
    with trio.fail_after(60):
        start = trio.current_time()

        async def record() -> None:
            while True:
                data = await receiver.recv(4096)
                arrivals.append((trio.current_time() - start, data))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(record)
            await nursery.start(run_watchdog, notifier)
            await trio.sleep(16)
            nursery.cancel_scope.cancel()
    assert arrivals == [
        (0.0, b"WATCHDOG=1"),
        (5.0, b"WATCHDOG=1"),
        (10.0, b"WATCHDOG=1"),
        (15.0, b"WATCHDOG=1"),
    ]


async def test_watchdog_returns_at_once_without_watchdog(
    autojump_clock: trio.testing.MockClock,
    systemd_socket: tuple[socket.socket, str],
) -> None:
    """No WATCHDOG_USEC (or no notifier): the task ends immediately and sends nothing."""
    sock, path = systemd_socket
    with trio.fail_after(1):
        start = trio.current_time()
        await run_watchdog(SystemdNotifier(os.fsencode(path)))
        await run_watchdog(None)
        async with trio.open_nursery() as nursery:
            await nursery.start(run_watchdog, None)
        assert trio.current_time() == start
    assert received(sock) == []


@pytest.mark.parametrize(
    ("fresh", "expected"),
    [
        (["sms", "mms", "email"], "3/3 sources fresh"),
        (["mms"], "1/3 sources fresh; waiting for sms, email"),
        ([], "0/3 sources fresh; waiting for sms, mms, email"),
    ],
)
def test_status_line(fresh: list[str], expected: str) -> None:
    """The summary counts fresh sources and names the missing ones in source order."""
    assert status_line(fresh, ["sms", "mms", "email"]) == expected


def test_one_line() -> None:
    """Line breaks of any kind become spaces, so a status cannot inject protocol fields."""
    assert one_line("a\nREADY=1\r\nb") == "a READY=1 b"
