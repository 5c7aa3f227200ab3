"""Run a real ``statusd`` subprocess on a free loopback port for end-to-end tests.

``run_statusd(...)`` starts ``python -m statusd``, waits (bounded) until it serves
``/healthz``, yields a handle and always stops it: SIGTERM, then SIGKILL after 5 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.ports import free_port

START_TIMEOUT = 15.0


@dataclass
class StatusdProcess:
    """A running statusd: its base URL, process and log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10.0, **kwargs)  # type: ignore[arg-type]

    def wait_until(self, predicate: object, timeout: float = 15.0) -> None:
        """Poll ``predicate()`` every 50 ms until true; fail with the log after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise AssertionError(f"condition not met in {timeout} s; statusd log:\n{self.log()}")

    def wait_ready(self, timeout: float = 15.0) -> None:
        self.wait_until(lambda: self.get("/readyz").status_code == 200, timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` and return the exit code (kills after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                raise
        return self.process.returncode


@contextmanager
def run_statusd(
    workdir: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    wait_ready: bool = True,
    port: int | None = None,
) -> Iterator[StatusdProcess]:
    """Start statusd in ``workdir`` with ``args`` (``--listen`` is added); stop it after."""
    port = port or free_port()
    log_path = workdir / f"statusd-{port}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STATUSD_")}
    environment.update(env or {})
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "statusd", "--listen", f"127.0.0.1:{port}", *args],
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    handle = StatusdProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        handle.wait_until(lambda: _serves(handle) or process.poll() is not None, START_TIMEOUT)
        if process.poll() is not None:
            raise AssertionError(f"statusd exited with {process.returncode}:\n{handle.log()}")
        if wait_ready:
            handle.wait_ready()
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _serves(handle: StatusdProcess) -> bool:
    try:
        return handle.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
