"""The /api document (SPEC §3) as bytes: plain, gzip and a strong ETag, built once per change."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from isal import isal_zlib

ERROR_BODY = b'{"status":false,"data":null,"error":"Error on collect data"}'

# A C encoder holds the GIL for the whole call, so a million-row value encoded in one call
# would stall the event loop (serving requests) for seconds. ``encode_json_chunked`` encodes
# big lists and objects this many items per call, letting the loop run between calls.
ENCODE_CHUNK_ITEMS = 2048

# Above this size, gzip level 1 keeps a rebuild of a huge document within a second or two;
# small documents get level 6, the usual trade-off.
FAST_GZIP_ABOVE = 4 * 1024 * 1024
ISAL_LEVEL = 1


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, the one encoding every statusd document uses."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class JsonStrings(dict[str, str]):
    """The JSON text of strings (as ``encode_json`` writes them), each encoded once.

    For encoders that write a million records as text: their values repeat (countries,
    providers, small numbers), so ``strings[text]`` is one dictionary hit per field.
    """

    def __missing__(self, text: str) -> str:
        quoted = self[text] = json.dumps(text, ensure_ascii=False)
        return quoted


JsonPieces = tuple[bytes, ...]
"""The UTF-8 JSON of a value cut in pieces (their concatenation is the JSON): a big value is
never joined into one bytes object, which would copy hundreds of MB while holding the GIL."""

PIECE_BYTES = 1024 * 1024
"""``coalesce`` joins small pieces up to about this size (a join this small is brief)."""


def coalesce(pieces: Iterable[bytes], size: int = PIECE_BYTES) -> JsonPieces:
    """``pieces`` with the small ones joined into pieces of about ``size`` bytes (a piece
    bigger than that is kept as it is; empty ones are dropped)."""
    return tuple(iter_coalesced(pieces, size))


def iter_coalesced(pieces: Iterable[bytes], size: int = PIECE_BYTES) -> Iterator[bytes]:
    """``coalesce``, one piece at a time (a worker process writes them as they come)."""
    batch: list[bytes] = []
    batch_bytes = 0
    for piece in pieces:
        if not piece:
            continue
        batch.append(piece)
        batch_bytes += len(piece)
        if batch_bytes >= size:
            yield b"".join(batch)
            batch, batch_bytes = [], 0
    if batch:
        yield b"".join(batch)


def json_rows_pieces(rows: Iterable[str], per_piece: int = ENCODE_CHUNK_ITEMS) -> Iterator[bytes]:
    """The UTF-8 of ``",".join(rows)`` (JSON texts), encoded ``per_piece`` rows at a time:
    one non-ASCII character would make a single joined ``str`` of a million rows take 2-4
    bytes per character, and its bytes would be a second copy of it all."""
    batch: list[str] = []
    separator = b""
    for row in rows:
        batch.append(row)
        if len(batch) == per_piece:
            yield separator + ",".join(batch).encode()
            batch, separator = [], b","
    if batch:
        yield separator + ",".join(batch).encode()


def json_list_pieces(items: Iterable[Iterable[bytes]], size: int = PIECE_BYTES) -> Iterator[bytes]:
    """The JSON list whose items' JSON are given in pieces, in pieces of about ``size`` bytes
    (thousands of small items cost one join per ``size`` bytes, not a step each)."""
    out = [b"["]
    out_bytes = 1
    separator = b""
    for item in items:
        if separator:
            out.append(separator)
            out_bytes += 1
        separator = b","
        if out_bytes >= size:  # the glue alone can reach it (empty items, tiny sizes)
            yield b"".join(out)
            out, out_bytes = [], 0
        for piece in item:
            out.append(piece)
            out_bytes += len(piece)
            if out_bytes >= size:
                yield b"".join(out)
                out, out_bytes = [], 0
    out.append(b"]")
    yield b"".join(out)


def encode_json_pieces(value: Any) -> JsonPieces:
    """``encode_json(value)`` in pieces, encoded about ``ENCODE_CHUNK_ITEMS`` items at a time
    (for big values, in a worker thread: between pieces the event loop gets the GIL).

    Long lists and objects are cut in slices sized after their first item, so their items
    are assumed to be alike (records are); short ones with heavy items go item by item.
    """
    parts: list[bytes] = []
    _encode_into(value, parts)
    return coalesce(parts)


def encode_json_chunked(value: Any) -> bytes:
    """The bytes of ``encode_json(value)``, made by ``encode_json_pieces``."""
    return b"".join(encode_json_pieces(value))


def _weight(value: Any) -> int:
    """The number of items in ``value`` at every depth, counted only up to just past
    ``ENCODE_CHUNK_ITEMS`` (so it costs little however big ``value`` is)."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            children: Any = item
        elif isinstance(item, dict):
            children = item.values()
        else:
            continue
        count += len(children)
        if count > ENCODE_CHUNK_ITEMS:
            break
        stack.extend(child for child in children if isinstance(child, list | dict))
    return count


def _encode_into(value: Any, parts: list[bytes]) -> None:
    """Append the JSON of ``value`` to ``parts``: in one piece when small, else in several."""
    if isinstance(value, list | dict) and _weight(value) > ENCODE_CHUNK_ITEMS:
        if isinstance(value, list):
            _encode_list(value, parts)
            return
        if all(isinstance(key, str) for key in value):
            _encode_object(value, parts)
            return
    parts.append(encode_json(value))


def _step(first: Any) -> int:
    """How many items like ``first`` make a piece of about ``ENCODE_CHUNK_ITEMS`` items."""
    return max(1, ENCODE_CHUNK_ITEMS // (_weight(first) + 1))


def _encode_list(items: list[Any], parts: list[bytes]) -> None:
    parts.append(b"[")
    if len(items) <= ENCODE_CHUNK_ITEMS:  # a few heavy items: one by one
        for index, item in enumerate(items):
            if index:
                parts.append(b",")
            _encode_into(item, parts)
    else:  # many items: in slices
        step = _step(items[0])
        for start in range(0, len(items), step):
            piece = encode_json(items[start : start + step])[1:-1]
            parts.append(piece if start == 0 else b"," + piece)
    parts.append(b"]")


def _encode_object(members: dict[str, Any], parts: list[bytes]) -> None:
    parts.append(b"{")
    if len(members) <= ENCODE_CHUNK_ITEMS:  # a few heavy members: one by one
        for index, (key, item) in enumerate(members.items()):
            parts.append((b"," if index else b"") + encode_json(key) + b":")
            _encode_into(item, parts)
    else:  # many members: in slices
        pairs = list(members.items())
        step = _step(pairs[0][1])
        for start in range(0, len(pairs), step):
            piece = encode_json(dict(pairs[start : start + step]))[1:-1]
            parts.append(piece if start == 0 else b"," + piece)
    parts.append(b"}")


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


@dataclass(frozen=True, slots=True)
class Document:
    """Immutable bytes of one version of a JSON document and its validators.

    The body is kept in the pieces it was built from (``parts``; one piece for most
    documents) and sent piece by piece: joining a million-row /api body would copy 300 MB
    while holding the GIL, and keep that copy besides the pieces. A big source's value
    (parsed by a worker process) is a ``FileSpan``: it stays on disk and is read as sent.
    """

    parts: Body
    gzip_parts: Body
    etag: str
    length: int
    gzip_length: int

    @classmethod
    def of(cls, body: bytes) -> Document:
        digest = hashlib.sha256(body).hexdigest()[:32]
        gzip_body = gzip.compress(body, gzip_level(len(body)), mtime=0)
        return cls.of_parts((body,), (gzip_body,), f'"{digest}"')

    @classmethod
    def of_parts(cls, parts: Sequence[Part], gzip_parts: Sequence[Part], etag: str) -> Document:
        """A document of pieces (empty pieces are dropped)."""
        plain = tuple(part for part in parts if part)
        gzipped = tuple(part for part in gzip_parts if part)
        length = sum(map(len, plain))
        return cls(plain, gzipped, etag, length, sum(map(len, gzipped)))

    @property
    def body(self) -> bytes:
        """The whole body (a copy when it has several parts: for tests and small documents)."""
        return joined(self.parts)

    @property
    def gzip_body(self) -> bytes:
        """The whole gzip body (see ``body``)."""
        return joined(self.gzip_parts)


def result_sections(fragments: Sequence[tuple[str, Body]]) -> list[Body]:
    """The ResultT bytes in sections: glue, first value, glue, second value, …, glue."""
    sections: list[Body] = []
    glue = b'{"status":true,"data":{'
    for index, (name, value) in enumerate(fragments):
        sections += [(glue + (b"," if index else b"") + encode_json(name) + b":",), value]
        glue = b""
    sections.append((glue + b'},"error":""}',))
    return sections


def result_parts(fragments: Sequence[tuple[str, Body]]) -> list[Part]:
    """The ResultT bytes in pieces (``result_sections`` one after the other)."""
    return [part for section in result_sections(fragments) for part in section]


def result_body(fragments: Sequence[tuple[str, Body]] | None) -> bytes:
    """The ResultT bytes: the ``data`` object from each source's encoded value, in order,
    or the error document when ``fragments`` is None (a source without fresh data)."""
    if fragments is None:
        return ERROR_BODY
    return joined(result_parts(fragments))


def gzip_level(size: int) -> int:
    """Level 1 for big bodies (a rebuild stays within a second or two), else 6."""
    return 1 if size > FAST_GZIP_ABOVE else 6


class DeflateSegment:
    """``deflate_segment`` of pieces given one at a time (their size unknown in advance: a
    big value's, compressed by ISA-L). The compressed pieces are kept, a tenth the size."""

    def __init__(self) -> None:
        self._compressor = isal_zlib.compressobj(ISAL_LEVEL, isal_zlib.DEFLATED, -zlib.MAX_WBITS)
        self._out: list[bytes] = []

    def add(self, piece: bytes) -> None:
        self._out.append(self._compressor.compress(piece))

    def finish(self) -> list[bytes]:
        self._out.append(self._compressor.flush(isal_zlib.Z_SYNC_FLUSH))
        return self._out


def deflate_segment(pieces: Sequence[bytes]) -> bytes:
    """Raw deflate of the concatenated ``pieces`` that ends on a byte boundary and is not
    final (a sync flush), so that segments compressed on their own concatenate into one
    valid stream (as ``pigz`` does). A source's big value is compressed once, by its
    collector; a document rebuilt because another source changed reuses it instead of
    compressing 300 MB again.

    Big values go through ISA-L (``isal``) at its level 1: the same size as zlib's level 1
    in a third of the time (150 MB: 0.16 s instead of 0.52 s); small ones through zlib."""
    size = sum(map(len, pieces))
    if size > FAST_GZIP_ABOVE:
        segment = DeflateSegment()
        for piece in pieces:
            segment.add(piece)
        return b"".join(segment.finish())
    compressor = zlib.compressobj(gzip_level(size), zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [compressor.compress(piece) for piece in pieces]
    out.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(out)


def crc32(data: bytes, value: int = 0) -> int:
    """``zlib.crc32``, by ISA-L (seven times faster on big inputs; the same numbers)."""
    return int(isal_zlib.crc32(data, value))


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0, OS unknown
_FINAL_EMPTY_BLOCK = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS).flush()


def gzip_of_segments(parts: Sequence[Part], segments: Sequence[Part]) -> list[Part]:
    """The pieces of a gzip member whose content is the concatenated ``parts``, made of
    each part's ``deflate_segment`` (``segments``, in the same order)."""
    crc, size = parts_crc32(parts)
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return [_GZIP_HEADER, *segments, _FINAL_EMPTY_BLOCK + trailer]


def build_result_document(
    fragments: Sequence[tuple[str, Body]] | None,
    segments: Sequence[Part] | None = None,
) -> Document:
    """``Document`` of ``result_body``; CPU-heavy for big inputs, so run it in a thread.

    ``segments`` may hold each fragment's ``deflate_segment`` (``b""`` where not known):
    a big document's gzip body is then assembled from them, not compressed again. A value
    held in a ``FileSpan`` always comes with its segment and is never read here: the ETag
    hashes its recorded digest instead of its bytes, and the gzip CRC combines its CRC.
    """
    if fragments is None:
        return ERROR_DOCUMENT
    sections = result_sections(fragments)
    parts = [part for section in sections for part in section]
    in_memory = all(isinstance(part, bytes) for part in parts)
    if in_memory and sum(map(len, parts)) <= FAST_GZIP_ABOVE:
        return Document.of(joined(parts))
    known = list(segments or [b""] * len(fragments))
    deflated = [
        (known[index // 2] if index % 2 else b"") or deflate_segment(_in_memory(section))
        for index, section in enumerate(sections)
    ]
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            digest.update(part)
        else:  # its digest stands for its bytes; JSON text never holds a raw NUL byte, so
            digest.update(b"\0span:" + part.digest)  # no body's bytes can hash the same
    etag = f'"{digest.hexdigest()[:32]}"'
    return Document.of_parts(parts, gzip_of_segments(parts, deflated), etag)


def _in_memory(section: Body) -> tuple[bytes, ...]:
    """A section's bytes parts (a span comes with its deflate segment: never compressed here)."""
    return tuple(part_bytes(part) for part in section)


ERROR_DOCUMENT = Document.of(ERROR_BODY)
