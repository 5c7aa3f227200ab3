"""The /api document (SPEC §3) as bytes: plain, gzip and a strong ETag, built once per change."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from isal import isal_zlib

from statusd.body.jsonpieces import encode_json
from statusd.body.spill import (
    Body,
    Part,
    joined,
    part_bytes,
    parts_crc32,
)

ERROR_BODY = b'{"status":false,"data":null,"error":"Error on collect data"}'

# Above this size, gzip level 1 keeps a rebuild of a huge document within a second or two;
# small documents get level 6, the usual trade-off.
FAST_GZIP_ABOVE = 4 * 1024 * 1024
ISAL_LEVEL = 1


@dataclass(frozen=True, slots=True)
class Document:
    """Immutable bytes of one version of a JSON document and its validators.

    The body is kept in the pieces it was built from (``parts``; one piece for most
    documents) and sent piece by piece: joining a million-row /api body would copy it while
    holding the GIL, and keep that copy besides the pieces. A big source's value
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
    compressing it again.

    Big values go through ISA-L (``isal``) at its level 1: zlib's level-1 size in a third of
    the time (docs/bench.md, "figures behind the code"); small ones through zlib."""
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
