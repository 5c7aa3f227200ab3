"""The state file's format: what it holds, how it is encoded and checked when read back.

Format 2, written now, stores what each source sent, not what statusd made of it::

    {"format": 2, "sources": {"sms": {"wall_time": 1800000000.0, "raw": "<base64>"}, ...}}

``raw`` is the base64 of the bytes the source's parser read (``GoodResult.raw``). At start
each is decoded (strict base64) and parsed again by the source's own parser under the
configured limits, exactly as a fresh collection would be: the file can never inject
anything a source could not have sent, and records, skip counts and the /api fragment come
out as they were served. Encoding is base64 at C speed instead of a JSON object per record
(docs/bench.md, "figures behind the code").

A result whose input is unknown (``raw == b""``: restored from a format-1 file and not
collected since) is stored the format-1 way, ``{"wall_time", "skipped", "records"}``, so an
upgrade loses nothing across a second restart. Format 1, written before, holds every
source that way; it is still read: records are checked against their dataclass field types
and prepared again.

Loading: a missing file is a quiet empty start; an unreadable file, one that is not JSON or
of an unknown format, and a format-1 file with any bad part are ignored whole with a
warning. In a format-2 file each source stands alone: one whose part is malformed, whose
``raw`` is not strict base64, is larger than ``max_body_bytes`` or is rejected by its parser
is skipped with a warning, and the other sources are restored.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from statusd.body.jsonpieces import encode_json, encode_json_chunked
from statusd.body.spill import Part
from statusd.collect.outcome import GoodResult
from statusd.sources.base import Limits, SourceError, SourceSpec
from statusd.sources.records import record_fields, record_json

log = logging.getLogger("statusd.persistence")


FORMAT_VERSION = 2


READABLE_FORMATS = (1, 2)


# The input is base64-encoded this many bytes per call (about 5 ms each), so a big one never
# holds the GIL long; a multiple of 3, so the pieces join to the text of one call.
BASE64_CHUNK_BYTES = 3 * 1024 * 1024


MiB = 1024 * 1024


FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
}


class StateFileError(Exception):
    """The state file cannot be used; the message says why."""


def base64_pieces(raw: Part, chunk: int = BASE64_CHUNK_BYTES) -> Iterator[bytes]:
    """``base64.b64encode(raw)`` in pieces, each of ``chunk`` bytes (a multiple of 3) of
    ``raw``, made as they are asked for: joining them would copy tens of MB while holding
    the GIL, and an input in a spill file is read a chunk at a time, never whole."""
    assert chunk % 3 == 0, "pieces must join to the text of one call"
    if isinstance(raw, bytes):
        view = memoryview(raw)
        for start in range(0, len(view), chunk):
            yield binascii.b2a_base64(view[start : start + chunk], newline=False)
    else:
        for start in range(0, len(raw), chunk):
            yield binascii.b2a_base64(raw.read_chunk(start, chunk), newline=False)


def encode_source(result: GoodResult) -> Iterable[bytes]:
    """One source's part of the state file, in pieces: its input as base64 (made as the
    file is written) or, when the input is unknown, its records (chunked: big record lists
    do not stall the loop)."""
    if not result.raw:
        return [
            encode_json_chunked(
                {
                    "wall_time": result.wall_time,
                    "skipped": dict(result.skipped),
                    "records": [record_json(record) for record in result.records],
                }
            )
        ]
    return chain(
        (b'{"wall_time":' + encode_json(result.wall_time) + b',"raw":"',),
        base64_pieces(result.raw),  # base64 needs no JSON escaping
        (b'"}',),
    )


def encode_state_pieces(
    results: Iterable[GoodResult], parts: Mapping[str, Sequence[bytes]] | None = None
) -> Iterator[bytes]:
    """The state file's bytes for these results, in pieces made as they are asked for
    (written one after the other, never joined); ``parts`` may hold sources already
    encoded."""
    yield b'{"format":%d,"sources":{' % FORMAT_VERSION
    for index, result in enumerate(results):
        yield (b"," if index else b"") + encode_json(result.source) + b":"
        yield from (parts or {}).get(result.source) or encode_source(result)
    yield b"}}"


def encode_state(
    results: Iterable[GoodResult], parts: Mapping[str, Sequence[bytes]] | None = None
) -> bytes:
    """The state file's bytes (``encode_state_pieces`` joined)."""
    return b"".join(encode_state_pieces(results, parts))


def record_from_json(record_type: type[Any], item: object) -> Any:
    """A record of ``record_type`` from its JSON object; StateFileError if it does not fit."""
    if not isinstance(item, dict):
        raise StateFileError("a record is not an object")
    values = {}
    for name, declared in record_fields(record_type):
        value = item.get(name)
        allowed = FIELD_TYPES.get(declared, ())
        if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
            raise StateFileError(f"record field {name} has the wrong type")
        values[name] = value
    return record_type(**values)


def decode_records(spec: SourceSpec[Any], saved: object) -> GoodResult:
    """A source's part stored as records (format 1); StateFileError if it does not fit."""
    if not isinstance(saved, dict):
        raise StateFileError(f"source {spec.name} is not an object")
    wall_time, skipped, items = (
        saved.get("wall_time"),
        saved.get("skipped"),
        saved.get("records"),
    )
    if not isinstance(wall_time, int | float) or not isinstance(items, list):
        raise StateFileError(f"source {spec.name} is incomplete")
    if not isinstance(skipped, dict) or not all(
        isinstance(k, str) and type(v) is int for k, v in skipped.items()
    ):
        raise StateFileError(f"source {spec.name} has bad skip counts")
    records = tuple(record_from_json(spec.record_type, item) for item in items)
    return GoodResult(
        source=spec.name,
        records=records,
        prepared_json=spec.prepared_json(records),
        skipped=skipped,
        wall_time=float(wall_time),
    )


@dataclass(frozen=True)
class SavedInput:
    """A source's input read back from a format-2 file, checked but not parsed yet."""

    spec: SourceSpec[Any]
    raw: bytes = field(repr=False)
    wall_time: float


def read_saved_part(
    spec: SourceSpec[Any], saved: object, limits: Limits
) -> GoodResult | SavedInput:
    """A source's part of a format-2 file: its input, or its records' result when it was
    saved while its input was unknown; StateFileError if the part is malformed,
    SourceError if the input is too big."""
    if isinstance(saved, dict) and "raw" not in saved:
        return decode_records(spec, saved)  # saved while its input was unknown
    if not isinstance(saved, dict):
        raise StateFileError(f"source {spec.name} is not an object")
    wall_time, text = saved.get("wall_time"), saved.get("raw")
    if (
        not isinstance(wall_time, int | float)
        or isinstance(wall_time, bool)
        or not math.isfinite(wall_time)
        or not isinstance(text, str)
    ):
        raise StateFileError(f"source {spec.name} is incomplete")
    too_big = f"saved input larger than {limits.max_body_bytes / MiB:g} MiB (max_body_bytes)"
    if len(text) > 4 * -(-limits.max_body_bytes // 3):  # longer than the base64 of the cap
        raise SourceError(too_big)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or a character that is not ASCII
        raise StateFileError(f"source {spec.name} has invalid base64") from None
    if len(raw) > limits.max_body_bytes:
        raise SourceError(too_big)
    return SavedInput(spec, raw, float(wall_time))


def decode_saved(
    content: bytes, specs: Sequence[SourceSpec[Any]], limits: Limits
) -> list[GoodResult | SavedInput]:
    """What a state file's bytes hold, inputs not parsed yet; StateFileError if the file is
    unusable. A format-2 source whose part is malformed is skipped (warning)."""
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as error:
        raise StateFileError(f"not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") not in READABLE_FORMATS:
        raise StateFileError("unknown format")
    sources = document.get("sources")
    if not isinstance(sources, dict):
        raise StateFileError("no sources")
    if document["format"] == 1:  # every part must fit, or the whole file is ignored
        return [
            decode_records(spec, sources[spec.name])
            for spec in specs
            if sources.get(spec.name) is not None
        ]
    found: list[GoodResult | SavedInput] = []
    for spec in specs:
        saved = sources.pop(spec.name, None)  # its text is freed once this source is decoded
        if saved is None:
            continue
        try:
            found.append(read_saved_part(spec, saved, limits))
        except Exception as error:  # records restored from format 1 are prepared here
            not_restored(spec, error)
    return found


def not_restored(spec: SourceSpec[Any], error: Exception) -> None:
    """Log why one saved source is not restored (the others are)."""
    if isinstance(error, StateFileError | SourceError):
        log.warning("saved source not restored", extra={"source": spec.name, "error": str(error)})
    else:  # a bug in a parser must cost one source's saved result, never the daemon's start
        log.error(
            "saved source not restored",
            extra={"source": spec.name},
            exc_info=(type(error), error, error.__traceback__),
        )
