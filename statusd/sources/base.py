"""The shape every source module shares.

A source module (``sms.py``, ``mms.py``, …) holds the rules of one source in one place:
``parse(raw, limits) -> ParseResult`` checks every record of the raw bytes and counts the
skipped ones by reason; ``prepare(records) -> JsonValue`` turns the valid records into the
value ``/api`` shows under the source's key. Both are pure. The I/O (reading a file,
fetching a URL) lives in ``statusd.collect.fetch`` and is the same for every source of a kind.

Errors::

    SourceError          the source cannot be used at all (the whole collection fails)
    └── (raised by parse for a non-array body, a bad billing file, …; by fetch for I/O)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from statusd.body.jsonpieces import JsonPieces, coalesce, encode_json_pieces

JsonValue = Any
"""A value ``json.dumps`` accepts (dicts, lists, str, int, float, bool, None)."""

R = TypeVar("R")

MiB = 1024 * 1024


class SourceError(Exception):
    """The source cannot be read at all; the message is short and shown in /api/sources."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied to what a source sends (SPEC §1)."""

    max_body_bytes: int = 64 * MiB
    max_line_bytes: int = 4 * 1024


@dataclass(frozen=True, slots=True)
class ParseResult(Generic[R]):
    """The valid records in source order and the skipped ones counted by reason."""

    records: tuple[R, ...]
    skipped: Mapping[str, int] = field(default_factory=dict)


class SkipCounter:
    """Counts skipped records by reason while a parser walks the input."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def skip(self, reason: str) -> None:
        self.counts[reason] += 1

    def result(self, records: Sequence[R]) -> ParseResult[R]:
        return ParseResult(tuple(records), dict(self.counts))


@dataclass(frozen=True, slots=True)
class SourceSpec(Generic[R]):
    """Everything the supervisor needs to collect one source.

    ``name`` is the key of the source in the /api ``data`` object and everywhere else
    (/api/sources, metrics, logs). ``location`` is the file name for file sources and the
    default URL path for HTTP sources. ``record_type`` is a frozen dataclass of plain
    str/int/float/bool fields, so the state file can store records as JSON objects.
    """

    name: str
    kind: Literal["file", "http"]
    location: str
    record_type: type[R]
    parse: Callable[[bytes, Limits], ParseResult[R]]
    prepare: Callable[[Sequence[R]], JsonValue]
    encode_prepared: Callable[[Sequence[R]], Iterable[bytes]] | None = None
    """Optional: ``encode_json(prepare(records))`` in pieces made as they are asked for,
    written directly (sources with a million records: building and encoding a dict per
    record costs seconds, and a worker process writes each piece out as it comes)."""

    def prepared_json(self, records: Sequence[R]) -> JsonPieces:
        """The JSON of the /api value of ``records``, in pieces."""
        return coalesce(self.iter_prepared_json(records))

    def iter_prepared_json(self, records: Sequence[R]) -> Iterable[bytes]:
        """``prepared_json``, piece by piece where the source encodes directly."""
        if self.encode_prepared is not None:
            return self.encode_prepared(records)
        return encode_json_pieces(self.prepare(records))
