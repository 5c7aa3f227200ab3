"""Atomic replacement of a data file, so a reader sees the old or the new bytes, never half.

The chunks go to a temporary file in the same directory (same file system, so the rename is
atomic), which is flushed and fsynced before ``os.replace``. Each chunk is produced and
written in a worker thread (``trio.to_thread``), so the server keeps answering while a
million rows are written, and a cancellation between chunks removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import trio

FILE_MODE = 0o644
"""Data files are world-readable, as plain files written by the original simulator were."""


def _write_next(file: BinaryIO, chunks: Iterator[bytes]) -> bool:
    """Produce and write one chunk; False when there is none left."""
    chunk = next(chunks, None)
    if chunk is None:
        return False
    file.write(chunk)
    return True


def _finish(file: BinaryIO, temp: str, path: Path) -> None:
    """Make the temporary file durable, then rename it over ``path`` and sync the directory."""
    file.flush()
    os.fsync(file.fileno())
    file.close()
    os.replace(temp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _open_temp(path: Path) -> tuple[BinaryIO, str]:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb"), temp


async def write_atomic(path: Path, chunks: Iterator[bytes]) -> None:
    """Replace ``path`` with the concatenated ``chunks``, atomically."""
    file, temp = await trio.to_thread.run_sync(_open_temp, path)
    done = False
    try:
        while await trio.to_thread.run_sync(_write_next, file, chunks):
            pass
        await trio.to_thread.run_sync(_finish, file, temp, path)
        done = True
    finally:
        if not done:
            file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
