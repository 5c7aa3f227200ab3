"""Reading source files: every way a file can be unusable is a short SourceError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from statusd.collect.fetch import read_file_capped
from statusd.sources.base import SourceError


def test_reads_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "sms.data"
    path.write_bytes(b"RU;1;2;Topolo\n")
    assert read_file_capped(path, 1024) == b"RU;1;2;Topolo\n"


def test_empty_file_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "sms.data"
    path.write_bytes(b"")
    assert read_file_capped(path, 1024) == b""


def make_loop(tmp_path: Path) -> Path:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a"


def make_fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def make_big(tmp_path: Path) -> Path:
    path = tmp_path / "big"
    with path.open("wb") as file:
        file.truncate(2 * 1024 * 1024 * 1024)  # a sparse 2 GiB file: nothing is written
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "missing: file not found"),
        (lambda p: p, "is a directory"),
        (make_loop, "a: symlink loop"),
        (make_fifo, "fifo: not a regular file"),
        (make_big, "big: larger than 1 MiB"),
    ],
)
def test_unusable_files(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(SourceError, match=message):
        read_file_capped(path, 1024 * 1024)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied (simulated: the tests may run as root, who reads any file)."""
    path = tmp_path / "sms.data"
    path.write_bytes(b"x")

    def deny(*args: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(SourceError, match=r"sms\.data: permission denied"):
        read_file_capped(path, 1024)


def rewrite_during_read(monkeypatch: pytest.MonkeyPatch, path: Path, times: int) -> None:
    """Make the first ``times`` reads of ``path`` see it rewritten in place mid-read."""
    real_read = os.read
    left = [times]

    def read(fd: int, size: int) -> bytes:
        first_read = os.lseek(fd, 0, os.SEEK_CUR) == 0  # once per opening of the file
        chunk = real_read(fd, size)
        if chunk and left[0] > 0 and first_read:
            left[0] -= 1
            with path.open("ab") as file:
                file.write(b"RU;2;3;Rond\n")
        return chunk

    monkeypatch.setattr(os, "read", read)


def test_file_rewritten_during_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A torn read is detected by size/mtime and retried once; the result is whole."""
    path = tmp_path / "sms.data"
    path.write_bytes(b"RU;1;2;Topolo\n")
    rewrite_during_read(monkeypatch, path, times=1)
    assert read_file_capped(path, 1024) == b"RU;1;2;Topolo\nRU;2;3;Rond\n"


def test_file_that_keeps_changing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Torn twice: the source fails rather than replacing good data with a torn file."""
    path = tmp_path / "sms.data"
    path.write_bytes(b"RU;1;2;Topolo\n")
    rewrite_during_read(monkeypatch, path, times=2)
    with pytest.raises(SourceError, match="file changed while being read"):
        read_file_capped(path, 1024)
