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
    """The bytes of ``encode_json(value)``, encoded in pieces of about ``ENCODE_CHUNK_ITEMS``
    items (for big values, in a worker thread: between pieces the event loop gets the GIL).

    Long lists and objects are cut in slices sized after their first item, so their items
    are assumed to be alike (records are); short ones with heavy items go item by item.
    """
    parts: list[bytes] = []
    _encode_into(value, parts)
    return b"".join(parts)


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
