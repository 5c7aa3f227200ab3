"""The fault matrix for the seven sources: one statusd and one simulator for the module,
one test per fault; each fault hits every source of its kind at once (three HTTP sources,
four files) and goes through ``matrix.check_fault``.

statusd runs with ``--interval 0.5 --deadline 0.4 --stale-after 2.5``, a 1 MiB body cap, and
(when the suite runs as root) without root's file-permission bypass, so ``chmod 000``
really denies it.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.matrix import (
    FAST,
    RSS_LIMIT_BYTES,
    SMALL_CAP,
    Baseline,
    Expectation,
    Fails,
    Probe,
    Reads,
    check_fault,
    open_fds,
    rss_bytes,
    wait_for_good,
)
from tests.faults.processes import launch_statusd, permissions_are_enforced, unprivileged_prefix
from tests.support.simulator_process import SimulatorProcess, run_simulator

pytestmark = pytest.mark.e2e

HTTP_ENDPOINTS = {"mms": "mms", "support": "support", "incident": "accendent"}
"""Source name → simulator endpoint."""
FILES = {
    "sms": "sms.data",
    "voice_call": "voice.data",
    "email": "email.data",
    "billing": "billing.data",
}
LINE_SOURCES = ("sms", "voice_call", "email")
PREFIX = unprivileged_prefix()


class Pair:
    """The module's simulator and statusd, and what they looked like when all was good."""

    def __init__(self, sim: SimulatorProcess, probe: Probe, baseline: Baseline) -> None:
        self.sim = sim
        self.probe = probe
        self.baseline = baseline
        self.originals = {name: (sim.data_dir / file).read_bytes() for name, file in FILES.items()}
        self.start_fds = open_fds(probe.statusd.process.pid)
        self.start_rss = rss_bytes(probe.statusd.process.pid)

    def path(self, source: str) -> Path:
        return self.sim.data_dir / FILES[source]

    def restore_files(self) -> None:
        """Put every good file back, whatever replaced it."""
        for source, content in self.originals.items():
            path = self.path(source)
            temporary = path.with_name(f".{path.name}.restore")
            temporary.write_bytes(content)
            for leftover in (path, path.with_name(path.name + ".loop")):
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover)
                elif os.path.lexists(leftover) and leftover != path:
                    leftover.unlink()
            if os.path.lexists(path) and not path.is_file():
                path.unlink()  # a FIFO or a symlink: replace the link itself, not its target
            os.replace(temporary, path)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    workdir = tmp_path_factory.mktemp("source-faults")
    with run_simulator(workdir / "data", "--seed", "11", "--slow-ms", "2000") as sim:
        args = ("--data-dir", str(sim.data_dir), "--source-url", sim.url, *FAST)
        with launch_statusd(
            workdir,
            *args,
            "--state-dir",
            str(workdir / "state"),
            env={"STATUSD_MAX_BODY_BYTES": str(SMALL_CAP)},
            prefix=PREFIX,
        ) as statusd:
            probe = Probe(statusd)
            try:
                yield Pair(sim, probe, wait_for_good(probe))
            finally:
                probe.close()


# --- HTTP sources -----------------------------------------------------------------------------

DEADLINE_CAUSE = "no result within the 0.4 s deadline"
HTTP_CASES: dict[str, Expectation] = {
    "error": Fails("HTTP 500"),
    "notfound": Fails("HTTP 404"),
    "redirect_loop": Fails("HTTP 302"),
    "hang": Fails(DEADLINE_CAUSE),
    "slow": Fails(DEADLINE_CAUSE),
    "drip": Fails(DEADLINE_CAUSE),
    "garbage": Fails("body is not valid UTF-8"),
    "truncated": Fails("body is not valid JSON"),
    "object": Fails("body is not a JSON array"),
    "huge": Fails("body larger than 1 MiB"),
    "wrong_types": Reads(records=0, reason="wrong_type"),
}


@pytest.mark.parametrize("mode", list(HTTP_CASES))
def test_http_fault(pair: Pair, mode: str) -> None:
    """Every HTTP source under one simulator fault mode: kept, stale, named, recovered."""

    def apply() -> None:
        for endpoint in HTTP_ENDPOINTS.values():
            pair.sim.set_fault(endpoint, mode)

    def repair() -> None:
        for endpoint in HTTP_ENDPOINTS.values():
            pair.sim.set_fault(endpoint, "ok")

    expected = dict.fromkeys(HTTP_ENDPOINTS, HTTP_CASES[mode])
    check_fault(pair.probe, pair.baseline, expected, apply, repair)


# --- file sources -----------------------------------------------------------------------------


def remove(path: Path) -> None:
    path.unlink()


def make_empty(path: Path) -> None:
    path.write_bytes(b"")


def make_unreadable(path: Path) -> None:
    path.chmod(0)


def make_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("a directory, not a file")


def make_garbage(path: Path) -> None:
    noise = random.Random(path.name).randbytes(64 * 1024)
    path.write_bytes(b"\xff\xfe\x00" + noise)


def append_invalid_utf8(path: Path) -> None:
    content = path.read_bytes()
    if path.name == "billing.data":
        path.write_bytes(b"\xff" + content)
    else:
        path.write_bytes(content.rstrip(b"\n") + b"\nRU;\xff\xfe\xc3\x28;bad\n")


def make_two_gib(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(2 * 1024 * 1024 * 1024)  # sparse: nothing is written to disk


def make_symlink_loop(path: Path) -> None:
    path.unlink()
    partner = path.with_name(path.name + ".loop")
    partner.unlink(missing_ok=True)
    path.symlink_to(partner.name)
    partner.symlink_to(path.name)


def make_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


BILLING_EMPTY = Fails("billing file is not six 0/1 characters")
FILE_CASES: dict[str, tuple[object, dict[str, Expectation]]] = {
    "missing": (remove, dict.fromkeys(FILES, Fails("file not found"))),
    "empty": (
        make_empty,
        {**dict.fromkeys(LINE_SOURCES, Reads(records=0)), "billing": BILLING_EMPTY},
    ),
    "unreadable": (make_unreadable, dict.fromkeys(FILES, Fails("permission denied"))),
    "directory": (make_directory, dict.fromkeys(FILES, Fails("is a directory"))),
    "binary_garbage": (
        make_garbage,
        {
            **dict.fromkeys(LINE_SOURCES, Reads(records=0, reason="invalid_utf8")),
            "billing": Fails("billing file is not valid UTF-8"),
        },
    ),
    "invalid_utf8": (
        append_invalid_utf8,
        {
            **dict.fromkeys(LINE_SOURCES, Reads(records=None, reason="invalid_utf8")),
            "billing": Fails("billing file is not valid UTF-8"),
        },
    ),
    "two_gib": (make_two_gib, dict.fromkeys(FILES, Fails("larger than 1 MiB"))),
    "symlink_loop": (make_symlink_loop, dict.fromkeys(FILES, Fails("symlink loop"))),
    "fifo": (make_fifo, dict.fromkeys(FILES, Fails("not a regular file"))),
}


@pytest.mark.parametrize("fault", list(FILE_CASES))
def test_file_fault(pair: Pair, fault: str) -> None:
    """Every file source under one file fault: kept, stale, named, recovered."""
    if fault == "unreadable" and not permissions_are_enforced(PREFIX):
        pytest.skip("running as root without setpriv: a mode-000 file is still readable")
    make, expected = FILE_CASES[fault]

    def apply() -> None:
        for source in FILES:
            make(pair.path(source))  # type: ignore[operator]

    check_fault(pair.probe, pair.baseline, expected, apply, pair.restore_files)


def test_matrix_leaks_neither_memory_nor_descriptors(pair: Pair) -> None:
    """After the faults (run before this test in file order): no fd growth, RSS bounded."""
    wait_for_good(pair.probe, pair.baseline)
    pid = pair.probe.statusd.process.pid
    # httpx keeps up to 10 pooled connections to the sources; allow for them.
    assert open_fds(pid) <= pair.start_fds + 10, (pair.start_fds, open_fds(pid))
    assert rss_bytes(pid) < RSS_LIMIT_BYTES
    assert "Traceback" not in pair.probe.statusd.log()
