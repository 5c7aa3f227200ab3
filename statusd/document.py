"""The /api document (SPEC §3) as bytes: plain, gzip and a strong ETag, built once per change."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ERROR_BODY = b'{"status":false,"data":null,"error":"Error on collect data"}'

# A C encoder holds the GIL for the whole call, so a million-row value encoded in one call
# would stall the event loop (serving requests) for seconds. ``encode_json_chunked`` encodes
# big lists and objects this many items per call, letting the loop run between calls.
ENCODE_CHUNK_ITEMS = 2048

# Above this size, gzip level 1 keeps a rebuild of a huge document within a second or two;
# small documents get level 6, the usual trade-off.
FAST_GZIP_ABOVE = 4 * 1024 * 1024


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, the one encoding every statusd document uses."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def encode_json_chunked(value: Any) -> bytes:
    """The bytes of ``encode_json(value)``, encoded in bounded pieces (for big values, in a
    worker thread: between pieces the event loop gets the GIL)."""
    parts: list[bytes] = []
    _encode_into(value, parts)
    return b"".join(parts)


def _is_big(value: Any) -> bool:
    return isinstance(value, list | dict) and len(value) > ENCODE_CHUNK_ITEMS


def _encode_into(value: Any, parts: list[bytes]) -> None:
    """Append the JSON of ``value`` to ``parts``: whole when small, else piece by piece."""
    if isinstance(value, list):
        if len(value) > ENCODE_CHUNK_ITEMS:
            parts.append(b"[")
            for start in range(0, len(value), ENCODE_CHUNK_ITEMS):
                chunk = encode_json(value[start : start + ENCODE_CHUNK_ITEMS])
                parts.append(chunk[1:-1] if start == 0 else b"," + chunk[1:-1])
            parts.append(b"]")
            return
        if any(_is_big(item) for item in value):
            parts.append(b"[")
            for index, item in enumerate(value):
                if index:
                    parts.append(b",")
                _encode_into(item, parts)
            parts.append(b"]")
            return
    elif isinstance(value, dict) and all(isinstance(key, str) for key in value):
        if len(value) > ENCODE_CHUNK_ITEMS:
            items = list(value.items())
            parts.append(b"{")
            for start in range(0, len(items), ENCODE_CHUNK_ITEMS):
                chunk = encode_json(dict(items[start : start + ENCODE_CHUNK_ITEMS]))
                parts.append(chunk[1:-1] if start == 0 else b"," + chunk[1:-1])
            parts.append(b"}")
            return
        if any(_is_big(item) for item in value.values()):
            parts.append(b"{")
            for index, (key, item) in enumerate(value.items()):
                parts.append((b"," if index else b"") + encode_json(key) + b":")
                _encode_into(item, parts)
            parts.append(b"}")
            return
    parts.append(encode_json(value))


@dataclass(frozen=True, slots=True)
class Document:
    """Immutable bytes of one version of a JSON document and its validators."""

    body: bytes
    gzip_body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Document:
        level = 1 if len(body) > FAST_GZIP_ABOVE else 6
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(body=body, gzip_body=gzip.compress(body, level, mtime=0), etag=f'"{digest}"')


def result_body(fragments: Sequence[tuple[str, bytes]] | None) -> bytes:
    """The ResultT bytes: the ``data`` object from each source's encoded value, in order,
    or the error document when ``fragments`` is None (a source without fresh data)."""
    if fragments is None:
        return ERROR_BODY
    parts = [b'{"status":true,"data":{']
    for index, (name, value) in enumerate(fragments):
        if index:
            parts.append(b",")
        parts.append(encode_json(name) + b":" + value)
    parts.append(b'},"error":""}')
    return b"".join(parts)


def build_result_document(fragments: Sequence[tuple[str, bytes]] | None) -> Document:
    """``Document`` of ``result_body``; CPU-heavy for big inputs, so run it in a thread."""
    return Document.of(result_body(fragments))


ERROR_DOCUMENT = Document.of(ERROR_BODY)
