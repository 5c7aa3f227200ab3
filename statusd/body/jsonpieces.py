"""JSON as statusd writes it: compact UTF-8, and big values in pieces the event loop can
run between (a C encoder holds the GIL for the whole call)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

# A C encoder holds the GIL for the whole call, so a million-row value encoded in one call
# would stall the event loop (serving requests) for seconds. ``encode_json_chunked`` encodes
# big lists and objects this many items per call, letting the loop run between calls.
ENCODE_CHUNK_ITEMS = 2048


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
