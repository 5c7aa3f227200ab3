"""Two or three real statusd replicas on one throwaway PostgreSQL database (SPEC §11), a
steady ``statusd-sim`` they all read, notifying fast, for the end-to-end tests of issue 21.

    with replica_set(tmp_path, postgres, smtp=smtp_sink) as replicas:
        leader = replicas.wait_one_leader()
        replicas.query("SELECT count(*) FROM outbox")

Each replica has its own state directory and port; they share ``database_url``. Every wait
is for something observable and bounded.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from tests.support.notify_stack import (
    COUNTRIES,
    MAIL_FROM,
    NOTIFY_ENV,
    WAIT,
    press,
    sign_up_and_confirm,
)
from tests.support.postgres import PostgresServer
from tests.support.simulator_process import SimulatorProcess, run_simulator
from tests.support.smtp_sink import Received, SmtpSink
from tests.support.statusd_process import StatusdProcess, run_statusd

INTERVAL = 1.0
GENEROUS = 30.0
"""Bound of a wait on a loaded test machine (the goals themselves are measured in bench/)."""


def leader_field(statusd: StatusdProcess) -> bool | None:
    """``leader`` in /healthz (None when the process does not answer)."""
    if statusd.process.poll() is not None:
        return None
    try:
        return bool(statusd.get("/healthz").json()["leader"])
    except httpx.HTTPError:
        return None


@dataclass
class ReplicaSet:
    """The simulator, the replicas (some may be stopped), and their shared database."""

    sim: SimulatorProcess
    replicas: list[StatusdProcess]
    database_url: str
    workdir: Path
    processes: ExitStack = field(default_factory=ExitStack)

    @property
    def running(self) -> list[StatusdProcess]:
        return [r for r in self.replicas if r.process.poll() is None]

    def leaders(self) -> list[StatusdProcess]:
        return [r for r in self.running if leader_field(r)]

    def wait_one_leader(self, timeout: float = GENEROUS) -> StatusdProcess:
        """The one replica that leads, once exactly one does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leaders = self.leaders()
            if len(leaders) == 1:
                return leaders[0]
            time.sleep(0.05)
        logs = "\n".join(r.log()[-3000:] for r in self.replicas)
        raise AssertionError(f"not exactly one leader in {timeout} s:\n{logs}")

    def kill(self, replica: StatusdProcess) -> None:
        replica.stop(signal.SIGKILL)

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of the shared database (none while a table does not exist yet)."""
        with psycopg.connect(self.database_url, connect_timeout=5, autocommit=True) as conn:
            try:
                return list(conn.execute(sql, parameters).fetchall())
            except psycopg.errors.UndefinedTable:
                return []

    def events(self) -> list[dict[str, Any]]:
        """The notification events the leaders decided, oldest first."""
        rows = self.query("SELECT id, type, body FROM notification_events ORDER BY occurred_at, id")
        return [{"id": i, "type": t, **json.loads(body)} for i, t, body in rows]

    def wait_settled(self, cell: str) -> str:
        """The cell's settled verdict, once the leader has recorded it (``notified``)."""
        self.wait(lambda: bool(self.notified(cell)), f"{cell} settled")
        return self.notified(cell)

    def notified(self, cell: str) -> str:
        rows = self.query("SELECT verdict FROM notified WHERE cell = %s", (cell,))
        return str(rows[0][0]) if rows else ""

    def outbox_depth(self) -> int:
        ((depth,),) = self.query("SELECT COUNT(*) FROM outbox") or [(0,)]
        return int(depth)

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = GENEROUS) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                logs = "\n".join(r.log()[-3000:] for r in self.replicas)
                raise AssertionError(f"{what}: not in {timeout} s\n{logs}")
            time.sleep(0.05)

    def press(self, replica: StatusdProcess, url: str) -> httpx.Response:
        """Open an emailed link's page on ``replica`` (whatever host the link names) and press
        its one button."""
        parts = urlsplit(url)
        return press(replica, f"{parts.path}?{parts.query}")

    def subscribe_email(
        self,
        sink: SmtpSink,
        address: str,
        scope: Mapping[str, list[str]],
        *,
        through: StatusdProcess,
        confirm_through: StatusdProcess,
    ) -> Received:
        """Sign up through one replica and confirm through another; the confirmation email."""
        return sign_up_and_confirm(sink, address, scope, through, confirm_through)


def replica_args(sim: SimulatorProcess, state_dir: Path) -> tuple[str, ...]:
    """statusd's flags for one replica: the simulator, its own state, a fast interval."""
    return (
        "--data-dir", str(sim.data_dir), "--source-url", sim.url,
        "--state-dir", str(state_dir), "--interval", str(INTERVAL),
    )  # fmt: skip


@contextmanager
def replica_set(
    tmp_path: Path,
    postgres: PostgresServer,
    *,
    count: int = 2,
    smtp: SmtpSink | None = None,
    env: Mapping[str, str] | None = None,
    seed: int = 21,
) -> Iterator[ReplicaSet]:
    """``count`` replicas on a fresh database of ``postgres``, reading one steady simulator,
    notifying within about three seconds (``NOTIFY_ENV``); all stopped after the block."""
    database_url = postgres.create_database()
    environment = {**NOTIFY_ENV, "STATUSD_DATABASE_URL": database_url}
    if smtp is not None:
        environment.update(STATUSD_SMTP_URL=smtp.url, STATUSD_MAIL_FROM=MAIL_FROM)
    environment.update(env or {})
    with ExitStack() as processes:
        sim = processes.enter_context(
            run_simulator(
                tmp_path / "data", "--seed", str(seed), "--steady", "--countries", COUNTRIES
            )
        )
        replicas = [
            processes.enter_context(
                run_statusd(tmp_path, *replica_args(sim, tmp_path / f"state-{n}"), env=environment)
            )
            for n in range(count)
        ]
        yield ReplicaSet(sim, replicas, database_url, tmp_path, processes)
        for replica in replicas:
            assert "Traceback" not in replica.log(), replica.log()


__all__ = ["WAIT", "ReplicaSet", "leader_field", "replica_set"]
