"""Processes the benchmarks drive: statusd, the simulator, the ceiling app and nginx.

Every server binds 127.0.0.1 on a free port, is waited for with a deadline and is always
stopped by the context manager that started it (SIGTERM, SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
"""The project root: subprocesses run here, so ``-m statusd`` is this tree's statusd."""
STOP_GRACE = 5.0
POLL = 0.01


class BenchError(Exception):
    """A measurement could not be taken (a process did not start, a tool is missing)."""


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_tool(name: str) -> str:
    """The path of an executable, or BenchError naming the Debian package to install."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if path is None:
        raise BenchError(f"{name} not found: apt-get install -y {name} (or run `make bench`)")
    return path


@dataclass
class Proc:
    """A running server: its base URL, process and log file."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float
    """``time.monotonic()`` just before the process was spawned."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait (SIGKILL after ``STOP_GRACE``); the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_GRACE)
        return self.process.returncode


def wait_for(proc: Proc, check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` until true; seconds since the process was spawned. BenchError after
    ``timeout`` or when the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.process.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.process.returncode}:\n{proc.log()}")
        if check():
            return time.monotonic() - proc.started_at
        if time.monotonic() > deadline:
            raise BenchError(f"{proc.name}: {what} not reached within {timeout:g} s:\n{proc.log()}")
        time.sleep(POLL)


def http_status(url: str) -> int | None:
    """The status of ``GET url``, or None when nothing answers."""
    try:
        return httpx.get(url, headers={"Accept-Encoding": "identity"}, timeout=2.0).status_code
    except httpx.HTTPError:
        return None


@contextmanager
def spawn(name: str, command: Sequence[str], workdir: Path, url: str) -> Iterator[Proc]:
    """Start ``command`` with its output in ``workdir/<name>.log``; always stop it."""
    log_path = workdir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATUSD_")}
    with log_path.open("wb") as log_file:
        started = time.monotonic()
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    proc = Proc(name, url, process, log_path, started)
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def run_simulator(workdir: Path, *args: str) -> Iterator[Proc]:
    """``statusd-sim`` serving on a free port, its data in ``workdir/data``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "simulator", "--listen", f"127.0.0.1:{port}"]
    command += ["--data-dir", str(workdir / "data"), *args]
    with spawn("simulator", command, workdir, url) as proc:
        wait_for(proc, lambda: http_status(f"{url}/_control/faults") == 200, 300, "serving")
        yield proc


def statusd_command(port: int, sim: Proc, workdir: Path, *args: str) -> list[str]:
    """The command line of a statusd reading ``sim``'s data, with its own state dir."""
    state_dir = workdir / f"state-{port}"
    return [
        sys.executable,
        "-m",
        "statusd",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(workdir / "data"),
        "--source-url",
        sim.url,
        "--state-dir",
        str(state_dir),
        "--log-level",
        "warning",
        *args,
    ]


@contextmanager
def run_statusd(
    workdir: Path, sim: Proc, *args: str, ready_timeout: float = 60.0, name: str = "statusd"
) -> Iterator[Proc]:
    """statusd on a free port, yielded once ``/readyz`` answers 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with spawn(name, statusd_command(port, sim, workdir, *args), workdir, url) as proc:
        wait_for(proc, lambda: http_status(f"{url}/readyz") == 200, ready_timeout, "/readyz 200")
        yield proc


@contextmanager
def run_ceiling(workdir: Path, plain: Path, gzipped: Path, etag: str) -> Iterator[Proc]:
    """The bare ASGI app (``bench.bare_app``) serving the given bytes on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bench.bare_app", "--listen", f"127.0.0.1:{port}"]
    command += ["--plain", str(plain), "--gzip", str(gzipped), "--etag", etag]
    with spawn("ceiling", command, workdir, url) as proc:
        wait_for(proc, lambda: http_status(f"{url}/api") == 200, 30, "serving")
        yield proc


def proc_status(pid: int) -> dict[str, str]:
    """``/proc/<pid>/status`` as a mapping (``VmRSS``, ``VmHWM``, …)."""
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of ``pid`` in MiB: ``VmRSS`` now, or ``VmHWM`` (the peak)."""
    kib = int(proc_status(pid)[field].split()[0])
    return kib / 1024


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds used so far by ``pid`` (its threads included), or with
    ``children`` by its children that have ended (worker processes)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    after_name = stat[stat.rindex(")") + 2 :].split()
    first = 13 if children else 11  # cutime, cstime after utime, stime
    ticks = int(after_name[first]) + int(after_name[first + 1])
    return ticks / os.sysconf("SC_CLK_TCK")


def children_running(pid: int, module: str) -> list[int]:
    """The live child processes of ``pid`` that run ``python -m module``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == pid and module.encode() in command:
            found.append(int(entry.name))
    return sorted(found)
