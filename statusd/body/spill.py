"""Bodies in parts: bytes in memory or spans of a spill file (a big value kept on disk),
with their CRC-32 found without reading the spans."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from isal import isal_zlib


class SpillFile:
    """An open file that holds bytes kept out of memory (a worker process's output).

    The file has no name (``tempfile.TemporaryFile``): it lives as long as this object,
    and its descriptor is closed when the last ``FileSpan`` over it is gone. Readers use
    ``os.pread``, which has no shared offset, so any number of them can read at once.
    """

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __del__(self) -> None:
        with contextlib.suppress(OSError):  # already closed: nothing to release
            os.close(self.fd)

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` (fewer only past the end of the file)."""
        chunks = []
        while size > 0:
            chunk = os.pread(self.fd, size, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            size -= len(chunk)
        return b"".join(chunks)


SPAN_CHUNK_BYTES = 1024 * 1024
"""A ``FileSpan`` is read (and sent) this many bytes at a time."""


@dataclass(frozen=True, slots=True)
class FileSpan:
    """``length`` bytes of a ``SpillFile`` from ``offset``: a big value kept on disk.

    ``digest`` (SHA-256 of the bytes) and ``crc`` (their CRC-32) are known when the span is
    written, so an ETag or a gzip trailer over a document that contains it never reads it.
    ``len(span)`` is its length, as ``len`` of a ``bytes`` part is.
    """

    file: SpillFile = field(compare=True, repr=False)
    offset: int
    length: int
    digest: bytes = b""
    crc: int = 0

    def __len__(self) -> int:
        return self.length

    def chunks(self, size: int = SPAN_CHUNK_BYTES) -> Iterator[bytes]:
        """The bytes, ``size`` at a time."""
        for start in range(0, self.length, size):
            yield self.read_chunk(start, size)

    def read_chunk(self, start: int, size: int = SPAN_CHUNK_BYTES) -> bytes:
        """Up to ``size`` bytes from ``start`` (relative to the span); fewer at its end."""
        size = max(0, min(size, self.length - start))
        chunk = self.file.read(self.offset + start, size)
        if len(chunk) != size:
            raise OSError(f"spill file ended early ({len(chunk)} of {size} bytes)")
        return chunk

    def read_all(self) -> bytes:
        """The whole span (a copy in memory: for tests and small spans)."""
        return b"".join(self.chunks())


Part = bytes | FileSpan
"""A piece of a body: bytes in memory, or a span of a spill file."""

Body = tuple[Part, ...]
"""A body in pieces, some of which may live in spill files."""


def part_bytes(part: Part) -> bytes:
    """The bytes of one part (a span is read whole)."""
    return part if isinstance(part, bytes) else part.read_all()


def joined(parts: Iterable[Part]) -> bytes:
    """Every part's bytes in one (a copy: for tests and small bodies)."""
    return b"".join(map(part_bytes, parts))


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)`` (zlib's
    ``crc32_combine``, which Python's zlib does not expose): the CRC of a document whose
    big values lie in files is found without reading them. GF(2) matrix method, log2 steps.
    """
    if length2 <= 0:
        return crc1
    operator = [0xEDB88320] + [1 << n for n in range(31)]  # appends one zero bit
    for _ in range(3):  # 2, 4, then 8 zero bits: one zero byte
        operator = _gf2_square(operator)
    while True:  # append length2 zero bytes to crc1, one bit of length2 at a time
        if length2 & 1:
            crc1 = _gf2_times(operator, crc1)
        length2 >>= 1
        if not length2:
            break
        operator = _gf2_square(operator)
    return crc1 ^ crc2


def _gf2_times(matrix: list[int], vector: int) -> int:
    total = 0
    index = 0
    while vector:
        if vector & 1:
            total ^= matrix[index]
        vector >>= 1
        index += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def parts_crc32(parts: Iterable[Part]) -> tuple[int, int]:
    """CRC-32 and length of the concatenated parts (spans by their recorded CRC)."""
    crc, size = 0, 0
    for part in parts:
        if isinstance(part, bytes):
            crc = crc32(part, crc)
        else:
            crc = crc32_combine(crc, part.crc, part.length)
        size += len(part)
    return crc, size


def crc32(data: bytes, value: int = 0) -> int:
    """``zlib.crc32``, by ISA-L (seven times faster on big inputs; the same numbers)."""
    return int(isal_zlib.crc32(data, value))
