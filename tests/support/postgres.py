"""A throwaway PostgreSQL server for the tests (SPEC §11): Debian's binaries, a temporary
data directory, 127.0.0.1 on a free port, an unprivileged user.

``initdb`` refuses to run as root, so when the tests run as root the server runs as
``nobody`` in a directory it owns. Authentication is ``trust`` on loopback only (the data
directory and the server die with the test session). ``fsync=off``: a test database need not
survive a power cut, and it makes every commit cheap.

The binaries come from Debian's ``postgresql`` package (``make test`` installs it when
missing, see the Makefile's ``postgresql`` target); a machine without them fails the tests
that need one with the reason, never skips them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port

SUPERUSER = "statusd"
"""The role that owns the cluster (``initdb -U``): tests connect as it."""
START_TIMEOUT = 60.0


class PostgresMissing(RuntimeError):
    """Debian's PostgreSQL server binaries are not installed (run ``make test``)."""


def server_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb`` and ``pg_ctl``."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise PostgresMissing(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
        "`make test` installs Debian's postgresql package (apt-get install postgresql)"
    )


def _server_run(
    command: list[str], timeout: float = START_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a server binary, as ``nobody`` when the tests run as root (initdb refuses root)."""
    user = group = None
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        user, group = nobody.pw_uid, nobody.pw_gid
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        user=user,
        group=group,
    )


@dataclass
class PostgresServer:
    """One running cluster; ``url(database)`` is what ``database_url`` takes."""

    bindir: Path
    root: Path
    port: int
    _databases: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str, timeout: float = START_TIMEOUT) -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), *args]
        result = _server_run(command, timeout)
        if result.returncode != 0:
            log = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(
                f"pg_ctl {' '.join(args)} failed ({result.returncode}): "
                f"{result.stdout}{result.stderr}\n{log}"
            )

    def start(self) -> None:
        """Start (or restart after ``stop``) on the same port and data directory."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._pg_ctl(
            "-w", "-t", str(int(START_TIMEOUT)), "-l", str(self.log_file), "-o", options, "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnects every client, as an outage does)."""
        self._pg_ctl("-w", "-m", mode, "stop")

    def is_running(self) -> bool:
        result = _server_run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status"])
        return result.returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with ``psql`` (the client binary of the same version); its output."""
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.url(database),
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; its ``database_url``."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        self._databases.append(name)
        return self.url(name)


def wait_accepting(server: PostgresServer, timeout: float = START_TIMEOUT) -> None:
    """Until ``pg_isready`` says the server accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(
            [str(server.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(server.port)],
            capture_output=True,
            check=False,
        )
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL on port {server.port} not ready in {timeout} s")
        time.sleep(0.05)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A fresh cluster for the block: ``initdb``, start, yield, stop, delete."""
    bindir = server_bindir()
    root = Path(tempfile.mkdtemp(prefix="statusd-pg-"))
    try:
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(root, nobody.pw_uid, nobody.pw_gid)
        root.chmod(0o700)
        result = _server_run(
            [
                str(bindir / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")
        server = PostgresServer(bindir=bindir, root=root, port=free_port())
        server.start()
        wait_accepting(server)
        try:
            yield server
        finally:
            if server.is_running():
                server.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
