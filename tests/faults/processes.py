"""Processes the fault suite starts: statusd (optionally without root's file-permission
bypass) and a plain static HTTP server whose bodies the test writes byte for byte.

Every process binds 127.0.0.1 on a free port, every wait is bounded, and every process is
stopped when its ``with`` block ends (SIGTERM, SIGKILL after a few seconds).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.ports import free_port
from tests.support.statusd_process import StatusdProcess

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def unprivileged_prefix() -> tuple[str, ...]:
    """A command prefix that makes a root process obey file permissions, or ``()``.

    Root reads any file whatever its mode because of CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH; dropping both from the bounding set (util-linux ``setpriv``)
    makes ``chmod 000`` deny it like anyone else. Not root: nothing to drop.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ()
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--")


def permissions_are_enforced(prefix: Sequence[str]) -> bool:
    """Whether a process started with ``prefix`` is refused a mode-000 file."""
    return os.geteuid() != 0 or bool(prefix)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1.0)
    except httpx.HTTPError:
        return False
    return True


@contextmanager
def launch_statusd(
    workdir: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> Iterator[StatusdProcess]:
    """``python -m statusd --listen 127.0.0.1:<free port> *args`` behind ``prefix``.

    Returns once /healthz answers (not waiting for readiness); always stopped after.
    """
    port = free_port()
    log_path = workdir / f"statusd-{port}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STATUSD_")}
    environment.update(env or {})
    command = [*prefix, sys.executable, "-m", "statusd", "--listen", f"127.0.0.1:{port}", *args]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    handle = StatusdProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        handle.wait_until(
            lambda: process.poll() is not None or _answers(handle.url + "/healthz"), START_TIMEOUT
        )
        if process.poll() is not None:
            raise AssertionError(f"statusd exited with {process.returncode}:\n{handle.log()}")
        yield handle
    finally:
        _stop(process)


@dataclass
class BodyServer:
    """``python -m http.server`` over a directory: ``GET /name`` answers the file ``name``.

    The test writes any bytes it wants a source to receive; stopping and starting the
    server again on the same port gives "connection refused" and its end.
    """

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def put(self, name: str, body: bytes) -> None:
        """Replace what ``GET /name`` answers, atomically."""
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(body)
        os.replace(temporary, self.directory / name)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(self.directory),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.url + "/"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"http.server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None


@contextmanager
def run_body_server(directory: Path) -> Iterator[BodyServer]:
    """A started ``BodyServer`` on a free loopback port; stopped after the block."""
    directory.mkdir(parents=True, exist_ok=True)
    server = BodyServer(directory, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
