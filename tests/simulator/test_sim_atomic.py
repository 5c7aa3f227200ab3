"""Atomic replacement of data files: readers see whole files only, leftovers never stay."""

from __future__ import annotations

import itertools
import stat
from pathlib import Path

import trio

from simulator.atomic import write_atomic
from simulator.generate import FILE_NAMES, Plan, file_bytes, file_chunks
from simulator.state import write_files


def names(directory: Path) -> list[str]:
    """The sorted file names in ``directory`` (temporary files included)."""
    return sorted(path.name for path in directory.iterdir())


async def test_write_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    """The file holds exactly the chunks, is world-readable, and no temporary file remains."""
    target = tmp_path / "sms.data"
    target.write_bytes(b"old\n")
    with trio.fail_after(10):
        await write_atomic(target, iter([b"a;1\n", b"b;2\n"]))
    assert target.read_bytes() == b"a;1\nb;2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert names(tmp_path) == ["sms.data"]


async def test_write_files_writes_the_four_files(tmp_path: Path) -> None:
    """``write_files`` writes each data file with the plan's bytes."""
    plan = Plan(seed=4)
    with trio.fail_after(10):
        await write_files(plan, tmp_path)
    assert names(tmp_path) == sorted(FILE_NAMES)
    for name in FILE_NAMES:
        assert (tmp_path / name).read_bytes() == file_bytes(plan, name)


async def test_concurrent_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    """While generations are rewritten in a loop, every read is one whole generation."""
    target = tmp_path / "sms.data"
    plans = [Plan(seed=9, rows=30_000, generation=g) for g in range(6)]
    versions = {file_bytes(plan, "sms.data") for plan in plans}
    target.write_bytes(file_bytes(plans[0], "sms.data"))
    reads: list[bytes] = []

    async def read_until(done: trio.Event) -> None:
        while not done.is_set():
            reads.append(await trio.to_thread.run_sync(target.read_bytes))

    with trio.fail_after(60):
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_until, done)
            for plan in plans * 2:
                await write_atomic(target, file_chunks(plan, "sms.data"))
            done.set()
    assert reads
    assert all(data in versions for data in reads)
    assert names(tmp_path) == ["sms.data"]


async def test_cancelled_write_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    """Cancelling an endless write keeps the old content and deletes the temporary file."""
    target = tmp_path / "email.data"
    target.write_bytes(b"RU;Gmail;120\n")
    endless = itertools.repeat(b"x" * 4096)
    with trio.fail_after(10), trio.move_on_after(0.2) as scope:
        await write_atomic(target, endless)
    assert scope.cancelled_caught
    assert target.read_bytes() == b"RU;Gmail;120\n"
    assert names(tmp_path) == ["email.data"]
