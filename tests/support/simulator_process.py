"""``statusd-sim`` as a real subprocess on a free loopback port, for end-to-end tests.

    from tests.support.simulator_process import run_simulator

    def test_something(tmp_path: Path) -> None:
        with run_simulator(tmp_path / "data", "--seed", "1") as sim:
            httpx.get(f"{sim.url}/support", timeout=5)   # the simulator answers
            sim.set_fault("mms", "hang")                 # any mode of docs/simulator.md
            sim.regenerate()                             # new files + bodies now
            sim.degrade("sms", "DE")                     # every SMS row of DE bad
            sim.restore("sms", "DE")
            sim.incident("SMS delays", "active")         # … "closed", None removes it
        # here the process has been stopped (SIGTERM, SIGKILL after 5 s)

Extra arguments go to the simulator unchanged (``--seed``, ``--rows``, ``--fault``, …); the
helper sets ``--listen`` and ``--data-dir`` itself. Startup is bounded (``startup_timeout``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
"""The project root: the subprocess runs there, so ``-m simulator`` is this tree's simulator."""
STOP_SECONDS = 5.0
"""How long a stopped simulator gets after SIGTERM before SIGKILL."""


@dataclass
class SimulatorProcess:
    """A running simulator: its base URL, data directory and process."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def set_fault(self, endpoint: str, mode: str) -> None:
        """Set the fault mode of ``endpoint`` (``mms``, ``support`` or ``accendent``)."""
        response = httpx.post(
            f"{self.url}/_control/faults", json={"endpoint": endpoint, "mode": mode}, timeout=5
        )
        response.raise_for_status()

    def regenerate(self) -> int:
        """Write the next generation of data now; returns its generation number."""
        response = httpx.post(f"{self.url}/_control/regenerate", timeout=60)
        response.raise_for_status()
        generation: int = response.json()["generation"]
        return generation

    def _control(self, action: str, body: dict[str, object]) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/_control/{action}", json=body, timeout=30)
        if response.status_code != 200:
            raise AssertionError(f"{action} {body}: {response.status_code} {response.text}")
        control: dict[str, Any] = response.json()
        return control

    def degrade(self, product: str, country: str | None = None, **target: object) -> dict[str, Any]:
        """``POST /_control/degrade``: ``degrade("sms", "DE")``, ``degrade("billing",
        function="payout")``, ``degrade("support", load=3)``; returns the new control."""
        body = {"product": product, **({"country": country} if country else {}), **target}
        return self._control("degrade", body)

    def restore(self, product: str, country: str | None = None, **target: object) -> dict[str, Any]:
        """``POST /_control/restore`` with the body ``degrade`` took."""
        body = {"product": product, **({"country": country} if country else {}), **target}
        return self._control("restore", body)

    def incident(self, topic: str, status: str | None) -> dict[str, Any]:
        """``POST /_control/incident``: ``"active"``, ``"closed"`` or None (removed)."""
        return self._control("incident", {"topic": topic, "status": status})

    def hanging(self) -> dict[str, int]:
        """How many requests of each endpoint a ``hang`` fault holds open right now."""
        response = httpx.get(f"{self.url}/_control/status", timeout=5)
        response.raise_for_status()
        hanging: dict[str, int] = response.json()["hanging"]
        return hanging

    def wait_hanging(self, *endpoints: str, timeout: float = 15.0) -> None:
        """Return once each of ``endpoints`` has a request held open by its ``hang`` fault."""
        deadline = time.monotonic() + timeout
        while True:
            hanging = self.hanging()
            if all(hanging.get(endpoint, 0) > 0 for endpoint in endpoints):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no hanging request for {endpoints} in {timeout} s")
            time.sleep(0.05)

    def stderr(self) -> str:
        """Everything the simulator wrote to stderr so far."""
        fd = self.log.fileno()  # pread: the child shares the file offset, leave it alone
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stop(self) -> int:
        """SIGTERM, wait (SIGKILL after ``STOP_SECONDS``); returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)
        return self.process.returncode


def _wait_until_serving(sim: SimulatorProcess, timeout: float) -> None:
    """Poll the control API (it answers whatever the faults) until it does, bounded."""
    deadline = time.monotonic() + timeout
    while True:
        if sim.process.poll() is not None:
            raise RuntimeError(f"statusd-sim exited with {sim.process.returncode}:\n{sim.stderr()}")
        try:
            httpx.get(f"{sim.url}/_control/faults", timeout=1).raise_for_status()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"statusd-sim did not answer within {timeout} s:\n{sim.stderr()}"
                ) from None
            time.sleep(0.05)
        else:
            return


@contextmanager
def run_simulator(
    data_dir: Path, *args: str, startup_timeout: float = 15.0
) -> Iterator[SimulatorProcess]:
    """Start ``python -m simulator`` on 127.0.0.1:<free port>, yield it, always stop it."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "simulator",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(data_dir),
        *args,
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        sim = SimulatorProcess(f"http://127.0.0.1:{port}", data_dir, process, log)
        try:
            _wait_until_serving(sim, startup_timeout)
            yield sim
        finally:
            sim.stop()
