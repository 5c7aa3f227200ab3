"""statusd under a stand-in for systemd: READY, STATUS, WATCHDOG and STOPPING in order."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from tests.support.simulator_process import run_simulator
from tests.support.statusd_process import run_statusd

pytestmark = pytest.mark.e2e


def receive_all(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_sd_notify_sequence(tmp_path: Path) -> None:
    """A real datagram socket as NOTIFY_SOCKET sees READY=1 once ready, STATUS= summaries,
    WATCHDOG=1 pings at half of WATCHDOG_USEC, and STOPPING=1 on SIGTERM."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.setblocking(False)
        with run_simulator(tmp_path / "data", "--seed", "2") as sim:
            env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"}
            args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url)
            messages: list[str] = []
            with run_statusd(tmp_path, *args, "--state-dir", str(tmp_path / "s"), env=env) as sd:
                # Drain as systemd would: a unix datagram queue holds only ~10 messages.
                deadline = time.monotonic() + 1.0  # about five watchdog periods of 0.2 s
                while time.monotonic() < deadline:
                    messages += receive_all(systemd)
                    time.sleep(0.02)
                sd.process.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + 6
                while sd.process.poll() is None and time.monotonic() < deadline:
                    messages += receive_all(systemd)
                    time.sleep(0.02)
                assert sd.process.poll() == 0
        messages += receive_all(systemd)
    lines = [line for message in messages for line in message.splitlines()]
    ready = lines.index("READY=1")
    assert any(line == "STATUS=7/7 sources fresh" for line in lines[ready:])
    assert lines[-2:] == ["STOPPING=1", "STATUS=stopping"], lines[-6:]
    pings = [i for i, line in enumerate(lines) if line == "WATCHDOG=1"]
    assert len([i for i in pings if i > ready]) >= 3
    assert all(
        line.split("=", 1)[0] in {"READY", "STATUS", "WATCHDOG", "STOPPING"} for line in lines
    )
